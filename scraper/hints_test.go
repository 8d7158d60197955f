package scraper_test

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/webhook"
)

const hookSecret = "hook-secret"

type nopDeliveries struct{}

func (nopDeliveries) WebhookDelivery(string, string) {}

// withWebhooks points a manual webhook of the fake at the real handler in
// front of the env's scraper; deliver flushes what the fake has sent.
func (e *env) withWebhooks(faults gitlabtest.WebhookFaults) (deliver func()) {
	e.t.Helper()
	h := webhook.NewHandler(e.s, nopDeliveries{})
	h.SetSecret(hookSecret)
	srv := httptest.NewServer(h)
	e.t.Cleanup(srv.Close)
	hook, err := e.gl.AddWebhook(gitlabtest.WebhookOptions{URL: srv.URL, SecretToken: hookSecret, Manual: true,
		Faults: faults, Seed: 7})
	e.must(err)
	return func() {
		e.t.Helper()
		if _, err := hook.Flush(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// newWalkedEnv is one project whose first poll has walked it (it has a
// finished job), so that deliveries make hinted polls.
func newWalkedEnv(t *testing.T) *env {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.run(e.pipelineOfJobs(1, 1)[0], "success")
	e.cycle(time.Second) // discovery and the first walk (a project without jobs is walked until it has one)
	return e
}

// newQuietManualDeploy is a project with nothing running whose only
// followed job is a manual deploy far below its first page.
func newQuietManualDeploy(t *testing.T) (*env, int64) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{ParkedRecheckInterval: 10 * time.Minute})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	deploy := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
	e.startThenBury(build)
	e.must(e.gl.Finish(build, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)
	return e, deploy
}

// hintedCycle advances the clock and serves the pending hints.
func (e *env) hintedCycle(d time.Duration) {
	e.clock.Advance(d)
	e.s.HintedCycle(context.Background())
}

// requestsByEndpoint counts the fake's requests since the last reset.
func (e *env) requestsByEndpoint() map[string]int {
	out := map[string]int{}
	for _, r := range e.gl.Requests() {
		out[r.Endpoint]++
	}
	return out
}

func TestHintedPollCountsWithoutWalking(t *testing.T) {
	e := newWalkedEnv(t)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})

	jobs := e.pipelineOfJobs(1, 3)
	for _, id := range jobs {
		e.run(id, "success")
	}
	e.gl.ResetRequests()
	deliver()
	e.hintedCycle(2 * time.Second)
	lone := e.pipelineOfJobs(1, 1)[0]
	e.run(lone, "failed")
	deliver()
	e.hintedCycle(2 * time.Second)

	// One list for the pipeline of three, one job for the pipeline of one,
	// one bridge list per new pipeline, each pipeline once it finished,
	// and never the job list.
	want := map[string]int{"/projects/:id/pipelines/:pipeline_id/jobs": 1, "/projects/:id/jobs/:job_id": 1,
		"/projects/:id/pipelines/:pipeline_id/bridges": 2, "/projects/:id/pipelines/:pipeline_id": 2}
	if got := e.requestsByEndpoint(); !maps.Equal(got, want) {
		t.Errorf("the hinted polls made %v, want %v", got, want)
	}
	if got := e.totalFinished(); got != 5 {
		t.Errorf("counted %d jobs, want 5 (4 and the first walk's)", got)
	}
	if r := e.rec.lastPoll(t, "g/app"); !r.Hinted || !slices.Equal(r.HintLatencies, []time.Duration{2 * time.Second}) {
		t.Errorf("poll result %+v, want a hinted poll counting a job 2s after its delivery", r)
	}

	// The scheduled poll walks past the hinted jobs and counts none again.
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if got := jobListRequests(e); len(got) != 1 {
		t.Errorf("the next walk made job-list requests %v, want 1", got)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestHintedPollServesABurstOnce(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	jobs := e.pipelineOfJobs(1, 10)
	for _, id := range jobs {
		e.run(id, "success") // 4 deliveries each
	}
	deliver()
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if got := e.gl.RequestCount(""); got != 3 {
		t.Errorf("40 deliveries cost %d requests, want 3 (the pipeline's jobs, its bridges and itself once finished): %v", got, e.requestsByEndpoint())
	}
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if got := e.gl.RequestCount(""); got != 0 {
		t.Errorf("a hinted cycle with nothing pending made %d requests", got)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestHintFindsAPlayedManualJobBelowTheFirstPage(t *testing.T) {
	e, deploy := newQuietManualDeploy(t)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})

	e.must(e.gl.Play(deploy))
	e.must(e.gl.Start(deploy))
	e.clock.Advance(40 * time.Second)
	e.must(e.gl.Finish(deploy, "success", gitlabtest.FinishOptions{}))
	e.gl.ResetRequests()
	deliver()
	e.hintedCycle(time.Second)
	if n := e.rec.finished[deploy]; n != 1 {
		t.Fatalf("the played deploy was counted %d times after its deliveries, want 1", n)
	}
	// The job, and its pipeline, which has a result again.
	want := map[string]int{"/projects/:id/jobs/:job_id": 1, "/projects/:id/pipelines/:pipeline_id": 1}
	if got := e.requestsByEndpoint(); !maps.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	for range 25 {
		e.cycle(30 * time.Second) // past the parked recheck
	}
	e.assertExactlyOnce(time.Time{})
}

func TestChildPipelineDeliveryRefreshesTheParentsBridge(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	parent := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(parent, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	e.run(build, "success")
	bridge, child := e.gl.CreateBridge(parent, gitlabtest.JobSpec{Name: "trigger", Stage: "deploy"})
	docs := e.gl.CreateJob(child, gitlabtest.JobSpec{Name: "docs", Stage: "test"})
	deliver()
	e.hintedCycle(time.Second) // the parent's bridge is followed now
	e.run(docs, "success")     // the child pipeline finishes, and with it the bridge
	e.gl.ResetRequests()
	deliver()
	e.hintedCycle(time.Second)
	if n := e.rec.finished[bridge]; n != 1 {
		t.Errorf("the bridge was counted %d times after the child pipeline's deliveries, want 1 (requests %v)", n, e.requestsByEndpoint())
	}
	if got := jobListRequests(e); len(got) != 0 {
		t.Errorf("hinted polls walked the job list: %v", got)
	}
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
}

func TestPipelineOfBridgesOnlyIsFoundByItsDelivery(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	parent := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	bridge, child := e.gl.CreateBridge(parent, gitlabtest.JobSpec{Name: "trigger", Stage: "deploy"})
	e.run(e.gl.CreateJob(child, gitlabtest.JobSpec{Name: "docs", Stage: "test"}), "success")
	deliver()
	e.hintedCycle(time.Second)
	e.cycle(30 * time.Second) // the pipeline hint waits for a poll that wakes; this one serves it
	if n := e.rec.finished[bridge]; n != 1 {
		t.Errorf("the bridge of a pipeline without jobs was counted %d times, want 1", n)
	}
	e.assertExactlyOnce(time.Time{})
}

// TestDeliveriesAreHintsNotData: forged deliveries (jobs of no project or of
// another one, wrong statuses), duplicates and losses never change a count;
// with the scheduled polls the counts are those of polling alone.
func TestDeliveriesAreHintsNotData(t *testing.T) {
	e := newEnv(t, []string{"g/a", "g/b"}, scraper.Options{})
	e.cycle(time.Second)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{Loss: 0.2, Duplicate: 0.2, Reorder: 0.3})
	other := e.pipelineOfJobs(2, 1)[0] // a job of g/b
	e.run(other, "success")
	for round := range 5 {
		for _, id := range e.pipelineOfJobs(1, 3) {
			e.run(id, []string{"success", "failed"}[round%2])
		}
		deliver()
		// Forged: a job id of g/b sent as g/a's, an id GitLab does not
		// have, and a running job announced finished.
		running := e.pipelineOfJobs(1, 1)[0]
		e.must(e.gl.Enqueue(running))
		e.must(e.gl.Start(running))
		for _, h := range []scraper.Hint{
			{ProjectID: 1, JobID: other, PipelineID: 1, JobStatus: gitlabapi.StatusSuccess},
			{ProjectID: 1, JobID: 1 << 40, PipelineID: 1 << 40, JobStatus: gitlabapi.StatusFailed},
			{ProjectID: 1, JobID: running, JobStatus: gitlabapi.StatusSuccess},
			{ProjectID: 1, BridgesOf: 1 << 40},
		} {
			e.s.Hint(h)
		}
		e.hintedCycle(time.Second)
		e.must(e.gl.Finish(running, "success", gitlabtest.FinishOptions{}))
		e.hintedCycle(time.Second)
	}
	e.cycle(30 * time.Second)
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
	if n := e.rec.finished[other]; n != 1 {
		t.Errorf("g/b's job was counted %d times, want 1", n)
	}
}

func TestHintsForUnpolledProjectsAreIgnored(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	if e.s.Hint(scraper.Hint{ProjectID: 99, JobID: 5, JobStatus: gitlabapi.StatusSuccess}) {
		t.Error("a hint for a project not polled was taken")
	}
	if !e.s.Hint(scraper.Hint{ProjectID: 1, JobID: 5, JobStatus: gitlabapi.StatusSuccess}) {
		t.Error("a hint for a polled project was refused")
	}
}

// TestTooManyHintsMakeAFullPoll: past the bound on pending hints a project's
// memory stops growing and its next poll walks, which misses nothing.
func TestTooManyHintsMakeAFullPoll(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	ids := e.pipelineOfJobs(1, 3)
	for _, id := range ids {
		e.run(id, "success")
	}
	for i := range 10_000 {
		e.s.Hint(scraper.Hint{ProjectID: 1, JobID: int64(1<<40 + i), PipelineID: int64(i), JobStatus: gitlabapi.StatusSuccess})
	}
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if got := jobListRequests(e); len(got) != 1 {
		t.Errorf("job-list requests %v, want the one of a full walk", got)
	}
	if got := e.gl.RequestCount("/projects/:id/jobs/:job_id"); got != 0 {
		t.Errorf("%d hinted jobs fetched one by one, want none", got)
	}
	e.assertExactlyOnce(time.Time{})
}

// TestWebhooksCountLikePollingAlone: the same history polled with and
// without webhooks (lost, duplicated and reordered deliveries included)
// ends with the same counts, job by job.
func TestWebhooksCountLikePollingAlone(t *testing.T) {
	run := func(withHooks bool) (finished map[int64]int, retried map[string]int) {
		e := newEnv(t, []string{"g/app"}, scraper.Options{})
		e.cycle(time.Second)
		deliver := func() {}
		if withHooks {
			deliver = e.withWebhooks(gitlabtest.WebhookFaults{Loss: 0.1, Duplicate: 0.1, Reorder: 0.2})
		}
		for round := range 6 {
			ids := e.pipelineOfJobs(1, 4)
			for k, id := range ids {
				e.run(id, []string{"success", "failed", "canceled", "success"}[k])
			}
			if round%2 == 1 {
				retry, err := e.gl.Retry(ids[1])
				e.must(err)
				e.must(e.gl.Start(retry))
				e.must(e.gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
			}
			deliver()
			e.hintedCycle(time.Second)
			if round%3 == 2 {
				e.cycle(30 * time.Second)
			}
		}
		e.cycle(30 * time.Second)
		e.assertExactlyOnce(time.Time{})
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		return maps.Clone(e.rec.finished), maps.Clone(e.rec.retriedIn)
	}
	polled, polledRetries := run(false)
	hooked, hookedRetries := run(true)
	if !maps.Equal(polled, hooked) {
		t.Errorf("finished with webhooks %v\nwithout %v", describe(hooked), describe(polled))
	}
	if !maps.Equal(polledRetries, hookedRetries) || len(polledRetries) != 3 {
		t.Errorf("retries with webhooks %v, without %v; want the same 3", hookedRetries, polledRetries)
	}
}

func describe(m map[int64]int) string {
	keys := slices.Sorted(maps.Keys(m))
	return fmt.Sprint(len(keys), " jobs, first ", keys[:min(5, len(keys))])
}

func TestHintsOfManyPipelinesReadTheNewestJobs(t *testing.T) {
	e := newWalkedEnv(t)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	for range 4 { // four pipelines: one page of the newest jobs serves them
		e.run(e.pipelineOfJobs(1, 1)[0], "success")
	}
	e.gl.ResetRequests()
	deliver()
	e.hintedCycle(time.Second)
	// One page of the newest jobs for the four pipelines, and each new
	// pipeline's bridges and, finished, itself.
	want := map[string]int{"/projects/:id/jobs": 1, "/projects/:id/pipelines/:pipeline_id/bridges": 4,
		"/projects/:id/pipelines/:pipeline_id": 4}
	if got := e.requestsByEndpoint(); !maps.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	if got := e.totalFinished(); got != 5 {
		t.Errorf("counted %d jobs, want 5", got)
	}
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
}

// TestStartsRideAlongWithAWake: a job now pending or running is not worth
// a poll of its own; the next wake of the project (a job finishing) or the
// scheduled poll serves it.
func TestStartsRideAlongWithAWake(t *testing.T) {
	e := newWalkedEnv(t)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	waiting := e.pipelineOfJobs(1, 1)[0]
	e.must(e.gl.Enqueue(waiting))
	deliver()
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if n := e.gl.RequestCount(""); n != 0 {
		t.Errorf("a pending job's deliveries cost %d requests, want none yet", n)
	}
	e.must(e.gl.Start(waiting))
	deliver()
	e.hintedCycle(time.Second)
	if n := e.gl.RequestCount(""); n != 0 {
		t.Errorf("a running job's deliveries cost %d requests, want none yet", n)
	}
	other := e.pipelineOfJobs(1, 1)[0]
	e.run(other, "success")
	deliver()
	e.hintedCycle(time.Second)
	if e.rec.started[waiting] != 1 || e.rec.finished[other] != 1 {
		t.Errorf("after another job's finishing delivery: start of the running job seen %d times, the other job counted %d times; want 1, 1",
			e.rec.started[waiting], e.rec.finished[other])
	}
}

// pollsOf returns the number of scheduled and hinted polls of a project.
func (r *recorder) pollsOf(path string) (scheduled, hinted int, last event.PollResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.polls[path] {
		if p.Hinted {
			hinted++
		} else {
			scheduled++
		}
		last = p
	}
	return scheduled, hinted, last
}

func (r *recorder) finishedTimes(id int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finished[id]
}

// TestDeliveriesWakeTheProjectLoop drives Run on synctest's clock: a burst
// of deliveries wakes the project's loop once, a coalescing pause after
// the first, ten minutes before the scheduled poll; a hinted poll that
// fails tries its hints again after event.HintRetry, not at the reconciliation.
func TestDeliveriesWakeTheProjectLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newInProcessEnv(t, []string{"g/app"}, scraper.Options{Interval: 10 * time.Minute})
		e.run(e.pipelineOfJobs(1, 1)[0], "success") // walked by the first poll, so hints make hinted polls
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			e.s.Run(ctx)
		}()
		defer func() { cancel(); <-stopped }()
		time.Sleep(31 * time.Second) // past the spread of the first poll
		synctest.Wait()
		if s, h, _ := e.rec.pollsOf("g/app"); s != 1 || h != 0 {
			t.Fatalf("after 31 s: %d scheduled and %d hinted polls, want the first one", s, h)
		}

		finishWithDeliveries := func(n int) int64 {
			p := e.pipelineOfJobs(1, 1)
			e.run(p[0], "success")
			for range n { // GitLab's created, pending, running, success, and a duplicate
				e.s.Hint(scraper.Hint{ProjectID: 1, JobID: p[0], PipelineID: 1, JobStatus: gitlabapi.StatusSuccess})
			}
			return p[0]
		}
		job := finishWithDeliveries(5)
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if _, h, _ := e.rec.pollsOf("g/app"); h != 0 {
			t.Errorf("%d hinted polls within the coalescing pause, want 0", h)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if _, h, _ := e.rec.pollsOf("g/app"); h != 1 || e.rec.finishedTimes(job) != 1 {
			t.Errorf("300 ms after 5 deliveries: %d hinted polls and the job counted %d times, want 1 and 1", h, e.rec.finishedTimes(job))
		}

		e.gl.InjectFault(gitlabtest.Fault{Endpoint: "/projects/:id/jobs/:job_id", Kind: gitlabtest.FaultServerError, Times: 1})
		job = finishWithDeliveries(1)
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		if _, h, last := e.rec.pollsOf("g/app"); h != 2 || last.Reason == "" || e.rec.finishedTimes(job) != 0 {
			t.Fatalf("after a failed fetch: %d hinted polls, last %+v, job counted %d times; want 2, failed, 0", h, last, e.rec.finishedTimes(job))
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if _, h, _ := e.rec.pollsOf("g/app"); h != 2 {
			t.Errorf("%d hinted polls 29 s after the failure, want still 2", h)
		}
		time.Sleep(2 * time.Second) // the retry and its coalescing pause
		synctest.Wait()
		if s, h, last := e.rec.pollsOf("g/app"); s != 1 || h != 3 || last.Reason != "" || e.rec.finishedTimes(job) != 1 {
			t.Errorf("31 s after the failure: %d scheduled and %d hinted polls, last %+v, job counted %d times; want 1, 3, successful, 1",
				s, h, last, e.rec.finishedTimes(job))
		}
		e.assertExactlyOnce(time.Time{})
	})
}

// TestForgedHintsCostLittle: deliveries naming what GitLab does not have,
// just under the bound on pending hints, cost a few requests and leave
// nothing behind that makes later polls dearer.
func TestForgedHintsCostLittle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hint     func(i int) scraper.Hint
		requests int
	}{
		{"jobs of one pipeline", func(i int) scraper.Hint {
			return scraper.Hint{ProjectID: 1, JobID: int64(1<<40 + i), PipelineID: 1 << 40, JobStatus: gitlabapi.StatusSuccess}
		}, 1}, // the pipeline's jobs: 404
		{"jobs without a pipeline", func(i int) scraper.Hint {
			return scraper.Hint{ProjectID: 1, JobID: int64(1<<40 + i), JobStatus: gitlabapi.StatusSuccess}
		}, 8}, // one by one, as many as a poll affords (404); the rest wait for the next poll
		{"jobs of many pipelines", func(i int) scraper.Hint {
			return scraper.Hint{ProjectID: 1, JobID: int64(1<<40 + i), PipelineID: int64(1<<40 + i), JobStatus: gitlabapi.StatusSuccess}
		}, 1}, // the newest jobs, which do not have them
		{"pipelines", func(i int) scraper.Hint {
			return scraper.Hint{ProjectID: 1, PipelineID: int64(1<<40 + i), BridgesOf: int64(1<<40 + i)}
		}, 8}, // the bridges of as many as a poll affords (404); the rest wait for the next poll
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWalkedEnv(t)
			e.gl.ResetRequests()
			for i := range 255 {
				if h := tc.hint(i); h.BridgesOf == 0 || i < 127 {
					e.s.Hint(h)
				}
			}
			e.hintedCycle(time.Second)
			if got := e.gl.RequestCount(""); got != tc.requests {
				t.Errorf("the hinted poll made %d requests %v, want %d", got, e.requestsByEndpoint(), tc.requests)
			}
			// Later pipelines cost what they cost before: the forged ids
			// raised no bookkeeping (an old, forgotten pipeline costs a
			// list of its jobs).
			e.gl.ResetRequests()
			for range 3 {
				e.run(e.pipelineOfJobs(1, 2)[0], "success")
				e.cycle(30 * time.Second)
			}
			if got := e.gl.RequestCount("/projects/:id/pipelines/:pipeline_id/jobs"); got != 0 {
				t.Errorf("new pipelines cost %d pipeline-job lists after the forged hints, want 0", got)
			}
			e.assertExactlyOnce(time.Time{})
		})
	}
}

// TestNamedJobsBelowTheFirstPage: in a busy project, jobs that finish below
// the newest hundred are fetched as far as one poll affords, and the rest by
// the next hinted poll, not left to the reconciliation; jobs the deliveries
// name only as running are not fetched at all.
func TestNamedJobsBelowTheFirstPage(t *testing.T) {
	e := newWalkedEnv(t)
	const old = 12 // more pipelines than one hinted poll fetches
	var running, waiting []int64
	for range old {
		ids := e.pipelineOfJobs(1, 2)
		e.must(e.gl.Enqueue(ids[0]))
		e.must(e.gl.Start(ids[0]))
		running = append(running, ids[0])
		waiting = append(waiting, ids[1])
	}
	e.cycle(30 * time.Second) // all followed now
	for _, id := range e.pipelineOfJobs(1, 120) {
		e.must(e.gl.Enqueue(id)) // newer jobs fill the first page
	}
	e.cycle(30 * time.Second)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	for _, id := range waiting {
		e.must(e.gl.Enqueue(id)) // deliveries that ride along, worth no fetch
		e.must(e.gl.Start(id))
	}
	for _, id := range running {
		e.must(e.gl.Finish(id, "success", gitlabtest.FinishOptions{}))
	}
	deliver()

	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	byEndpoint := e.requestsByEndpoint()
	if got, want := byEndpoint["/projects/:id/jobs"], 1; got != want {
		t.Errorf("job-list requests %d, want %d", got, want)
	}
	fetched := byEndpoint["/projects/:id/jobs/:job_id"]
	if fetched == 0 || fetched >= old {
		t.Fatalf("the hinted poll fetched %d named jobs one by one, want some but fewer than %d: %v", fetched, old, byEndpoint)
	}
	counted := 0
	for _, id := range running {
		counted += e.rec.finished[id]
	}
	if counted != fetched {
		t.Errorf("%d of the finished jobs counted after %d fetches", counted, fetched)
	}

	// The next delivery's poll serves the rest.
	e.run(e.pipelineOfJobs(1, 1)[0], "success")
	deliver()
	for range old / fetched {
		e.hintedCycle(time.Second)
		e.run(e.pipelineOfJobs(1, 1)[0], "success")
		deliver()
	}
	for _, id := range running {
		if e.rec.finished[id] != 1 {
			t.Errorf("job %d finished below the first page was counted %d times before any scheduled poll, want 1", id, e.rec.finished[id])
		}
	}
	for _, r := range e.gl.Requests() {
		for _, id := range waiting {
			if r.Endpoint == "/projects/:id/jobs/:job_id" && strings.HasSuffix(r.Path, fmt.Sprintf("/jobs/%d", id)) {
				t.Errorf("running job %d was fetched for its delivery", id)
			}
		}
	}
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
}

// TestAPipelineListCountsItsOtherJobs: a pipeline's jobs, listed for the
// jobs deliveries named, count its other finished jobs too, whose
// deliveries are late or lost.
func TestAPipelineListCountsItsOtherJobs(t *testing.T) {
	e := newWalkedEnv(t)
	jobs := e.pipelineOfJobs(1, 3) // created before the hook: no delivery names the third
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})
	e.run(jobs[0], "success")
	e.run(jobs[1], "failed")
	deliver()
	e.run(jobs[2], "success") // its deliveries not sent yet
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if got := e.gl.RequestCount("/projects/:id/pipelines/:pipeline_id/jobs"); got != 1 {
		t.Errorf("pipeline-job lists %d, want 1: %v", got, e.requestsByEndpoint())
	}
	for _, id := range jobs {
		if e.rec.finished[id] != 1 {
			t.Errorf("job %d counted %d times, want 1", id, e.rec.finished[id])
		}
	}
	deliver()
	e.hintedCycle(time.Second)
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
}

// TestPlayedManualJobRidesAlong: a manual job far below the first page that
// a delivery says was played is fetched by the next poll a delivery wakes,
// even when that poll reads the newest jobs, rather than waiting for the
// parked recheck.
func TestPlayedManualJobRidesAlong(t *testing.T) {
	e, deploy := newQuietManualDeploy(t)
	deliver := e.withWebhooks(gitlabtest.WebhookFaults{})

	e.must(e.gl.Play(deploy))
	e.must(e.gl.Start(deploy)) // running: a delivery that wakes nothing
	for range 2 {              // two other pipelines finish a job: one page of the newest jobs
		e.run(e.pipelineOfJobs(1, 1)[0], "success")
	}
	deliver()
	e.gl.ResetRequests()
	e.hintedCycle(time.Second)
	if e.rec.started[deploy] != 1 {
		t.Errorf("the played deploy's start was seen %d times after the hinted poll, want 1: %v", e.rec.started[deploy], e.requestsByEndpoint())
	}
	e.must(e.gl.Finish(deploy, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second) // the scheduled poll follows it as any running job
	if n := e.rec.finished[deploy]; n != 1 {
		t.Errorf("the deploy was counted %d times by the scheduled poll after it, want 1", n)
	}
	e.assertExactlyOnce(time.Time{})
}
