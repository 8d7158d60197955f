// Package state holds what the scraper remembers about each project between
// polls: how far it has walked, which jobs it still follows, and the little
// it keeps per pipeline to recognise retries and bridges. It is plain data,
// so it can be persisted and restored, and it knows nothing of HTTP or
// Prometheus.
package state

import (
	"time"
)

// LateCommitWindow is how far below the newest job the walk keeps looking.
// GitLab assigns job ids before the creating transaction commits, so a job
// with a lower id can become visible after a higher one; such a job is
// found as long as it appears within this window of the newest creation time.
const LateCommitWindow = 2 * time.Minute

// Project is the scraper's memory of one project.
type Project struct {
	ID            int64  `json:"id"`
	Path          string `json:"path"`
	DefaultBranch string `json:"default_branch"`

	// HighWater is the highest job id of the last complete walk; every job
	// with a lower id was handled then, except late commits (see Recent).
	HighWater int64 `json:"high_water"`
	// HighWaterCreated is GitLab's created_at of the job HighWater names.
	HighWaterCreated time.Time `json:"high_water_created"`
	// Recent holds the ids handled whose created_at lies within
	// LateCommitWindow of HighWaterCreated, and every id handled by a walk
	// that has not completed yet, with their created_at.
	Recent map[int64]time.Time `json:"recent"`
	// MaxPipelineID is the highest pipeline id seen; a job in a lower,
	// unknown pipeline belongs to an old pipeline (a retry or a late play).
	MaxPipelineID int64 `json:"max_pipeline_id"`

	// Followed are jobs seen but not finished yet, by id.
	Followed map[int64]*FollowedJob `json:"followed"`
	// Waiting are the followed jobs now waiting for a runner, by id (see
	// Waiting); nil when none.
	Waiting map[int64]Waiting `json:"waiting,omitempty"`
	// Pipelines are the pipelines with recent activity, by id.
	Pipelines map[int64]*Pipeline `json:"pipelines"`

	// LastParkedCheck is when manual and scheduled jobs were last rechecked.
	LastParkedCheck time.Time `json:"last_parked_check"`

	// CountFrom, when set, is the cut-off of a project that a shard took
	// over without its state (package shard): until a walk completes,
	// only what happened after it is counted, because the shard that owned
	// the project before counted the rest. Kept with the state, so that a
	// restart before that walk completes keeps the same cut-off.
	CountFrom time.Time `json:"count_from,omitzero"`

	// NextFirstPage is the per_page the next walk may ask for on its first
	// request if the project is still quiet then; 0 = a full page. Set by
	// the scraper after each walk. It is not saved: after a restart the
	// first walk reads a full page and so learns it again.
	NextFirstPage int `json:"-"`
}

// FollowedJob is an unfinished job or bridge, with what is needed to find
// it again and to show it in the gauges meanwhile; no more, because an
// unplayed manual job is followed for poll.parked_max_age (14 days by
// default), and there are many. When it finishes it is counted from what
// GitLab answers then, which names it.
type FollowedJob struct {
	ID         int64     `json:"id"`
	PipelineID int64     `json:"pipeline_id"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	// StartSeen is set once its queued duration has been observed.
	StartSeen bool `json:"start_seen,omitempty"`
	Bridge    bool `json:"bridge,omitempty"`
}

// Pipeline is what the scraper keeps of a pipeline with recent activity.
type Pipeline struct {
	ID int64 `json:"id"`
	// Attempts maps a job name to the highest job id seen under that name,
	// so a new id under a known name is recognised as a retry.
	Attempts map[string]int64 `json:"attempts"`
	// BridgeFloor: bridges with an id at or below it were created before
	// this pipeline was (re)discovered and were handled then.
	BridgeFloor int64 `json:"bridge_floor"`
	// Bridges are the ids of this pipeline's bridges already counted.
	Bridges map[int64]bool `json:"bridges"`
	// HasBridges is set once a bridge list for it was not empty.
	HasBridges bool `json:"has_bridges,omitempty"`
	// Children are the pipelines its bridges triggered: when one of them
	// has a new result, so may it.
	Children     []int64   `json:"children,omitempty"`
	LastActivity time.Time `json:"last_activity"`

	// Of the pipeline itself, for the pipeline metrics. Status is its
	// status as last seen, in a row of one of its jobs or in the pipeline.
	Status string `json:"status,omitempty"`
	// First is the first result counted ("" until then; UnknownFirst when
	// it is not the scraper's to count), Later the later results counted
	// since, each once, and FinishedAt the finish of the result counted
	// last: the same finish found again is not counted again.
	First      string    `json:"first,omitempty"`
	Later      []string  `json:"later,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Open: a job of it moved since it was last found with a result or
	// waiting for a person, so it is fetched once none of its jobs is
	// active; CheckedAt is when it was fetched last, zero since that move.
	Open      bool      `json:"open,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// UnknownFirst is the first result of a pipeline that finished before the
// scraper knew it, or that it forgot before the pipeline ran again: its
// results are later results of an unknown first one.
const UnknownFirst = "unknown"

// Moved records that a job of the pipeline changed: it may have a new
// result once none of its jobs is active.
func (pl *Pipeline) Moved() {
	pl.Open = true
	pl.CheckedAt = time.Time{}
}

// NewProject returns an empty memory for a project never walked.
func NewProject(id int64, path, defaultBranch string) *Project {
	return &Project{
		ID:            id,
		Path:          path,
		DefaultBranch: defaultBranch,
		Recent:        map[int64]time.Time{},
		Followed:      map[int64]*FollowedJob{},
		Pipelines:     map[int64]*Pipeline{},
	}
}

// Fresh reports whether the project was never walked to completion.
func (p *Project) Fresh() bool { return p.HighWater == 0 }

// Handled reports whether the job with this id was already handled (counted,
// or followed), given its creation time.
func (p *Project) Handled(id int64, created time.Time) bool {
	if _, ok := p.Recent[id]; ok {
		return true
	}
	return id <= p.HighWater && created.Before(p.HighWaterCreated.Add(-LateCommitWindow))
}

// BelowWindow reports whether the walk may stop at this job: every job from
// here down was handled by an earlier walk.
func (p *Project) BelowWindow(id int64, created time.Time) bool {
	return p.HighWater > 0 && id <= p.HighWater && created.Before(p.HighWaterCreated.Add(-LateCommitWindow))
}

// MarkHandled records that a job was handled by the walk under way.
func (p *Project) MarkHandled(id int64, created time.Time) {
	p.Recent[id] = created
}

// CompleteWalk records that a walk reached already-handled history. newest is
// the first job of its first page (zero when the project has no jobs).
func (p *Project) CompleteWalk(newestID int64, newestCreated time.Time) {
	if newestID > p.HighWater {
		p.HighWater = newestID
		p.HighWaterCreated = newestCreated
	}
	floor := p.HighWaterCreated.Add(-LateCommitWindow)
	for id, created := range p.Recent {
		if id <= p.HighWater && created.Before(floor) {
			delete(p.Recent, id)
		}
	}
}

// Pipeline returns the memory of a pipeline, creating it if needed. created
// reports whether it was created; floor is the bridge floor a new one gets.
func (p *Project) Pipeline(id int64, floor int64, now time.Time) (pl *Pipeline, created bool) {
	if pl = p.Pipelines[id]; pl != nil {
		pl.LastActivity = now
		return pl, false
	}
	pl = &Pipeline{ID: id, Attempts: map[string]int64{}, Bridges: map[int64]bool{}, BridgeFloor: floor, LastActivity: now}
	p.Pipelines[id] = pl
	if id > p.MaxPipelineID {
		p.MaxPipelineID = id
	}
	return pl, true
}

// SawPipeline records that a pipeline exists, without remembering it: a
// pipeline with a lower id met later is an old one.
func (p *Project) SawPipeline(id int64) { p.MaxPipelineID = max(p.MaxPipelineID, id) }

// Follow records an unfinished job or bridge, or its new status.
func (p *Project) Follow(f *FollowedJob) { p.Followed[f.ID] = f }

// Unfollow forgets a job that finished, or that GitLab no longer has.
func (p *Project) Unfollow(id int64) {
	delete(p.Followed, id)
	p.StopWaiting(id)
}

// HasBlocked reports whether a followed job waits for a person or a clock.
func (p *Project) HasBlocked() bool {
	for _, f := range p.Followed {
		if blocked(f.Status) {
			return true
		}
	}
	return false
}

// DropStaleParked stops following manual and scheduled jobs created before
// cutoff, so that pipelines whose manual jobs nobody plays do not make the
// state grow without bound.
func (p *Project) DropStaleParked(cutoff time.Time) {
	for id, f := range p.Followed {
		if blocked(f.Status) && f.CreatedAt.Before(cutoff) {
			p.Unfollow(id)
		}
	}
}

// ForgetPipeline forgets a pipeline GitLab no longer has, or whose
// bridges could not be loaded and are loaded again next time.
func (p *Project) ForgetPipeline(id int64) { delete(p.Pipelines, id) }

// ForgetPipelines drops pipelines idle since before cutoff that no followed
// job or bridge belongs to, so memory does not grow with history. A bridge
// keeps its pipeline because its pipeline's bridge list is how it is
// followed. A manual or scheduled job keeps it when pipelines are counted
// (keepParked), because playing it runs the pipeline again, whose first
// result is remembered here; otherwise a played job keeps its id, so it is
// recognised without it.
func (p *Project) ForgetPipelines(cutoff time.Time, keepParked bool) {
	busy := map[int64]bool{}
	for _, f := range p.Followed {
		if f.Bridge || keepParked || !blocked(f.Status) {
			busy[f.PipelineID] = true
		}
	}
	for id, pl := range p.Pipelines {
		if !busy[id] && pl.LastActivity.Before(cutoff) {
			delete(p.Pipelines, id)
		}
	}
}

// RecordAttempt notes that a job of this pipeline runs under name with id. It
// returns the id of an earlier attempt that this one retried, or 0. Called in
// any order for the attempts of a name, it names each retried attempt once:
// the lower of two ids is always the retried one.
func (pl *Pipeline) RecordAttempt(name string, id int64) (retried int64) {
	prev, ok := pl.Attempts[name]
	switch {
	case !ok:
		pl.Attempts[name] = id
		return 0
	case prev == id:
		return 0
	case prev < id:
		pl.Attempts[name] = id
		return prev
	default:
		return id
	}
}

// CountBridge records that a finished bridge was counted.
func (pl *Pipeline) CountBridge(id int64) { pl.Bridges[id] = true }

// blocked reports whether a status waits for a person or a clock; state
// keeps statuses as GitLab's strings and knows nothing of the API types.
func blocked(status string) bool { return status == "manual" || status == "scheduled" }
