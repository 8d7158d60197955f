// Package scraper walks GitLab on an interval and tells an event.Recorder, exactly
// once per job, what started and what finished. It keeps per-project state
// (package state) so that each poll costs requests in proportion to what
// changed, not to history.
package scraper

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// Group selects the projects of a GitLab group.
type Group struct {
	Path             string
	IncludeSubgroups bool
	Include, Exclude *regexp.Regexp // matched against path_with_namespace; nil = no filter
}

// Options configure a Scraper. The durations and MaxConcurrentPolls have
// no defaults here (package config holds them): each must be given.
type Options struct {
	Projects []string // paths or numeric ids
	Groups   []Group

	Interval              time.Duration // between two polls of a project
	InitialLookback       time.Duration // history counted on a first walk; 0 = none
	ParkedRecheckInterval time.Duration // manual/scheduled jobs rechecked this often
	ParkedMaxAge          time.Duration // manual/scheduled jobs older than this are no longer followed
	PipelineTTL           time.Duration // idle pipelines remembered this long
	DiscoveryInterval     time.Duration // projects and groups re-resolved this often

	// SkipPipelines: no pipeline is fetched or counted (no pipeline
	// family is exported).
	SkipPipelines bool

	// MaxConcurrentPolls bounds the polls under way at once. Each holds
	// its decoded pages while it waits for the client's request slots,
	// so without a bound a first walk of thousands of projects holds
	// thousands of pages. Fixed at New; a reload keeps it.
	MaxConcurrentPolls int

	// Store persists each project's state after every poll, so that a
	// restart neither loses nor doubles counts; nil keeps state in memory.
	Store *state.Store

	// Shard selects the projects this scraper polls among those configured
	// (the zero value: all of them); see package shard. ShardSince is when
	// it took on its current share (state.Store.ShardSince): a project
	// without saved state counts only what happened after it, because the
	// shard that owned it before counted the rest. Zero: no project was
	// ever handed over, and one without state walks back InitialLookback.
	Shard      shard.Shard
	ShardSince time.Time

	Logger log.Logger
	Now    func() time.Time
}

// check rejects options left unset; Logger and Now fall back to none and
// the real clock.
func (o *Options) check() error {
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"Interval", o.Interval}, {"ParkedRecheckInterval", o.ParkedRecheckInterval},
		{"ParkedMaxAge", o.ParkedMaxAge}, {"PipelineTTL", o.PipelineTTL}, {"DiscoveryInterval", o.DiscoveryInterval},
	} {
		if d.value <= 0 {
			return fmt.Errorf("scraper: %s must be greater than 0, got %s", d.name, d.value)
		}
	}
	if o.InitialLookback < 0 {
		return fmt.Errorf("scraper: InitialLookback must not be negative, got %s", o.InitialLookback)
	}
	if o.MaxConcurrentPolls < 1 {
		return fmt.Errorf("scraper: MaxConcurrentPolls must be at least 1, got %d", o.MaxConcurrentPolls)
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Scraper polls the configured projects.
type Scraper struct {
	rec event.Recorder

	mu       sync.Mutex
	client   GitLab
	opts     Options
	projects map[int64]*tracked
	// configured are the ids of every project the configuration names,
	// whichever shard owns it.
	configured    map[int64]bool
	lastDiscovery time.Time
	discoveryOK   bool

	// What discovery reported, to take back what no longer holds:
	// configured projects resolved (by id), configured projects reported
	// unresolved, and configured groups.
	refIDs     map[string]int64
	unresolved map[string]bool
	groups     map[string]bool

	pollSlots chan struct{} // a token per poll under way
	ready     atomic.Bool
	handedOff bool // every saved project another shard owns has had its catch-up poll
}

// tracked is one polled project. Its mutex serialises its polls.
type tracked struct {
	mu      sync.Mutex
	st      *state.Project
	polled  atomic.Bool
	removed atomic.Bool
	// pending is what the last discovery learnt about the project (its
	// path and default branch may change); guarded by Scraper.mu.
	pending *gitlabapi.Project
	// hints are webhook hints waiting for a poll.
	hints *pendingHints
}

func newTracked(st *state.Project) *tracked { return &tracked{st: st, hints: newPendingHints()} }

// New returns a Scraper; nothing is requested until Cycle or Run.
func New(client GitLab, rec event.Recorder, opts Options) (*Scraper, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	return &Scraper{client: client, rec: rec, opts: opts, projects: map[int64]*tracked{},
		pollSlots: make(chan struct{}, opts.MaxConcurrentPolls)}, nil
}

// Reconfigure replaces the options (on a config reload); the project list is
// resolved again at the next discovery, which it makes due at once.
func (s *Scraper) Reconfigure(opts Options) error {
	if err := opts.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = opts
	s.lastDiscovery = time.Time{}
	return nil
}

// SetClient replaces the GitLab client (on a config reload that changed the
// URL, token or limits); polls under way finish with the old one.
func (s *Scraper) SetClient(client GitLab) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = client
}

func (s *Scraper) currentClient() GitLab {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// Ready reports whether every project has been polled at least once.
func (s *Scraper) Ready() bool { return s.ready.Load() }

func (s *Scraper) options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Cycle runs discovery if it is due, then polls every project once,
// concurrently, and waits for all of them. Tests and benchmarks drive the
// scraper with it; Run polls each project on its own schedule instead.
func (s *Scraper) Cycle(ctx context.Context) { s.CycleWhere(ctx, nil) }

// CycleWhere is Cycle for the projects keep reports true for (all when
// nil): the scheduled polls that are due, when a benchmark spreads them
// over the reconciliation interval as Run does.
func (s *Scraper) CycleWhere(ctx context.Context, keep func(projectID int64) bool) {
	if s.discoveryDue() {
		s.Discover(ctx)
	}
	var wg sync.WaitGroup
	for _, t := range s.trackedProjects() {
		if keep == nil || keep(t.st.ID) {
			wg.Go(func() { s.pollOne(ctx, t, false) })
		}
	}
	wg.Wait()
	s.updateReady()
}

// HintedCycle serves the pending webhook hints of every project that has
// some, concurrently, and waits: what Run does as deliveries arrive.
// Benchmarks drive webhooks with it.
func (s *Scraper) HintedCycle(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range s.trackedProjects() {
		select {
		case <-t.hints.wake:
			wg.Go(func() { s.pollOne(ctx, t, true) })
		default:
		}
	}
	wg.Wait()
}

// Run polls until ctx ends: every project on its own loop, so that a slow or
// failing project never delays the others, and discovery on its interval.
func (s *Scraper) Run(ctx context.Context) {
	loops := map[int64]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, cancel := range loops {
			cancel()
		}
		wg.Wait()
	}()
	for {
		if s.discoveryDue() {
			s.Discover(ctx)
		}
		current := map[int64]bool{}
		for _, t := range s.trackedProjects() {
			current[t.st.ID] = true
			if loops[t.st.ID] == nil {
				loopCtx, cancel := context.WithCancel(ctx)
				loops[t.st.ID] = cancel
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.projectLoop(loopCtx, t)
				}()
			}
		}
		for id, cancel := range loops {
			if !current[id] {
				cancel()
				delete(loops, id)
			}
		}
		s.updateReady()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// hintCoalesce is how long a project's poll waits after the first
// delivery that wakes it, so that one poll serves a burst (a stage's jobs
// starting together, a job's running and finished deliveries).
const hintCoalesce = 250 * time.Millisecond

// maxFirstPollSpread bounds how far the first polls are spread: with
// webhooks the interval is a reconciliation of ten minutes or more, and
// the first poll (the walk that catches up after a restart) should not
// wait that long.
const maxFirstPollSpread = 30 * time.Second

// projectLoop polls one project every interval, and in between whenever
// webhook deliveries name something worth a poll. The first poll is spread
// over the interval (at most 30 s) by project id so that projects do
// not all poll at once.
func (s *Scraper) projectLoop(ctx context.Context, t *tracked) {
	spread := min(s.options().Interval, maxFirstPollSpread)
	h := fnv.New32a()
	_, _ = fmt.Fprint(h, t.st.ID)
	timer := time.NewTimer(time.Duration(h.Sum32()%1000) * spread / 1000)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			start := time.Now()
			s.pollOne(ctx, t, false)
			timer.Reset(max(s.options().Interval-time.Since(start), 0))
		case <-t.hints.wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(hintCoalesce):
			}
			if err := s.pollOne(ctx, t, true); err != nil && ctx.Err() == nil {
				// Its hints are back in the pending set; wake for them
				// again after a pause rather than at the reconciliation.
				time.AfterFunc(event.HintRetry, t.hints.rewake)
			}
		}
	}
}

// pollOne polls t: on its schedule, or hinted to serve what its pending
// hints name (hintedPlan says when it walks all the same). It returns the
// poll's error.
func (s *Scraper) pollOne(ctx context.Context, t *tracked, hinted bool) error {
	select {
	case s.pollSlots <- struct{}{}:
		defer func() { <-s.pollSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	hints := t.hints.take()
	if hinted && hints.empty() {
		return nil // a poll in between served them
	}
	if renamedFrom := s.applyDiscovered(t); renamedFrom != "" {
		s.rec.ProjectRemoved(renamedFrom)
	}
	// One snapshot for the whole poll: a reload replaces the options, and
	// a poll that read some before it and some after would mix them.
	opts := s.options()
	start := opts.Now()
	plan := scheduledPlan
	if hinted {
		plan = hintedPlan
	}
	var requests atomic.Int64
	p := s.newPoll(gitlabapi.WithRequestCounter(ctx, &requests), opts, t.st, plan(opts, t.st, hints, start), start)
	err := p.run()
	if (ctx.Err() != nil && err != nil) || t.removed.Load() {
		// Shutting down, or no longer polled: the poll's events are dropped
		// unsaved, so that the next start counts them from the saved state.
		return err
	}
	if err != nil {
		t.hints.restore(hints) // the next poll tries them again
	} else if !p.deferred.empty() {
		// For the next poll: in a busy project, which can name more than
		// one poll affords, the next delivery wakes one soon.
		t.hints.restore(p.deferred)
	}
	s.commit(p, keepInMemory)
	s.rec.ProjectActive(p.info, activeJobs(t.st))
	s.rec.ProjectPipelines(p.info, unfinishedPipelines(t.st))
	end := opts.Now()
	s.rec.PollFinished(p.info, event.PollResult{Reason: failureReason(err), Err: err, Requests: int(requests.Load()),
		Duration: end.Sub(start), Time: end, Hinted: !p.walk, HintLatencies: p.hintLatencies(end)})
	if err != nil {
		_ = level.Warn(opts.Logger).Log("msg", "poll failed", "project", p.info.Path, "hinted", !p.walk, "err", err)
	}
	t.polled.Store(true)
	return err
}

// How commit keeps a poll's state.
type keep int

const (
	// keepInMemory: the next poll goes on from the state in memory, so
	// the counts go out even when saving fails (they stay exact unless the
	// exporter restarts before a save succeeds).
	keepInMemory keep = iota
	// keepOnDisk: a failed hand-over, whose next attempt loads the saved
	// state, so its counts go out only once that has them.
	keepOnDisk
	// forgetState: a hand-over done; the saved state is deleted first.
	forgetState
)

// commit makes a poll's counts final: the state that records them is
// saved (or deleted) first, and only then do its events reach the
// recorder, so that a crash in between loses the poll's counts rather than
// counting them twice at the next start. It reports whether they went out.
func (s *Scraper) commit(p *poll, how keep) bool {
	switch store := p.opts.Store; {
	case store == nil:
	case how == forgetState:
		if !s.forget(p.opts, p.st.ID) {
			return false
		}
	default:
		if err := store.Save(p.st); err != nil {
			msg := "saving state failed; counts stay exact unless the exporter restarts"
			if how == keepOnDisk {
				msg = "saving state failed; the counts of this last poll of a project handed over wait for the next attempt"
			}
			_ = level.Error(p.opts.Logger).Log("msg", msg, "project", p.info.Path, "err", err)
			s.rec.StateFailed("save")
			if how == keepOnDisk {
				return false
			}
		}
	}
	for _, e := range p.events {
		e(s.rec)
	}
	p.events = nil
	return true
}

// applyDiscovered takes in the project's current path and default branch.
// It returns the old path when the project was renamed.
func (s *Scraper) applyDiscovered(t *tracked) (renamedFrom string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := t.pending
	if p == nil {
		return ""
	}
	t.pending = nil
	if p.PathWithNamespace != t.st.Path {
		renamedFrom = t.st.Path
	}
	t.st.Path, t.st.DefaultBranch = p.PathWithNamespace, p.DefaultBranch
	return renamedFrom
}

func activeJobs(st *state.Project) []event.ActiveJob {
	out := make([]event.ActiveJob, 0, len(st.Followed))
	for _, f := range st.Followed {
		w := st.Waiting[f.ID]
		out = append(out, event.ActiveJob{ID: f.ID, PipelineID: f.PipelineID,
			Status: gitlabapi.JobStatus(f.Status), CreatedAt: f.CreatedAt, Bridge: f.Bridge,
			Tags: w.Tags, QueuedAt: w.QueuedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Scraper) trackedProjects() []*tracked {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*tracked, 0, len(s.projects))
	for _, t := range s.projects {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tracked) int { return int(a.st.ID - b.st.ID) })
	return out
}

func (s *Scraper) updateReady() {
	if s.ready.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.discoveryOK {
		return
	}
	for _, t := range s.projects {
		if !t.polled.Load() {
			return
		}
	}
	s.ready.Store(true)
}
