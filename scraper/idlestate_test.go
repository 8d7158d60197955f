package scraper_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// stateFile is a saved state file as one poll found it. Save replaces the
// file by a new one (temporary file, rename), created while the old one
// still exists, so a write always shows as another file, whatever the
// bytes.
type stateFile struct {
	info os.FileInfo
	data []byte
}

func readStateFile(t *testing.T, path string) stateFile {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return stateFile{info, data}
}

func (f stateFile) same(g stateFile) bool {
	return os.SameFile(f.info, g.info) && bytes.Equal(f.data, g.data)
}

func TestIdlePollLeavesStateFileUntouched(t *testing.T) {
	tests := []struct {
		name string
		// setup builds the project's history; the test then polls until
		// the project is idle.
		setup func(e *env)
		// wantWrites is how many of 40 idle polls (20 minutes) write the
		// state: only a parked recheck, every 10 minutes, changes it.
		wantWrites int
	}{
		{"finished history only", func(e *env) {
			for _, id := range e.pipelineOfJobs(1, 120) {
				e.run(id, "success")
			}
		}, 0},
		{"right after a burst inside the late-commit window", func(e *env) {
			ids := e.pipelineOfJobs(1, 150)
			for _, id := range ids {
				e.must(e.gl.Enqueue(id))
				e.must(e.gl.Start(id))
				e.must(e.gl.Finish(id, "success", gitlabtest.FinishOptions{}))
			}
		}, 0},
		{"a parked manual job off the first page", func(e *env) {
			pid := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
			e.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
			for _, id := range e.pipelineOfJobs(1, 120) {
				e.run(id, "success")
			}
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, []string{"g/app"}, scraper.Options{InitialLookback: 24 * time.Hour, ParkedRecheckInterval: 10 * time.Minute})
			e.opts.Store = newStore(t, dir, e.gl.URL())
			e.restart()
			tc.setup(e)
			e.cycle(time.Second) // the first walk counts the history
			e.cycle(30 * time.Second)
			path := filepath.Join(dir, "projects", "1.json")
			before := readStateFile(t, path)
			writes := 0
			for i := range 40 {
				e.gl.ResetRequests()
				e.cycle(30 * time.Second)
				if err := e.rec.lastPoll(t, "g/app").Err; err != nil {
					t.Fatalf("poll %d: %v", i, err)
				}
				after := readStateFile(t, path)
				requests := e.rec.lastPoll(t, "g/app").Requests // discovery's are not the poll's
				rechecked := requests == 2 && e.gl.RequestCount(jobsEndpoint) == 2
				switch {
				case after.same(before) && requests == 1:
				case !after.same(before) && rechecked:
					writes++ // the recheck moved LastParkedCheck
				default:
					t.Errorf("idle poll %d: %d requests, state file rewritten: %v", i, requests, !after.same(before))
				}
				before = after
			}
			if writes != tc.wantWrites {
				t.Errorf("40 idle polls wrote the state %d times, want %d", writes, tc.wantWrites)
			}
			e.assertExactlyOnce(time.Time{})
		})
	}
}
