package scraper_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// An unplayed manual job keeps its pipeline remembered beyond the retry
// window, since playing it runs the pipeline again: played days later, it
// is counted once, the pipeline's result is its first (it waited for the
// manual job), and a retry in that pipeline afterwards is recognised
// without listing the pipeline's jobs, and counted as a rerun.
func TestManualJobPlayedDaysLaterKeepsItsPipeline(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{ParkedRecheckInterval: 10 * time.Minute, PipelineTTL: time.Hour})
	store := newStore(t, t.TempDir(), e.gl.URL())
	e.opts.Store = store
	e.restart()
	e.cycle(time.Second)
	pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
	deploy := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
	e.run(build, "success")
	e.cycle(30 * time.Second)
	for range 3 * 24 {
		e.cycle(time.Hour) // three days of idle polls
	}
	st, err := store.Load(1)
	if err != nil {
		t.Fatal(err)
	}
	if f := st.Followed[deploy]; f == nil || f.Status != "manual" || f.PipelineID != pid {
		t.Fatalf("the manual job is not followed as manual in pipeline %d: %+v", pid, f)
	}
	if pl := st.Pipelines[pid]; pl == nil || pl.Status != "manual" || pl.First != "" {
		t.Errorf("pipeline %d is not remembered as waiting for its manual job: %+v", pid, pl)
	}
	if got := e.rec.pipelineEvents(pid); len(got) != 0 {
		t.Errorf("pipeline waiting for a manual job counted as %v", got)
	}

	e.must(e.gl.Play(deploy))
	e.must(e.gl.Start(deploy))
	e.must(e.gl.Finish(deploy, "success", gitlabtest.FinishOptions{}))
	for range 21 {
		e.cycle(30 * time.Second) // past the parked recheck
	}
	if n := e.rec.finished[deploy]; n != 1 {
		t.Fatalf("played manual job counted %d times, want 1", n)
	}

	retry, err := e.gl.Retry(build)
	e.must(err)
	e.must(e.gl.Start(retry)) // a retry is created pending
	e.must(e.gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if n := e.rec.retried[retry]; n != 1 {
		t.Errorf("retry of build in the forgotten pipeline recognised %d times, want 1", n)
	}
	if n := e.gl.RequestCount(gitlabtest.EndpointPipelineJobs); n != 0 {
		t.Errorf("%d requests listing the pipeline's jobs to recognise the retry, want 0", n)
	}
	if got, want := e.rec.pipelineEvents(pid), []string{"success", "success->success"}; !slices.Equal(got, want) {
		t.Errorf("pipeline events %v, want %v", got, want)
	}
	e.assertExactlyOnce(time.Time{})
}
