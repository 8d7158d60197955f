package gitlabtest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// An automatic retry (retry: when: runner_system_failure) happens within
// the failing transition: the pipeline never shows failed. A manual retry
// makes the finished pipeline run again.
func TestAutoRetry(t *testing.T) {
	cases := []struct {
		name         string
		auto         bool
		others       int // other jobs of the stage, still running at the failure
		wantStatuses []string
		wantFinishes []string
	}{
		{"auto, alone", true, 0, []string{"pending", "running", "pending", "running", "success"}, []string{"success"}},
		{"auto, among others", true, 1, []string{"pending", "running", "success"}, []string{"success"}},
		{"by hand, alone", false, 0, []string{"pending", "running", "failed", "pending", "running", "success"}, []string{"failed", "success"}},
		// A pending job next to a finished one makes a running pipeline
		// (Status::Composite).
		{"by hand, among others", false, 1, []string{"pending", "running", "failed", "running", "success"}, []string{"failed", "success"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			rc := newReceiver(t)
			hook := addHook(t, f.s, rc, WebhookOptions{Manual: true})
			f.s.TrackPipelineFinishes(true)
			job := f.job(t, "rspec", "running")
			var others []int64
			for i := range c.others {
				others = append(others, f.job(t, fmt.Sprintf("other %d", i), "running"))
			}
			f.clock.Advance(time.Minute)
			must(t, f.s.Finish(job, "failed", FinishOptions{FailureReason: "runner_system_failure", AutoRetry: c.auto}))
			retry := f.s.LatestAttempt(job)
			if c.auto {
				if retry == job {
					t.Fatal("no new attempt after an automatic retry")
				}
			} else {
				if retry != job {
					t.Fatalf("LatestAttempt = %d before any retry, want %d", retry, job)
				}
				for _, o := range others {
					must(t, f.s.Finish(o, "success", FinishOptions{}))
				}
				f.clock.Advance(5 * time.Minute)
				var err error
				retry, err = f.s.Retry(job)
				must(t, err)
			}
			old, _ := f.s.Job(job)
			n, _ := f.s.Job(retry)
			if !old.Retried || old.Status != "failed" || old.FailureReason != "runner_system_failure" ||
				n.Status != "pending" || n.Retried || n.QueuedDuration == nil {
				t.Errorf("after the retry: old %+v, new %+v", old, n)
			}
			if c.auto && !n.CreatedAt.Equal(*old.FinishedAt) {
				t.Errorf("the automatic retry was created at %v, the failure was at %v", n.CreatedAt, old.FinishedAt)
			}
			if got := f.s.LatestAttempt(job); got != retry {
				t.Errorf("LatestAttempt(%d) = %d, want %d", job, got, retry)
			}
			f.clock.Advance(10 * time.Second)
			must(t, f.s.Start(retry))
			f.clock.Advance(time.Minute)
			must(t, f.s.Finish(retry, "success", FinishOptions{}))
			if c.auto {
				for _, o := range others {
					must(t, f.s.Finish(o, "success", FinishOptions{}))
				}
			}
			flush(t, hook)
			if got := hookStatuses(t, rc, 0, f.pipeline); !slices.Equal(got, c.wantStatuses) {
				t.Errorf("Pipeline Hooks %v, want %v", got, c.wantStatuses)
			}
			// The failed attempt is announced before its retry exists.
			if got := hookStatuses(t, rc, job, 0); !slices.Equal(got, []string{"created", "pending", "running", "failed"}) {
				t.Errorf("Job Hooks of the failed attempt: %v", got)
			}
			var finishes []string
			for _, r := range f.s.PipelineFinishes() {
				finishes = append(finishes, r.Status)
			}
			if !slices.Equal(finishes, c.wantFinishes) {
				t.Errorf("finishes %v, want %v", finishes, c.wantFinishes)
			}
		})
	}
}

func TestAutoRetryRefused(t *testing.T) {
	f := newFixture(t, Options{})
	bridge, _ := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger"})
	must(t, f.s.Enqueue(bridge))
	for _, c := range []struct {
		name   string
		status string
		bridge bool
	}{
		{"a success", "success", false},
		{"a cancel", "canceled", false},
		{"a bridge", "failed", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := bridge
			if !c.bridge {
				id = f.job(t, "j", "running")
			}
			before, _ := f.s.Job(id)
			if err := f.s.Finish(id, c.status, FinishOptions{AutoRetry: true}); err == nil {
				t.Errorf("Finish(%s) with AutoRetry accepted", c.status)
			}
			if rec, _ := f.s.Job(id); rec.Status != before.Status || f.s.LatestAttempt(id) != id {
				t.Errorf("a refused Finish left the job %s, latest attempt %d", rec.Status, f.s.LatestAttempt(id))
			}
		})
	}
}

// A retry by hand makes a failed pipeline run again as GitLab's does: the
// jobs skipped after the failure can run (AfterRequeueJobService) and a
// child pipeline's finished bridge waits for it again
// (reset_source_bridge!), so the parent runs again too.
func TestRetryRunsAFailedPipelineAgain(t *testing.T) {
	cases := []struct {
		name string
		// failIn: "parent" fails the parent's build job, "child" the
		// child's; "grandchild" one two bridges down.
		failIn string
	}{{"failed build", "parent"}, {"failed child pipeline", "child"}, {"failed grandchild pipeline", "grandchild"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{RetryReopens: true})
			s := f.s
			s.TrackPipelineFinishes(true)
			build := f.jobIn(t, f.pipeline, JobSpec{Name: "build", Stage: "build"}, "running")
			bridge, child := s.CreateBridge(f.pipeline, JobSpec{Name: "trigger", Stage: "test"})
			deploy := s.CreateJob(f.pipeline, JobSpec{Name: "deploy", Stage: "deploy"})
			optional := s.CreateJob(f.pipeline, JobSpec{Name: "review", Stage: "deploy", When: "manual", AllowFailure: true})
			// pipelines are those that fail and run again.
			pipelines := []int64{f.pipeline}
			failing := build
			if c.failIn != "parent" {
				must(t, s.Finish(build, "success", FinishOptions{}))
				must(t, s.Enqueue(bridge))
				failing = f.jobIn(t, child, JobSpec{Name: "docs", Stage: "build"}, "running")
				pipelines = append(pipelines, child)
				if c.failIn == "grandchild" {
					b2, grandchild := s.CreateBridge(child, JobSpec{Name: "trigger 2", Stage: "test"})
					must(t, s.Finish(failing, "success", FinishOptions{}))
					must(t, s.Enqueue(b2))
					failing = f.jobIn(t, grandchild, JobSpec{Name: "deep"}, "running")
					pipelines = append(pipelines, grandchild)
				}
			}
			must(t, s.Finish(failing, "failed", FinishOptions{}))
			// The workload skips the later stages as GitLab does.
			if c.failIn == "parent" {
				must(t, s.Skip(bridge))
			}
			must(t, s.Skip(deploy))
			must(t, s.Skip(optional))
			for _, p := range pipelines {
				if r, _ := s.Pipeline(p); r.Status != "failed" {
					t.Fatalf("pipeline %d is %s after the failure, want failed", p, r.Status)
				}
			}

			f.clock.Advance(5 * time.Minute)
			retry, err := s.Retry(failing)
			must(t, err)
			for _, w := range []struct {
				id     int64
				status string
			}{{deploy, "created"}, {optional, "manual"}} {
				if r, _ := s.Job(w.id); r.Status != w.status {
					t.Errorf("job %s after the retry: %s, want %s", r.Name, r.Status, w.status)
				}
			}
			for _, p := range pipelines {
				if r, _ := s.Pipeline(p); r.Status != "running" && r.Status != "pending" {
					t.Errorf("pipeline %d is %s after the retry, want it running again", p, r.Status)
				}
			}
			must(t, s.Start(retry))
			must(t, s.Finish(retry, "success", FinishOptions{}))
			if c.failIn == "parent" {
				must(t, s.Enqueue(bridge)) // skipped, then created again
				f.jobIn(t, child, JobSpec{Name: "docs"}, "success")
			}
			if r, _ := s.Job(bridge); r.Status != "success" {
				t.Errorf("bridge %s after its child succeeded", r.Status)
			}
			must(t, s.Enqueue(deploy))
			must(t, s.Start(deploy))
			must(t, s.Finish(deploy, "success", FinishOptions{}))
			got := map[int64][]string{}
			for _, r := range s.PipelineFinishes() {
				got[r.ID] = append(got[r.ID], r.Status)
			}
			want := map[int64][]string{child: {"success"}} // when it ran only after the retry
			for _, p := range pipelines {
				want[p] = []string{"failed", "success"}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("finishes %v, want %v", got, want)
			}
		})
	}
}
