package scraper

import (
	"context"
	"errors"

	"github.com/go-kit/log/level"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

func (s *Scraper) discoveryDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastDiscovery.IsZero() || s.opts.Now().Sub(s.lastDiscovery) >= s.opts.DiscoveryInterval
}

// Discover resolves the listed projects and the groups' projects. Projects
// found are added; a listed project GitLab answers 404 for, and a group
// project no longer listed, is removed. When any lookup fails otherwise,
// nothing is removed: a GitLab outage must not drop projects.
func (s *Scraper) Discover(ctx context.Context) {
	opts := s.options()
	client := s.currentClient()
	logger := opts.Logger
	found := map[int64]gitlabapi.Project{}
	complete := true

	for _, ref := range opts.Projects {
		p, err := client.Project(ctx, ref)
		switch {
		case errors.Is(err, gitlabapi.ErrNotFound):
			_ = level.Warn(logger).Log("msg", "configured project not found; not polled", "project", ref, "err", err)
		case err != nil:
			complete = false
			_ = level.Error(logger).Log("msg", "resolving configured project failed", "project", ref, "err", err)
		case p.Archived:
			_ = level.Debug(logger).Log("msg", "skipping archived project", "project", p.PathWithNamespace)
		default:
			found[p.ID] = *p
		}
	}
	for _, g := range opts.Groups {
		ps, err := client.GroupProjects(ctx, g.Path, gitlabapi.GroupProjectsOptions{IncludeSubgroups: g.IncludeSubgroups})
		if err != nil {
			complete = false
			_ = level.Error(logger).Log("msg", "listing group projects failed", "group", g.Path, "err", err)
			continue
		}
		for _, p := range ps {
			if p.Archived || (g.Include != nil && !g.Include.MatchString(p.PathWithNamespace)) ||
				(g.Exclude != nil && g.Exclude.MatchString(p.PathWithNamespace)) {
				continue
			}
			found[p.ID] = p
		}
	}
	if ctx.Err() != nil {
		return
	}

	s.mu.Lock()
	var removed []string
	for id, p := range found {
		if t := s.projects[id]; t != nil {
			t.pending = &p
			continue
		}
		s.projects[id] = &tracked{st: s.restore(opts, p)}
	}
	if complete {
		for id, t := range s.projects {
			if _, ok := found[id]; !ok {
				removed = append(removed, t.st.Path)
				t.removed.Store(true)
				delete(s.projects, id)
				if opts.Store != nil {
					if err := opts.Store.Delete(id); err != nil {
						_ = level.Warn(logger).Log("msg", "removing saved state failed", "project", t.st.Path, "err", err)
					}
				}
			}
		}
	}
	s.lastDiscovery = s.opts.Now()
	s.discoveryOK = s.discoveryOK || complete
	n := len(s.projects)
	s.mu.Unlock()

	for _, path := range removed {
		_ = level.Info(logger).Log("msg", "project no longer polled", "project", path)
		s.rec.ProjectRemoved(path)
	}
	s.rec.ProjectsPolled(n)
}

// restore returns the saved state of a newly discovered project, or a
// fresh one. An unusable state file is reported and replaced by a fresh
// state: the project then walks back poll.initial_lookback again.
func (s *Scraper) restore(opts Options, p gitlabapi.Project) *state.Project {
	if opts.Store == nil {
		return state.NewProject(p.ID, p.PathWithNamespace, p.DefaultBranch)
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
	return state.NewProject(p.ID, p.PathWithNamespace, p.DefaultBranch)
}
