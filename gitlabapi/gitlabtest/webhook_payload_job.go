package gitlabtest

// jobHookJSON is a Job Hook body, after Gitlab::DataBuilder::Build plus the
// keys newer docs show (*_iso, project, source_pipeline).
type jobHookJSON struct {
	ObjectKind          string              `json:"object_kind"`
	Ref                 string              `json:"ref"`
	Tag                 bool                `json:"tag"`
	BeforeSHA           string              `json:"before_sha"`
	SHA                 string              `json:"sha"`
	RetriesCount        int                 `json:"retries_count"`
	BuildID             int64               `json:"build_id"`
	BuildName           string              `json:"build_name"`
	BuildStage          string              `json:"build_stage"`
	BuildStatus         string              `json:"build_status"`
	BuildCreatedAt      hookTime            `json:"build_created_at"`
	BuildStartedAt      hookTime            `json:"build_started_at"`
	BuildFinishedAt     hookTime            `json:"build_finished_at"`
	BuildCreatedAtISO   isoTime             `json:"build_created_at_iso"`
	BuildStartedAtISO   isoTime             `json:"build_started_at_iso"`
	BuildFinishedAtISO  isoTime             `json:"build_finished_at_iso"`
	BuildDuration       *float64            `json:"build_duration"`
	BuildQueuedDuration *float64            `json:"build_queued_duration"`
	BuildAllowFailure   bool                `json:"build_allow_failure"`
	BuildFailureReason  string              `json:"build_failure_reason"`
	PipelineID          int64               `json:"pipeline_id"`
	Runner              *hookRunnerJSON     `json:"runner"`
	ProjectID           int64               `json:"project_id"`
	ProjectName         string              `json:"project_name"`
	User                *hookUserJSON       `json:"user"`
	Commit              jobHookCommitJSON   `json:"commit"`
	Repository          hookRepositoryJSON  `json:"repository"`
	Project             hookProjectJSON     `json:"project"`
	Environment         *jobHookEnvJSON     `json:"environment"`
	SourcePipeline      *sourcePipelineJSON `json:"source_pipeline,omitempty"`
}

// jobHookCommitJSON describes the pipeline, not the commit: GitLab fills
// it from build.pipeline, so id is the pipeline id and status its status.
type jobHookCommitJSON struct {
	ID            int64    `json:"id"`
	Name          *string  `json:"name"`
	SHA           string   `json:"sha"`
	Message       string   `json:"message"`
	AuthorName    string   `json:"author_name"`
	AuthorEmail   string   `json:"author_email"`
	AuthorURL     string   `json:"author_url"`
	Status        string   `json:"status"`
	Duration      *int64   `json:"duration"`
	StartedAt     hookTime `json:"started_at"`
	FinishedAt    hookTime `json:"finished_at"`
	StartedAtISO  isoTime  `json:"started_at_iso"`
	FinishedAtISO isoTime  `json:"finished_at_iso"`
}

type hookRepositoryJSON struct {
	Name            string `json:"name"`
	URL             string `json:"url"`
	Description     string `json:"description"`
	Homepage        string `json:"homepage"`
	GitHTTPURL      string `json:"git_http_url"`
	GitSSHURL       string `json:"git_ssh_url"`
	VisibilityLevel int    `json:"visibility_level"`
}

type jobHookEnvJSON struct {
	Name   string `json:"name"`
	Action string `json:"action"`
}

// jobHook renders the Job Hook of build j as it is now.
func (r *hookRenderer) jobHook(j *job) *jobHookJSON {
	p := j.pipeline
	pr := p.project
	u := r.hookUser(p.user)
	duration, queued := j.durations(r.now)
	reason := j.renderedFailureReason()
	if reason == "" {
		reason = "unknown_failure" // the enum's nil, as gitlab.com sends for jobs that did not fail
	}
	_, message := commitMessage(p)
	proj := r.hookProject(pr)
	out := &jobHookJSON{
		ObjectKind: "build", Ref: p.ref, BeforeSHA: nullSHA, SHA: p.sha,
		RetriesCount: retriesCount(j),
		BuildID:      j.id, BuildName: j.name, BuildStage: j.stage, BuildStatus: j.status,
		BuildCreatedAt: r.time(j.createdAt), BuildStartedAt: r.time(j.startedAt), BuildFinishedAt: r.time(j.finishedAt),
		BuildCreatedAtISO: isoTime(j.createdAt), BuildStartedAtISO: isoTime(j.startedAt), BuildFinishedAtISO: isoTime(j.finishedAt),
		BuildDuration: duration, BuildQueuedDuration: queued,
		BuildAllowFailure: j.allowFailure, BuildFailureReason: reason,
		PipelineID: p.id, Runner: r.hookRunner(j.runner),
		ProjectID: pr.id, ProjectName: nameWithNamespace(pr), User: u,
		Commit: jobHookCommitJSON{
			ID: p.id, SHA: p.sha, Message: message, AuthorName: u.Name, AuthorEmail: u.Email,
			AuthorURL: r.base + "/" + u.Username, Status: p.status,
			StartedAt: r.time(p.startedAt), FinishedAt: r.time(p.finishedAt),
			StartedAtISO: isoTime(p.startedAt), FinishedAtISO: isoTime(p.finishedAt),
		},
		Repository: hookRepositoryJSON{
			Name: pr.name, URL: proj.GitSSHURL, Homepage: proj.WebURL,
			GitHTTPURL: proj.GitHTTPURL, GitSSHURL: proj.GitSSHURL, VisibilityLevel: proj.VisibilityLevel,
		},
		Project:        proj,
		SourcePipeline: r.sourcePipeline(p),
	}
	out.Commit.Duration, _ = p.durations(r.now)
	if j.env != nil {
		out.Environment = &jobHookEnvJSON{Name: j.env.name, Action: "start"}
	}
	return out
}

// retriesCount is how many earlier attempts of j exist in its pipeline
// (0 on the first attempt).
func retriesCount(j *job) int {
	n := 0
	for _, o := range j.pipeline.jobs {
		if o.retried && o.name == j.name && o.id < j.id {
			n++
		}
	}
	return n
}
