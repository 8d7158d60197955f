package gitlabtest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func runWorkload(t testing.TB, opt WorkloadOptions, d time.Duration) (*Server, *Workload) {
	c := NewManualClock(t0)
	s := NewHandler(Options{Clock: c})
	w := NewWorkload(s, c, opt)
	w.Step(d)
	if w.errs != 0 {
		t.Fatalf("the model refused %d workload transitions", w.errs)
	}
	return s, w
}

var busy = WorkloadOptions{
	Projects: 20, JobsPerHour: 3000, JobsPerPipeline: 7, FailureRate: 0.15, ManualRate: 0.3,
	RetryRate: 0.5, ChildPipelineRate: 0.2, Seed: 42,
}

func TestWorkloadDeterministic(t *testing.T) {
	s1, _ := runWorkload(t, busy, 2*time.Hour)
	s2, _ := runWorkload(t, busy, 2*time.Hour)
	if !reflect.DeepEqual(s1.Jobs(), s2.Jobs()) {
		t.Fatal("same seed, different histories")
	}
	other := busy
	other.Seed = 43
	s3, _ := runWorkload(t, other, 2*time.Hour)
	if reflect.DeepEqual(s1.Jobs(), s3.Jobs()) {
		t.Fatal("different seeds, same history")
	}
}

// TestWorkloadGroundTruth checks that every record is internally
// consistent and that the mix resembles the options.
func TestWorkloadGroundTruth(t *testing.T) {
	s, w := runWorkload(t, busy, 3*time.Hour)
	recs := s.Jobs()
	now := t0.Add(3 * time.Hour)
	type key struct {
		pipeline int64
		name     string
	}
	latest := map[key]int64{}
	counts := map[string]int{}
	reasons := map[string]int{}
	var retried, bridges, builds int
	for i, r := range recs {
		if i > 0 && r.ID <= recs[i-1].ID {
			t.Fatalf("records not sorted by id at %d", i)
		}
		counts[r.Status]++
		if !knownStatus[r.Status] {
			t.Errorf("job %d: unknown status %q", r.ID, r.Status)
		}
		if (r.Status == "failed") != (r.FailureReason != "") {
			t.Errorf("job %d: status %s with failure reason %q", r.ID, r.Status, r.FailureReason)
		}
		reasons[r.FailureReason]++
		switch r.Status {
		case "success", "failed", "canceled":
			if r.FinishedAt == nil || r.FinishedAt.Before(r.CreatedAt) || r.FinishedAt.After(now) {
				t.Errorf("job %d: %s with finished_at %v", r.ID, r.Status, r.FinishedAt)
			}
		default:
			if r.FinishedAt != nil {
				t.Errorf("job %d: %s with finished_at", r.ID, r.Status)
			}
		}
		switch r.Status {
		case "running", "success":
			if r.StartedAt == nil || r.Duration == nil || *r.Duration < 0 {
				t.Errorf("job %d: %s without start or duration: %+v", r.ID, r.Status, r)
			}
		case "created", "manual", "skipped":
			if r.StartedAt != nil || r.QueuedDuration != nil || r.Duration != nil {
				t.Errorf("job %d: %s that ran or queued: %+v", r.ID, r.Status, r)
			}
		case "pending":
			if r.StartedAt != nil || r.QueuedDuration == nil {
				t.Errorf("job %d: pending without queue: %+v", r.ID, r)
			}
		}
		if r.StartedAt != nil && (r.StartedAt.Before(r.CreatedAt) || (r.FinishedAt != nil && r.FinishedAt.Before(*r.StartedAt))) {
			t.Errorf("job %d: times out of order: %+v", r.ID, r)
		}
		if r.IsBridge {
			bridges++
			if r.ArtifactSizes != nil {
				t.Errorf("bridge %d has artifacts", r.ID)
			}
		} else {
			builds++
			if r.Status == "success" && r.ArtifactSizes["trace"] <= 0 {
				t.Errorf("job %d succeeded without a trace", r.ID)
			}
		}
		if r.Retried {
			retried++
			if r.Status != "failed" {
				t.Errorf("retried job %d is %s", r.ID, r.Status)
			}
		}
		if !strings.HasPrefix(r.ProjectPath, "group/project-") {
			t.Errorf("job %d in project %q", r.ID, r.ProjectPath)
		}
		latest[key{r.PipelineID, r.Name}] = r.ID
	}
	// Every retried job has a newer attempt with the same name.
	for _, r := range recs {
		if r.Retried && latest[key{r.PipelineID, r.Name}] <= r.ID {
			t.Errorf("retried job %d has no newer attempt", r.ID)
		}
	}
	hours := 3.0
	if perHour := float64(builds+bridges) / hours; perHour < busy.JobsPerHour*0.7 || perHour > busy.JobsPerHour*1.3 {
		t.Errorf("%.0f jobs per hour, want about %.0f", perHour, busy.JobsPerHour)
	}
	for _, st := range []string{"success", "failed", "skipped", "manual", "running", "pending"} {
		if counts[st] == 0 {
			t.Errorf("no %s jobs in %v", st, counts)
		}
	}
	if retried == 0 || bridges == 0 {
		t.Errorf("retried %d, bridges %d", retried, bridges)
	}
	if reasons["script_failure"] < counts["failed"]/2 || len(reasons) < 4 {
		t.Errorf("failure reasons %v", reasons)
	}
	if len(w.ProjectIDs()) != busy.Projects {
		t.Errorf("%d projects", len(w.ProjectIDs()))
	}
}

// TestWorkloadAPIMatchesGroundTruth walks each project's jobs with keyset
// pagination and compares with Jobs(): the clock is frozen, so they agree.
func TestWorkloadAPIMatchesGroundTruth(t *testing.T) {
	c := NewManualClock(t0)
	s := NewServer(Options{Clock: c})
	t.Cleanup(s.Close)
	opt := busy
	opt.Projects = 3
	opt.JobsPerHour = 400
	w := NewWorkload(s, c, opt)
	w.Step(90 * time.Minute)
	want := map[int64]map[int64]string{}
	for _, r := range s.Jobs() {
		if r.IsBridge {
			continue
		}
		if want[r.ProjectID] == nil {
			want[r.ProjectID] = map[int64]string{}
		}
		want[r.ProjectID][r.ID] = r.Status
	}
	for _, p := range w.ProjectIDs() {
		got := map[int64]string{}
		for next := fmt.Sprintf("%s/api/v4/projects/%d/jobs?pagination=keyset&per_page=100", s.URL(), p); next != ""; {
			r := do(t, "GET", next)
			for _, j := range decode[[]struct {
				ID     int64  `json:"id"`
				Status string `json:"status"`
			}](t, r) {
				if _, dup := got[j.ID]; dup {
					t.Fatalf("job %d twice", j.ID)
				}
				got[j.ID] = j.Status
			}
			next = links(r.header)["next"]
		}
		if !reflect.DeepEqual(got, want[p]) {
			t.Errorf("project %d: API has %d jobs, ground truth %d", p, len(got), len(want[p]))
		}
	}
}

func TestWorkloadGroups(t *testing.T) {
	c := NewManualClock(t0)
	s := NewServer(Options{Clock: c})
	t.Cleanup(s.Close)
	w := NewWorkload(s, c, WorkloadOptions{Projects: 6, Groups: 3, ProjectPrefix: "acme/svc-"})
	if n := len(w.ProjectIDs()); n != 6 {
		t.Fatalf("%d projects", n)
	}
	p := decode[struct {
		Path string `json:"path_with_namespace"`
	}](t, get(t, s, fmt.Sprintf("/api/v4/projects/%d", w.ProjectIDs()[4])))
	if p.Path != "acme/team-2/svc-5" {
		t.Errorf("path %q", p.Path)
	}
	for q, n := range map[string]int{"": 0, "?include_subgroups=true": 6} {
		if got := len(ids(t, get(t, s, "/api/v4/groups/acme/projects"+q))); got != n {
			t.Errorf("group projects%s: %d, want %d", q, got, n)
		}
	}
}

func TestWorkloadRunFollowsRealTime(t *testing.T) {
	c := NewManualClock(time.Now().Add(-time.Minute))
	s := NewHandler(Options{Clock: c})
	w := NewWorkload(s, c, WorkloadOptions{JobsPerHour: 36000, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, time.Millisecond); close(done) }()
	deadline := time.After(10 * time.Second)
	for c.Now().Before(time.Now().Add(-time.Second)) {
		select {
		case <-deadline:
			t.Fatal("Run did not catch up with real time")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
	if len(s.Jobs()) == 0 {
		t.Error("a minute at 36,000 jobs per hour produced no job")
	}
}

// BenchmarkWorkload is the scale the scraper benchmarks use: 2,000
// projects, 50,000 jobs per hour, 6 simulated hours.
func BenchmarkWorkload(b *testing.B) {
	for b.Loop() {
		runWorkload(b, WorkloadOptions{
			Projects: 2000, Groups: 20, JobsPerHour: 50000, FailureRate: 0.1, ManualRate: 0.2,
			RetryRate: 0.3, ChildPipelineRate: 0.1, Seed: 1,
		}, 6*time.Hour)
	}
}

// TestRequestsDuringStep serves requests while the workload mutates the
// model; run with -race to check the locking.
func TestRequestsDuringStep(t *testing.T) {
	c := NewManualClock(t0)
	s := NewServer(Options{Clock: c})
	t.Cleanup(s.Close)
	opt := busy
	opt.Projects = 2
	w := NewWorkload(s, c, opt)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 30 {
			w.Step(time.Minute)
		}
	}()
	for _, p := range w.ProjectIDs() {
		for _, path := range []string{"/jobs?pagination=keyset", "/jobs", "/pipelines", "/pipelines/1/jobs"} {
			r := get(t, s, fmt.Sprintf("/api/v4/projects/%d%s", p, path))
			if r.status != 200 && r.status != 404 {
				t.Errorf("%s: %d %s", path, r.status, r.body)
			}
		}
	}
	<-done
	if w.errs != 0 {
		t.Errorf("%d refused transitions", w.errs)
	}
}
