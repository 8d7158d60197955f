// Package collector turns what the scraper learns into Prometheus metrics.
// Everything it serves was gathered by background polling: a scrape of
// /metrics never calls GitLab.
package collector

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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
	failures  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	artifacts *histogramVec
	observed  prometheus.Counter

	activeDesc, oldestPendingDesc    *prometheus.Desc
	lastStatusDesc, lastDurationDesc *prometheus.Desc
	lastFinishedDesc, followedDesc   *prometheus.Desc

	mu     sync.Mutex
	active map[string][]state.FollowedJob // by project path
	last   map[lastKey]lastJob
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
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitlab_ci_job_failures_total",
			Help: "Failed jobs by failure reason." + fromPolling,
		}, with("failure_reason", "allow_failure")),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitlab_ci_job_retries_total",
			Help: "Job attempts that were retried (a retry is a new job)." + fromPolling,
		}, jobLabels),
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitlab_jobs_exporter_jobs_observed_total",
			Help: "Finished jobs and bridges counted into the job metrics.",
		}),
		activeDesc: prometheus.NewDesc("gitlab_ci_jobs",
			"Jobs currently in each not-finished status."+fromPolling, []string{"project", "status"}, nil),
		oldestPendingDesc: prometheus.NewDesc("gitlab_ci_job_oldest_pending_created_timestamp_seconds",
			"Creation time of the oldest job now pending."+fromPolling, []string{"project"}, nil),
		lastStatusDesc: prometheus.NewDesc("gitlab_ci_job_last_status",
			"Status of the latest finished job of each name on tracked refs (value 1)."+fromPolling, with("status"), nil),
		lastDurationDesc: prometheus.NewDesc("gitlab_ci_job_last_duration_seconds",
			"Duration of the latest finished job of each name on tracked refs."+fromPolling, jobLabels, nil),
		lastFinishedDesc: prometheus.NewDesc("gitlab_ci_job_last_finished_timestamp_seconds",
			"Finish time of the latest finished job of each name on tracked refs."+fromPolling, jobLabels, nil),
		followedDesc: prometheus.NewDesc("gitlab_jobs_exporter_followed_jobs",
			"Unfinished jobs and bridges the scraper follows until they finish.", nil, nil),
		active: map[string][]state.FollowedJob{},
		last:   map[lastKey]lastJob{},
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
		j.failures.WithLabelValues(k.project, k.ref, k.stage, k.job, reason, strconv.FormatBool(job.AllowFailure)).Inc()
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
	j.retries.WithLabelValues(k.project, k.ref, k.stage, k.job).Inc()
}

// ProjectActive replaces the project's unfinished jobs.
func (j *Jobs) ProjectActive(p state.ProjectInfo, jobs []state.FollowedJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.active[p.Path] = jobs
}

// ProjectRemoved drops every series of the project.
func (j *Jobs) ProjectRemoved(path string) {
	match := prometheus.Labels{"project": path}
	j.duration.deleteMatching("project", path)
	j.queued.deleteMatching("project", path)
	j.failures.DeletePartialMatch(match)
	j.retries.DeletePartialMatch(match)
	j.artifacts.deleteMatching("project", path)
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.active, path)
	for k := range j.last {
		if k.project == path {
			delete(j.last, k)
		}
	}
}

// Describe implements prometheus.Collector.
func (j *Jobs) Describe(ch chan<- *prometheus.Desc) {
	for _, h := range j.histograms() {
		h.Describe(ch)
	}
	j.describeAllButHistograms(ch)
}

func (j *Jobs) describeAllButHistograms(ch chan<- *prometheus.Desc) {
	j.failures.Describe(ch)
	j.retries.Describe(ch)
	j.observed.Describe(ch)
	for _, d := range []*prometheus.Desc{j.activeDesc, j.oldestPendingDesc, j.lastStatusDesc,
		j.lastDurationDesc, j.lastFinishedDesc, j.followedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (j *Jobs) Collect(ch chan<- prometheus.Metric) {
	for _, h := range j.histograms() {
		h.Collect(ch)
	}
	j.collectAllButHistograms(ch)
}

func (j *Jobs) histograms() []*histogramVec {
	return []*histogramVec{j.duration, j.queued, j.artifacts}
}

func (j *Jobs) collectAllButHistograms(ch chan<- prometheus.Metric) {
	j.failures.Collect(ch)
	j.retries.Collect(ch)
	j.observed.Collect(ch)

	// Copy under the lock and send without it, so that a slow scrape never
	// holds up the scraper recording jobs.
	j.mu.Lock()
	active := make(map[string][]state.FollowedJob, len(j.active))
	for project, jobs := range j.active {
		active[project] = jobs // ProjectActive replaces slices, never mutates them
	}
	last := make(map[lastKey]lastJob, len(j.last))
	for k, l := range j.last {
		last[k] = l
	}
	j.mu.Unlock()

	followed := 0
	for project, jobs := range active {
		followed += len(jobs)
		counts := map[string]int{}
		for _, s := range unfinishedStatuses {
			counts[string(s)] = 0
		}
		var oldest time.Time
		for _, f := range jobs {
			counts[f.Status]++
			if f.Status == string(gitlabapi.StatusPending) && (oldest.IsZero() || f.CreatedAt.Before(oldest)) {
				oldest = f.CreatedAt
			}
		}
		for status, n := range counts {
			ch <- prometheus.MustNewConstMetric(j.activeDesc, prometheus.GaugeValue, float64(n), project, status)
		}
		if !oldest.IsZero() {
			ch <- prometheus.MustNewConstMetric(j.oldestPendingDesc, prometheus.GaugeValue,
				float64(oldest.UnixMilli())/1000, project)
		}
	}
	ch <- prometheus.MustNewConstMetric(j.followedDesc, prometheus.GaugeValue, float64(followed))
	for k, l := range last {
		ch <- prometheus.MustNewConstMetric(j.lastStatusDesc, prometheus.GaugeValue, 1, k.project, k.ref, k.stage, k.job, l.status)
		ch <- prometheus.MustNewConstMetric(j.lastDurationDesc, prometheus.GaugeValue, l.duration, k.project, k.ref, k.stage, k.job)
		if l.finished > 0 {
			ch <- prometheus.MustNewConstMetric(j.lastFinishedDesc, prometheus.GaugeValue, l.finished, k.project, k.ref, k.stage, k.job)
		}
	}
}
