package state

import "time"

// Waiting is what the gauges of each runner pool show of a job waiting for
// a runner (pending): the runners it asks for and since when it waits. It
// is kept beside Followed rather than in FollowedJob, so that the manual
// jobs followed for weeks do not carry it.
type Waiting struct {
	// Tags is the job's tag set: its tag_list sorted and joined with
	// commas, "" when untagged.
	Tags string `json:"tags,omitempty"`
	// QueuedAt is when it became pending, as GitLab's queued_duration
	// tells it. Not its creation: a job of a later stage is created with
	// its pipeline and queued only when the stages before it are done.
	QueuedAt time.Time `json:"queued_at"`
}

// Wait records that followed job id waits for a runner. A job already
// waiting keeps the entry it has: since when it waits does not change, so
// a poll that finds it still pending leaves the saved state as it was.
func (p *Project) Wait(id int64, w Waiting) {
	if _, ok := p.Waiting[id]; ok {
		return
	}
	if p.Waiting == nil {
		p.Waiting = map[int64]Waiting{}
	}
	p.Waiting[id] = w
}

// IsWaiting reports whether job id is recorded as waiting for a runner.
func (p *Project) IsWaiting(id int64) bool {
	_, ok := p.Waiting[id]
	return ok
}

// StopWaiting records that job id no longer waits: a runner took it, it
// finished or is gone.
func (p *Project) StopWaiting(id int64) {
	delete(p.Waiting, id)
	if len(p.Waiting) == 0 {
		p.Waiting = nil // a map keeps its buckets; a project with nothing pending holds none
	}
}
