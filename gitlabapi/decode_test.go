package gitlabapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveFixture answers every request with a fixture file.
func serveFixture(t *testing.T, name string) *testEnv {
	body := fixture(t, name)
	return newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, 200, "application/json", string(body))
	}), nil)
}

func TestDecodeRealJobs(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, j *Job)
	}{
		{"job_real_gitlab_com_2025-09.json", func(t *testing.T, j *Job) {
			if j.ID != 11215821048 || j.ID <= 1<<32 {
				t.Errorf("ID = %d", j.ID)
			}
			if j.Status != StatusSuccess || j.FailureReason != "" || !j.AllowFailure {
				t.Errorf("status %q failure_reason %q allow_failure %v", j.Status, j.FailureReason, j.AllowFailure)
			}
			if j.Duration == nil || *j.Duration != 35.98896 || j.QueuedDuration == nil || *j.QueuedDuration != 0.480128 {
				t.Errorf("durations %v %v", j.Duration, j.QueuedDuration)
			}
			if len(j.Artifacts) != 1 || j.Artifacts[0].FileType != "trace" || j.Artifacts[0].FileFormat != nil || j.Artifacts[0].Size != 2966 {
				t.Errorf("artifacts = %+v", j.Artifacts)
			}
			if j.ArtifactsFile != nil || j.ArtifactsExpireAt != nil || j.ErasedAt != nil || j.Coverage != nil {
				t.Errorf("absent/null fields not nil: %+v %v %v %v", j.ArtifactsFile, j.ArtifactsExpireAt, j.ErasedAt, j.Coverage)
			}
			if j.Pipeline.ID != 2017065587 || j.Pipeline.Source != "push" || j.Pipeline.ProjectID != 40509251 {
				t.Errorf("pipeline = %+v", j.Pipeline)
			}
			if j.Runner == nil || j.Runner.JobExecutionStatus != "active" || j.Runner.IPAddress != nil || j.Runner.RunnerType != "instance_type" {
				t.Errorf("runner = %+v", j.Runner)
			}
			if j.RunnerManager == nil || j.RunnerManager.ID != 74819383 || j.RunnerManager.Version != "18.3.0~pre.23.gb8a899e1" {
				t.Errorf("runner_manager = %+v", j.RunnerManager)
			}
			want := time.Date(2025, 9, 2, 11, 54, 28, 847e6, time.UTC)
			if j.CreatedAt == nil || !j.CreatedAt.Equal(want) {
				t.Errorf("created_at = %v", j.CreatedAt)
			}
			if j.Commit == nil || !j.Commit.CreatedAt.Equal(time.Date(2025, 9, 2, 11, 54, 26, 0, time.UTC)) {
				t.Errorf("commit created_at (+03:00) = %v", j.Commit)
			}
		}},
		{"job_real_gitlab_com_2024-06.json", func(t *testing.T, j *Job) {
			if j.ID != 6995103065 || j.Status != StatusCanceled || j.Pipeline.ID != 1314378511 {
				t.Errorf("ID %d status %q pipeline %d", j.ID, j.Status, j.Pipeline.ID)
			}
			if j.ArtifactsFile == nil || j.ArtifactsFile.Size != 1080 {
				t.Errorf("artifacts_file = %+v", j.ArtifactsFile)
			}
			if len(j.Artifacts) != 3 || *j.Artifacts[0].FileFormat != "zip" || j.Artifacts[2].FileFormat != nil {
				t.Errorf("artifacts = %+v", j.Artifacts)
			}
			if j.Runner == nil || j.Runner.CreatedAt != nil || j.Runner.JobExecutionStatus != "" {
				t.Errorf("older runner shape: %+v", j.Runner)
			}
			if j.TagList == nil || len(j.TagList) != 0 {
				t.Errorf("tag_list = %#v", j.TagList)
			}
		}},
		{"job_single_docs.json", func(t *testing.T, j *Job) {
			if j.ID != 8 || j.Status != StatusFailed || j.FailureReason != "" || j.Runner != nil || j.RunnerManager != nil {
				t.Errorf("job = %+v", j)
			}
			if j.Duration == nil || *j.Duration != 0.465 || j.Source != "push" {
				t.Errorf("duration %v source %q", j.Duration, j.Source)
			}
			if j.User == nil || j.User.Username != "root" {
				t.Errorf("user = %+v", j.User)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env := serveFixture(t, tt.file)
			j, err := env.c.Job(context.Background(), "42", 1)
			mustOK(t, err)
			tt.check(t, j)
		})
	}
}

func TestDecodeJobsList(t *testing.T) {
	env := serveFixture(t, "jobs_list_docs.json")
	var jobs []Job
	for page, err := range env.c.ProjectJobPages(context.Background(), "42", ListJobsOptions{}) {
		mustOK(t, err)
		jobs = append(jobs, page...)
	}
	if len(jobs) != 2 {
		t.Fatalf("jobs = %d", len(jobs))
	}
	if jobs[0].ID != 7 || jobs[0].FailureReason != "script_failure" || *jobs[0].Artifacts[2].FileFormat != "raw" ||
		jobs[0].Artifacts[3].FileType != "junit" || jobs[0].TagList[1] != "ubuntu18" || jobs[0].RunnerManager.SystemID != "s_89e5e9956577" {
		t.Errorf("job 7 = %+v", jobs[0])
	}
	if jobs[1].FailureReason != "stuck_or_timeout_failure" || jobs[1].Runner != nil || jobs[1].ArtifactsFile != nil || len(jobs[1].Artifacts) != 0 {
		t.Errorf("job 6 = %+v", jobs[1])
	}
}

func TestDecodeBridges(t *testing.T) {
	env := serveFixture(t, "bridges_list_docs.json")
	bs, err := env.c.PipelineBridges(context.Background(), "42", 6, nil)
	mustOK(t, err)
	if len(bs) != 1 {
		t.Fatalf("bridges = %d", len(bs))
	}
	b := bs[0]
	if b.Duration == nil || *b.Duration != 240 { // an integer in the payload
		t.Errorf("duration = %v", b.Duration)
	}
	if b.DownstreamPipeline == nil || b.DownstreamPipeline.ID != 5 || b.DownstreamPipeline.Status != "pending" {
		t.Errorf("downstream_pipeline = %+v", b.DownstreamPipeline)
	}
	if j := b.AsJob(); j.ID != 7 || j.Status != StatusPending || *j.QueuedDuration != 0.123 || !j.Bridge {
		t.Errorf("AsJob = %+v", j)
	}
}

func TestDecodePipelinesAndMetadata(t *testing.T) {
	env := serveFixture(t, "pipelines_list_docs.json")
	ps, err := env.c.ProjectPipelines(context.Background(), "42", ListPipelinesOptions{})
	mustOK(t, err)
	if len(ps) != 2 || ps[0].ID != 47 || ps[0].IID != 12 || ps[1].Source != "web" || ps[0].Name == nil || *ps[0].Name != "Build pipeline" {
		t.Errorf("pipelines = %+v", ps)
	}

	env = serveFixture(t, "metadata_docs.json")
	md, err := env.c.Metadata(context.Background())
	mustOK(t, err)
	if md.Version != "18.1.1-ee" || md.Revision != "ceb07b24cb0" || !md.Enterprise {
		t.Errorf("metadata = %+v", md)
	}

	tests := []struct {
		file           string
		id             int64
		duration       float64
		queued         *float64
		name           *string
		tag            bool
		beforeSHAStart string
	}{
		{"pipeline_single_real_gitlab_com_2024-06.json", 1314378511, 22, nil, nil, false, "0000"},
		{"pipeline_single_docs.json", 287, 34, ptr(6.0), ptr("Build pipeline"), false, "8a24"},
	}
	for _, tt := range tests {
		var p Pipeline
		if err := json.Unmarshal(fixture(t, tt.file), &p); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if p.ID != tt.id || p.Duration == nil || *p.Duration != tt.duration || !strings.HasPrefix(p.BeforeSHA, tt.beforeSHAStart) {
			t.Errorf("%s: %+v", tt.file, p)
		}
		if (p.QueuedDuration == nil) != (tt.queued == nil) || (tt.queued != nil && *p.QueuedDuration != *tt.queued) {
			t.Errorf("%s: queued_duration = %v", tt.file, p.QueuedDuration)
		}
		if (p.Name == nil) != (tt.name == nil) || (tt.name != nil && *p.Name != *tt.name) {
			t.Errorf("%s: name = %v", tt.file, p.Name)
		}
	}
}

// GitLab adds statuses, failure reasons and artifact types over time.
func TestDecodeUnknownEnumValues(t *testing.T) {
	var j map[string]any
	if err := json.Unmarshal(fixture(t, "job_real_gitlab_com_2025-09.json"), &j); err != nil {
		t.Fatal(err)
	}
	j["status"] = "teleporting"
	j["failure_reason"] = "cosmic_ray_failure"
	j["artifacts"] = []any{map[string]any{"file_type": "hologram", "size": 1, "filename": "h", "file_format": "zstd"}}
	j["brand_new_field"] = map[string]any{"nested": []any{1, 2}}
	j["duration"] = 240
	body, _ := json.Marshal(j)
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, 200, "application/json", string(body))
	}), nil)
	got, err := env.c.Job(context.Background(), "42", 11215821048)
	mustOK(t, err)
	if got.Status != "teleporting" || got.Status.Known() || got.Status.Finished() {
		t.Errorf("status = %q", got.Status)
	}
	if got.FailureReason != "cosmic_ray_failure" || got.Artifacts[0].FileType != "hologram" || *got.Artifacts[0].FileFormat != "zstd" {
		t.Errorf("job = %+v", got)
	}
	if *got.Duration != 240 {
		t.Errorf("duration = %v", *got.Duration)
	}
}

// jobSeeds are fixture jobs plus malformed and truncated variants.
func jobSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"job_real_gitlab_com_2025-09.json", "job_real_gitlab_com_2024-06.json", "job_single_docs.json"} {
		seeds = append(seeds, fixture(t, name))
	}
	for _, name := range []string{"jobs_list_docs.json", "bridges_list_docs.json"} {
		var items []json.RawMessage
		if err := json.Unmarshal(fixture(t, name), &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			seeds = append(seeds, it)
		}
	}
	n := len(seeds)
	for _, s := range seeds[:n] {
		seeds = append(seeds, s[:len(s)/2], s[:len(s)-1], bytes.Replace(s, []byte(`"id"`), []byte(`"id": "x", "_"`), 1))
	}
	return append(seeds,
		[]byte(`{"id": 1e40}`), []byte(`{"id": -1, "duration": "3"}`), []byte(`{"created_at": "2024-13-45T99:00:00Z"}`),
		[]byte(`{"artifacts": [null, {"file_format": 7}]}`), []byte(`null`), []byte(`[]`), []byte(``),
		[]byte(`{"status": "\ud800", "tag_list": [1]}`), []byte("{\"name\": \"\xff\"}"))
}

func FuzzDecodeJob(f *testing.F) {
	for _, s := range jobSeeds(f) {
		f.Add(s)
	}
	u := &url.URL{Path: "/api/v4/projects/42/jobs/1"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var j Job
		err := decodeBody(EndpointJob, u, body, &j)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrDecode) || de.Path != u.Path {
				t.Fatalf("decode error %v is not a DecodeError", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("invalid JSON %q decoded without error", body)
		}
	})
}

// The fixtures are copies of /work/shared/gitlab-api/fixtures so that the
// package tests run anywhere; this catches a stale copy where both exist.
func TestFixtureCopiesAreCurrent(t *testing.T) {
	const shared = "/work/shared/gitlab-api/fixtures"
	if _, err := os.Stat(shared); err != nil {
		t.Skip("shared fixtures not present")
	}
	copies, _ := filepath.Glob(filepath.Join("testdata", "fixtures", "*.json"))
	if len(copies) == 0 {
		t.Fatal("no fixture copies")
	}
	for _, c := range copies {
		want, err := os.ReadFile(filepath.Join(shared, filepath.Base(c)))
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if got, _ := os.ReadFile(c); !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; copy it again", c, shared)
		}
	}
}

// A pipeline's coverage is a BigDecimal GitLab sends as a string; older
// releases and jobs send a number.
func TestDecodePipelineCoverage(t *testing.T) {
	for _, tc := range []struct {
		body    string
		want    *float64
		wantErr string
	}{
		{`{"coverage": "30.0"}`, ptr(30.0), ""},
		{`{"coverage": 87.5}`, ptr(87.5), ""},
		{`{"coverage": null}`, nil, ""},
		{`{"coverage": ""}`, nil, `coverage "" is not a percentage`},
		{`{}`, nil, ""},
		{`{"coverage": "lots"}`, nil, `coverage "lots" is not a percentage`},
		{`{"coverage": "NaN"}`, nil, `coverage "NaN" is not a percentage`},
		{`{"coverage": true}`, nil, `coverage true is not a percentage`},
	} {
		var p Pipeline
		err := json.Unmarshal([]byte(tc.body), &p)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.body, err, tc.wantErr)
			}
			continue
		}
		mustOK(t, err)
		if (p.Coverage == nil) != (tc.want == nil) || (tc.want != nil && float64(*p.Coverage) != *tc.want) {
			t.Errorf("%s: coverage %v, want %v", tc.body, p.Coverage, tc.want)
		}
	}
}

func TestPipelineFetchesOnePipeline(t *testing.T) {
	var path string
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		writeRaw(w, 200, "application/json", string(fixture(t, "pipeline_single_docs.json")))
	}), nil)
	p, err := env.c.Pipeline(context.Background(), "g/p", 287)
	mustOK(t, err)
	if !strings.HasSuffix(path, "/projects/g%2Fp/pipelines/287") {
		t.Errorf("requested %s", path)
	}
	if p.ID != 287 || p.Status == "" || p.FinishedAt == nil || !p.Finished().Equal(*p.FinishedAt) {
		t.Errorf("pipeline = %+v", p)
	}
	if _, err := env.c.Pipeline(context.Background(), "g/p", 0); err == nil {
		t.Error("pipeline id 0 was requested")
	}
}

func TestPipelineFinishedWithoutFinishedAt(t *testing.T) {
	created, updated := time.Unix(100, 0), time.Unix(200, 0)
	for _, tc := range []struct {
		p    Pipeline
		want time.Time
	}{
		{Pipeline{PipelineBasic: PipelineBasic{CreatedAt: &created, UpdatedAt: &updated}}, updated},
		{Pipeline{PipelineBasic: PipelineBasic{CreatedAt: &created}}, created},
		{Pipeline{}, time.Time{}},
	} {
		if got := tc.p.Finished(); !got.Equal(tc.want) {
			t.Errorf("Finished() = %v, want %v", got, tc.want)
		}
	}
}
