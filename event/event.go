// Package event is what the scraper tells the collector: jobs that started,
// finished or were retried, what is unfinished now, and how each poll and
// discovery went. The scraper calls a Recorder; the collector is one. Neither
// imports the other.
package event

import (
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// Project names the project an event belongs to.
type Project struct {
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
	JobStarted(p Project, j *gitlabapi.Job)
	// JobFinished: the job reached success, failed, canceled or skipped.
	JobFinished(p Project, j *gitlabapi.Job)
	// JobRetried: an earlier attempt of j (same pipeline and name) was retried.
	JobRetried(p Project, j *gitlabapi.Job)
	// ProjectActive replaces the set of unfinished jobs of a project.
	ProjectActive(p Project, jobs []ActiveJob)
	// PipelineFinished: the pipeline reached its first result (success,
	// failed, canceled or skipped). Called at most once per pipeline.
	PipelineFinished(p Project, pl *gitlabapi.Pipeline)
	// PipelineRerun: a pipeline that had finished with the result first
	// ran again and finished with pl.Status. repeat is false the first time
	// it finishes again with that result, true after (then only its latest
	// result moves). first is "unknown" (state.UnknownFirst) for a pipeline
	// that finished before the scraper's memory of it.
	PipelineRerun(p Project, pl *gitlabapi.Pipeline, first string, repeat bool)
	// ProjectPipelines replaces the number of unfinished pipelines of a
	// project by status.
	ProjectPipelines(p Project, unfinished map[string]int)
	// PollFinished reports each poll's outcome and cost.
	PollFinished(p Project, r PollResult)
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

// PollResult says how one poll of one project went.
type PollResult struct {
	// Reason is "" when the poll succeeded, else why it failed: one of
	// the Reason values, so that a recorder can count failures without
	// knowing the GitLab client's errors.
	Reason   string
	Err      error // the failure itself, for logs; nil on success
	Requests int   // HTTP attempts made, retries included
	Duration time.Duration
	Time     time.Time
	// Hinted: the poll served webhook hints alone, without walking.
	Hinted bool
	// HintLatencies are, for each job this poll counted finished that a
	// delivery had announced finished, the time from that delivery.
	HintLatencies []time.Duration
}

// Why a poll, or resolving a configured project or group, failed.
const (
	ReasonNotFound     = "not_found"
	ReasonUnauthorized = "unauthorized"
	ReasonForbidden    = "forbidden"
	ReasonRateLimited  = "rate_limited"
	ReasonServerError  = "server_error"
	ReasonTimeout      = "timeout"
	ReasonDecode       = "decode"
	ReasonOther        = "other"
)

// HintRetry is how long a failed hinted poll waits before it tries its
// hints again: long enough not to press a GitLab that is failing, short
// beside a reconciliation interval of ten minutes.
const HintRetry = 30 * time.Second
