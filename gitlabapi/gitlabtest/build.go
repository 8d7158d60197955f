package gitlabtest

// Methods that build the model. They return 0 when the input is rejected
// (unknown parent, invalid or taken path): the signatures are shared with
// tests written elsewhere, so there is no error to return.

// ProjectOptions configures CreateProject.
type ProjectOptions struct {
	DefaultBranch string // "" = "main"
	Archived      bool
}

// PipelineOptions configures CreatePipeline.
type PipelineOptions struct {
	Source string // "" = "push"
	// SourceBranch is the merge request's source branch for a
	// merge_request_event pipeline on a merge request ref
	// (MergeRequestRef: refs/merge-requests/<iid>/head, /merge or /train),
	// "" = "mr-<iid>". Such a pipeline belongs to the project's merge
	// request iid, created by its first pipeline (whose branch stays); its
	// Pipeline Hooks carry merge_request and the source branch as
	// object_attributes.ref, as GitLab's do. Ignored for other pipelines.
	SourceBranch string
}

// JobSpec describes a job or bridge to create.
type JobSpec struct {
	Name, Stage  string // Stage "" = "test", GitLab's default stage
	When         string // "", "on_success", "always", "on_failure" → created; "manual" → manual; "delayed" → scheduled
	AllowFailure bool
	Tags         []string
	// Environment is the `environment:` a build deploys to ("" = none);
	// only webhooks show it, as the jobs API does not.
	Environment string
}

// CreateGroup creates the group at path ("a" or "a/b"), creating parent
// groups as needed, and returns its id; an existing group's id is returned
// as is. It returns 0 for an invalid path or one a project already uses.
func (s *Server) CreateGroup(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.m.ensureGroup(path, s.now())
	if g == nil {
		return 0
	}
	return g.id
}

// CreateProject creates the project at path ("group/sub/name"), creating
// missing groups, and returns its id, or 0 if the path is invalid, has no
// namespace or is taken.
func (s *Server) CreateProject(path string, opt ProjectOptions) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.m.createProject(path, opt, s.now())
	if p == nil {
		return 0
	}
	return p.id
}

// DeleteProject removes the project from the API: later requests for it get
// 404 {"message":"404 Project Not Found"}. Its jobs stay in Jobs(), the
// ground truth of what existed.
func (s *Server) DeleteProject(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.m.projects[id]
	if p == nil || p.deleted {
		return
	}
	p.deleted = true
	delete(s.m.projectsByPath, lowerPath(p.path))
}

// ArchiveProject sets the project's archived flag; its jobs then render
// "archived": true, as GitLab does for jobs of archived projects.
func (s *Server) ArchiveProject(id int64, archived bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.m.projects[id]; p != nil {
		p.archived = archived
	}
}

// ForbidProject makes the token act like a guest of the project: the
// project stays visible (GET /projects/:id, group listings) but its jobs and
// pipelines answer 403 {"message":"403 Forbidden"}.
func (s *Server) ForbidProject(id int64, forbidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.m.projects[id]; p != nil {
		p.forbidden = forbidden
	}
}

// CreatePipeline creates an empty pipeline (status "created") on ref, the
// default branch when ref is "", and returns its id, or 0 for an unknown or
// deleted project.
func (s *Server) CreatePipeline(projectID int64, ref string, opt PipelineOptions) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.m.projects[projectID]
	if p == nil || p.deleted {
		return 0
	}
	if ref == "" {
		ref = p.defaultBranch
	}
	src := opt.Source
	if src == "" {
		src = "push"
	}
	pl := s.m.createPipeline(p, ref, src, s.now())
	if iid, _, ok := parseMergeRequestRef(ref); ok && src == "merge_request_event" {
		pl.mr = s.m.mergeRequestFor(p, iid, opt.SourceBranch)
	}
	return pl.id
}

// CreateJob adds a build to the pipeline and returns its id, or 0 for an
// unknown pipeline, an empty name or an unknown When.
func (s *Server) CreateJob(pipelineID int64, spec JobSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.newJobLocked(pipelineID, spec, false)
	if j == nil {
		return 0
	}
	return j.id
}

// CreateBridge creates a trigger job in pipelineID and a child pipeline
// (source "parent_pipeline", same project, same ref and sha, and the
// parent's merge request, as Ci::Bridge#child_params passes them) it points
// to via downstream_pipeline. Returns both ids, or zeros when rejected like
// CreateJob.
func (s *Server) CreateBridge(pipelineID int64, spec JobSpec) (bridgeID, childPipelineID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.newJobLocked(pipelineID, spec, true)
	if b == nil {
		return 0, 0
	}
	parent := b.pipeline
	child := s.m.createPipeline(parent.project, parent.ref, "parent_pipeline", s.now())
	child.sha = parent.sha
	child.user = parent.user
	child.mr = parent.mr
	child.upstream = b
	b.downstream = child
	return b.id, child.id
}

func (s *Server) newJobLocked(pipelineID int64, spec JobSpec, bridge bool) *job {
	pl := s.m.pipelines[pipelineID]
	if pl == nil || spec.Name == "" {
		return nil
	}
	when, ok := parseWhen(spec.When)
	if !ok {
		return nil
	}
	status := "created"
	switch when {
	case whenManual:
		status = "manual"
	case whenDelayed:
		status = "scheduled"
	}
	stage := spec.Stage
	if stage == "" {
		stage = "test"
	}
	now := s.now()
	j := &job{
		pipeline: pl, name: spec.Name, stage: stage, status: status, when: when,
		allowFailure: spec.AllowFailure, isBridge: bridge, createdAt: now,
	}
	if !bridge {
		j.tags = s.m.internTags(spec.Tags)
		j.env = s.m.environmentFor(spec.Environment)
	}
	s.m.addJob(j)
	s.m.updatePipeline(pl, now)
	return j
}
