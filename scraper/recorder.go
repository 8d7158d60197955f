package scraper

import (
	"context"
	"iter"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// ProjectInfo names the project an event belongs to.
type ProjectInfo struct {
	ID            int64
	Path          string
	DefaultBranch string
}

// ActiveJob is an unfinished job or bridge, as the gauges of what is
// pending or running now show it.
type ActiveJob struct {
	ID, PipelineID int64
	Status         gitlabapi.JobStatus
	CreatedAt      time.Time
	Bridge         bool
	// Of a job waiting for a runner (pending; not a bridge): its tag set
	// (gitlabapi.Job.TagSet) and when it was queued. Zero for the others.
	Tags     string
	QueuedAt time.Time
}

// Recorder receives what the scraper learns. The scraper guarantees that
// JobStarted and JobFinished are called at most once per job id over the
// life of the scraper's state, and JobFinished exactly once for every job it
// has seen reach a finished status.
type Recorder interface {
	// JobStarted: the job has been picked up by a runner; its queued duration is final.
	JobStarted(p ProjectInfo, j *gitlabapi.Job)
	// JobFinished: the job reached success, failed, canceled or skipped.
	JobFinished(p ProjectInfo, j *gitlabapi.Job)
	// JobRetried: an earlier attempt of j (same pipeline and name) was retried.
	JobRetried(p ProjectInfo, j *gitlabapi.Job)
	// ProjectActive replaces the set of unfinished jobs of a project.
	ProjectActive(p ProjectInfo, jobs []ActiveJob)
	// PollFinished reports each poll's outcome and cost.
	PollFinished(p ProjectInfo, r PollResult)
	// ProjectRemoved: the project is no longer polled; drop its series.
	// path may also be a configured project once reported unresolved.
	ProjectRemoved(path string)
	// ProjectUnresolved: a configured project could not be resolved at
	// discovery and is not polled; discovery tries again. ref is the
	// project as configured, reason one of the Reason values.
	ProjectUnresolved(ref, reason string)
	// GroupListed reports each discovery's listing of a configured group:
	// reason "" when it succeeded, else one of the Reason values.
	GroupListed(group, reason string)
	// GroupRemoved: the group is no longer configured; drop its series.
	GroupRemoved(group string)
	// ProjectHandedOver: the project belongs to another shard now, which
	// polls it; this one has made its last poll of it. Drop its gauges and
	// poll series but keep its counters and histograms: they hold what only
	// this shard counted, and expire like any series that stops changing.
	ProjectHandedOver(path string)
	// ProjectsPolled reports how many projects are polled now.
	ProjectsPolled(n int)
	// StateFailed reports that loading ("load") or saving ("save") the
	// scraper's state failed; the error has been logged.
	StateFailed(op string)
}

// GitLab is the part of the GitLab API the scraper uses (*gitlabapi.Client).
type GitLab interface {
	ProjectJobPages(ctx context.Context, project string, opt gitlabapi.ListJobsOptions) iter.Seq2[[]gitlabapi.Job, error]
	PipelineJobs(ctx context.Context, project string, pipelineID int64, opt gitlabapi.PipelineJobsOptions) ([]gitlabapi.Job, error)
	PipelineBridges(ctx context.Context, project string, pipelineID int64, scopes []gitlabapi.JobStatus) ([]gitlabapi.Bridge, error)
	Job(ctx context.Context, project string, jobID int64) (*gitlabapi.Job, error)
	Project(ctx context.Context, project string) (*gitlabapi.Project, error)
	GroupProjects(ctx context.Context, group string, opt gitlabapi.GroupProjectsOptions) ([]gitlabapi.Project, error)
}
