package gitlabtest

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"
)

// The *JSON types mirror GitLab's Grape entities field by field and in
// order, so the fake's payloads have the real shapes (see fixtures/).

type userJSON struct {
	ID              int64   `json:"id"`
	Username        string  `json:"username"`
	PublicEmail     string  `json:"public_email"`
	Name            string  `json:"name"`
	State           string  `json:"state"`
	Locked          bool    `json:"locked"`
	AvatarURL       string  `json:"avatar_url"`
	WebURL          string  `json:"web_url"`
	CreatedAt       stamp   `json:"created_at"`
	Bio             string  `json:"bio"`
	Location        string  `json:"location"`
	Linkedin        string  `json:"linkedin"`
	Twitter         string  `json:"twitter"`
	Discord         string  `json:"discord"`
	WebsiteURL      string  `json:"website_url"`
	GitHub          string  `json:"github"`
	Organization    string  `json:"organization"`
	JobTitle        string  `json:"job_title"`
	Pronouns        *string `json:"pronouns"`
	Bot             bool    `json:"bot"`
	WorkInformation *string `json:"work_information"`
	Followers       int     `json:"followers"`
	Following       int     `json:"following"`
	LocalTime       *string `json:"local_time"`
}

type commitJSON struct {
	ID               string            `json:"id"`
	ShortID          string            `json:"short_id"`
	CreatedAt        string            `json:"created_at"`
	ParentIDs        []string          `json:"parent_ids"`
	Title            string            `json:"title"`
	Message          string            `json:"message"`
	AuthorName       string            `json:"author_name"`
	AuthorEmail      string            `json:"author_email"`
	AuthoredDate     string            `json:"authored_date"`
	CommitterName    string            `json:"committer_name"`
	CommitterEmail   string            `json:"committer_email"`
	CommittedDate    string            `json:"committed_date"`
	Trailers         map[string]string `json:"trailers"`
	ExtendedTrailers map[string]string `json:"extended_trailers"`
	WebURL           string            `json:"web_url"`
}

type pipelineBasicJSON struct {
	ID        int64  `json:"id"`
	IID       int64  `json:"iid"`
	ProjectID int64  `json:"project_id"`
	SHA       string `json:"sha"`
	Ref       string `json:"ref"`
	Status    string `json:"status"`
	Source    string `json:"source"`
	CreatedAt stamp  `json:"created_at"`
	UpdatedAt stamp  `json:"updated_at"`
	WebURL    string `json:"web_url"`
}

// pipelineListJSON is PipelineBasicWithMetadata, the item of
// GET /projects/:id/pipelines.
type pipelineListJSON struct {
	ID        int64   `json:"id"`
	IID       int64   `json:"iid"`
	ProjectID int64   `json:"project_id"`
	SHA       string  `json:"sha"`
	Ref       string  `json:"ref"`
	Status    string  `json:"status"`
	Source    string  `json:"source"`
	CreatedAt stamp   `json:"created_at"`
	UpdatedAt stamp   `json:"updated_at"`
	WebURL    string  `json:"web_url"`
	Name      *string `json:"name"`
}

type detailedStatusJSON struct {
	Icon         string    `json:"icon"`
	Text         string    `json:"text"`
	Label        string    `json:"label"`
	Group        string    `json:"group"`
	Tooltip      string    `json:"tooltip"`
	HasDetails   bool      `json:"has_details"`
	DetailsPath  string    `json:"details_path"`
	Illustration *struct{} `json:"illustration"`
	Favicon      string    `json:"favicon"`
}

// pipelineJSON is the single-pipeline entity.
type pipelineJSON struct {
	ID             int64              `json:"id"`
	IID            int64              `json:"iid"`
	ProjectID      int64              `json:"project_id"`
	Name           *string            `json:"name"`
	SHA            string             `json:"sha"`
	Ref            string             `json:"ref"`
	Status         string             `json:"status"`
	Source         string             `json:"source"`
	CreatedAt      stamp              `json:"created_at"`
	UpdatedAt      stamp              `json:"updated_at"`
	WebURL         string             `json:"web_url"`
	BeforeSHA      string             `json:"before_sha"`
	Tag            bool               `json:"tag"`
	YAMLErrors     *string            `json:"yaml_errors"`
	User           *userJSON          `json:"user"`
	StartedAt      stamp              `json:"started_at"`
	FinishedAt     stamp              `json:"finished_at"`
	CommittedAt    stamp              `json:"committed_at"`
	Duration       *int64             `json:"duration"`
	QueuedDuration *int64             `json:"queued_duration"`
	Coverage       *string            `json:"coverage"`
	DetailedStatus detailedStatusJSON `json:"detailed_status"`
	Archived       bool               `json:"archived"`
}

type jobProjectJSON struct {
	CIJobTokenScopeEnabled bool `json:"ci_job_token_scope_enabled"`
}

type artifactJSON struct {
	FileType   string  `json:"file_type"`
	Size       int64   `json:"size"`
	Filename   string  `json:"filename"`
	FileFormat *string `json:"file_format"`
}

type artifactsFileJSON struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

type runnerJSON struct {
	ID                 int64   `json:"id"`
	Description        string  `json:"description"`
	IPAddress          *string `json:"ip_address"`
	Active             bool    `json:"active"`
	Paused             bool    `json:"paused"`
	IsShared           bool    `json:"is_shared"`
	RunnerType         string  `json:"runner_type"`
	Name               *string `json:"name"`
	Online             bool    `json:"online"`
	CreatedAt          stamp   `json:"created_at"`
	Status             string  `json:"status"`
	JobExecutionStatus string  `json:"job_execution_status"`
}

type runnerManagerJSON struct {
	ID                 int64   `json:"id"`
	SystemID           string  `json:"system_id"`
	Version            string  `json:"version"`
	Revision           string  `json:"revision"`
	Platform           string  `json:"platform"`
	Architecture       string  `json:"architecture"`
	CreatedAt          stamp   `json:"created_at"`
	ContactedAt        stamp   `json:"contacted_at"`
	IPAddress          *string `json:"ip_address"`
	Status             string  `json:"status"`
	JobExecutionStatus string  `json:"job_execution_status"`
}

// jobBasicJSON is Entities::Ci::JobBasic, shared by jobs and bridges.
type jobBasicJSON struct {
	ID             int64             `json:"id"`
	Status         string            `json:"status"`
	Stage          string            `json:"stage"`
	Name           string            `json:"name"`
	Ref            string            `json:"ref"`
	Tag            bool              `json:"tag"`
	Coverage       *float64          `json:"coverage"`
	AllowFailure   bool              `json:"allow_failure"`
	CreatedAt      stamp             `json:"created_at"`
	StartedAt      stamp             `json:"started_at"`
	FinishedAt     stamp             `json:"finished_at"`
	ErasedAt       stamp             `json:"erased_at"`
	Duration       *float64          `json:"duration"`
	QueuedDuration *float64          `json:"queued_duration"`
	User           *userJSON         `json:"user"`
	Commit         *commitJSON       `json:"commit"`
	Pipeline       pipelineBasicJSON `json:"pipeline"`
	FailureReason  string            `json:"failure_reason,omitempty"`
	WebURL         string            `json:"web_url"`
	Project        jobProjectJSON    `json:"project"`
	Archived       bool              `json:"archived"`
}

// jobJSON is Entities::Ci::Job: JobBasic, then the build-only keys.
type jobJSON struct {
	jobBasicJSON
	ArtifactsFile     *artifactsFileJSON `json:"artifacts_file,omitempty"`
	Artifacts         []artifactJSON     `json:"artifacts"`
	Runner            *runnerJSON        `json:"runner"`
	RunnerManager     *runnerManagerJSON `json:"runner_manager"`
	ArtifactsExpireAt stamp              `json:"artifacts_expire_at"`
	TagList           []string           `json:"tag_list"`
}

// bridgeJSON is Entities::Ci::Bridge: JobBasic plus downstream_pipeline; no
// runner, artifacts or tag_list. archived follows the newest docs.
type bridgeJSON struct {
	jobBasicJSON
	DownstreamPipeline *pipelineBasicJSON `json:"downstream_pipeline"`
}

type namespaceJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	Kind      string  `json:"kind"`
	FullPath  string  `json:"full_path"`
	ParentID  *int64  `json:"parent_id"`
	AvatarURL *string `json:"avatar_url"`
	WebURL    string  `json:"web_url"`
}

type projectJSON struct {
	ID                int64         `json:"id"`
	Description       *string       `json:"description"`
	Name              string        `json:"name"`
	NameWithNamespace string        `json:"name_with_namespace"`
	Path              string        `json:"path"`
	PathWithNamespace string        `json:"path_with_namespace"`
	CreatedAt         stamp         `json:"created_at"`
	DefaultBranch     string        `json:"default_branch"`
	TagList           []string      `json:"tag_list"`
	Topics            []string      `json:"topics"`
	SSHURLToRepo      string        `json:"ssh_url_to_repo"`
	HTTPURLToRepo     string        `json:"http_url_to_repo"`
	WebURL            string        `json:"web_url"`
	ReadmeURL         *string       `json:"readme_url"`
	ForksCount        int           `json:"forks_count"`
	AvatarURL         *string       `json:"avatar_url"`
	StarCount         int           `json:"star_count"`
	LastActivityAt    stamp         `json:"last_activity_at"`
	Namespace         namespaceJSON `json:"namespace"`
	EmptyRepo         bool          `json:"empty_repo"`
	Archived          bool          `json:"archived"`
	Visibility        string        `json:"visibility"`
	JobsEnabled       bool          `json:"jobs_enabled"`
	BuildsAccessLevel string        `json:"builds_access_level"`
}

// renderer builds JSON values from the model; it must be used under
// Server.mu (read lock at least).
type renderer struct {
	m    *model
	base string // e.g. "http://127.0.0.1:34567", for web_url
	now  stamp
}

func (r *renderer) user(u *user) *userJSON {
	return &userJSON{
		ID: u.id, Username: u.username, Name: u.name, State: "active",
		AvatarURL: "https://secure.gravatar.com/avatar/" + strconv.FormatInt(u.id, 16) + "?s=80&d=identicon",
		WebURL:    r.base + "/" + u.username, CreatedAt: u.createdAt, Bot: u.bot,
	}
}

const commitTimeLayout = "2006-01-02T15:04:05.000-07:00"

// commitTime is when the fake's commit was made: shortly before its
// pipeline.
func commitTime(p *pipeline) time.Time { return p.createdAt.time().Add(-90 * time.Second) }

func (r *renderer) commit(p *pipeline) *commitJSON {
	at := commitTime(p).Format(commitTimeLayout)
	title, message := commitMessage(p)
	return &commitJSON{
		ID: p.sha, ShortID: p.sha[:8], CreatedAt: at, ParentIDs: []string{},
		Title: title, Message: message,
		AuthorName: p.user.name, AuthorEmail: p.user.username + "@" + p.user.authorEmailDomain, AuthoredDate: at,
		CommitterName: p.user.name, CommitterEmail: p.user.username + "@" + p.user.authorEmailDomain, CommittedDate: at,
		Trailers: map[string]string{}, ExtendedTrailers: map[string]string{},
		WebURL: r.projectURL(p.project) + "/-/commit/" + p.sha,
	}
}

func (r *renderer) projectURL(p *project) string { return r.base + "/" + p.path }

func (r *renderer) pipelineBasic(p *pipeline) pipelineBasicJSON {
	return pipelineBasicJSON{
		ID: p.id, IID: p.iid, ProjectID: p.project.id, SHA: p.sha, Ref: p.ref, Status: p.status,
		Source: p.source, CreatedAt: p.createdAt, UpdatedAt: p.updatedAt,
		WebURL: r.projectURL(p.project) + "/-/pipelines/" + strconv.FormatInt(p.id, 10),
	}
}

func (r *renderer) pipelineListItem(p *pipeline) pipelineListJSON {
	b := r.pipelineBasic(p)
	return pipelineListJSON{
		ID: b.ID, IID: b.IID, ProjectID: b.ProjectID, SHA: b.SHA, Ref: b.Ref, Status: b.Status,
		Source: b.Source, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, WebURL: b.WebURL,
	}
}

func (r *renderer) pipeline(p *pipeline) pipelineJSON {
	b := r.pipelineBasic(p)
	out := pipelineJSON{
		ID: b.ID, IID: b.IID, ProjectID: b.ProjectID, SHA: b.SHA, Ref: b.Ref, Status: b.Status,
		Source: b.Source, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, WebURL: b.WebURL,
		BeforeSHA: nullSHA, User: r.user(p.user),
		StartedAt: p.startedAt, FinishedAt: p.finishedAt, CommittedAt: p.createdAt,
		DetailedStatus: detailedStatus(p.status, b.WebURL), Archived: p.project.archived,
	}
	out.Duration, out.QueuedDuration = p.durations(r.now)
	out.Coverage = p.coverage()
	return out
}

// coverage is the pipeline's coverage as the single-pipeline entity renders
// it: Ci::Pipeline#coverage, the mean of the coverage of its latest jobs
// that have one (retried attempts, and downstream pipelines, left out),
// formatted by PipelinePresenter#coverage as '%.2f' ("87.50"); nil when no
// latest job has a coverage. Ruby's Array#sum is compensated
// (Kahan-Babuska), and so is this sum, so the last digit agrees.
func (p *pipeline) coverage() *string {
	var sum, comp float64
	n := 0
	for _, j := range p.jobs {
		if j.retried || !j.hasCoverage {
			continue
		}
		n++
		t := sum + j.coverage
		if math.Abs(sum) >= math.Abs(j.coverage) {
			comp += (sum - t) + j.coverage
		} else {
			comp += (j.coverage - t) + sum
		}
		sum = t
	}
	if n == 0 {
		return nil
	}
	s := strconv.FormatFloat((sum+comp)/float64(n), 'f', 2, 64)
	return &s
}

// durations are the pipeline's duration and queued_duration in whole
// seconds, null before it starts.
// durations are GitLab's. duration (Gitlab::Ci::Pipeline::Duration) is the
// union of the running periods of the latest jobs, not bridges, of the
// pipeline and its downstream pipelines that ran (success, failed,
// canceled, or still running: up to now), so that neither queueing, nor
// a gap between stages, nor a retried attempt counts. queued_duration
// (Ci::Pipeline#queued_duration) is from creation to start, nil when 0.
func (p *pipeline) durations(now stamp) (duration, queued *int64) {
	if !p.startedAt.valid() {
		return nil, nil
	}
	periods := p.runningPeriods(now, nil)
	slices.SortFunc(periods, func(a, b [2]stamp) int { return cmp.Compare(a[0], b[0]) })
	var total, end stamp
	for _, r := range periods {
		if r[0] > end {
			end = r[0]
		}
		if r[1] > end {
			total += r[1] - end
			end = r[1]
		}
	}
	d := int64(total) / 1e6
	if q := int64(p.startedAt-p.createdAt) / 1e6; q > 0 {
		queued = &q
	}
	return &d, queued
}

// runningPeriods appends the start and end of each job of the pipeline and
// its downstream pipelines that counts towards its duration.
func (p *pipeline) runningPeriods(now stamp, out [][2]stamp) [][2]stamp {
	for _, j := range p.jobs {
		if j.isBridge {
			if j.downstream != nil {
				out = j.downstream.runningPeriods(now, out)
			}
			continue
		}
		if j.retried || !j.startedAt.valid() {
			continue
		}
		switch j.status {
		case "success", "failed", "canceled", "running":
			end := j.finishedAt
			if !end.valid() {
				end = now
			}
			out = append(out, [2]stamp{j.startedAt, end})
		}
	}
	return out
}

func detailedStatus(status, webURL string) detailedStatusJSON {
	text := status
	switch status {
	case "success":
		text = "passed"
	case "waiting_for_resource":
		text = "waiting"
	}
	return detailedStatusJSON{
		Icon: "status_" + status, Text: text, Label: text, Group: status, Tooltip: text,
		HasDetails: true, DetailsPath: webURL, Favicon: "/assets/ci_favicons/favicon_status_" + status + ".png",
	}
}

func (r *renderer) job(j *job) jobJSON {
	out := jobJSON{
		jobBasicJSON: r.jobBasic(j),
		Artifacts:    make([]artifactJSON, 0, len(j.artifacts)),
		TagList:      j.tags,
	}
	if out.TagList == nil {
		out.TagList = []string{}
	}
	for _, a := range j.artifacts {
		k := r.m.artifactKinds[a.kind]
		aj := artifactJSON{FileType: k.fileType, Size: a.size, Filename: k.filename}
		if k.fileFormat != "" {
			f := k.fileFormat
			aj.FileFormat = &f
		}
		out.Artifacts = append(out.Artifacts, aj)
		if k.fileType == "archive" && out.ArtifactsFile == nil {
			out.ArtifactsFile = &artifactsFileJSON{Filename: k.filename, Size: a.size}
		}
	}
	if rn := j.runner; rn != nil {
		execStatus := "idle"
		if j.status == "running" {
			execStatus = "active"
		}
		out.Runner = &runnerJSON{
			ID: rn.id, Description: rn.description, Active: true, IsShared: rn.shared,
			RunnerType: rn.runnerType, Online: true, CreatedAt: rn.createdAt, Status: "online",
			JobExecutionStatus: execStatus,
		}
		if rn.name != "" {
			n := rn.name
			out.Runner.Name = &n
		}
		m := rn.manager
		out.RunnerManager = &runnerManagerJSON{
			ID: m.id, SystemID: m.systemID, Version: m.version, Revision: m.revision,
			Platform: m.platform, Architecture: m.architecture, CreatedAt: m.createdAt,
			ContactedAt: r.now, Status: "online", JobExecutionStatus: execStatus,
		}
	}
	return out
}

func (r *renderer) jobURL(j *job) string {
	return r.projectURL(j.pipeline.project) + "/-/jobs/" + strconv.FormatInt(j.id, 10)
}

// jobBasic renders the keys jobs and bridges share.
func (r *renderer) jobBasic(j *job) jobBasicJSON {
	p := j.pipeline
	out := jobBasicJSON{
		ID: j.id, Status: j.status, Stage: j.stage, Name: j.name, Ref: p.ref,
		AllowFailure: j.allowFailure, CreatedAt: j.createdAt, StartedAt: j.startedAt, FinishedAt: j.finishedAt,
		User: r.user(p.user), Commit: r.commit(p), Pipeline: r.pipelineBasic(p),
		FailureReason: j.renderedFailureReason(), WebURL: r.jobURL(j), Archived: p.project.archived,
	}
	out.Duration, out.QueuedDuration = j.durations(r.now)
	out.Coverage = j.coveragePtr()
	return out
}

// coveragePtr is the job's coverage, nil (null) when it has none.
func (j *job) coveragePtr() *float64 {
	if !j.hasCoverage {
		return nil
	}
	c := j.coverage
	return &c
}

func (r *renderer) bridge(j *job) bridgeJSON {
	out := bridgeJSON{jobBasicJSON: r.jobBasic(j)}
	if j.downstream != nil {
		d := r.pipelineBasic(j.downstream)
		out.DownstreamPipeline = &d
	}
	return out
}

func (r *renderer) project(p *project) projectJSON {
	g := p.group
	ns := namespaceJSON{ID: g.id, Name: g.name, Path: g.name, Kind: "group", FullPath: g.path, WebURL: r.base + "/groups/" + g.path}
	if g.parent != nil {
		id := g.parent.id
		ns.ParentID = &id
	}
	host := hostOf(r.base)
	return projectJSON{
		ID: p.id, Name: p.name, NameWithNamespace: nameWithNamespace(p), Path: p.name, PathWithNamespace: p.path,
		CreatedAt: p.createdAt, DefaultBranch: p.defaultBranch, TagList: []string{}, Topics: []string{},
		SSHURLToRepo: "git@" + host + ":" + p.path + ".git", HTTPURLToRepo: r.projectURL(p) + ".git",
		WebURL: r.projectURL(p), LastActivityAt: p.lastActivity, Namespace: ns, Archived: p.archived,
		Visibility: "private", JobsEnabled: true, BuildsAccessLevel: "enabled",
	}
}

func nameWithNamespace(p *project) string {
	var parts []string
	for g := p.group; g != nil; g = g.parent {
		parts = append([]string{g.name}, parts...)
	}
	out := ""
	for _, s := range parts {
		out += s + " / "
	}
	return out + p.name
}
