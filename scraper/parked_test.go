package scraper_test

import (
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// An unplayed manual job is followed without its pipeline once the
// pipeline has been idle for the retry window; played days later, it is
// still counted once, and a retry in that pipeline afterwards is still
// recognised (at the cost of listing the pipeline's jobs once).
func TestManualJobPlayedAfterItsPipelineWasForgotten(t *testing.T) {
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
	if st.Pipelines[pid] != nil {
		t.Errorf("pipeline %d is remembered for three days for its unplayed manual job", pid)
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
	if n := e.gl.RequestCount(gitlabtest.EndpointPipelineJobs); n != 1 {
		t.Errorf("%d requests listing the pipeline's jobs to recognise the retry, want 1", n)
	}
	e.assertExactlyOnce(time.Time{})
}
