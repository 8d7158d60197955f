package scraper_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// waitingJob is what the runner-pool gauges get of one followed job.
type waitingJob struct {
	Tags     string
	QueuedAt time.Time
}

func (e *env) waiting(path string) map[int64]waitingJob {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	out := map[int64]waitingJob{}
	for _, j := range e.rec.active[path] {
		out[j.ID] = waitingJob{j.Tags, j.QueuedAt}
	}
	return out
}

// savedState is the project's state file as JSON objects.
func savedState(t *testing.T, dir string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "projects", "1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Project map[string]json.RawMessage }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Project
}

// TestWaitingJobsCarryTheirPool: a pending job is reported with its tag
// set and the time it was queued (not created: a later stage's job is
// created with its pipeline), from the poll that first sees it pending
// until a runner takes it, across a restart. Running, manual and created
// jobs and bridges carry nothing, and a manual job's saved state is what
// it was before runner pools existed.
func TestWaitingJobsCarryTheirPool(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, []string{"g/a"}, scraper.Options{})
	e.opts.Store = newStore(t, dir, e.gl.URL())
	e.restart()

	pl := e.gl.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	build := e.gl.CreateJob(pl, gitlabtest.JobSpec{Name: "build", Stage: "build", Tags: []string{"linux", "docker"}})
	lint := e.gl.CreateJob(pl, gitlabtest.JobSpec{Name: "lint", Stage: "build"})
	train := e.gl.CreateJob(pl, gitlabtest.JobSpec{Name: "train", Stage: "test", Tags: []string{"gpu"}})
	deploy := e.gl.CreateJob(pl, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual", Tags: []string{"docker"}})
	bridge, _ := e.gl.CreateBridge(pl, gitlabtest.JobSpec{Name: "trigger", Stage: "test"})

	e.clock.Advance(2 * time.Minute)
	buildQueued := e.clock.Now()
	e.must(e.gl.Enqueue(build))
	e.clock.Advance(5 * time.Second)
	lintQueued := e.clock.Now()
	e.must(e.gl.Enqueue(lint))
	e.cycle(20 * time.Second)

	none := waitingJob{}
	want := map[int64]waitingJob{
		build: {"docker,linux", buildQueued}, lint: {"", lintQueued},
		train: none, deploy: none, bridge: none,
	}
	if got := e.waiting("g/a"); !mapsEqual(got, want) {
		t.Errorf("first poll: %v, want %v", got, want)
	}
	if manual := followedKeys(t, savedState(t, dir), deploy); !slices.Equal(manual, []string{"created_at", "id", "pipeline_id", "status"}) {
		t.Errorf("the manual job is saved with %v; want only its id, pipeline, status and creation", manual)
	}

	// The build runs; the gpu job is queued ten minutes after its creation,
	// and the bridge waits for its child pipeline.
	e.must(e.gl.Start(build))
	e.clock.Advance(10 * time.Minute)
	trainQueued := e.clock.Now()
	e.must(e.gl.Enqueue(train))
	e.must(e.gl.Enqueue(bridge))
	e.cycle(30 * time.Second)
	want[build], want[train] = none, waitingJob{"gpu", trainQueued}
	if got := e.waiting("g/a"); !mapsEqual(got, want) {
		t.Errorf("after the build started: %v, want %v", got, want)
	}

	e.restart()
	e.cycle(30 * time.Second)
	if got := e.waiting("g/a"); !mapsEqual(got, want) {
		t.Errorf("after a restart: %v, want %v", got, want)
	}

	// A played manual job waits from its play on.
	e.must(e.gl.Play(deploy))
	deployQueued := e.clock.Now()
	e.cycle(30 * time.Second)
	want[deploy] = waitingJob{"docker", deployQueued}
	if got := e.waiting("g/a"); !mapsEqual(got, want) {
		t.Errorf("after the play: %v, want %v", got, want)
	}
	if _, ok := savedState(t, dir)["waiting"]; !ok {
		t.Error("the saved state has no waiting jobs while four jobs wait")
	}

	for _, id := range []int64{lint, train, deploy} {
		e.must(e.gl.Start(id))
	}
	e.cycle(30 * time.Second)
	if got := e.waiting("g/a"); !mapsEqual(got, map[int64]waitingJob{build: none, lint: none, train: none, deploy: none, bridge: none}) {
		t.Errorf("with every job running: %v, want none waiting", got)
	}
	if w, ok := savedState(t, dir)["waiting"]; ok {
		t.Errorf("the saved state keeps waiting jobs %s after they all started", w)
	}
}

func mapsEqual(a, b map[int64]waitingJob) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Tags != w.Tags || !v.QueuedAt.Equal(w.QueuedAt) {
			return false
		}
	}
	return true
}

// followedKeys returns the keys the saved state holds for followed job id.
func followedKeys(t *testing.T, project map[string]json.RawMessage, id int64) []string {
	t.Helper()
	var followed map[int64]map[string]any
	if err := json.Unmarshal(project["followed"], &followed); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range followed[id] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
