package gitlabtest

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func loadFixture(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJobShapeMatchesGitLab compares a successful job with a trace, like
// the captured gitlab.com job, key by key at every level.
func TestJobShapeMatchesGitLab(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.job(t, "a-job", "running")
	must(t, f.s.Finish(id, "success", FinishOptions{Artifacts: []Artifact{{FileType: "trace", Size: 2966}}}))
	var got []any
	if err := json.Unmarshal(get(t, f.s, "/api/v4/projects/1/jobs").body, &got); err != nil {
		t.Fatal(err)
	}
	want := loadFixture(t, "job_real_gitlab_com_2025-09.json").(map[string]any)
	job := got[0].(map[string]any)
	for _, path := range []string{"", "user", "commit", "pipeline", "project", "runner", "runner_manager"} {
		g, w := any(job), any(want)
		if path != "" {
			g, w = job[path], want[path]
		}
		if gk, wk := keysOf(t, g), keysOf(t, w); !slices.Equal(gk, wk) {
			t.Errorf("%q keys\n got %v\nwant %v", path, gk, wk)
		}
	}
	art := job["artifacts"].([]any)[0].(map[string]any)
	if gk, wk := keysOf(t, art), keysOf(t, want["artifacts"].([]any)[0]); !slices.Equal(gk, wk) {
		t.Errorf("artifact keys %v, want %v", gk, wk)
	}
	if art["file_format"] != nil {
		t.Errorf("trace file_format %v, want null", art["file_format"])
	}
}

func TestBridgeShapeMatchesGitLab(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger"})
	var got []any
	if err := json.Unmarshal(get(t, f.s, "/api/v4/projects/1/pipelines/1/bridges").body, &got); err != nil {
		t.Fatal(err)
	}
	want := loadFixture(t, "bridges_list_docs.json").([]any)[0]
	if gk, wk := keysOf(t, got[0]), keysOf(t, want); !slices.Equal(gk, wk) {
		t.Errorf("bridge keys\n got %v\nwant %v", gk, wk)
	}
	for _, k := range []string{"runner", "artifacts", "artifacts_file", "tag_list"} {
		if _, ok := got[0].(map[string]any)[k]; ok {
			t.Errorf("bridge has %q", k)
		}
	}
}

var msTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestJobFields covers the conditional and typed parts of the job object.
func TestJobFields(t *testing.T) {
	f := newFixture(t, Options{FirstJobID: 11215821048})
	cases := []struct {
		name        string
		status      string
		opt         FinishOptions
		tags        []string
		wantReason  any // nil = key absent
		wantArchive any // nil = key absent
	}{
		{"success", "success", FinishOptions{}, nil, nil, nil},
		{"failed default reason", "failed", FinishOptions{}, nil, "script_failure", nil},
		{"failed with reason", "failed", FinishOptions{FailureReason: "stuck_or_timeout_failure"}, nil, "stuck_or_timeout_failure", nil},
		{"canceled", "canceled", FinishOptions{}, nil, nil, nil},
		{"with archive", "success", FinishOptions{Artifacts: []Artifact{
			{FileType: "archive", Size: 1234, FileFormat: "zip"}, {FileType: "metadata", Size: 56, FileFormat: "gzip"}, {FileType: "trace", Size: 789}}},
			[]string{"linux", "docker", "amd64", "docker"}, nil, map[string]any{"filename": "artifacts.zip", "size": float64(1234)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := f.jobIn(t, f.pipeline, JobSpec{Name: c.name, Tags: c.tags}, "running")
			f.clock.Advance(time.Second)
			must(t, f.s.Finish(id, c.status, c.opt))
			r := get(t, f.s, "/api/v4/projects/1/jobs/"+itoa(id))
			var job map[string]any
			if err := json.Unmarshal(r.body, &job); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(r.body), `"id":`+itoa(id)+`,`) {
				t.Errorf("id %d not rendered as an integer", id)
			}
			reason, hasReason := job["failure_reason"]
			if (c.wantReason == nil) == hasReason || (hasReason && reason != c.wantReason) {
				t.Errorf("failure_reason %v (present %v), want %v", reason, hasReason, c.wantReason)
			}
			af, hasAF := job["artifacts_file"]
			if (c.wantArchive == nil) == hasAF || (hasAF && !jsonEqual(af, c.wantArchive)) {
				t.Errorf("artifacts_file %v (present %v), want %v", af, hasAF, c.wantArchive)
			}
			if got, want := len(job["artifacts"].([]any)), len(c.opt.Artifacts); got != want {
				t.Errorf("%d artifacts, want %d", got, want)
			}
			for _, a := range job["artifacts"].([]any) {
				a := a.(map[string]any)
				if a["file_type"] == "trace" && a["file_format"] != nil {
					t.Errorf("trace file_format %v", a["file_format"])
				}
				if a["file_type"] == "archive" && a["file_format"] != "zip" {
					t.Errorf("archive file_format %v", a["file_format"])
				}
			}
			tags := job["tag_list"].([]any)
			if !slices.IsSortedFunc(tags, func(a, b any) int { return strings.Compare(a.(string), b.(string)) }) {
				t.Errorf("tag_list %v not sorted", tags)
			}
			if c.tags != nil && len(tags) != 3 {
				t.Errorf("tag_list %v, want 3 distinct tags", tags)
			}
			for _, k := range []string{"created_at", "started_at", "finished_at"} {
				if s, _ := job[k].(string); !msTimestamp.MatchString(s) {
					t.Errorf("%s = %v, want millisecond UTC", k, job[k])
				}
			}
			if job["erased_at"] != nil || job["coverage"] != nil || job["artifacts_expire_at"] != nil {
				t.Errorf("nullable fields not null: %v %v %v", job["erased_at"], job["coverage"], job["artifacts_expire_at"])
			}
			if !strings.HasSuffix(job["web_url"].(string), "/grp/sub/proj/-/jobs/"+itoa(id)) {
				t.Errorf("web_url %v", job["web_url"])
			}
		})
	}
	if first := f.s.Jobs()[0].ID; first != 11215821048 {
		t.Errorf("first job id %d, want FirstJobID", first)
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestArchivedProjectJobs(t *testing.T) {
	f := newFixture(t, Options{})
	f.job(t, "a", "success")
	f.s.ArchiveProject(f.project, true)
	jobs := decode[[]struct {
		Archived bool `json:"archived"`
	}](t, get(t, f.s, "/api/v4/projects/1/jobs"))
	p := decode[struct {
		Archived bool `json:"archived"`
	}](t, get(t, f.s, "/api/v4/projects/1"))
	if len(jobs) != 1 || !jobs[0].Archived || !p.Archived {
		t.Errorf("archived: jobs %+v project %+v", jobs, p)
	}
}
