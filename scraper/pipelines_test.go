package scraper_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// gitlabPipeline is the pipeline as GitLab answers for it now.
func (e *env) gitlabPipeline(project string, id int64) *gitlabapi.Pipeline {
	e.t.Helper()
	pl, err := e.client.Pipeline(context.Background(), project, id)
	e.must(err)
	return pl
}

// assertPipeline checks the events of pipeline id, and that the one
// reported last carries what GitLab says of the pipeline now.
func (e *env) assertPipeline(project string, id int64, want ...string) {
	e.t.Helper()
	if got := e.rec.pipelineEvents(id); !slices.Equal(got, want) {
		e.t.Fatalf("pipeline %d: events %q, want %q", id, got, want)
	}
	if len(want) == 0 {
		return
	}
	e.rec.mu.Lock()
	got := e.rec.pipelineOf[id]
	e.rec.mu.Unlock()
	now := e.gitlabPipeline(project, id)
	if got.Status != now.Status || got.Ref != now.Ref || got.Source != now.Source ||
		got.Duration == nil || now.Duration == nil || *got.Duration != *now.Duration {
		e.t.Errorf("pipeline %d reported as %s %s %s duration %v; GitLab has %s %s %s duration %v", id,
			got.Status, got.Ref, got.Source, got.Duration, now.Status, now.Ref, now.Source, now.Duration)
	}
}

func TestPipelineCountedOnceWhenItsLastJobFinishes(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test", Stage: "test"})
	e.run(build, "success")
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 0 {
		t.Errorf("%d pipeline requests while a job of it is still to run", n)
	}
	if got := e.rec.unfinished["g/app"]; !maps.Equal(got, map[string]int{"running": 1}) {
		t.Errorf("unfinished pipelines %v, want one running", got)
	}
	e.run(test, "failed")
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 1 {
		t.Errorf("%d pipeline requests for the pipeline that finished, want 1", n)
	}
	e.assertPipeline("g/app", pid, "failed")
	if got := e.rec.unfinished["g/app"]; len(got) != 0 {
		t.Errorf("unfinished pipelines %v after the only one finished", got)
	}

	// Idle polls never ask for it again.
	e.gl.ResetRequests()
	for range 10 {
		e.cycle(30 * time.Second)
	}
	if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 0 {
		t.Errorf("%d pipeline requests in idle polls", n)
	}
	e.assertPipeline("g/app", pid, "failed")
}

// A pipeline that failed and went green after a retry keeps its first
// result, and its later one is counted once; a second retry that ends
// green again only moves the latest result.
func TestRetriedPipelineKeepsItsFirstResult(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test"})
	e.run(test, "failed")
	e.cycle(30 * time.Second)
	e.assertPipeline("g/app", pid, "failed")

	retry, err := e.gl.Retry(test)
	e.must(err)
	e.cycle(30 * time.Second)
	if got := e.rec.unfinished["g/app"]; got["pending"]+got["running"] != 1 {
		t.Errorf("unfinished pipelines %v, want the retried one", got)
	}
	e.must(e.gl.Start(retry))
	e.clock.Advance(10 * time.Second)
	e.must(e.gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)
	e.assertPipeline("g/app", pid, "failed", "failed->success")

	again, err := e.gl.Retry(retry)
	e.must(err)
	e.must(e.gl.Start(again))
	e.clock.Advance(10 * time.Second)
	e.must(e.gl.Finish(again, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)
	e.assertPipeline("g/app", pid, "failed", "failed->success", "failed->success again")
	e.assertExactlyOnce(time.Time{})
}

// A child pipeline is a pipeline of its own, counted once with source
// parent_pipeline; its parent, which waits for it through its bridge, once
// after it.
func TestChildPipelineCountedApart(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	parent := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(parent, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	_, child := e.gl.CreateBridge(parent, gitlabtest.JobSpec{Name: "trigger", Stage: "test"})
	e.run(build, "success")
	e.cycle(30 * time.Second)
	inChild := e.gl.CreateJob(child, gitlabtest.JobSpec{Name: "child-test"})
	e.run(inChild, "success")
	for range 3 {
		e.cycle(30 * time.Second)
	}
	e.assertPipeline("g/app", child, "success")
	e.assertPipeline("g/app", parent, "success")
	if src := e.gitlabPipeline("g/app", child).Source; src != "parent_pipeline" {
		t.Errorf("child pipeline source %q", src)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestMergeRequestPipelineCounted(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	for _, ref := range []string{"refs/merge-requests/7/head", "refs/merge-requests/7/merge", "refs/merge-requests/7/train"} {
		pid := e.gl.CreatePipeline(1, ref, gitlabtest.PipelineOptions{Source: "merge_request_event"})
		e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test"}), "success")
		e.cycle(30 * time.Second)
		e.assertPipeline("g/app", pid, "success")
	}
}

// A restart mid-pipeline counts the pipeline once, from the saved state;
// a restart after it was counted does not count it again.
func TestRestartMidPipeline(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.opts.Store = newStore(t, t.TempDir(), e.gl.URL())
	e.restart()
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test", Stage: "test"})
	e.run(build, "success")
	e.cycle(30 * time.Second)
	e.restart()
	e.run(test, "success")
	e.cycle(30 * time.Second)
	e.assertPipeline("g/app", pid, "success")
	e.restart()
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 0 {
		t.Errorf("%d pipeline requests after a restart with nothing new", n)
	}
	e.assertPipeline("g/app", pid, "success")
	e.assertExactlyOnce(time.Time{})
}

// A pipeline forgotten after the retry window and run again counts as a
// later result of an unknown first one: never as a second pipeline.
func TestPipelineRunAgainAfterTheRetryWindow(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{PipelineTTL: time.Hour})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test"})
	e.run(test, "failed")
	e.cycle(30 * time.Second)
	for range 3 {
		e.cycle(time.Hour)
	}
	retry, err := e.gl.Retry(test)
	e.must(err)
	e.must(e.gl.Start(retry))
	e.must(e.gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)
	e.assertPipeline("g/app", pid, "failed", "unknown->success")
}

// Pipelines older than the first walk's lookback are history: their
// results are not first results.
func TestPipelineBeforeTheLookbackIsHistory(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: time.Hour})
	old := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(old, gitlabtest.JobSpec{Name: "build"})
	e.run(build, "failed")
	e.clock.Advance(2 * time.Hour)
	recent := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	e.run(e.gl.CreateJob(recent, gitlabtest.JobSpec{Name: "build"}), "success")
	retry, err := e.gl.Retry(build)
	e.must(err)
	e.cycle(time.Second)
	e.must(e.gl.Start(retry))
	e.must(e.gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)
	e.assertPipeline("g/app", recent, "success")
	e.assertPipeline("g/app", old, "unknown->success")
}

// A Pipeline Hook saying a pipeline finished wakes a poll that counts it,
// even when the Job Hooks were lost (the hint is all the webhook handler
// passes on: the payload is never data).
func TestPipelineHintCountsAPipelineWhoseJobHooksWereLost(t *testing.T) {
	e := newWalkedEnv(t)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test"})
	e.must(e.gl.Enqueue(test))
	e.cycle(30 * time.Second) // the scheduled walk follows the job
	e.must(e.gl.Start(test))
	e.must(e.gl.Finish(test, "success", gitlabtest.FinishOptions{}))
	for _, status := range []gitlabapi.JobStatus{"running", "success"} {
		if !e.s.Hint(scraper.Hint{ProjectID: 1, PipelineID: pid, JobStatus: status}) {
			t.Fatal("the project's hint was refused")
		}
	}
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if got, want := e.requestsByEndpoint(), map[string]int{gitlabtest.EndpointPipeline: 1}; !maps.Equal(got, want) {
		t.Errorf("hinted poll made %v, want %v", got, want)
	}
	e.assertPipeline("g/app", pid, "success")
	// A duplicate delivery, then the walk that finds the job: nothing
	// more is counted, and the pipeline is not fetched again.
	e.s.Hint(scraper.Hint{ProjectID: 1, PipelineID: pid, JobStatus: "success"})
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	e.cycle(30 * time.Second)
	if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 0 {
		t.Errorf("%d pipeline requests after it was counted", n)
	}
	e.assertPipeline("g/app", pid, "success")
	e.assertExactlyOnce(time.Time{})
}

func TestSkipPipelinesFetchesNone(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{SkipPipelines: true})
	e.cycle(time.Second)
	e.run(e.pipelineOfJobs(1, 2)[0], "success")
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "test"})
	e.run(test, "failed")
	for range 3 {
		e.cycle(30 * time.Second)
	}
	if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 0 {
		t.Errorf("%d pipeline requests with pipelines skipped", n)
	}
	if got := e.rec.pipelineEvents(pid); len(got) != 0 {
		t.Errorf("pipeline counted %v with pipelines skipped", got)
	}
	if e.rec.finished[test] != 1 {
		t.Error("the job was not counted")
	}
}

// A delivery naming a pipeline older than the lookback counts nothing:
// its result is neither a first one (it is older than the lookback, or its
// jobs were handled by an earlier walk) nor a later one (no job of it
// moved). It costs the one fetch the delivery asks for, and a duplicate
// delivery none.
func TestHintedPipelineBeforeTheLookbackIsHistory(t *testing.T) {
	for _, firstWalk := range []bool{true, false} {
		e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: time.Hour})
		old := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
		e.run(e.gl.CreateJob(old, gitlabtest.JobSpec{Name: "build"}), "success")
		e.clock.Advance(2 * time.Hour)
		if firstWalk {
			e.s.Discover(context.Background())
		} else {
			e.cycle(0)
		}
		if !e.s.Hint(scraper.Hint{ProjectID: 1, PipelineID: old, JobStatus: "success"}) {
			t.Fatal("hint refused")
		}
		e.gl.ResetRequests()
		e.hintedCycle(time.Second)
		if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 1 {
			t.Errorf("first walk %v: %d pipeline requests, want 1", firstWalk, n)
		}
		e.s.Hint(scraper.Hint{ProjectID: 1, PipelineID: old, JobStatus: "success"})
		e.hintedCycle(time.Second)
		if n := e.gl.RequestCount(gitlabtest.EndpointPipeline); n != 1 {
			t.Errorf("first walk %v: %d pipeline requests after a duplicate delivery, want still 1", firstWalk, n)
		}
		if got := e.rec.pipelineEvents(old); len(got) != 0 {
			t.Errorf("first walk %v: pipeline older than the lookback counted as %v", firstWalk, got)
		}
	}
}

// A child pipeline retried to green makes its parent finish again, though
// no job of the parent moves (its bridge keeps its id): the parent's later
// result is counted, from the child's.
func TestParentFinishesAgainWithItsRetriedChild(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.gl.SetRetryReopens(true) // as GitLab: the retry reopens the parent's bridge
	e.cycle(time.Second)
	parent := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	e.run(e.gl.CreateJob(parent, gitlabtest.JobSpec{Name: "build", Stage: "build"}), "success")
	_, child := e.gl.CreateBridge(parent, gitlabtest.JobSpec{Name: "trigger", Stage: "test"})
	e.cycle(30 * time.Second)
	test := e.gl.CreateJob(child, gitlabtest.JobSpec{Name: "child-test"})
	e.run(test, "failed")
	for range 2 {
		e.cycle(30 * time.Second)
	}
	e.assertPipeline("g/app", child, "failed")
	e.assertPipeline("g/app", parent, "failed")

	retry, err := e.gl.Retry(test)
	e.must(err)
	e.must(e.gl.Start(retry))
	e.clock.Advance(10 * time.Second)
	e.must(e.gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
	for range 2 {
		e.cycle(30 * time.Second)
	}
	e.assertPipeline("g/app", child, "failed", "failed->success")
	e.assertPipeline("g/app", parent, "failed", "failed->success")
}
