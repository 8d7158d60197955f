package gitlabtest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

type jobOp struct {
	name string
	do   func(s *Server, id int64) error
}

var (
	opEnqueue = jobOp{"enqueue", func(s *Server, id int64) error { return s.Enqueue(id) }}
	opWait    = jobOp{"wait", func(s *Server, id int64) error { return s.WaitForResource(id) }}
	opStart   = jobOp{"start", func(s *Server, id int64) error { return s.Start(id) }}
	opSkip    = jobOp{"skip", func(s *Server, id int64) error { return s.Skip(id) }}
	opPlay    = jobOp{"play", func(s *Server, id int64) error { return s.Play(id) }}
	opRetry   = jobOp{"retry", func(s *Server, id int64) error { _, err := s.Retry(id); return err }}
)

func opFinish(status string, o FinishOptions) jobOp {
	return jobOp{"finish " + status, func(s *Server, id int64) error { return s.Finish(id, status, o) }}
}

func TestTransitions(t *testing.T) {
	success, failed, canceled := opFinish("success", FinishOptions{}), opFinish("failed", FinishOptions{}), opFinish("canceled", FinishOptions{})
	cases := []struct {
		when    string
		before  []jobOp
		do      jobOp
		wantErr bool
		want    string
	}{
		{"", nil, opEnqueue, false, "pending"},
		{"", []jobOp{opEnqueue}, opEnqueue, true, "pending"},
		{"", nil, opWait, false, "waiting_for_resource"},
		{"", []jobOp{opWait}, opEnqueue, false, "pending"},
		{"", []jobOp{opEnqueue}, opWait, true, "pending"},
		{"", nil, opStart, true, "created"},
		{"", []jobOp{opEnqueue}, opStart, false, "running"},
		{"", []jobOp{opWait}, opStart, false, "running"},
		{"", []jobOp{opEnqueue, opStart}, opStart, true, "running"},
		{"", []jobOp{opEnqueue}, success, true, "pending"},
		{"", []jobOp{opEnqueue}, failed, false, "failed"},
		{"", []jobOp{opEnqueue}, canceled, false, "canceled"},
		{"", nil, canceled, false, "canceled"},
		{"", nil, failed, true, "created"},
		{"", []jobOp{opEnqueue, opStart}, success, false, "success"},
		{"", []jobOp{opEnqueue, opStart}, failed, false, "failed"},
		{"", []jobOp{opEnqueue, opStart}, canceled, false, "canceled"},
		{"", []jobOp{opEnqueue, opStart, success}, opStart, true, "success"},
		{"", []jobOp{opEnqueue, opStart, success}, failed, true, "success"},
		{"", []jobOp{opEnqueue, opStart, success}, canceled, true, "success"},
		{"", []jobOp{opEnqueue, opStart}, opFinish("skipped", FinishOptions{}), true, "running"},
		{"", []jobOp{opEnqueue, opStart}, opFinish("success", FinishOptions{FailureReason: "script_failure"}), true, "running"},
		{"", []jobOp{opEnqueue, opStart}, opFinish("success", FinishOptions{Artifacts: []Artifact{{Size: 1}}}), true, "running"},
		{"", nil, opSkip, false, "skipped"},
		{"manual", nil, opSkip, false, "skipped"},
		{"", []jobOp{opEnqueue, opStart}, opSkip, true, "running"},
		{"manual", nil, opPlay, false, "pending"},
		{"delayed", nil, opPlay, false, "pending"},
		{"", nil, opPlay, true, "created"},
		{"manual", nil, opStart, true, "manual"},
		{"manual", nil, canceled, false, "canceled"},
		{"", []jobOp{opEnqueue, opStart}, opRetry, true, "running"},
		{"", []jobOp{opSkip}, opRetry, true, "skipped"},
		{"", []jobOp{opEnqueue, opStart, failed}, opRetry, false, "failed"},
		{"", []jobOp{opEnqueue, opStart, success}, opRetry, false, "success"},
		{"", []jobOp{opEnqueue, canceled}, opRetry, false, "canceled"},
	}
	for _, c := range cases {
		var names []string
		for _, b := range c.before {
			names = append(names, b.name)
		}
		t.Run(c.when+"/"+strings.Join(names, ",")+"/"+c.do.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			id := f.s.CreateJob(f.pipeline, JobSpec{Name: "j", When: c.when})
			for _, b := range c.before {
				must(t, b.do(f.s, id))
			}
			err := c.do.do(f.s, id)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "job ") {
				t.Errorf("error %q does not name the job", err)
			}
			rec, _ := f.s.Job(id)
			if rec.Status != c.want {
				t.Errorf("status = %q, want %q", rec.Status, c.want)
			}
		})
	}
}

func TestTransitionErrors(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.s.Start(12345); err == nil || !strings.Contains(err.Error(), "12345") {
		t.Errorf("Start(unknown) = %v, want an error naming the id", err)
	}
	id := f.job(t, "j", "failed")
	if _, err := f.s.Retry(id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Retry(id); err == nil {
		t.Error("retrying a retried job succeeded")
	}
	b, _ := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger"})
	if err := f.s.Finish(b, "canceled", FinishOptions{Artifacts: []Artifact{{FileType: "trace", Size: 1}}}); err == nil {
		t.Error("a bridge accepted artifacts")
	}
	if err := f.s.Finish(b, "canceled", FinishOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Retry(b); err == nil {
		t.Error("Retry of a bridge succeeded")
	}
}

func TestFinishRecordsOutcome(t *testing.T) {
	cases := []struct {
		status, reason, wantReason string
		arts                       []Artifact
		wantSizes                  map[string]int64
	}{
		{"success", "", "", nil, nil},
		{"failed", "", "script_failure", nil, nil},
		{"failed", "runner_system_failure", "runner_system_failure", nil, nil},
		{"success", "", "", []Artifact{{FileType: "archive", Size: 10, FileFormat: "zip"}, {FileType: "trace", Size: 3}},
			map[string]int64{"archive": 10, "trace": 3}},
	}
	for _, c := range cases {
		t.Run(c.status+"/"+c.reason, func(t *testing.T) {
			f := newFixture(t, Options{})
			id := f.job(t, "j", "running")
			f.clock.Advance(time.Minute)
			must(t, f.s.Finish(id, c.status, FinishOptions{FailureReason: c.reason, Artifacts: c.arts}))
			rec, _ := f.s.Job(id)
			if rec.FailureReason != c.wantReason {
				t.Errorf("failure reason %q, want %q", rec.FailureReason, c.wantReason)
			}
			if rec.FinishedAt == nil || !rec.FinishedAt.Equal(t0.Add(time.Minute)) {
				t.Errorf("finished_at %v, want %v", rec.FinishedAt, t0.Add(time.Minute))
			}
			if len(rec.ArtifactSizes) != len(c.wantSizes) {
				t.Fatalf("artifacts %v, want %v", rec.ArtifactSizes, c.wantSizes)
			}
			for k, v := range c.wantSizes {
				if rec.ArtifactSizes[k] != v {
					t.Errorf("artifact %s = %d, want %d", k, rec.ArtifactSizes[k], v)
				}
			}
		})
	}
}

// TestDurationsFollowClock checks GitLab's calculate_duration through the
// API: null before the start, growing while running, fixed once finished.
func TestDurationsFollowClock(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.s.CreateJob(f.pipeline, JobSpec{Name: "j"})
	type durations struct {
		Duration       *float64 `json:"duration"`
		QueuedDuration *float64 `json:"queued_duration"`
	}
	path := "/api/v4/projects/1/jobs/" + itoa(id)
	steps := []struct {
		name           string
		act            func()
		wantDur, wantQ *float64
	}{
		{"created", func() {}, nil, nil},
		{"queued 1.5s", func() { must(t, f.s.Enqueue(id)); f.clock.Advance(1500 * time.Millisecond) }, nil, fp(1.5)},
		{"queued 4s", func() { f.clock.Advance(2500 * time.Millisecond) }, nil, fp(4)},
		{"running 10s", func() { must(t, f.s.Start(id)); f.clock.Advance(10 * time.Second) }, fp(10), fp(4)},
		{"running 70s", func() { f.clock.Advance(time.Minute) }, fp(70), fp(4)},
		{"finished", func() { must(t, f.s.Finish(id, "success", FinishOptions{})); f.clock.Advance(time.Hour) }, fp(70), fp(4)},
		{"nulled", func() { f.s.SetNullDurations(id, true) }, nil, nil},
	}
	for _, st := range steps {
		st.act()
		got := decode[durations](t, get(t, f.s, path))
		if !sameFloat(got.Duration, st.wantDur) || !sameFloat(got.QueuedDuration, st.wantQ) {
			t.Errorf("%s: duration %v queued %v, want %v %v", st.name, fv(got.Duration), fv(got.QueuedDuration), fv(st.wantDur), fv(st.wantQ))
		}
		rec, _ := f.s.Job(id)
		if !sameFloat(rec.Duration, st.wantDur) || !sameFloat(rec.QueuedDuration, st.wantQ) {
			t.Errorf("%s: record duration %v queued %v", st.name, fv(rec.Duration), fv(rec.QueuedDuration))
		}
	}
}

func fp(f float64) *float64 { return &f }

func fv(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	d := *a - *b
	return d < 1e-6 && d > -1e-6
}

func itoa(n int64) string { return strconvFormat(n) }

func TestCompositeStatus(t *testing.T) {
	j := func(status string, allowFailure bool) *job { return &job{status: status, allowFailure: allowFailure} }
	retried := &job{status: "failed", retried: true}
	cases := []struct {
		name string
		jobs []*job
		want string
	}{
		{"empty", nil, "created"},
		{"all created", []*job{j("created", false), j("created", false)}, "created"},
		{"pending and created", []*job{j("pending", false), j("created", false)}, "pending"},
		{"between stages", []*job{j("success", false), j("created", false)}, "running"},
		{"running", []*job{j("running", false), j("success", false)}, "running"},
		{"failed", []*job{j("success", false), j("failed", false)}, "failed"},
		{"allowed failure", []*job{j("success", false), j("failed", true)}, "success"},
		{"optional manual", []*job{j("success", false), j("manual", true)}, "success"},
		{"blocking manual", []*job{j("success", false), j("manual", false)}, "manual"},
		{"only optional manual", []*job{j("manual", true)}, "skipped"},
		{"canceled", []*job{j("success", false), j("canceled", false)}, "canceled"},
		{"all skipped", []*job{j("skipped", false)}, "skipped"},
		{"scheduled", []*job{j("success", false), j("scheduled", false)}, "scheduled"},
		{"unknown status is active", []*job{j("success", false), j("waiting_for_callback2", false)}, "running"},
		{"retried attempt ignored", []*job{retried, j("success", false)}, "success"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := compositeStatus(c.jobs); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestPipelineFollowsJobs checks status and updated_at through the API.
func TestPipelineFollowsJobs(t *testing.T) {
	f := newFixture(t, Options{})
	type pl struct {
		Status    string  `json:"status"`
		UpdatedAt string  `json:"updated_at"`
		StartedAt *string `json:"started_at"`
	}
	path := "/api/v4/projects/1/pipelines/" + itoa(f.pipeline)
	a := f.s.CreateJob(f.pipeline, JobSpec{Name: "a", Stage: "build"})
	b := f.s.CreateJob(f.pipeline, JobSpec{Name: "b", Stage: "test"})
	steps := []struct {
		act        func()
		wantStatus string
		wantMoved  bool
	}{
		{func() { f.clock.Advance(time.Second); must(t, f.s.Enqueue(a)) }, "pending", true},
		{func() { f.clock.Advance(time.Second); must(t, f.s.Start(a)) }, "running", true},
		{func() { f.clock.Advance(time.Second); must(t, f.s.Finish(a, "success", FinishOptions{})) }, "running", false},
		{func() { f.clock.Advance(time.Second); must(t, f.s.Enqueue(b)) }, "running", false},
		{func() { f.clock.Advance(time.Second); must(t, f.s.Start(b)) }, "running", false},
		{func() { f.clock.Advance(time.Second); must(t, f.s.Finish(b, "failed", FinishOptions{})) }, "failed", true},
	}
	prev := decode[pl](t, get(t, f.s, path))
	for i, st := range steps {
		st.act()
		got := decode[pl](t, get(t, f.s, path))
		if got.Status != st.wantStatus {
			t.Errorf("step %d: status %q, want %q", i, got.Status, st.wantStatus)
		}
		if moved := got.UpdatedAt != prev.UpdatedAt; moved != st.wantMoved {
			t.Errorf("step %d: updated_at moved=%v (%s → %s), want %v", i, moved, prev.UpdatedAt, got.UpdatedAt, st.wantMoved)
		}
		prev = got
	}
	if prev.StartedAt == nil {
		t.Error("finished pipeline has no started_at")
	}
}

func TestRetryCreatesNewJob(t *testing.T) {
	f := newFixture(t, Options{})
	old := f.s.CreateJob(f.pipeline, JobSpec{Name: "rspec 1/2", Stage: "test", Tags: []string{"docker"}})
	must(t, f.s.Enqueue(old))
	must(t, f.s.Start(old))
	must(t, f.s.Finish(old, "failed", FinishOptions{}))
	f.clock.Advance(time.Minute)
	n, err := f.s.Retry(old)
	if err != nil {
		t.Fatal(err)
	}
	if n <= old {
		t.Fatalf("new id %d not above old %d", n, old)
	}
	o, _ := f.s.Job(old)
	r, _ := f.s.Job(n)
	if !o.Retried || o.Status != "failed" {
		t.Errorf("old job %+v, want retried and still failed", o)
	}
	if r.Retried || r.Status != "pending" || r.Name != o.Name || r.Stage != o.Stage || r.PipelineID != o.PipelineID || !r.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("new job %+v does not copy %+v", r, o)
	}
	cases := []struct {
		path string
		want []int64
	}{
		{"/api/v4/projects/1/pipelines/1/jobs", []int64{n}},
		{"/api/v4/projects/1/pipelines/1/jobs?include_retried=false", []int64{n}},
		{"/api/v4/projects/1/pipelines/1/jobs?include_retried=true", []int64{n, old}},
		{"/api/v4/projects/1/jobs", []int64{n, old}},
		{"/api/v4/projects/1/jobs?pagination=keyset", []int64{n, old}},
	}
	for _, c := range cases {
		if got := ids(t, get(t, f.s, c.path)); !equalIDs(got, c.want) {
			t.Errorf("%s: ids %v, want %v", c.path, got, c.want)
		}
	}
	wantBody(t, get(t, f.s, "/api/v4/projects/1/pipelines/1/jobs?include_retried=maybe"), 400, `{"error":"include_retried is invalid"}`)
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBridgeFollowsChildPipeline(t *testing.T) {
	cases := []struct {
		childOutcome string
		wantBridge   string
		wantReason   string
	}{
		{"success", "success", ""},
		{"failed", "failed", "unknown_failure"},
		{"canceled", "canceled", ""},
	}
	for _, c := range cases {
		t.Run(c.childOutcome, func(t *testing.T) {
			f := newFixture(t, Options{})
			bridge, child := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger: docs", Stage: "test"})
			if bridge == 0 || child == 0 || child == f.pipeline {
				t.Fatalf("CreateBridge = %d, %d", bridge, child)
			}
			cj := f.s.CreateJob(child, JobSpec{Name: "docs"})
			if rec, _ := f.s.Job(bridge); rec.Status != "created" || !rec.IsBridge {
				t.Fatalf("new bridge %+v", rec)
			}
			f.clock.Advance(time.Second)
			must(t, f.s.Enqueue(cj))
			rec, _ := f.s.Job(bridge)
			if rec.Status != "running" || rec.StartedAt == nil {
				t.Fatalf("bridge with an active child: %+v", rec)
			}
			must(t, f.s.Start(cj))
			f.clock.Advance(time.Minute)
			must(t, f.s.Finish(cj, c.childOutcome, FinishOptions{}))
			rec, _ = f.s.Job(bridge)
			if rec.Status != c.wantBridge || rec.FailureReason != c.wantReason || rec.FinishedAt == nil {
				t.Fatalf("bridge %+v, want %s/%q", rec, c.wantBridge, c.wantReason)
			}

			type pb struct {
				ID     int64  `json:"id"`
				Status string `json:"status"`
				Source string `json:"source"`
			}
			bridges := decode[[]struct {
				ID         int64  `json:"id"`
				Status     string `json:"status"`
				Downstream *pb    `json:"downstream_pipeline"`
			}](t, get(t, f.s, "/api/v4/projects/1/pipelines/1/bridges"))
			if len(bridges) != 1 || bridges[0].ID != bridge || bridges[0].Status != c.wantBridge ||
				bridges[0].Downstream == nil || bridges[0].Downstream.ID != child ||
				bridges[0].Downstream.Status != c.childOutcome || bridges[0].Downstream.Source != "parent_pipeline" {
				t.Fatalf("bridges = %+v", bridges)
			}
			if got := ids(t, get(t, f.s, "/api/v4/projects/1/pipelines/1/jobs")); len(got) != 0 {
				t.Errorf("pipeline jobs lists bridges: %v", got)
			}
			if got := ids(t, get(t, f.s, "/api/v4/projects/1/pipelines")); !equalIDs(got, []int64{f.pipeline}) {
				t.Errorf("pipelines without source lists %v, want only the parent", got)
			}
			if got := ids(t, get(t, f.s, "/api/v4/projects/1/pipelines?source=parent_pipeline")); !equalIDs(got, []int64{child}) {
				t.Errorf("pipelines?source=parent_pipeline lists %v, want the child", got)
			}
			if got := ids(t, get(t, f.s, "/api/v4/projects/1/pipelines/"+itoa(child)+"/jobs")); !equalIDs(got, []int64{cj}) {
				t.Errorf("child pipeline jobs %v", got)
			}
			wantBody(t, get(t, f.s, "/api/v4/projects/1/jobs/"+itoa(bridge)), 404, `{"message":"404 Not found"}`)
		})
	}
}

func TestSetStatusUnknown(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.job(t, "j", "running")
	f.s.SetStatus(id, "waiting_for_callback2")
	jobs := decode[[]struct {
		Status   string `json:"status"`
		Pipeline struct {
			Status string `json:"status"`
		} `json:"pipeline"`
	}](t, get(t, f.s, "/api/v4/projects/1/jobs"))
	if len(jobs) != 1 || jobs[0].Status != "waiting_for_callback2" || jobs[0].Pipeline.Status != "running" {
		t.Fatalf("jobs = %+v", jobs)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	p := s.CreateProject("a/b/c", ProjectOptions{DefaultBranch: "trunk"})
	pl := s.CreatePipeline(p, "", PipelineOptions{})
	cases := []struct {
		name string
		got  int64
	}{
		{"project without namespace", s.CreateProject("lonely", ProjectOptions{})},
		{"empty project path", s.CreateProject("", ProjectOptions{})},
		{"empty segment", s.CreateProject("a//c", ProjectOptions{})},
		{"bad character", s.CreateProject("a/b c", ProjectOptions{})},
		{"duplicate project", s.CreateProject("A/B/C", ProjectOptions{})},
		{"project over a group", s.CreateProject("a/b", ProjectOptions{})},
		{"group over a project", s.CreateGroup("a/b/c")},
		{"pipeline of unknown project", s.CreatePipeline(99, "main", PipelineOptions{})},
		{"job in unknown pipeline", s.CreateJob(99, JobSpec{Name: "x"})},
		{"job without name", s.CreateJob(pl, JobSpec{})},
		{"job with unknown when", s.CreateJob(pl, JobSpec{Name: "x", When: "sometimes"})},
	}
	for _, c := range cases {
		if c.got != 0 {
			t.Errorf("%s: got id %d, want 0", c.name, c.got)
		}
	}
	if g1, g2 := s.CreateGroup("a/b"), s.CreateGroup("a/b"); g1 == 0 || g1 != g2 {
		t.Errorf("CreateGroup is not idempotent: %d, %d", g1, g2)
	}
	if b, c := s.CreateBridge(99, JobSpec{Name: "t"}); b != 0 || c != 0 {
		t.Errorf("CreateBridge(unknown) = %d, %d", b, c)
	}
	jid := s.CreateJob(pl, JobSpec{Name: "x"})
	if rec, _ := s.Job(jid); rec.Ref != "trunk" || rec.Stage != "test" {
		t.Errorf("defaults: ref %q stage %q, want trunk/test", rec.Ref, rec.Stage)
	}
	// Methods without an error result ignore unknown ids.
	s.DeleteProject(99)
	s.ArchiveProject(99, true)
	s.ForbidProject(99, true)
	s.SetStatus(99, "running")
	s.SetNullDurations(99, true)
}

// TestPipelineDurationIsGitLabs: a pipeline's duration is the union of the
// running periods of its latest jobs and of its child pipeline's, as GitLab
// computes it: not its queue, not the gap between stages, not a retried
// attempt, not a bridge.
func TestPipelineDurationIsGitLabs(t *testing.T) {
	f := newFixture(t, Options{})
	type pl struct {
		Duration       *int64 `json:"duration"`
		QueuedDuration *int64 `json:"queued_duration"`
	}
	step := func(d time.Duration, acts ...func() error) {
		t.Helper()
		f.clock.Advance(d)
		for _, act := range acts {
			must(t, act())
		}
	}
	start := func(id int64) func() error { return func() error { return f.s.Start(id) } }
	finish := func(id int64, status string) func() error {
		return func() error { return f.s.Finish(id, status, FinishOptions{}) }
	}
	retry := func(id int64) int64 {
		t.Helper()
		n, err := f.s.Retry(id)
		must(t, err)
		return n
	}
	build := f.s.CreateJob(f.pipeline, JobSpec{Name: "build", Stage: "build"})
	lint := f.s.CreateJob(f.pipeline, JobSpec{Name: "lint", Stage: "build"})
	step(5*time.Second, func() error { return f.s.Enqueue(build) }, func() error { return f.s.Enqueue(lint) })
	step(3*time.Second, start(build))              // t=8: the pipeline starts
	step(10*time.Second, start(lint))              // t=18
	step(20*time.Second, finish(build, "success")) // t=38
	step(10*time.Second, finish(lint, "failed"))   // t=48
	step(time.Minute)                              // a gap
	lint2 := retry(lint)                           // t=108, pending
	step(5*time.Second, start(lint2))              // t=113
	step(15*time.Second, finish(lint2, "success")) // t=128: [113, 128]
	_, child := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger", Stage: "deploy"})
	deploy := f.s.CreateJob(child, JobSpec{Name: "deploy", Stage: "deploy"})
	step(time.Second, func() error { return f.s.Enqueue(deploy) }, start(deploy)) // t=129
	build2 := retry(build)
	step(0, start(build2))                          // t=129
	step(25*time.Second, finish(deploy, "success")) // t=154: [129, 154], in the child
	step(5*time.Second, finish(build2, "success"))  // t=159: [129, 159]
	got := decode[pl](t, get(t, f.s, "/api/v4/projects/1/pipelines/"+itoa(f.pipeline)))
	// The latest attempts ran [113, 128] and [129, 159], the child within:
	// 15 + 30 s. The first build and lint attempts (8 to 48) were retried.
	if got.Duration == nil || *got.Duration != 45 {
		t.Errorf("duration = %v, want 45", ptrString(got.Duration))
	}
	if got.QueuedDuration == nil || *got.QueuedDuration != 8 {
		t.Errorf("queued_duration = %v, want 8 (creation to start)", ptrString(got.QueuedDuration))
	}
}

func ptrString(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}
