package scraper

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/go-kit/log/level"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

func (s *Scraper) discoveryDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastDiscovery.IsZero() || s.opts.Now().Sub(s.lastDiscovery) >= s.opts.DiscoveryInterval
}

// Discover resolves the listed projects and the groups' projects, and keeps
// those this shard owns (Options.Shard). Projects found are added; a listed
// project GitLab answers 404 for, and a group project no longer listed, is
// removed. When any lookup fails otherwise, nothing is removed: a GitLab
// outage must not drop projects. Before all that, projects handed to
// another shard get their last poll (handOff) until each has had it.
//
// A listed project that cannot be resolved and is not polled (a typo, a
// rename, a project the token cannot see) is reported under its configured
// name, and so is every group's listing, so that neither goes unnoticed;
// both are tried again at the next discovery.
func (s *Scraper) Discover(ctx context.Context) {
	opts := s.options()
	client := s.currentClient()
	s.handOff(ctx, opts)
	d := resolveConfigured(ctx, opts, client)
	if ctx.Err() != nil {
		return
	}
	s.noteConfigured(d.found, d.complete)
	maps.DeleteFunc(d.found, func(id int64, _ gitlabapi.Project) bool { return !opts.Shard.Owns(id) })
	s.reportDiscovery(opts, d, s.applyDiscovery(opts, d))
}

// discovery is what one discovery learned from GitLab.
type discovery struct {
	found        map[int64]gitlabapi.Project
	resolved     map[string]int64  // configured project → id
	failed       map[string]string // configured project → reason
	groupReasons map[string]string // configured group → reason, "" when listed
	complete     bool              // every lookup answered
}

// resolveConfigured looks up the configured projects this shard looks up,
// and lists the configured groups' projects.
func resolveConfigured(ctx context.Context, opts Options, client GitLab) discovery {
	logger := opts.Logger
	d := discovery{found: map[int64]gitlabapi.Project{}, resolved: map[string]int64{},
		failed: map[string]string{}, groupReasons: map[string]string{}, complete: true}
	for _, ref := range opts.Projects {
		if !lookedUpHere(opts.Shard, ref) {
			continue
		}
		p, err := client.Project(ctx, ref)
		switch {
		case errors.Is(err, gitlabapi.ErrNotFound):
			d.failed[ref] = failureReason(err)
			_ = level.Warn(logger).Log("msg", "configured project not found; not polled, tried again at the next discovery", "project", ref, "err", err)
		case err != nil:
			d.complete = false
			d.failed[ref] = failureReason(err)
			_ = level.Error(logger).Log("msg", "resolving configured project failed", "project", ref, "err", err)
		case p.Archived:
			d.resolved[ref] = p.ID
			_ = level.Debug(logger).Log("msg", "skipping archived project", "project", p.PathWithNamespace)
		default:
			d.resolved[ref] = p.ID
			d.found[p.ID] = *p
		}
	}
	for _, g := range opts.Groups {
		ps, err := client.GroupProjects(ctx, g.Path, gitlabapi.GroupProjectsOptions{IncludeSubgroups: g.IncludeSubgroups})
		d.groupReasons[g.Path] = failureReason(err)
		if err != nil {
			d.complete = false
			_ = level.Error(logger).Log("msg", "listing group projects failed", "group", g.Path, "err", err)
			continue
		}
		for _, p := range ps {
			if p.Archived || (g.Include != nil && !g.Include.MatchString(p.PathWithNamespace)) ||
				(g.Exclude != nil && g.Exclude.MatchString(p.PathWithNamespace)) {
				continue
			}
			d.found[p.ID] = p
		}
	}
	return d
}

// discoveryChanges are what applying a discovery changed, to report.
type discoveryChanges struct {
	removed    []string          // paths of the projects no longer polled
	unresolved map[string]string // configured projects to report unresolved → reason
	settled    []string          // configured projects reported before, not any more
	groupsGone []string          // groups no longer configured
	polled     int               // projects polled now
}

// applyDiscovery adds the projects found that are not polled yet, with
// their saved state, hands those polled their latest details and, when the
// discovery is complete, drops those not found with their saved state.
func (s *Scraper) applyDiscovery(opts Options, d discovery) (c discoveryChanges) {
	// Saved states are read and deleted outside the lock: webhook
	// deliveries look projects up under it, and must not wait for a disk.
	s.mu.Lock()
	var added []gitlabapi.Project
	for id, p := range d.found {
		if s.projects[id] == nil {
			added = append(added, p)
		}
	}
	s.mu.Unlock()
	restored := make([]*state.Project, len(added))
	for i, p := range added {
		restored[i] = s.restore(opts, p)
	}

	s.mu.Lock()
	var gone []*tracked
	fresh := map[int64]bool{}
	for _, st := range restored {
		if s.projects[st.ID] == nil {
			s.projects[st.ID] = newTracked(st)
			fresh[st.ID] = true
		}
	}
	for id, p := range d.found {
		if t := s.projects[id]; t != nil && !fresh[id] {
			t.pending = &p
		}
	}
	if d.complete {
		for id, t := range s.projects {
			if _, ok := d.found[id]; !ok {
				c.removed = append(c.removed, t.st.Path)
				t.removed.Store(true)
				delete(s.projects, id)
				gone = append(gone, t)
			}
		}
	}
	c.unresolved, c.settled = s.noteUnresolved(opts.Projects, d.resolved, d.failed)
	c.groupsGone = s.noteGroups(d.groupReasons)
	s.lastDiscovery = s.opts.Now()
	s.discoveryOK = s.discoveryOK || d.complete
	c.polled = len(s.projects)
	s.mu.Unlock()

	if opts.Store != nil {
		for _, t := range gone {
			if err := opts.Store.Delete(t.st.ID); err != nil {
				_ = level.Warn(opts.Logger).Log("msg", "removing saved state failed", "project", t.st.Path, "err", err)
			}
		}
	}
	return c
}

// reportDiscovery tells the recorder what a discovery changed, and how each
// group's listing went.
func (s *Scraper) reportDiscovery(opts Options, d discovery, c discoveryChanges) {
	for _, path := range c.removed {
		_ = level.Info(opts.Logger).Log("msg", "project no longer polled", "project", path)
		s.rec.ProjectRemoved(path)
	}
	for _, ref := range c.settled {
		s.rec.ProjectRemoved(ref)
	}
	for _, ref := range slices.Sorted(maps.Keys(c.unresolved)) {
		s.rec.ProjectUnresolved(ref, c.unresolved[ref])
	}
	for _, g := range c.groupsGone {
		s.rec.GroupRemoved(g)
	}
	for _, g := range opts.Groups {
		s.rec.GroupListed(g.Path, d.groupReasons[g.Path])
	}
	s.rec.ProjectsPolled(c.polled)
}

// noteUnresolved works out which configured projects to report as
// unresolved: those whose lookup failed and that are not polled (a project
// still polled tells its own failures). It returns them, with the reason,
// and the projects reported before that are not any more and whose series
// go, unless a polled project carries that name. Called with s.mu held,
// after the discovery's additions and removals.
func (s *Scraper) noteUnresolved(configured []string, resolved map[string]int64, failed map[string]string) (unresolved map[string]string, settled []string) {
	// A lookup that failed keeps the id of the last one that worked, so
	// that a polled project is recognised through a passing failure.
	refIDs := make(map[string]int64, len(configured))
	for _, ref := range configured {
		if id, ok := resolved[ref]; ok {
			refIDs[ref] = id
		} else if id, ok := s.refIDs[ref]; ok {
			refIDs[ref] = id
		}
	}
	s.refIDs = refIDs
	polledPaths := map[string]bool{}
	for _, t := range s.projects {
		polledPaths[t.st.Path] = true
		if t.pending != nil {
			polledPaths[t.pending.PathWithNamespace] = true
		}
	}
	unresolved = map[string]string{}
	for ref, reason := range failed {
		if s.projects[refIDs[ref]] == nil && !polledPaths[ref] && speaksFor(s.opts.Shard, ref, refIDs) {
			unresolved[ref] = reason
		}
	}
	for ref := range s.unresolved {
		if _, still := unresolved[ref]; !still && !polledPaths[ref] {
			settled = append(settled, ref)
		}
	}
	slices.Sort(settled)
	s.unresolved = map[string]bool{}
	for ref := range unresolved {
		s.unresolved[ref] = true
	}
	return unresolved, settled
}

// noteGroups remembers the configured groups and returns those configured
// before and not any more, whose series go. Called with s.mu held.
func (s *Scraper) noteGroups(reasons map[string]string) (gone []string) {
	for g := range s.groups {
		if _, ok := reasons[g]; !ok {
			gone = append(gone, g)
		}
	}
	slices.Sort(gone)
	s.groups = map[string]bool{}
	for g := range reasons {
		s.groups[g] = true
	}
	return gone
}

// restore returns the saved state of a newly discovered project, or a
// fresh one, which counts from the shard's cut-off if it has one (see
// handover.go). An unusable state file is reported and replaced by a fresh
// state: the project then walks back poll.initial_lookback again.
func (s *Scraper) restore(opts Options, p gitlabapi.Project) *state.Project {
	fresh := state.NewProject(p.ID, p.PathWithNamespace, p.DefaultBranch)
	fresh.CountFrom = takeOverCutoff(opts, opts.Now())
	if opts.Store == nil {
		return fresh
	}
	st, err := opts.Store.Load(p.ID)
	switch {
	case err == nil:
		st.Path, st.DefaultBranch = p.PathWithNamespace, p.DefaultBranch
		_ = level.Info(opts.Logger).Log("msg", "resuming from saved state", "project", p.PathWithNamespace,
			"high_water", st.HighWater, "followed_jobs", len(st.Followed))
		return st
	case errors.Is(err, state.ErrNoState):
	default:
		_ = level.Error(opts.Logger).Log("msg", "saved state unusable; starting this project fresh", "project", p.PathWithNamespace, "err", err)
		s.rec.StateFailed("load")
	}
	return fresh
}

// noteConfigured remembers every project the configuration names, whichever
// shard owns it, for Configured. An incomplete discovery only adds.
func (s *Scraper) noteConfigured(found map[int64]gitlabapi.Project, complete bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if complete || s.configured == nil {
		s.configured = make(map[int64]bool, len(found))
	}
	for id := range found {
		s.configured[id] = true
	}
}

// Configured reports whether the configuration names the project, as of the
// last discovery, whichever shard polls it: a webhook delivery about a
// project no shard polls is not worth passing on.
func (s *Scraper) Configured(projectID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.configured[projectID]
}
