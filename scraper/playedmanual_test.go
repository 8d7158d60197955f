package scraper_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

func TestPlayedManualJobSeenByScopedWalk(t *testing.T) {
	tests := []struct {
		name string
		// play moves the manual job on after it was played.
		play func(e *env, id int64)
		// want are the poll's requests; a played job that already finished
		// is gone from the scoped walk and fetched, as any finished job.
		want         []string
		wantStarted  int
		wantFinished int
	}{
		{"played and running", func(e *env, id int64) { e.must(e.gl.Start(id)) },
			[]string{"100", "scoped:100+manual"}, 1, 0},
		{"played and finished", func(e *env, id int64) {
			e.must(e.gl.Start(id))
			e.must(e.gl.Finish(id, "success", gitlabtest.FinishOptions{}))
		}, []string{"100", "scoped:100+manual", "job"}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, []string{"g/app"}, scraper.Options{ParkedRecheckInterval: 10 * time.Minute})
			e.cycle(time.Second)
			// A long build, then a manual deploy of the same pipeline; 150
			// later jobs push both off the first page.
			pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
			build := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
			deploy := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
			e.startThenBury(build)

			requests := func() []string {
				out := jobListRequests(e)
				for range e.gl.RequestCount("/projects/:id/jobs/:job_id") {
					out = append(out, "job")
				}
				if n := e.gl.RequestCount(""); n != len(out) {
					t.Errorf("%d requests, of which %d to other endpoints: %v", n, n-len(out), e.gl.Requests())
				}
				return out
			}
			// Before the play: the scoped walk for the build asks for the
			// manual scope too, at no extra request.
			e.gl.ResetRequests()
			e.cycle(30 * time.Second)
			if got, want := requests(), []string{"100", "scoped:100+manual"}; !slices.Equal(got, want) {
				t.Errorf("poll before the play: requests %v, want %v", got, want)
			}

			e.must(e.gl.Play(deploy))
			tc.play(e, deploy)
			e.gl.ResetRequests()
			e.cycle(30 * time.Second) // far from the parked recheck
			if got := requests(); !slices.Equal(got, tc.want) {
				t.Errorf("poll after the play: requests %v, want %v", got, tc.want)
			}
			if got := e.rec.started[deploy]; got != tc.wantStarted {
				t.Errorf("start of the played job observed %d times at the next poll, want %d", got, tc.wantStarted)
			}
			if got := e.rec.finished[deploy]; got != tc.wantFinished {
				t.Errorf("played job counted %d times at the next poll, want %d", got, tc.wantFinished)
			}

			e.must(e.gl.Finish(build, "success", gitlabtest.FinishOptions{}))
			if tc.wantFinished == 0 {
				e.must(e.gl.Finish(deploy, "failed", gitlabtest.FinishOptions{}))
			}
			e.cycle(30 * time.Second)
			e.cycle(30 * time.Second)
			e.assertExactlyOnce(time.Time{})
		})
	}
}

// TestScopedWalkCoversOlderParkedJobs: a manual job older than the running
// one is brought up to date by the scoped walk when the walk's pages reach
// it, and otherwise waits for the parked recheck.
func TestScopedWalkCoversOlderParkedJobs(t *testing.T) {
	for _, tc := range []struct {
		name string
		// between are manual jobs created after the deploy and before the
		// running build: unfinished rows the scoped walk reads below the build.
		between int
		// wantPoll are the requests of the poll after the play; wantNext
		// whether it counts the played job.
		wantPoll []string
		wantNext bool
	}{
		{"on the walk's last page", 10, []string{"100", "scoped:100+manual", "job"}, true},
		{"below the walk's last row", 150, []string{"100", "scoped:100+manual"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, []string{"g/app"}, scraper.Options{ParkedRecheckInterval: 10 * time.Minute})
			e.cycle(time.Second)
			pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
			deploy := e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
			for range tc.between {
				e.gl.CreateJob(e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{}), gitlabtest.JobSpec{Name: "stop", Stage: "deploy", When: "manual"})
			}
			build := e.pipelineOfJobs(1, 1)[0]
			e.startThenBury(build)

			e.must(e.gl.Play(deploy))
			e.must(e.gl.Start(deploy))
			e.must(e.gl.Finish(deploy, "success", gitlabtest.FinishOptions{}))
			e.gl.ResetRequests()
			e.cycle(30 * time.Second) // far from the parked recheck
			got := jobListRequests(e)
			for range e.gl.RequestCount("/projects/:id/jobs/:job_id") {
				got = append(got, "job")
			}
			if !slices.Equal(got, tc.wantPoll) {
				t.Errorf("poll after the play: requests %v, want %v", got, tc.wantPoll)
			}
			if counted := e.rec.finished[deploy] == 1; counted != tc.wantNext {
				t.Errorf("played job counted at the next poll: %v, want %v", counted, tc.wantNext)
			}
			counted := 30 * time.Second
			for ; counted <= 11*time.Minute && e.rec.finished[deploy] == 0; counted += 30 * time.Second {
				e.cycle(30 * time.Second)
			}
			if counted > 10*time.Minute {
				t.Errorf("the played manual job was counted after %s, want within the 10m recheck interval", counted)
			}
			e.must(e.gl.Finish(build, "success", gitlabtest.FinishOptions{}))
			e.cycle(30 * time.Second)
			e.assertExactlyOnce(time.Time{})
		})
	}
}

// startThenBury starts a long build in project 1, then pushes it off the
// first page with 150 finished jobs, polling in between.
func (e *env) startThenBury(build int64) {
	e.must(e.gl.Enqueue(build))
	e.must(e.gl.Start(build))
	e.cycle(30 * time.Second)
	for _, id := range e.pipelineOfJobs(1, 150) {
		e.run(id, "success")
	}
	e.cycle(30 * time.Second)
	e.cycle(30 * time.Second)
}
