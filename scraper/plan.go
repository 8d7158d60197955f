package scraper

import (
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// plan is what one poll of one project does, decided before it starts and
// never changed while it runs: a poll is scheduled, hinted or a hand-over,
// and the three differ only in these values.
type plan struct {
	// walk: read the job list from the newest job down and follow every
	// unfinished job. Without it the poll serves its hints alone.
	walk bool
	// parkedDue: the manual and scheduled jobs are rechecked too.
	parkedDue bool
	// hints are the webhook hints the poll serves, within hintBudget
	// requests beyond what it reads anyway.
	hints      hintSet
	hintBudget int
	// lookbackFrom is set on a project's first walk: jobs created before
	// it are history, never counted.
	lookbackFrom time.Time
	// countFrom and countUntil bound the events counted when a project
	// changes shards (handover.go): those at or before countFrom, or after
	// countUntil, are the other shard's. Zero: no bound.
	countFrom, countUntil time.Time
}

// scheduledPlan is the poll every interval: a walk, with whatever hints
// are pending, and the parked recheck when it is due.
func scheduledPlan(opts Options, st *state.Project, hints hintSet, now time.Time) plan {
	p := walkPlan(opts, st, hints, now)
	p.parkedDue = now.Sub(st.LastParkedCheck) >= opts.ParkedRecheckInterval && st.HasBlocked()
	return p
}

// hintedPlan serves the hints webhook deliveries left without walking,
// unless the project was never walked or more hints came than a project
// keeps: then only a scheduled poll misses nothing.
func hintedPlan(opts Options, st *state.Project, hints hintSet, now time.Time) plan {
	if st.Fresh() || hints.overflow {
		return scheduledPlan(opts, st, hints, now)
	}
	return plan{hints: hints, hintBudget: maxHintedFetches}
}

// handOverPlan is the last poll of a project another shard owns now: a
// scheduled poll, counting up to ShardSince. catchUp makes its parked
// recheck due.
func handOverPlan(opts Options, st *state.Project, now time.Time) plan {
	p := scheduledPlan(opts, st, hintSet{}, now)
	p.countUntil = opts.ShardSince
	return p
}

// walkPlan is a walk, bounded by the lookback on a project's first one
// and, for a project this shard took over, by when it did.
func walkPlan(opts Options, st *state.Project, hints hintSet, now time.Time) plan {
	p := plan{walk: true, hints: hints, hintBudget: maxHintedFetches}
	if st.Fresh() {
		p.lookbackFrom = now.Add(-opts.InitialLookback)
		p.countFrom = st.CountFrom
	}
	return p
}

// isFirstWalk reports whether the poll walks a project never walked to
// completion.
func (p plan) isFirstWalk() bool { return !p.lookbackFrom.IsZero() }

// counts reports whether an event at t is this shard's to count.
func (p plan) counts(t time.Time) bool {
	return (p.countFrom.IsZero() || t.After(p.countFrom)) && (p.countUntil.IsZero() || !t.After(p.countUntil))
}
