package gitlabapi

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobStatus is a job's status as GitLab reports it. GitLab adds values over
// time (canceling and waiting_for_callback arrived in 17.x), so any string
// decodes; use the methods to classify it.
type JobStatus string

// Job statuses known at the time of writing (Ci::HasStatus::AVAILABLE_STATUSES).
const (
	StatusCreated            JobStatus = "created"
	StatusWaitingForResource JobStatus = "waiting_for_resource"
	StatusPreparing          JobStatus = "preparing"
	StatusWaitingForCallback JobStatus = "waiting_for_callback"
	StatusPending            JobStatus = "pending"
	StatusRunning            JobStatus = "running"
	StatusSuccess            JobStatus = "success"
	StatusFailed             JobStatus = "failed"
	StatusCanceling          JobStatus = "canceling"
	StatusCanceled           JobStatus = "canceled"
	StatusSkipped            JobStatus = "skipped"
	StatusManual             JobStatus = "manual"
	StatusScheduled          JobStatus = "scheduled"
)

// KnownStatuses lists every status this client knows, in GitLab's order.
// It is also the set of values GitLab accepts in scope[] filters.
var KnownStatuses = []JobStatus{
	StatusCreated, StatusWaitingForResource, StatusPreparing, StatusWaitingForCallback,
	StatusPending, StatusRunning, StatusSuccess, StatusFailed, StatusCanceling,
	StatusCanceled, StatusSkipped, StatusManual, StatusScheduled,
}

// Known reports whether s is one of KnownStatuses.
func (s JobStatus) Known() bool { return slices.Contains(KnownStatuses, s) }

// Finished reports whether the job reached a final status (GitLab's
// COMPLETED_STATUSES). A finished job never changes status again under the
// same id; a retry is a new job.
func (s JobStatus) Finished() bool {
	switch s {
	case StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped:
		return true
	}
	return false
}

// Blocked reports whether the job waits for a person or a clock (manual,
// scheduled) and may stay in that status for days.
func (s JobStatus) Blocked() bool {
	return s == StatusManual || s == StatusScheduled
}

// Started reports whether a runner has picked the job up, so its queued
// duration is final.
func (s JobStatus) Started() bool {
	switch s {
	case StatusRunning, StatusCanceling, StatusSuccess, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// Job is GitLab's Entities::Ci::Job (GET /projects/:id/jobs and friends).
// Nullable values are pointers; keys GitLab omits (failure_reason unless
// failed, artifacts_file unless an archive exists) decode to their zero value.
type Job struct {
	ID                int64          `json:"id"`
	Status            JobStatus      `json:"status"`
	Stage             string         `json:"stage"`
	Name              string         `json:"name"`
	Ref               string         `json:"ref"`
	Tag               bool           `json:"tag"`
	Coverage          *float64       `json:"coverage"`
	AllowFailure      bool           `json:"allow_failure"`
	CreatedAt         *time.Time     `json:"created_at"`
	StartedAt         *time.Time     `json:"started_at"`
	FinishedAt        *time.Time     `json:"finished_at"`
	ErasedAt          *time.Time     `json:"erased_at"`
	Duration          *float64       `json:"duration"`
	QueuedDuration    *float64       `json:"queued_duration"`
	FailureReason     string         `json:"failure_reason,omitempty"`
	User              *User          `json:"user"`
	Commit            *Commit        `json:"commit"`
	Pipeline          PipelineBasic  `json:"pipeline"`
	WebURL            string         `json:"web_url"`
	Project           *JobProject    `json:"project,omitempty"`
	ArtifactsFile     *ArtifactsFile `json:"artifacts_file,omitempty"`
	Artifacts         []Artifact     `json:"artifacts"`
	ArtifactsExpireAt *time.Time     `json:"artifacts_expire_at"`
	Runner            *Runner        `json:"runner"`
	RunnerManager     *RunnerManager `json:"runner_manager,omitempty"`
	TagList           []string       `json:"tag_list"`
	Archived          bool           `json:"archived"`
	Source            string         `json:"source,omitempty"`

	// Bridge marks a job made from a Bridge (AsJob): a trigger job, which
	// waits for a downstream pipeline, not for a runner.
	Bridge bool `json:"-"`
}

// Bridge is a trigger job (Entities::Ci::Bridge): a JobBasic plus the
// pipeline it triggered. GitLab sends bridges no runner, artifacts or
// tag_list, so those fields of the embedded Job stay empty; the embedding
// lets callers count bridges with the same code as jobs.
type Bridge struct {
	Job
	DownstreamPipeline *PipelineBasic `json:"downstream_pipeline"`
}

// AsJob returns the bridge as a Job, marked as one.
func (b Bridge) AsJob() Job {
	j := b.Job
	j.Bridge = true
	return j
}

// JobProject is the small project object inside a job.
type JobProject struct {
	CIJobTokenScopeEnabled bool `json:"ci_job_token_scope_enabled"`
}

// Artifact is one entry of a job's artifacts[]. FileType and FileFormat are
// open sets; FileFormat is null for traces on gitlab.com.
type Artifact struct {
	FileType   string  `json:"file_type"`
	Size       int64   `json:"size"`
	Filename   string  `json:"filename"`
	FileFormat *string `json:"file_format"`
}

// ArtifactsFile is the job's archive, present only when it has one.
type ArtifactsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// Runner is the runner that ran a job. Older GitLab releases omit Paused,
// RunnerType, CreatedAt and JobExecutionStatus.
type Runner struct {
	ID                 int64      `json:"id"`
	Description        string     `json:"description"`
	IPAddress          *string    `json:"ip_address"`
	Active             bool       `json:"active"`
	Paused             bool       `json:"paused"`
	IsShared           bool       `json:"is_shared"`
	RunnerType         string     `json:"runner_type"`
	Name               *string    `json:"name"`
	Online             bool       `json:"online"`
	Status             string     `json:"status"`
	CreatedAt          *time.Time `json:"created_at,omitempty"`
	JobExecutionStatus string     `json:"job_execution_status,omitempty"`
}

// RunnerManager is the runner process (system) that ran a job.
type RunnerManager struct {
	ID                 int64      `json:"id"`
	SystemID           string     `json:"system_id"`
	Version            string     `json:"version"`
	Revision           string     `json:"revision"`
	Platform           string     `json:"platform"`
	Architecture       string     `json:"architecture"`
	CreatedAt          *time.Time `json:"created_at"`
	ContactedAt        *time.Time `json:"contacted_at"`
	IPAddress          *string    `json:"ip_address"`
	Status             string     `json:"status"`
	JobExecutionStatus string     `json:"job_execution_status,omitempty"`
}

// User is the subset of Entities::User the exporter may care about; GitLab
// sends many more keys, which are ignored.
type User struct {
	ID        int64      `json:"id"`
	Username  string     `json:"username"`
	Name      string     `json:"name"`
	State     string     `json:"state"`
	Bot       bool       `json:"bot"`
	WebURL    string     `json:"web_url"`
	CreatedAt *time.Time `json:"created_at"`
}

// Commit is the commit a job ran on.
type Commit struct {
	ID             string     `json:"id"`
	ShortID        string     `json:"short_id"`
	Title          string     `json:"title"`
	Message        string     `json:"message"`
	AuthorName     string     `json:"author_name"`
	AuthorEmail    string     `json:"author_email"`
	CreatedAt      *time.Time `json:"created_at"`
	CommitterName  string     `json:"committer_name,omitempty"`
	CommitterEmail string     `json:"committer_email,omitempty"`
	WebURL         string     `json:"web_url,omitempty"`
}

// PipelineBasic is the pipeline object embedded in jobs and bridges, and the
// item of GET /projects/:id/pipelines.
type PipelineBasic struct {
	ID        int64      `json:"id"`
	IID       int64      `json:"iid"`
	ProjectID int64      `json:"project_id"`
	SHA       string     `json:"sha"`
	Ref       string     `json:"ref"`
	Status    string     `json:"status"`
	Source    string     `json:"source"`
	Name      *string    `json:"name,omitempty"`
	CreatedAt *time.Time `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
	WebURL    string     `json:"web_url"`
}

// Pipeline is the single-pipeline object (GET /projects/:id/pipelines/:id);
// the list endpoint fills only the PipelineBasic part.
type Pipeline struct {
	PipelineBasic
	BeforeSHA      string     `json:"before_sha,omitempty"`
	Tag            bool       `json:"tag"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
	Duration       *float64   `json:"duration,omitempty"`
	QueuedDuration *float64   `json:"queued_duration,omitempty"`
	// Coverage is the pipeline's test coverage in percent, the average of
	// its jobs' (nil when none reports one).
	Coverage *Percent `json:"coverage"`
}

// Finished is when the pipeline finished: its finished_at, or for a
// skipped pipeline, which GitLab gives none, when it was last updated.
func (pl *Pipeline) Finished() time.Time {
	switch {
	case pl.FinishedAt != nil:
		return *pl.FinishedAt
	case pl.UpdatedAt != nil:
		return *pl.UpdatedAt
	case pl.CreatedAt != nil:
		return *pl.CreatedAt
	}
	return time.Time{}
}

// Percent is a percentage GitLab sends as a string ("30.0", the pipeline's
// coverage, a BigDecimal) or as a number (older releases, and a job's).
type Percent float64

// UnmarshalJSON accepts a number, a string holding one, or null.
func (p *Percent) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("coverage %s is not a percentage", b)
	}
	*p = Percent(v)
	return nil
}

// Project is the part of GitLab's project object the exporter uses.
type Project struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	PathWithNamespace string `json:"path_with_namespace"`
	DefaultBranch     string `json:"default_branch"`
	Archived          bool   `json:"archived"`
	WebURL            string `json:"web_url"`
}

// Metadata is GET /metadata.
type Metadata struct {
	Version    string `json:"version"`
	Revision   string `json:"revision"`
	Enterprise bool   `json:"enterprise"`
}

// TagSet is the job's tag_list sorted and joined with commas
// ("docker,linux"; "" for an untagged job): which runners may take it.
// GitLab sends the list sorted and splits tags on commas, so a tag holds
// none and two jobs asking for the same runners have the same tag set.
func (j *Job) TagSet() string {
	switch len(j.TagList) {
	case 0:
		return ""
	case 1:
		return j.TagList[0]
	}
	tags := j.TagList
	if !slices.IsSorted(tags) {
		tags = slices.Sorted(slices.Values(tags))
	}
	return strings.Join(tags, ",")
}
