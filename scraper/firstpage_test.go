package scraper_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// jobListRequests describes the job-list requests since the last reset:
// per_page of the walk's pages, "scoped:" and per_page for scope-filtered
// walks.
func jobListRequests(e *env) []string {
	var out []string
	for _, r := range e.gl.Requests() {
		if r.Endpoint != jobsEndpoint {
			continue
		}
		desc := r.Query.Get("per_page")
		if scopes := r.Query["scope[]"]; len(scopes) > 0 {
			desc = "scoped:" + desc
			if slices.Contains(scopes, "manual") {
				desc += "+manual"
			}
		}
		out = append(out, desc)
	}
	return out
}

func TestQuietProjectReadsSmallFirstPage(t *testing.T) {
	e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: 24 * time.Hour})
	// History created over an hour, so that a walk stops at the first job
	// below the late-commit window rather than after a page without news.
	for range 150 {
		e.run(e.pipelineOfJobs(1, 1)[0], "success")
	}
	e.cycle(time.Second)
	var (
		running, manual int64
		burst           []int64
	)
	steps := []struct {
		name    string
		act     func()
		advance time.Duration
		want    []string
	}{
		{"the poll after the first walk reads a full page", nil, 10 * time.Minute, []string{"100"}},
		{"quiet: 20 rows", nil, 30 * time.Second, []string{"20"}},
		{"still quiet", nil, 30 * time.Second, []string{"20"}},
		{"a burst of 250 jobs: one small page, then full ones", func() {
			burst = e.pipelineOfJobs(1, 250)
			for _, id := range burst {
				e.must(e.gl.Enqueue(id))
				e.must(e.gl.Start(id))
				e.must(e.gl.Finish(id, "success", gitlabtest.FinishOptions{}))
			}
		}, 30 * time.Second, []string{"20", "100", "100", "100"}},
		{"the last walk found news", nil, 30 * time.Second, []string{"100"}},
		{"the newest job is 90s old: inside the late-commit window", nil, 30 * time.Second, []string{"100"}},
		{"120s old", nil, 30 * time.Second, []string{"100"}},
		{"quiet again", nil, 30 * time.Second, []string{"20"}},
		// The burst's jobs share one created_at, so all of them are inside
		// the late-commit window: the walk reads on to a page without news,
		// as it did with a full first page.
		{"a new job", func() { running = e.pipelineOfJobs(1, 1)[0] }, 30 * time.Second, []string{"20", "100"}},
		{"a followed job keeps the full page", func() {
			e.must(e.gl.Enqueue(running))
			e.must(e.gl.Start(running))
		}, 3 * time.Minute, []string{"100"}},
		{"it finishes and is counted from the full page", func() {
			e.must(e.gl.Finish(running, "success", gitlabtest.FinishOptions{}))
		}, 30 * time.Second, []string{"100"}},
		{"quiet", nil, 30 * time.Second, []string{"20"}},
		{"a manual job, then 30 jobs above it", func() {
			pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
			manual = e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
			for _, id := range e.pipelineOfJobs(1, 30) {
				e.run(id, "success")
			}
		}, 30 * time.Second, []string{"20", "100"}},
		{"news last time", nil, 3 * time.Minute, []string{"100"}},
		{"quiet: the first page reaches the manual job on row 31", nil, 30 * time.Second, []string{"31"}},
		{"played, it is seen on that page", func() {
			e.must(e.gl.Play(manual))
			e.must(e.gl.Start(manual))
		}, 30 * time.Second, []string{"31"}},
	}
	for _, s := range steps {
		if s.act != nil {
			s.act()
		}
		e.clock.Advance(s.advance)
		e.gl.ResetRequests()
		e.s.Cycle(t.Context())
		if err := e.rec.lastPoll(t, "g/app").Err; err != nil {
			t.Fatalf("%s: poll failed: %v", s.name, err)
		}
		if got := jobListRequests(e); !slices.Equal(got, s.want) {
			t.Errorf("%s: job-list requests (per_page) %v, want %v", s.name, got, s.want)
		}
	}
	if got := e.rec.started[manual]; got != 1 {
		t.Errorf("the played manual job's start was observed %d times, want 1", got)
	}
	e.must(e.gl.Finish(manual, "success", gitlabtest.FinishOptions{}))
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
	if got := e.totalFinished(); got != 150+250+1+1+30 {
		t.Errorf("counted %d jobs, want %d", got, 150+250+1+1+30)
	}
}
