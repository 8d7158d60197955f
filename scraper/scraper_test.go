package scraper_test

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

const jobsEndpoint = "/projects/:id/jobs"

func TestJobLifecycleCountedOnceAcrossPolls(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second) // empty project: first walk
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	test := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "rspec 1/2", Stage: "test"})
	lint := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "lint", Stage: "test"})

	steps := []struct {
		name         string
		act          func()
		wantFinished int
		wantActive   int
	}{
		{"created jobs are followed, not counted", func() {}, 0, 3},
		{"pending and running", func() {
			e.must(e.gl.Enqueue(build))
			e.must(e.gl.Start(build))
			e.must(e.gl.Enqueue(test))
		}, 0, 3},
		{"build finishes, test starts", func() {
			e.must(e.gl.Finish(build, "success", gitlabtest.FinishOptions{}))
			e.must(e.gl.Start(test))
		}, 1, 2},
		{"nothing changes", func() {}, 1, 2},
		{"lint runs from created to failed between two polls", func() { e.run(lint, "failed") }, 2, 1},
		{"test finishes", func() { e.must(e.gl.Finish(test, "success", gitlabtest.FinishOptions{})) }, 3, 0},
		{"idle again", func() {}, 3, 0},
	}
	for _, s := range steps {
		s.act()
		e.cycle(30 * time.Second)
		if got := e.totalFinished(); got != s.wantFinished {
			t.Fatalf("%s: %d finished counted, want %d", s.name, got, s.wantFinished)
		}
		if got := len(e.rec.active["g/app"]); got != s.wantActive {
			t.Fatalf("%s: %d jobs followed, want %d", s.name, got, s.wantActive)
		}
		if err := e.rec.lastPoll(t, "g/app").Err; err != nil {
			t.Fatalf("%s: poll failed: %v", s.name, err)
		}
	}
	e.assertExactlyOnce(time.Time{})
	if e.rec.status[lint] != gitlabapi.StatusFailed {
		t.Errorf("lint counted with status %q, want failed", e.rec.status[lint])
	}
}

func TestIdleProjectCostsOneRequestPerPoll(t *testing.T) {
	e := newEnv(t, []string{"g/a", "g/b"}, scraper.Options{InitialLookback: 24 * time.Hour})
	// 250 finished jobs of history: the first walk needs three pages.
	for p := 0; p < 50; p++ {
		pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
		for k := 0; k < 5; k++ {
			e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("job%d", k), Stage: "test"}), "success")
		}
	}
	e.cycle(time.Second)
	if got := e.totalFinished(); got != 250 {
		t.Fatalf("first walk counted %d jobs, want 250", got)
	}
	for i := 0; i < 5; i++ {
		e.gl.ResetRequests()
		e.cycle(30 * time.Second)
		for _, path := range []string{"g/a", "g/b"} {
			if got := e.rec.lastPoll(t, path).Requests; got != 1 {
				t.Errorf("idle poll %d of %s made %d requests, want 1", i, path, got)
			}
		}
		if got := e.gl.RequestCount(""); got != 2 {
			t.Errorf("idle cycle %d: fake GitLab saw %d requests for 2 projects, want 2: %v", i, got, e.gl.Requests())
		}
	}
	e.assertExactlyOnce(time.Time{})
}

func TestIdleAfterBurstCostsOneRequest(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	// 150 jobs created within seconds: the late-commit window spans two pages.
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	var ids []int64
	for k := 0; k < 150; k++ {
		ids = append(ids, e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("j%d", k), Stage: "test"}))
	}
	for _, id := range ids {
		e.must(e.gl.Enqueue(id))
		e.must(e.gl.Start(id))
		e.must(e.gl.Finish(id, "success", gitlabtest.FinishOptions{}))
	}
	e.cycle(10 * time.Second)
	for i := 0; i < 3; i++ {
		e.gl.ResetRequests()
		e.cycle(10 * time.Second)
		if got := e.gl.RequestCount(""); got != 1 {
			t.Errorf("idle poll %d after a burst made %d requests, want 1: %v", i, got, e.gl.Requests())
		}
	}
	e.assertExactlyOnce(time.Time{})
}

func TestWalkStopsAtJobsAlreadySeen(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	for k := 0; k < 150; k++ {
		e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("old%d", k), Stage: "test"}), "success")
	}
	e.cycle(time.Second)
	e.clock.Advance(10 * time.Minute)

	// 230 new jobs in new pipelines: three pages, and not one page more.
	for p := 0; p < 23; p++ {
		pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
		for k := 0; k < 10; k++ {
			e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("new%d", k), Stage: "test"}), "success")
		}
	}
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if got := e.gl.RequestCount(jobsEndpoint); got != 3 {
		t.Errorf("walk over 230 new jobs made %d job-list requests, want 3", got)
	}
	if got := e.gl.RequestCount("/projects/:id/pipelines/:pipeline_id/bridges"); got != 23 {
		t.Errorf("bridges were listed %d times, want once per new pipeline (23)", got)
	}
	if got := e.totalFinished(); got != 380 {
		t.Errorf("counted %d jobs, want 150 + 230", got)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestInitialLookbackLimitsHistory(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: time.Hour})
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	for k := 0; k < 30; k++ {
		e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("old%d", k), Stage: "test"}), "success")
	}
	e.clock.Advance(3 * time.Hour)
	since := e.clock.Now()
	pid = e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	for k := 0; k < 4; k++ {
		e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("new%d", k), Stage: "test"}), "failed")
	}
	e.cycle(time.Second)
	if got := e.totalFinished(); got != 4 {
		t.Errorf("first walk counted %d jobs, want the 4 inside the lookback", got)
	}
	e.assertExactlyOnce(since)
}

func TestQuietProjectHistoryStaysUncounted(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: time.Hour})
	for _, id := range e.pipelineOfJobs(1, 5) {
		e.run(id, "success")
	}
	e.clock.Advance(3 * time.Hour) // the newest job is older than the lookback
	since := e.clock.Now()
	for i := 0; i < 3; i++ {
		e.cycle(30 * time.Second)
	}
	if got := e.totalFinished(); got != 0 {
		t.Errorf("counted %d jobs from before the lookback", got)
	}
	e.assertExactlyOnce(since)
}

func TestManualJobPlayedDaysLater(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{ParkedRecheckInterval: 10 * time.Minute})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	deploy := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
	e.run(build, "success")
	e.cycle(30 * time.Second)

	// Push the manual job out of the first page with 150 later jobs.
	pid2 := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	for k := 0; k < 150; k++ {
		e.run(e.gl.CreateJob(pid2, gitlabtest.JobSpec{Name: fmt.Sprintf("j%d", k), Stage: "test"}), "success")
	}
	e.cycle(30 * time.Second)

	// Two hours of idle polls: one request each, plus a parked recheck
	// every 10 minutes.
	e.gl.ResetRequests()
	polls := 0
	for d := time.Duration(0); d < 2*time.Hour; d += 30 * time.Second {
		e.cycle(30 * time.Second)
		polls++
	}
	if got, max := e.gl.RequestCount(jobsEndpoint), polls+2*60/10; got > max || got < polls {
		t.Errorf("%d idle polls with a parked manual job made %d job-list requests, want %d to %d", polls, got, polls, max)
	}
	e.cycle(2 * 24 * time.Hour)
	if got := e.rec.finished[deploy]; got != 0 {
		t.Fatalf("manual job counted %d times before it ran", got)
	}
	e.must(e.gl.Play(deploy))
	e.clock.Advance(5 * time.Second)
	e.must(e.gl.Start(deploy))
	e.clock.Advance(time.Minute)
	e.must(e.gl.Finish(deploy, "success", gitlabtest.FinishOptions{}))
	e.cycle(11 * time.Minute) // past the parked recheck interval
	if got := e.rec.finished[deploy]; got != 1 {
		t.Fatalf("manual job played days later counted %d times, want 1", got)
	}
	e.cycle(11 * time.Minute)
	e.assertExactlyOnce(time.Time{})
}

func TestRetriesCountEachAttemptOnce(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	first := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "flaky", Stage: "test"})
	e.run(first, "failed")
	e.cycle(30 * time.Second)

	second, err := e.gl.Retry(first)
	e.must(err)
	e.clock.Advance(time.Second)
	e.must(e.gl.Start(second))
	e.must(e.gl.Finish(second, "failed", gitlabtest.FinishOptions{}))
	third, err := e.gl.Retry(second) // retried again before the next poll
	e.must(err)
	e.cycle(30 * time.Second)
	e.must(e.gl.Start(third))
	e.must(e.gl.Finish(third, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)

	// A retry after the pipeline was forgotten is still recognised.
	e.clock.Advance(3 * time.Hour)
	e.cycle(30 * time.Second)
	fourth, err := e.gl.Retry(third)
	e.must(err)
	e.must(e.gl.Start(fourth))
	e.must(e.gl.Finish(fourth, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)

	retried := 0
	for _, n := range e.rec.retried {
		retried += n
	}
	if retried != 3 {
		t.Errorf("retries counted %d, want 3 (%v)", retried, e.rec.retried)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestChildPipelinesAndBridges(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{})
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	bridge, child := e.gl.CreateBridge(pid, gitlabtest.JobSpec{Name: "trigger-child", Stage: "deploy"})
	childJobs := []int64{
		e.gl.CreateJob(child, gitlabtest.JobSpec{Name: "child-a", Stage: "test"}),
		e.gl.CreateJob(child, gitlabtest.JobSpec{Name: "child-b", Stage: "test"}),
	}
	e.run(build, "success")
	e.cycle(30 * time.Second)
	e.run(childJobs[0], "success")
	e.cycle(30 * time.Second)
	if got := e.rec.finished[bridge]; got != 0 {
		t.Fatalf("bridge counted while its child pipeline runs")
	}
	e.run(childJobs[1], "success")
	e.cycle(30 * time.Second)
	e.cycle(30 * time.Second)
	rec, _ := e.gl.Job(bridge)
	if !gitlabapi.JobStatus(rec.Status).Finished() {
		t.Fatalf("fake: bridge status %q after its child finished", rec.Status)
	}
	if got := e.rec.finished[bridge]; got != 1 {
		t.Errorf("bridge counted %d times, want 1", got)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestFailingProjectDoesNotStopOthers(t *testing.T) {
	e := newEnv(t, []string{"g/gone", "g/fine"}, scraper.Options{})
	e.cycle(time.Second)
	e.gl.DeleteProject(1)
	pid := e.gl.CreatePipeline(2, "main", gitlabtest.PipelineOptions{})
	e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "ok", Stage: "test"}), "success")
	e.cycle(30 * time.Second)
	if err := e.rec.lastPoll(t, "g/gone").Err; err == nil {
		t.Errorf("poll of a deleted project succeeded")
	}
	if err := e.rec.lastPoll(t, "g/fine").Err; err != nil {
		t.Errorf("poll of the healthy project failed: %v", err)
	}
	if got := e.totalFinished(); got != 1 {
		t.Errorf("healthy project: %d jobs counted, want 1", got)
	}
	// The next discovery drops the deleted project.
	e.cycle(6 * time.Minute)
	if len(e.rec.removed) != 1 || e.rec.removed[0] != "g/gone" {
		t.Errorf("removed projects = %v, want [g/gone]", e.rec.removed)
	}
	if e.rec.projects != 1 {
		t.Errorf("projects polled = %d, want 1", e.rec.projects)
	}
}

func TestFaultMidWalkLosesAndDoublesNothing(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: 24 * time.Hour})
	e.cycle(time.Second)
	for p := 0; p < 25; p++ {
		pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
		for k := 0; k < 10; k++ {
			e.run(e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("j%d", k), Stage: "test"}), "success")
		}
	}
	// The second page of the walk fails once; the poll fails, the next succeeds.
	e.gl.InjectFault(gitlabtest.Fault{Endpoint: jobsEndpoint, Kind: gitlabtest.FaultTruncatedJSON, Times: 1, After: 1})
	e.cycle(30 * time.Second)
	if e.rec.lastPoll(t, "g/app").Err == nil {
		t.Fatalf("poll with a truncated page succeeded")
	}
	e.cycle(30 * time.Second)
	if got := e.totalFinished(); got != 250 {
		t.Errorf("counted %d jobs after the fault cleared, want 250", got)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestGroupDiscoveryFilters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group scraper.Group
		want  []string
	}{
		{"subgroups", scraper.Group{Path: "team", IncludeSubgroups: true}, []string{"team/api", "team/sandbox-1", "team/sub/web"}},
		{"no subgroups", scraper.Group{Path: "team"}, []string{"team/api", "team/sandbox-1"}},
		{"include", scraper.Group{Path: "team", IncludeSubgroups: true, Include: regexp.MustCompile(`^(?:team/sub/.*)$`)}, []string{"team/sub/web"}},
		{"exclude", scraper.Group{Path: "team", IncludeSubgroups: true, Exclude: regexp.MustCompile(`^(?:team/sandbox-.*)$`)}, []string{"team/api", "team/sub/web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, scraper.Options{Groups: []scraper.Group{tc.group}})
			e.gl.CreateProject("team/api", gitlabtest.ProjectOptions{})
			e.gl.CreateProject("team/sub/web", gitlabtest.ProjectOptions{})
			e.gl.CreateProject("team/sandbox-1", gitlabtest.ProjectOptions{})
			e.gl.CreateProject("team/old", gitlabtest.ProjectOptions{Archived: true})
			e.gl.CreateProject("other/x", gitlabtest.ProjectOptions{})
			e.cycle(time.Second)
			var got []string
			for path := range e.rec.polls {
				got = append(got, path)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("polled projects = %v, want %v", got, tc.want)
			}
			if !e.s.Ready() {
				t.Errorf("scraper not ready after a complete cycle")
			}
		})
	}
}
