package scraper

import (
	"sync"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// Hint is what a webhook delivery says changed in a project. It is never
// data: it only wakes the project's poll and names what that poll fetches.
// What is counted still comes from the API, so a lost, duplicated,
// reordered or forged delivery cannot change a count.
type Hint struct {
	ProjectID int64
	// A Job Hook: the job, its pipeline, and the status the delivery
	// claims (it decides only whether the job is worth a poll now). A
	// Pipeline Hook: the pipeline and the status it claims, JobID 0; a
	// pipeline made only of bridges has no job the walk could find it by,
	// and one that finished is worth a poll that counts it.
	JobID, PipelineID int64
	JobStatus         gitlabapi.JobStatus
	// BridgesOf is a pipeline whose bridges may have changed: the parent
	// of a child pipeline that moved (Job Hooks do not cover bridges).
	BridgesOf int64
	// Received is when the delivery arrived; zero is now.
	Received time.Time
}

// wakes reports whether the hint is worth a poll now: the job finished
// (it is counted, its start too if no poll saw it running), or a bridge
// may have moved. Other changes (a job created, pending, running) ride
// along with the next poll that wakes the project (which fetches them only
// when that costs nothing more, or when they are manual jobs played), or
// wait for the scheduled one: a wake costs requests, and serving a job when
// it finishes costs one fetch where serving each change costs three.
func (h Hint) wakes() bool {
	switch {
	case h.BridgesOf != 0:
		return true
	case h.JobID == 0:
		return h.PipelineID != 0 && h.JobStatus.Finished()
	}
	return h.JobStatus.Finished()
}

// maxPendingHints bounds the hints a project keeps between two polls, so
// that memory stays bounded whatever the delivery rate; beyond it the next
// poll is a full one, which misses nothing.
const maxPendingHints = 256

// pendingHints are a project's hints not yet served by a poll.
type pendingHints struct {
	mu  sync.Mutex
	set hintSet // guarded by mu
	// wake has a token while a hint waits for the project's loop.
	wake chan struct{}
}

type jobHint struct {
	pipeline int64
	// finished is when the first delivery saying the job finished
	// arrived, for the delivery-to-count latency; zero if none did.
	finished time.Time
}

func newPendingHints() *pendingHints {
	return &pendingHints{wake: make(chan struct{}, 1)}
}

// add records h and reports whether it should wake the project's poll.
func (ph *pendingHints) add(h Hint) bool {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.init()
	if ph.size() >= maxPendingHints && !ph.has(h) {
		ph.set.overflow = true
		return true
	}
	switch {
	case h.JobID != 0:
		jh := ph.set.jobs[h.JobID]
		jh.pipeline = h.PipelineID
		if h.JobStatus.Finished() && jh.finished.IsZero() {
			jh.finished = h.Received
		}
		ph.set.jobs[h.JobID] = jh
	case h.PipelineID != 0:
		ph.set.pipelines[h.PipelineID] = true
		if h.JobStatus.Finished() {
			ph.set.finished[h.PipelineID] = h.JobStatus
		}
	}
	if h.BridgesOf != 0 {
		ph.set.bridges[h.BridgesOf] = true
	}
	return h.wakes()
}

func (ph *pendingHints) init() {
	if ph.set.jobs == nil {
		ph.set.jobs, ph.set.pipelines, ph.set.bridges = map[int64]jobHint{}, map[int64]bool{}, map[int64]bool{}
		ph.set.finished = map[int64]gitlabapi.JobStatus{}
	}
}

// has reports whether h names nothing that is not pending already (a
// duplicate delivery).
func (ph *pendingHints) has(h Hint) bool {
	_, job := ph.set.jobs[h.JobID]
	switch {
	case h.JobID != 0 && !job,
		h.JobID == 0 && h.PipelineID != 0 && !ph.set.pipelines[h.PipelineID],
		h.JobID == 0 && h.JobStatus.Finished() && ph.set.finished[h.PipelineID] != h.JobStatus,
		h.BridgesOf != 0 && !ph.set.bridges[h.BridgesOf]:
		return false
	}
	return true
}

func (ph *pendingHints) size() int {
	return len(ph.set.jobs) + len(ph.set.pipelines) + len(ph.set.bridges)
}

// take returns the pending hints and starts a new set. A wake-up still
// pending is for hints this set holds: it goes too, so that the loop does
// not wake again for nothing.
func (ph *pendingHints) take() hintSet {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	select {
	case <-ph.wake:
	default:
	}
	hs := ph.set
	ph.set = hintSet{}
	return hs
}

// restore puts back hints for the next poll (those of a poll that failed,
// or what a poll could not afford); hints that arrived meanwhile are kept,
// within the bound.
func (ph *pendingHints) restore(hs hintSet) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	ph.init()
	ph.set.overflow = ph.set.overflow || hs.overflow
	for id, jh := range hs.jobs {
		if _, newer := ph.set.jobs[id]; !newer && ph.size() < maxPendingHints {
			ph.set.jobs[id] = jh
		}
	}
	for id, status := range hs.finished {
		if _, newer := ph.set.finished[id]; !newer && (hs.pipelines[id] || ph.set.pipelines[id]) {
			ph.set.finished[id] = status // within the bound with its pipeline
		}
	}
	for _, from := range []struct{ src, dst map[int64]bool }{{hs.pipelines, ph.set.pipelines}, {hs.bridges, ph.set.bridges}} {
		for id := range from.src {
			if ph.size() < maxPendingHints {
				from.dst[id] = true
			}
		}
	}
}

// rewake wakes the project's loop if hints are pending.
func (ph *pendingHints) rewake() {
	ph.mu.Lock()
	pending := ph.size() > 0 || ph.set.overflow
	ph.mu.Unlock()
	if pending {
		select {
		case ph.wake <- struct{}{}:
		default:
		}
	}
}

// hintSet is what one poll serves.
type hintSet struct {
	jobs      map[int64]jobHint             // by job id
	pipelines map[int64]bool                // pipelines to know (and list the bridges of, once)
	finished  map[int64]gitlabapi.JobStatus // of those, the ones a delivery says finished, with the result it claims
	bridges   map[int64]bool                // pipelines whose bridges to list
	overflow  bool                          // more than maxPendingHints: poll in full
}

func (hs hintSet) empty() bool {
	return len(hs.jobs) == 0 && len(hs.pipelines) == 0 && len(hs.bridges) == 0 && !hs.overflow
}

// Hint hands a webhook delivery's hint to the project's poll. It never
// blocks: the poll runs later, on the project's own loop. It reports false
// when the project is not polled (not configured, filtered out, owned by
// another shard), so that the delivery is counted as ignored.
func (s *Scraper) Hint(h Hint) bool {
	s.mu.Lock()
	t := s.projects[h.ProjectID]
	now := s.opts.Now
	s.mu.Unlock()
	if t == nil {
		return false
	}
	if h.Received.IsZero() {
		h.Received = now()
	}
	if t.hints.add(h) {
		select {
		case t.hints.wake <- struct{}{}:
		default: // a wake-up is pending already: the burst shares it
		}
	}
	return true
}

func setOf(ids []int64) map[int64]bool {
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
