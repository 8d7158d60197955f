package scraper

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// When the number of shards changes, some projects move to another shard.
// Both shards split each moved project's events at a cut-off they both
// know without talking to each other, Options.ShardSince, which each
// shard set at its own first start with the new total:
//
//   - the old owner, at that start, polls once more every project whose
//     saved state it holds but no longer owns (a catch-up poll from that
//     state, as after any restart), counts its events up to the cut-off,
//     and forgets the project;
//   - the new owner, without saved state for it, walks back the lookback
//     as for any new project but counts only events after the cut-off
//     (kept with its state as CountFrom until a walk completes).
//
// An event's time is what GitLab says: a job's started_at for its start,
// its finished_at for its end (its created_at when it has none, as skipped
// jobs), the retry's created_at for a retry. With the same cut-off on both
// sides every event is counted once. The two cut-offs differ by however far
// apart the two shards started with the new total: events of moved
// projects in between are counted twice (the new owner started first) or
// not at all (the old owner did); README, "Resharding", gives the bound.

// takeOverCutoff is the cut-off of a project that has no saved state: the
// moment this shard took on its share, when that is within the lookback.
// A shard that took on its share before then counts the lookback whole,
// as for any project new to the configuration or to GitLab.
func takeOverCutoff(opts Options, now time.Time) time.Time {
	if opts.ShardSince.After(now.Add(-opts.InitialLookback)) {
		return opts.ShardSince
	}
	return time.Time{}
}

// handOff makes the catch-up poll of every project whose saved state this
// shard holds but another shard owns, concurrently within the poll slots,
// and forgets each one that succeeds. Those that fail keep their state and
// are tried again at the next discovery.
func (s *Scraper) handOff(ctx context.Context, opts Options) {
	s.mu.Lock()
	done := s.handedOff
	s.mu.Unlock()
	if done || opts.Store == nil {
		return
	}
	ids, err := opts.Store.IDs()
	if err != nil {
		_ = level.Error(opts.Logger).Log("msg", "listing saved project states failed; projects handed to other shards are caught up at the next discovery", "err", err)
		return
	}
	ids = slices.DeleteFunc(ids, opts.Shard.Owns)
	if len(ids) > 0 {
		_ = level.Info(opts.Logger).Log("msg", "handing over projects another shard owns now: one last poll of each", "projects", len(ids),
			"shard", opts.Shard, "counted_until", opts.ShardSince)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !s.catchUp(ctx, opts, id) {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed == 0 && ctx.Err() == nil {
		s.mu.Lock()
		s.handedOff = true
		s.mu.Unlock()
	}
}

// catchUp polls a project another shard owns once more from its saved
// state, counting its events up to ShardSince, and then forgets it. It
// reports whether the project is done with.
func (s *Scraper) catchUp(ctx context.Context, opts Options, id int64) bool {
	select {
	case s.pollSlots <- struct{}{}:
		defer func() { <-s.pollSlots }()
	case <-ctx.Done():
		return false
	}
	logger := opts.Logger
	st, err := opts.Store.Load(id)
	switch {
	case errors.Is(err, state.ErrNoState):
		return true
	case err != nil:
		// Nothing to go on: its events since its last poll are the new
		// owner's loss, within the bound README states.
		_ = level.Error(logger).Log("msg", "saved state of a project handed over is unusable; forgetting it without a last poll", "project_id", id, "err", err)
		s.rec.StateFailed("load")
		return s.forget(opts, id)
	}
	// Everything followed is looked at, manual and scheduled jobs too
	// whatever their recheck schedule: the new owner never sees a job that
	// finished before the cut-off as anything to count.
	st.LastParkedCheck = time.Time{}
	now := opts.Now()
	p := s.newPoll(ctx, opts, st, handOverPlan(opts, st, now), now)
	err = p.run()
	if ctx.Err() != nil && err != nil {
		return false // shutting down: the next start catches up from the saved state
	}
	if err != nil && !errors.Is(err, gitlabapi.ErrNotFound) {
		// As any failed poll: what it counted stays counted, and the next
		// attempt goes on from there.
		s.commit(p, keepOnDisk)
		_ = level.Warn(logger).Log("msg", "last poll of a project handed over failed; tried again at the next discovery", "project", st.Path, "err", err)
		return false
	}
	if !s.commit(p, forgetState) {
		return false
	}
	s.rec.ProjectHandedOver(st.Path)
	_ = level.Info(logger).Log("msg", "project handed over to its new shard after a last poll", "project", st.Path)
	return true
}

func (s *Scraper) forget(opts Options, id int64) bool {
	if err := opts.Store.Delete(id); err != nil {
		_ = level.Error(opts.Logger).Log("msg", "removing the saved state of a project handed over failed", "project_id", id, "err", err)
		return false
	}
	return true
}
