package scraper_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

func newStore(t *testing.T, dir, instance string) *state.Store {
	t.Helper()
	st, err := state.OpenStore(dir, instance)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pipelineOfJobs creates a pipeline with n jobs and returns their ids.
func (e *env) pipelineOfJobs(project int64, n int) []int64 {
	pid := e.gl.CreatePipeline(project, "main", gitlabtest.PipelineOptions{})
	ids := make([]int64, n)
	for k := range ids {
		ids[k] = e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: fmt.Sprintf("job%d", k), Stage: "test"})
	}
	return ids
}

func TestRestartResumesFromSavedState(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, []string{"g/a", "g/b"}, scraper.Options{InitialLookback: 24 * time.Hour})
	e.opts.Store = newStore(t, dir, e.gl.URL())
	e.restart()

	done := e.pipelineOfJobs(1, 3)
	for _, id := range done {
		e.run(id, "success")
	}
	waiting := e.pipelineOfJobs(2, 4)
	e.must(e.gl.Enqueue(waiting[0]))
	e.must(e.gl.Start(waiting[0]))
	e.cycle(time.Second)
	e.cycle(30 * time.Second)

	// Down for ten minutes: followed jobs finish, new ones run and finish.
	e.clock.Advance(10 * time.Minute)
	for _, id := range waiting {
		if id != waiting[0] {
			e.must(e.gl.Enqueue(id))
			e.must(e.gl.Start(id))
		}
		e.must(e.gl.Finish(id, "failed", gitlabtest.FinishOptions{}))
	}
	for _, id := range e.pipelineOfJobs(1, 2) {
		e.run(id, "success")
	}

	e.opts.Store = newStore(t, dir, e.gl.URL()) // a new process opens the directory again
	e.restart()
	e.gl.ResetRequests()
	e.cycle(30 * time.Second)
	if got := e.gl.RequestCount(jobsEndpoint); got > 4 {
		t.Errorf("resumed poll made %d job-list requests; a resumed walk should not walk history again", got)
	}
	e.cycle(30 * time.Second)
	if got := e.totalFinished(); got != 3+4+2 {
		t.Errorf("counted %d jobs over two lifetimes, want 9", got)
	}
	e.assertExactlyOnce(time.Time{})
}

func TestKillMidPollCountsOnceAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, []string{"g/a"}, scraper.Options{InitialLookback: 24 * time.Hour})
	e.opts.Store = newStore(t, dir, e.gl.URL())
	e.restart()
	e.cycle(time.Second)

	for _, id := range e.pipelineOfJobs(1, 5) {
		e.run(id, "success")
	}
	// The poll walks the jobs, then hangs on the bridges of the new
	// pipeline; the process dies there.
	e.gl.InjectFault(gitlabtest.Fault{Endpoint: "/projects/:id/pipelines/:pipeline_id/bridges", Kind: gitlabtest.FaultSlow, Delay: 5 * time.Second, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	e.clock.Advance(30 * time.Second)
	e.s.Cycle(ctx)
	cancel()
	if got := e.totalFinished(); got != 0 {
		t.Fatalf("an interrupted poll reported %d jobs", got)
	}

	e.opts.Store = newStore(t, dir, e.gl.URL())
	e.restart()
	e.cycle(30 * time.Second)
	e.cycle(30 * time.Second)
	e.assertExactlyOnce(time.Time{})
	if got := e.totalFinished(); got != 5 {
		t.Errorf("counted %d jobs, want 5", got)
	}
}

func TestUnusableStateStartsFresh(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(path string) error
	}{
		{"garbage", func(p string) error { return os.WriteFile(p, []byte("{not json"), 0o600) }},
		{"truncated", func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, data[:len(data)/2], 0o600)
		}},
		{"other version", func(p string) error {
			return os.WriteFile(p, []byte(`{"version":99,"instance":"x","project":{"id":1}}`), 0o600)
		}},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, []string{"g/a"}, scraper.Options{InitialLookback: 24 * time.Hour})
			e.opts.Store = newStore(t, dir, e.gl.URL())
			e.restart()
			for _, id := range e.pipelineOfJobs(1, 3) {
				e.run(id, "success")
			}
			e.cycle(time.Second)
			if err := tc.corrupt(filepath.Join(dir, "projects", "1.json")); err != nil {
				t.Fatal(err)
			}
			e.opts.Store = newStore(t, dir, e.gl.URL())
			e.restart()
			e.cycle(30 * time.Second)
			if e.rec.stateErr["load"] != 1 {
				t.Errorf("state load failures reported = %d, want 1", e.rec.stateErr["load"])
			}
			if err := e.rec.lastPoll(t, "g/a").Err; err != nil {
				t.Errorf("poll after an unusable state failed: %v", err)
			}
			// Fresh start: the lookback is walked again (a documented
			// recount), and the state file is valid again.
			if got := e.totalFinished(); got != 6 {
				t.Errorf("counted %d, want 3 + 3 recounted from the lookback", got)
			}
			if _, err := newStore(t, dir, e.gl.URL()).Load(1); err != nil {
				t.Errorf("state file not rewritten: %v", err)
			}
		})
	}
}

func TestStateOfAnotherGitLabIsNotUsed(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, []string{"g/a"}, scraper.Options{})
	e.opts.Store = newStore(t, dir, "https://gitlab.example.com")
	e.restart()
	e.cycle(time.Second)
	_, err := newStore(t, dir, "https://other.example.com").Load(1)
	if err == nil {
		t.Fatal("state saved for one GitLab was loaded for another")
	}
}
