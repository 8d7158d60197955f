package gitlabtest

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestWorkloadPipelines runs a busy workload and checks the pipelines it
// makes: merge request pipelines of all three ref kinds, child pipelines
// on their parent's ref, coverage on the test jobs, automatic retries that
// never let a pipeline show failed, and one record per finish; with and
// without RetryReopens.
func TestWorkloadPipelines(t *testing.T) {
	reruns := map[bool]int{}
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("RetryReopens=%v", reopen), func(t *testing.T) {
			reruns[reopen] = checkWorkloadPipelines(t, reopen)
		})
	}
	// Failures before the last stage, and in child pipelines, fail the
	// pipeline before their retry only with RetryReopens.
	if reruns[true] <= reruns[false] {
		t.Errorf("%d pipelines failed and ran again with RetryReopens, %d without", reruns[true], reruns[false])
	}
}

// checkWorkloadPipelines returns how many pipelines failed and then
// finished again.
func checkWorkloadPipelines(t *testing.T, reopen bool) int {
	c := NewManualClock(t0)
	s := NewHandler(Options{Clock: c})
	s.TrackPipelineFinishes(true)
	opt := busy
	opt.RetryReopens = reopen
	w := NewWorkload(s, c, opt)
	w.Step(2 * time.Hour)
	if w.errs != 0 {
		t.Fatalf("the model refused %d workload transitions", w.errs)
	}
	finishes := s.PipelineFinishes()

	pipelines := map[int64]PipelineRecord{}
	for id := int64(1); ; id++ {
		r, ok := s.Pipeline(id)
		if !ok {
			break
		}
		pipelines[id] = r
	}
	sources := map[string]int{}
	kinds := map[string]int{}
	iids := map[int64]bool{}
	for _, r := range pipelines {
		sources[r.Source]++
		iid, kind, isMR := parseMergeRequestRef(r.Ref)
		switch r.Source {
		case "merge_request_event":
			if !isMR || r.SourceRef == r.Ref || !slices.Contains(withWorkloadDefaults(busy).Refs[1:], r.SourceRef) {
				t.Errorf("merge request pipeline on %q (source ref %q)", r.Ref, r.SourceRef)
			}
			kinds[kind]++
			iids[iid] = true
		case "parent_pipeline":
			parent := pipelines[r.ParentID]
			if r.ParentID == 0 || parent.Ref != r.Ref || parent.SourceRef != r.SourceRef || parent.ProjectID != r.ProjectID {
				t.Errorf("child %+v of %+v: want the parent's ref", r, parent)
			}
		case "schedule", "web":
			if r.Ref != "main" {
				t.Errorf("%s pipeline on %q", r.Source, r.Ref)
			}
		case "push":
			if isMR {
				t.Errorf("push pipeline on %q", r.Ref)
			}
		default:
			t.Errorf("pipeline %d: source %q", r.ID, r.Source)
		}
		if (r.Source == "parent_pipeline") != (r.ParentID != 0) {
			t.Errorf("pipeline %d: source %s, parent %d", r.ID, r.Source, r.ParentID)
		}
	}
	for _, src := range []string{"push", "merge_request_event", "parent_pipeline", "schedule", "web"} {
		if sources[src] == 0 {
			t.Errorf("no %s pipeline: %v", src, sources)
		}
	}
	if !(kinds[MergeRequestHead] > kinds[MergeRequestMerge] && kinds[MergeRequestMerge] > kinds[MergeRequestTrain] && kinds[MergeRequestTrain] > 0) {
		t.Errorf("merge request ref kinds %v: want most head, some merge, a few train", kinds)
	}
	if len(iids) < 10 {
		t.Errorf("%d merge request iids over %d projects", len(iids), busy.Projects)
	}

	// Jobs: the pipeline's ref; coverage on test jobs but lint only;
	// automatic retries in the failing transition.
	type key struct {
		pipeline int64
		name     string
	}
	byName := map[key][]JobRecord{}
	cov := map[int64][]float64{} // pipeline → latest jobs' coverage
	for _, j := range s.Jobs() {
		if p := pipelines[j.PipelineID]; j.Ref != p.Ref {
			t.Errorf("job %d: ref %q, pipeline's %q", j.ID, j.Ref, p.Ref)
		}
		if j.Coverage != nil {
			if j.Stage != "test" || j.Name == "lint" || *j.Coverage < 0 || *j.Coverage > 100 {
				t.Errorf("job %d (%s, %s): coverage %v", j.ID, j.Stage, j.Name, *j.Coverage)
			}
			if !j.Retried {
				cov[j.PipelineID] = append(cov[j.PipelineID], *j.Coverage)
			}
		}
		k := key{j.PipelineID, j.Name}
		byName[k] = append(byName[k], j)
	}
	autoRetried, childByHand := 0, 0
	for _, attempts := range byName {
		for i, j := range attempts[:len(attempts)-1] {
			next := attempts[i+1]
			auto := next.CreatedAt.Equal(*j.FinishedAt)
			if auto != (j.FailureReason == "runner_system_failure") {
				t.Errorf("job %d (%s) retried by %d created at %v, finished at %v", j.ID, j.FailureReason, next.ID, next.CreatedAt, j.FinishedAt)
			}
			if !auto && pipelines[j.PipelineID].ParentID != 0 {
				childByHand++
			}
			if auto {
				autoRetried++
				for _, f := range finishes {
					if f.ID == j.PipelineID && f.FinishedAt != nil && f.FinishedAt.Equal(*j.FinishedAt) {
						t.Errorf("pipeline %d finished %s when its job %d was retried automatically", f.ID, f.Status, j.ID)
					}
				}
			}
		}
	}
	t.Logf("sources %v kinds %v iids %d auto %d", sources, kinds, len(iids), autoRetried)
	if autoRetried == 0 {
		t.Error("no automatic retry")
	}
	// A retry by hand in a child pipeline reopens its finished bridge.
	if (childByHand > 0) != reopen {
		t.Errorf("%d jobs of child pipelines retried by hand, RetryReopens %v", childByHand, reopen)
	}

	// Finishes: each a finished status; the last of a pipeline still
	// finished is what it shows now; every finished pipeline is there.
	last := map[int64]PipelineRecord{}
	perPipeline := map[int64]int{}
	failedThenRan := map[int64]bool{}
	withCoverage := 0
	for _, f := range finishes {
		if !f.Finished() || f.FinishedAt == nil || f.Duration == nil {
			t.Errorf("finish %+v", f)
		}
		if l, ok := last[f.ID]; ok && l.Status == "failed" {
			failedThenRan[f.ID] = true
		}
		last[f.ID] = f
		perPipeline[f.ID]++
		if f.Coverage != nil {
			withCoverage++
		}
	}
	rerun := 0
	for id, r := range pipelines {
		if n := perPipeline[id]; n > 1 {
			rerun++
		}
		if !r.Finished() {
			continue
		}
		if !reflect.DeepEqual(last[id], r) {
			t.Errorf("pipeline %d now %+v, last finish %+v (durations %v and %v, coverage %v and %v)", id, r, last[id],
				deref(r.Duration), deref(last[id].Duration), deref(r.Coverage), deref(last[id].Coverage))
		}
		var mean float64
		for _, c := range cov[id] {
			mean += c / float64(len(cov[id]))
		}
		if len(cov[id]) == 0 && r.Coverage != nil {
			t.Errorf("pipeline %d: coverage %s without a job's", id, *r.Coverage)
		}
		if len(cov[id]) > 0 {
			var got float64
			if r.Coverage != nil {
				_, _ = fmt.Sscan(*r.Coverage, &got)
			}
			if r.Coverage == nil || math.Abs(got-mean) > 0.005+1e-9 {
				t.Errorf("pipeline %d: coverage %v, its jobs' mean %v", id, deref(r.Coverage), mean)
			}
		}
	}
	t.Logf("%d finishes, %d pipelines finished more than once, %d failed and ran again, %d finishes with coverage",
		len(finishes), rerun, len(failedThenRan), withCoverage)
	if rerun == 0 || withCoverage == 0 {
		t.Errorf("%d pipelines finished twice, %d finishes with coverage", rerun, withCoverage)
	}
	return len(failedThenRan)
}

// The same seed gives the same pipelines, finishes included.
func TestWorkloadPipelinesDeterministic(t *testing.T) {
	run := func(seed int64) []PipelineRecord {
		c := NewManualClock(t0)
		s := NewHandler(Options{Clock: c})
		s.TrackPipelineFinishes(true)
		opt := busy
		opt.Seed = seed
		NewWorkload(s, c, opt).Step(time.Hour)
		return s.PipelineFinishes()
	}
	a, b, other := run(42), run(42), run(43)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different finishes")
	}
	if reflect.DeepEqual(a, other) {
		t.Error("different seeds, same finishes")
	}
}
