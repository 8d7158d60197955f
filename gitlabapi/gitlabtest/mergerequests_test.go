package gitlabtest

import (
	"fmt"
	"slices"
	"sort"
	"testing"
)

// mergeRequestAttrKeys are the keys of DataBuilder::Pipeline#merge_request_attrs
// (GL:lib/gitlab/data_builder/pipeline.rb@017a6c12).
var mergeRequestAttrKeys = []string{
	"detailed_merge_status", "id", "iid", "merge_status", "source_branch", "source_project_id",
	"state", "target_branch", "target_project_id", "title", "url",
}

func TestMergeRequestPipelines(t *testing.T) {
	cases := []struct {
		name, ref, source, sourceBranch string
		wantHookRef                     string // object_attributes.ref: Ci::Pipeline#source_ref
		wantIID                         int64  // merge_request.iid; 0: merge_request is null
	}{
		{"detached", MergeRequestRef(7, MergeRequestHead), "merge_request_event", "feature/login", "feature/login", 7},
		{"merged results", MergeRequestRef(7, MergeRequestMerge), "merge_request_event", "feature/login", "feature/login", 7},
		{"merge train", MergeRequestRef(12, MergeRequestTrain), "merge_request_event", "fix/flaky", "fix/flaky", 12},
		{"no source branch given", MergeRequestRef(3, MergeRequestHead), "merge_request_event", "", "mr-3", 3},
		{"push", "main", "push", "", "main", 0},
		{"merge request source on a branch ref", "feature/x", "merge_request_event", "feature/x", "feature/x", 0},
		{"merge request ref pushed", MergeRequestRef(5, MergeRequestHead), "push", "feature/y", MergeRequestRef(5, MergeRequestHead), 0},
		{"not a merge request ref", "refs/merge-requests/5/diff", "merge_request_event", "feature/y", "refs/merge-requests/5/diff", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			f := fixture{s: s, project: s.CreateProject("grp/app", ProjectOptions{})}
			pl := s.CreatePipeline(f.project, c.ref, PipelineOptions{Source: c.source, SourceBranch: c.sourceBranch})
			job := f.jobIn(t, pl, JobSpec{Name: "rspec"}, "running")
			bridge, child := s.CreateBridge(pl, JobSpec{Name: "trigger", Stage: "test"})
			must(t, s.Enqueue(bridge))
			childJob := f.jobIn(t, child, JobSpec{Name: "docs"}, "running")

			type pipe struct {
				Ref    string `json:"ref"`
				Source string `json:"source"`
			}
			type jobJSON struct {
				Ref      string `json:"ref"`
				Pipeline pipe   `json:"pipeline"`
			}
			for _, w := range []struct {
				pipeline, job int64
				source        string
			}{{pl, job, c.source}, {child, childJob, "parent_pipeline"}} {
				got := decode[pipe](t, get(t, s, fmt.Sprintf("/api/v4/projects/%d/pipelines/%d", f.project, w.pipeline)))
				if got != (pipe{c.ref, w.source}) {
					t.Errorf("pipeline %d: %+v, want ref %q, source %q", w.pipeline, got, c.ref, w.source)
				}
				// job.ref = pipeline.ref (Seed::Build#attributes).
				j := decode[jobJSON](t, get(t, s, fmt.Sprintf("/api/v4/projects/%d/jobs/%d", f.project, w.job)))
				if j.Ref != c.ref || j.Pipeline != (pipe{c.ref, w.source}) {
					t.Errorf("job %d: ref %q, pipeline %+v; want the pipeline's ref %q", w.job, j.Ref, j.Pipeline, c.ref)
				}
				if h := renderHook(t, s, w.job, 0, false); h["ref"] != c.ref {
					t.Errorf("Job Hook of %d: ref %v, want build.ref %q", w.job, h["ref"], c.ref)
				}
				rec, _ := s.Pipeline(w.pipeline)
				if rec.Ref != c.ref || rec.SourceRef != c.wantHookRef || rec.Source != w.source {
					t.Errorf("record %+v, want ref %q, source ref %q", rec, c.ref, c.wantHookRef)
				}

				h := renderHook(t, s, 0, w.pipeline, false)
				if ref := h["object_attributes"].(map[string]any)["ref"]; ref != c.wantHookRef {
					t.Errorf("Pipeline Hook of %d: ref %v, want %q", w.pipeline, ref, c.wantHookRef)
				}
				mr, _ := h["merge_request"].(map[string]any)
				if c.wantIID == 0 {
					if h["merge_request"] != nil {
						t.Errorf("Pipeline Hook of %d: merge_request %v, want null", w.pipeline, h["merge_request"])
					}
					continue
				}
				var keys []string
				for k := range mr {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if !slices.Equal(keys, mergeRequestAttrKeys) {
					t.Errorf("merge_request keys %v, want GitLab's %v", keys, mergeRequestAttrKeys)
				}
				if mr["iid"] != float64(c.wantIID) || mr["source_branch"] != c.wantHookRef || mr["target_branch"] != "main" ||
					mr["source_project_id"] != float64(f.project) || mr["target_project_id"] != float64(f.project) ||
					mr["url"] != fmt.Sprintf("%s/grp/app/-/merge_requests/%d", s.URL(), c.wantIID) {
					t.Errorf("Pipeline Hook of %d: merge_request %v", w.pipeline, mr)
				}
			}
		})
	}
}

// Pipelines of one merge request share it; another iid is another one.
func TestMergeRequestPipelinesShareTheirMergeRequest(t *testing.T) {
	f := newFixture(t, Options{})
	mrID := func(ref, branch string) (id, iid float64, source string) {
		pl := f.s.CreatePipeline(f.project, ref, PipelineOptions{Source: "merge_request_event", SourceBranch: branch})
		f.jobIn(t, pl, JobSpec{Name: "j"}, "pending")
		mr := renderHook(t, f.s, 0, pl, false)["merge_request"].(map[string]any)
		return mr["id"].(float64), mr["iid"].(float64), mr["source_branch"].(string)
	}
	id1, iid1, b1 := mrID(MergeRequestRef(4, MergeRequestHead), "feature/a")
	id2, iid2, b2 := mrID(MergeRequestRef(4, MergeRequestTrain), "feature/other") // the first branch stays
	id3, iid3, _ := mrID(MergeRequestRef(5, MergeRequestHead), "feature/b")
	if id1 != id2 || iid1 != 4 || iid2 != 4 || b1 != "feature/a" || b2 != "feature/a" {
		t.Errorf("iid 4 twice: ids %v, %v, iids %v, %v, branches %q, %q", id1, id2, iid1, iid2, b1, b2)
	}
	if id3 == id1 || iid3 != 5 {
		t.Errorf("iid 5: id %v (iid 4's is %v), iid %v", id3, id1, iid3)
	}
}

// scope=branches is the latest pipeline per branch: merge request refs are
// no branches.
func TestPipelinesScopeBranchesLeavesMergeRequestRefsOut(t *testing.T) {
	f := newFixture(t, Options{}) // f.pipeline is on main
	mr := f.s.CreatePipeline(f.project, MergeRequestRef(1, MergeRequestHead), PipelineOptions{Source: "merge_request_event"})
	feature := f.s.CreatePipeline(f.project, "feature/x", PipelineOptions{})
	for q, want := range map[string][]int64{
		"":                {feature, mr, f.pipeline},
		"?scope=branches": {feature, f.pipeline},
		"?ref=" + MergeRequestRef(1, MergeRequestHead): {mr},
	} {
		if got := ids(t, get(t, f.s, fmt.Sprintf("/api/v4/projects/%d/pipelines%s", f.project, q))); !slices.Equal(got, want) {
			t.Errorf("pipelines%s: %v, want %v", q, got, want)
		}
	}
}
