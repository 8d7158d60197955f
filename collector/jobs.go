// Package collector turns what the scraper learns into Prometheus metrics.
// Everything it serves was gathered by background polling: a scrape of
// /metrics never calls GitLab.
package collector

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// Buckets are the classic histogram boundaries; native histograms are
// exported alongside them when Native is set.
type Buckets struct {
	Duration       []float64
	QueuedDuration []float64
	ArtifactSize   []float64
	Native         bool
}

const fromPolling = " Gathered by background polling of the GitLab API, not at scrape time."

// Jobs holds the job metrics. It implements prometheus.Collector and the
// job half of the scraper's Recorder.
type Jobs struct {
	refs atomic.Pointer[RefTracker]

	duration  *histogramVec
	queued    *histogramVec
	failures  *counterVec
	retries   *counterVec
	artifacts *histogramVec
	observed  prometheus.Counter

	// Gauges computed at scrape time from what the scraper last reported.
	active, oldestPending                sampleFamily
	lastStatus, lastDuration, lastFinish sampleFamily
	followedDesc                         *prometheus.Desc

	mu       sync.Mutex
	followed map[string][]state.FollowedJob // by project path
	last     map[lastKey]lastJob
}

type lastKey struct{ project, ref, stage, job string }

type lastJob struct {
	id       int64
	status   string
	duration float64
	finished float64 // unix seconds; 0 when unknown
}

// unfinishedStatuses always get a gitlab_ci_jobs series (0 when empty), so
// that alerts on them see a value rather than nothing.
var unfinishedStatuses = []gitlabapi.JobStatus{
	gitlabapi.StatusCreated, gitlabapi.StatusWaitingForResource, gitlabapi.StatusPreparing,
	gitlabapi.StatusWaitingForCallback, gitlabapi.StatusPending, gitlabapi.StatusRunning,
	gitlabapi.StatusCanceling, gitlabapi.StatusManual, gitlabapi.StatusScheduled,
}

// NewJobs builds the job metrics with the given buckets; refs decides which
// refs keep their name in the ref label.
func NewJobs(b Buckets, refs RefTracker) *Jobs {
	// Durations carry the job id as exemplar; artifact sizes do not, one job
	// having several artifacts.
	histogram := func(name, help string, buckets []float64, exemplarLabel string, labels ...string) *histogramVec {
		return newHistogramVec(name, help+fromPolling, buckets, b.Native, exemplarLabel, labels...)
	}
	jobLabels := []string{"project", "ref", "stage", "job"}
	with := func(extra ...string) []string { return append(append([]string{}, jobLabels...), extra...) }
	j := &Jobs{
		duration: histogram("gitlab_ci_job_duration_seconds",
			"Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran).",
			b.Duration, "job_id", with("status")...),
		queued: histogram("gitlab_ci_job_queued_duration_seconds",
			"Time jobs waited for a runner, observed once when each job starts.",
			b.QueuedDuration, "job_id", jobLabels...),
		artifacts: histogram("gitlab_ci_job_artifacts_size_bytes",
			"Size of each artifact of finished jobs, by artifact type.",
			b.ArtifactSize, "", with("file_type")...),
		failures: newCounterVec("gitlab_ci_job_failures_total",
			"Failed jobs by failure reason."+fromPolling, with("failure_reason", "allow_failure")...),
		retries: newCounterVec("gitlab_ci_job_retries_total",
			"Job attempts that were retried (a retry is a new job)."+fromPolling, jobLabels...),
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitlab_jobs_exporter_jobs_observed_total",
			Help: "Finished jobs and bridges counted into the job metrics.",
		}),
		active: newSampleFamily("gitlab_ci_jobs",
			"Jobs currently in each not-finished status."+fromPolling, false, "project", "status"),
		oldestPending: newSampleFamily("gitlab_ci_job_oldest_pending_created_timestamp_seconds",
			"Creation time of the oldest job now pending."+fromPolling, false, "project"),
		lastStatus: newSampleFamily("gitlab_ci_job_last_status",
			"Status of the latest finished job of each name on tracked refs (value 1)."+fromPolling, false, with("status")...),
		lastDuration: newSampleFamily("gitlab_ci_job_last_duration_seconds",
			"Duration of the latest finished job of each name on tracked refs."+fromPolling, false, jobLabels...),
		lastFinish: newSampleFamily("gitlab_ci_job_last_finished_timestamp_seconds",
			"Finish time of the latest finished job of each name on tracked refs."+fromPolling, false, jobLabels...),
		followedDesc: prometheus.NewDesc("gitlab_jobs_exporter_followed_jobs",
			"Unfinished jobs and bridges the scraper follows until they finish.", nil, nil),
		followed: map[string][]state.FollowedJob{},
		last:     map[lastKey]lastJob{},
	}
	j.refs.Store(&refs)
	return j
}

// SetRefTracker changes which refs are tracked (on a config reload). Series
// already exported keep their labels.
func (j *Jobs) SetRefTracker(refs RefTracker) { j.refs.Store(&refs) }

func (j *Jobs) labels(p state.ProjectInfo, job *gitlabapi.Job) lastKey {
	return lastKey{
		project: p.Path,
		ref:     j.refs.Load().Label(job.Ref, p.DefaultBranch),
		stage:   job.Stage,
		job:     JobName(job.Name),
	}
}

// JobStarted observes the job's queued duration.
func (j *Jobs) JobStarted(p state.ProjectInfo, job *gitlabapi.Job) {
	if job.QueuedDuration == nil {
		return // GitLab has no queue time for it (never queued)
	}
	k := j.labels(p, job)
	j.queued.observe([]string{k.project, k.ref, k.stage, k.job}, *job.QueuedDuration, job.ID)
}

// JobFinished counts a finished job into the histograms and counters.
func (j *Jobs) JobFinished(p state.ProjectInfo, job *gitlabapi.Job) {
	k := j.labels(p, job)
	duration := 0.0
	if job.Duration != nil {
		duration = *job.Duration
	}
	j.duration.observe([]string{k.project, k.ref, k.stage, k.job, string(job.Status)}, duration, job.ID)
	if job.Status == gitlabapi.StatusFailed {
		reason := job.FailureReason
		if reason == "" {
			reason = "unknown_failure"
		}
		j.failures.inc(k.project, k.ref, k.stage, k.job, reason, strconv.FormatBool(job.AllowFailure))
	}
	for _, a := range job.Artifacts {
		j.artifacts.observe([]string{k.project, k.ref, k.stage, k.job, a.FileType}, float64(a.Size), 0)
	}
	j.observed.Inc()

	if k.ref == OtherRef {
		return // latest-job series exist for tracked refs only
	}
	finished := 0.0
	if job.FinishedAt != nil {
		finished = float64(job.FinishedAt.UnixMilli()) / 1000
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if prev, ok := j.last[k]; !ok || job.ID > prev.id {
		j.last[k] = lastJob{id: job.ID, status: string(job.Status), duration: duration, finished: finished}
	}
}

// JobRetried counts a retried attempt.
func (j *Jobs) JobRetried(p state.ProjectInfo, job *gitlabapi.Job) {
	k := j.labels(p, job)
	j.retries.inc(k.project, k.ref, k.stage, k.job)
}

// ProjectActive replaces the project's unfinished jobs.
func (j *Jobs) ProjectActive(p state.ProjectInfo, jobs []state.FollowedJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.followed[p.Path] = jobs
}

// ProjectRemoved drops every series of the project.
func (j *Jobs) ProjectRemoved(path string) {
	j.duration.deleteMatching("project", path)
	j.queued.deleteMatching("project", path)
	j.failures.deleteMatching("project", path)
	j.retries.deleteMatching("project", path)
	j.artifacts.deleteMatching("project", path)
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.followed, path)
	for k := range j.last {
		if k.project == path {
			delete(j.last, k)
		}
	}
}
