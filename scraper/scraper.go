// Package scraper walks GitLab on an interval and tells a Recorder, exactly
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

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
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

	// MaxConcurrentPolls bounds the polls under way at once. Each holds
	// its decoded pages while it waits for the client's request slots,
	// so without a bound a first walk of thousands of projects holds
	// thousands of pages. Fixed at New; a reload keeps it.
	MaxConcurrentPolls int

	// Store persists each project's state after every poll, so that a
	// restart neither loses nor doubles counts; nil keeps state in memory.
	Store *state.Store

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
	rec Recorder

	mu            sync.Mutex
	client        GitLab
	opts          Options
	projects      map[int64]*tracked
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
}

// New returns a Scraper; nothing is requested until Cycle or Run.
func New(client GitLab, rec Recorder, opts Options) (*Scraper, error) {
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
func (s *Scraper) Cycle(ctx context.Context) {
	if s.discoveryDue() {
		s.Discover(ctx)
	}
	var wg sync.WaitGroup
	for _, t := range s.trackedProjects() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.pollOne(ctx, t)
		}()
	}
	wg.Wait()
	s.updateReady()
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

// projectLoop polls one project every interval. The first poll is spread
// over the interval by project id so that projects do not all poll at once.
func (s *Scraper) projectLoop(ctx context.Context, t *tracked) {
	interval := s.options().Interval
	h := fnv.New32a()
	_, _ = fmt.Fprint(h, t.st.ID)
	delay := time.Duration(h.Sum32()%1000) * interval / 1000
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		start := time.Now()
		s.pollOne(ctx, t)
		delay = max(s.options().Interval-time.Since(start), 0)
	}
}

func (s *Scraper) pollOne(ctx context.Context, t *tracked) {
	select {
	case s.pollSlots <- struct{}{}:
		defer func() { <-s.pollSlots }()
	case <-ctx.Done():
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if renamedFrom := s.applyDiscovered(t); renamedFrom != "" {
		s.rec.ProjectRemoved(renamedFrom)
	}
	// One snapshot for the whole poll: a reload replaces the options, and
	// a poll that read some before it and some after would mix them.
	opts := s.options()
	var requests atomic.Int64
	start := opts.Now()
	p := s.newPoll(gitlabapi.WithRequestCounter(ctx, &requests), opts, t.st)
	err := p.run()
	if (ctx.Err() != nil && err != nil) || t.removed.Load() {
		// Shutting down, or no longer polled: the poll's events are dropped
		// unsaved, so that the next start counts them from the saved state.
		return
	}
	if opts.Store != nil {
		if serr := opts.Store.Save(t.st); serr != nil {
			_ = level.Error(opts.Logger).Log("msg", "saving state failed; counts stay exact unless the exporter restarts", "project", p.info.Path, "err", serr)
			s.rec.StateFailed("save")
		}
	}
	p.flush(s.rec)
	info := p.info
	s.rec.ProjectActive(info, activeJobs(t.st))
	end := opts.Now()
	s.rec.PollFinished(info, PollResult{Reason: failureReason(err), Err: err, Requests: int(requests.Load()), Duration: end.Sub(start), Time: end})
	if err != nil {
		_ = level.Warn(opts.Logger).Log("msg", "poll failed", "project", info.Path, "err", err)
	}
	t.polled.Store(true)
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

func activeJobs(st *state.Project) []ActiveJob {
	out := make([]ActiveJob, 0, len(st.Followed))
	for _, f := range st.Followed {
		w := st.Waiting[f.ID]
		out = append(out, ActiveJob{ID: f.ID, PipelineID: f.PipelineID,
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
