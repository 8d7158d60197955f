// Package collector turns what the scraper learns into Prometheus metrics.
// Everything it serves was gathered by background polling: a scrape of
// /metrics never calls GitLab. Job series are kept compactly and exported
// through client_golang's const metrics.
package collector

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// Jobs holds the job and pipeline metrics. It implements
// prometheus.Collector and the job and pipeline half of the scraper's
// Recorder.
type Jobs struct {
	refs atomic.Pointer[RefTracker]
	now  func() time.Time
	ttl  time.Duration

	// Each nil when its family is disabled.
	duration    *histogramVec
	queued      *histogramVec
	artifacts   *histogramVec
	failures    *counterVec
	retries     *counterVec
	last        *lastJobs
	active      *activeJobs
	queueByPool *histogramVec
	pending     *pendingPools
	runners     *histogramVec

	pipelines pipelineFamilies

	pools pools

	families []jobFamily // the enabled ones, in the order of family.All

	observed          prometheus.Counter
	pipelinesObserved prometheus.Counter
	followedDesc      *prometheus.Desc
	seriesDesc        *prometheus.Desc

	mu       sync.Mutex
	followed map[string]int // unfinished jobs by project path
}

// jobFamily is what Jobs does with every enabled family alike.
type jobFamily interface {
	describe(ch chan<- *prometheus.Desc)
	collect(ch chan<- prometheus.Metric)
	// deleteProject drops the project's series (when it is a label).
	deleteProject(path string)
	// expire drops series last updated before cutoff (expiring families).
	expire(cutoff time.Time)
	len() int
	spec() *configured
}

func (f *configured) spec() *configured { return f }

// NewJobs builds the job metrics. Options must name every family.
func NewJobs(o Options) (*Jobs, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	j := &Jobs{
		now: now,
		ttl: o.SeriesTTL,
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitlab_jobs_exporter_jobs_observed_total",
			Help: "Finished jobs and bridges counted into the job metrics.",
		}),
		pipelinesObserved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitlab_jobs_exporter_pipelines_observed_total",
			Help: "Pipelines counted into the pipeline metrics at their first result.",
		}),
		followedDesc: prometheus.NewDesc("gitlab_jobs_exporter_followed_jobs",
			"Unfinished jobs and bridges the scraper follows until they finish.", nil, nil),
		seriesDesc: prometheus.NewDesc("gitlab_jobs_exporter_series",
			"Label sets each job family exports now (a histogram label set is one native series, or buckets + 3 classic ones).",
			[]string{"family"}, nil),
		followed: map[string]int{},
		pools:    pools{tags: o.TagPools, runners: o.RunnerPools},
	}
	j.refs.Store(&o.Refs)
	for _, spec := range family.All {
		opts, ok := o.Families[spec.Key]
		if !ok {
			return nil, fmt.Errorf("collector: no options for family %s", spec.Key)
		}
		if !opts.Enabled {
			continue
		}
		f, err := newFamily(spec, opts)
		if err != nil {
			return nil, fmt.Errorf("collector: %w", err)
		}
		jf, isPipeline := j.pipelines.build(f, now)
		switch spec.Key {
		case family.Duration:
			j.duration = newHistogramVec(f, spec.Metrics[0], "job_id", now)
			jf = j.duration
		case family.QueuedDuration:
			j.queued = newHistogramVec(f, spec.Metrics[0], "job_id", now)
			jf = j.queued
		case family.ArtifactSize:
			// No exemplars: one job has several artifacts.
			j.artifacts = newHistogramVec(f, spec.Metrics[0], "", now)
			jf = j.artifacts
		case family.Failures:
			j.failures = newCounterVec(f, spec.Metrics[0], now)
			jf = j.failures
		case family.Retries:
			j.retries = newCounterVec(f, spec.Metrics[0], now)
			jf = j.retries
		case family.LastJob:
			j.last = newLastJobs(f, now)
			jf = j.last
		case family.Jobs:
			j.active = newActiveJobs(f)
			jf = j.active
		case family.QueueByPool:
			j.queueByPool = newHistogramVec(f, spec.Metrics[0], "job_id", now)
			jf = j.queueByPool
		case family.PendingByPool:
			j.pending = newPendingPools(f, j.pools, now)
			jf = j.pending
		case family.Runners:
			j.runners = newHistogramVec(f, spec.Metrics[0], "job_id", now)
			jf = j.runners
		default:
			if !isPipeline {
				return nil, fmt.Errorf("collector: family %s is declared but not built", spec.Key)
			}
		}
		j.families = append(j.families, jf)
	}
	return j, nil
}

// SetRefTracker changes which refs are tracked (on a config reload). Series
// already exported keep their labels.
func (j *Jobs) SetRefTracker(refs RefTracker) { j.refs.Store(&refs) }

// values gives every job label its value for a job of project p.
func (j *Jobs) values(p event.Project, job *gitlabapi.Job) labelValues {
	var v labelValues
	v[project] = p.Path
	v[ref] = j.refs.Load().Label(job.Ref, p.DefaultBranch)
	v[source] = SourceLabel(job.Pipeline.Source)
	v[stage] = job.Stage
	v[jobName] = JobName(job.Name)
	v[status] = string(job.Status)
	return v
}

// JobStarted observes the job's queued duration, by project and, unless
// it is a bridge (which waits for no runner), by runner pool.
func (j *Jobs) JobStarted(p event.Project, job *gitlabapi.Job) {
	if (j.queued == nil && j.queueByPool == nil) || job.QueuedDuration == nil {
		return // off, or GitLab has no queue time for it (never queued)
	}
	v := j.values(p, job)
	if j.queued != nil {
		j.queued.observe(&v, *job.QueuedDuration, job.ID)
	}
	if j.queueByPool != nil && !job.Bridge {
		v[tags] = j.pools.tagsLabel(job.TagSet())
		v[runnerType] = runnerTypeLabel(job.Runner)
		j.queueByPool.observe(&v, *job.QueuedDuration, job.ID)
	}
}

// JobFinished counts a finished job into the histograms and counters.
func (j *Jobs) JobFinished(p event.Project, job *gitlabapi.Job) {
	v := j.values(p, job)
	duration := 0.0
	if job.Duration != nil {
		duration = *job.Duration
	}
	if j.duration != nil {
		j.duration.observe(&v, duration, job.ID)
	}
	if j.failures != nil && job.Status == gitlabapi.StatusFailed {
		v[failureReason] = job.FailureReason
		if v[failureReason] == "" {
			v[failureReason] = "unknown_failure"
		}
		v[allowFailure] = strconv.FormatBool(job.AllowFailure)
		j.failures.inc(&v)
	}
	if j.runners != nil && job.Runner != nil { // jobs no runner ran have none
		v[runner] = j.pools.runnerLabel(job.Runner)
		v[runnerType] = runnerTypeLabel(job.Runner)
		j.runners.observe(&v, duration, job.ID)
	}
	if j.artifacts != nil {
		for _, a := range job.Artifacts {
			v[fileType] = a.FileType
			j.artifacts.observe(&v, float64(a.Size), 0)
		}
	}
	j.observed.Inc()
	if j.last != nil && j.refs.Load().Tracked(job.Ref, p.DefaultBranch) { // latest-job series exist for tracked refs only
		finished := 0.0
		if job.FinishedAt != nil {
			finished = float64(job.FinishedAt.UnixMilli()) / 1000
		}
		j.last.record(&v, lastJob{id: job.ID, status: string(job.Status), duration: duration, finished: finished})
	}
}

// JobRetried counts a retried attempt.
func (j *Jobs) JobRetried(p event.Project, job *gitlabapi.Job) {
	if j.retries == nil {
		return
	}
	v := j.values(p, job)
	j.retries.inc(&v)
}

// ProjectActive replaces the project's unfinished jobs.
func (j *Jobs) ProjectActive(p event.Project, jobs []event.ActiveJob) {
	j.mu.Lock()
	j.followed[p.Path] = len(jobs)
	j.mu.Unlock()
	if j.active != nil {
		j.active.set(p, jobs)
	}
	if j.pending != nil {
		j.pending.set(p.Path, jobs)
	}
}

// ProjectRemoved drops every series of the project.
func (j *Jobs) ProjectRemoved(path string) {
	j.mu.Lock()
	delete(j.followed, path)
	j.mu.Unlock()
	for _, f := range j.families {
		f.deleteProject(path)
	}
}

// Expire drops the series of expiring families that have received nothing
// for the series TTL: a renamed or deleted job stops costing. If it comes
// back, its series starts again from 0, which rate() reads as a reset.
func (j *Jobs) Expire() {
	if j.ttl <= 0 {
		return
	}
	cutoff := j.now().Add(-j.ttl)
	for _, f := range j.families {
		if f.spec().Expires {
			f.expire(cutoff)
		}
	}
}

// Describe implements prometheus.Collector.
func (j *Jobs) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range j.families {
		f.describe(ch)
	}
	j.observed.Describe(ch)
	j.pipelinesObserved.Describe(ch)
	ch <- j.followedDesc
	ch <- j.seriesDesc
}

// Collect implements prometheus.Collector.
func (j *Jobs) Collect(ch chan<- prometheus.Metric) {
	for _, f := range j.families {
		f.collect(ch)
		ch <- prometheus.MustNewConstMetric(j.seriesDesc, prometheus.GaugeValue, float64(f.len()), f.spec().Key)
	}
	j.observed.Collect(ch)
	j.pipelinesObserved.Collect(ch)
	j.mu.Lock()
	followed := 0
	for _, n := range j.followed {
		followed += n
	}
	j.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(j.followedDesc, prometheus.GaugeValue, float64(followed))
}
