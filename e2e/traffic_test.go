//go:build unix

package e2e

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// traffic is CI work on the fake GitLab in real time: pipelines of a build
// and a test job, and in some a manual deploy that is played or skipped;
// jobs succeed, fail (some are retried) or are canceled while queued. Stop
// ends it with every job it created finished, so that the projects are idle
// afterwards.
type traffic struct {
	t    *testing.T
	gl   *gitlabtest.Server
	stop chan struct{}
	done chan struct{}

	mu sync.Mutex
	// skipped is when each skipped job was skipped: GitLab records no
	// finished_at for them.
	skipped map[int64]time.Time
}

// trafficTick is how often the traffic moves: a new pipeline, and every
// job a step on.
const trafficTick = 50 * time.Millisecond

type trafficJob struct {
	id     int64
	status string // as the traffic last moved it
	next   int    // ticks until it moves again
}

func startTraffic(t *testing.T, gl *gitlabtest.Server, projects []int64, seed uint64) *traffic {
	tr := &traffic{t: t, gl: gl, stop: make(chan struct{}), done: make(chan struct{}), skipped: map[int64]time.Time{}}
	go tr.run(projects, rand.New(rand.NewPCG(seed, seed)))
	t.Cleanup(tr.end)
	return tr
}

func (tr *traffic) run(projects []int64, rng *rand.Rand) {
	defer close(tr.done)
	tick := time.NewTicker(trafficTick)
	defer tick.Stop()
	var jobs []*trafficJob
	stopping := false
	for {
		if !stopping {
			select {
			case <-tr.stop:
				stopping = true
			default:
			}
		}
		if stopping && len(jobs) == 0 {
			return
		}
		if !stopping {
			jobs = append(jobs, tr.pipeline(projects[rng.IntN(len(projects))], rng)...)
		}
		kept := jobs[:0]
		for _, j := range jobs {
			if j.next--; j.next > 0 {
				kept = append(kept, j)
				continue
			}
			kept = append(kept, tr.move(j, rng, stopping)...)
		}
		jobs = kept
		<-tick.C
	}
}

// pipeline creates a pipeline and returns its jobs.
func (tr *traffic) pipeline(project int64, rng *rand.Rand) []*trafficJob {
	p := tr.gl.CreatePipeline(project, "main", gitlabtest.PipelineOptions{})
	out := []*trafficJob{
		tr.create(p, gitlabtest.JobSpec{Name: "build", Stage: "build"}, rng),
		tr.create(p, gitlabtest.JobSpec{Name: "test", Stage: "test"}, rng),
	}
	if rng.IntN(4) == 0 {
		out = append(out, tr.create(p, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"}, rng))
	}
	return out
}

func (tr *traffic) create(pipeline int64, spec gitlabtest.JobSpec, rng *rand.Rand) *trafficJob {
	id := tr.gl.CreateJob(pipeline, spec)
	status := "created"
	if spec.When == "manual" {
		status = "manual"
	}
	return &trafficJob{id: id, status: status, next: 1 + rng.IntN(4)}
}

// move takes a job one step on and returns what is still to move: the job,
// its retry, or nothing.
func (tr *traffic) move(j *trafficJob, rng *rand.Rand, stopping bool) []*trafficJob {
	must := func(err error) {
		if err != nil {
			tr.t.Errorf("traffic: %v", err)
		}
	}
	j.next = 1 + rng.IntN(6)
	switch j.status {
	case "manual":
		if stopping || rng.IntN(2) == 0 {
			must(tr.gl.Skip(j.id))
			tr.mu.Lock()
			tr.skipped[j.id] = time.Now()
			tr.mu.Unlock()
			return nil
		}
		must(tr.gl.Play(j.id))
		j.status = "pending"
	case "created":
		must(tr.gl.Enqueue(j.id))
		j.status = "pending"
	case "pending":
		if rng.IntN(20) == 0 {
			must(tr.gl.Finish(j.id, "canceled", gitlabtest.FinishOptions{}))
			return nil
		}
		must(tr.gl.Start(j.id))
		j.status = "running"
	case "running":
		if rng.IntN(6) > 0 {
			must(tr.gl.Finish(j.id, "success", gitlabtest.FinishOptions{Artifacts: []gitlabtest.Artifact{{FileType: "trace", Size: 1 << 10}}}))
			return nil
		}
		must(tr.gl.Finish(j.id, "failed", gitlabtest.FinishOptions{FailureReason: "script_failure"}))
		if stopping || rng.IntN(2) == 0 {
			return nil
		}
		retry, err := tr.gl.Retry(j.id)
		must(err)
		return []*trafficJob{{id: retry, status: "pending", next: 1 + rng.IntN(4)}}
	}
	return []*trafficJob{j}
}

// end stops creating pipelines and waits until every job has finished.
func (tr *traffic) end() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
}

// skippedAt returns when each skipped job was skipped.
func (tr *traffic) skippedAt() map[int64]time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[int64]time.Time, len(tr.skipped))
	for id, at := range tr.skipped {
		out[id] = at
	}
	return out
}
