package collector

import (
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// pipelineFamilies are the pipeline families, each nil when disabled. They
// live in Jobs beside the job families, which share their ref tracking,
// expiry and per-family series count.
type pipelineFamilies struct {
	duration, wallTime, queued *histogramVec
	finished, reruns           *counterVec
	last                       *lastJobs
	active                     *activePipelines
}

// build makes the pipeline family f; it reports false for a job family.
func (pf *pipelineFamilies) build(f *configured, now func() time.Time) (jobFamily, bool) {
	switch f.Key {
	case family.PipelineDuration:
		pf.duration = newHistogramVec(f, f.Metrics[0], "pipeline_id", now)
		return pf.duration, true
	case family.PipelineWallTime:
		pf.wallTime = newHistogramVec(f, f.Metrics[0], "pipeline_id", now)
		return pf.wallTime, true
	case family.PipelineQueuedDuration:
		pf.queued = newHistogramVec(f, f.Metrics[0], "pipeline_id", now)
		return pf.queued, true
	case family.PipelinesFinished:
		pf.finished = newCounterVec(f, f.Metrics[0], now)
		return pf.finished, true
	case family.PipelineReruns:
		pf.reruns = newCounterVec(f, f.Metrics[0], now)
		return pf.reruns, true
	case family.LastPipeline:
		pf.last = newLastJobs(f, now)
		return pf.last, true
	case family.Pipelines:
		pf.active = newActivePipelines(f)
		return pf.active, true
	}
	return nil, false
}

// CountsPipelines reports whether a pipeline family is exported: without
// one, the scraper need not fetch pipelines.
func (j *Jobs) CountsPipelines() bool {
	pf := j.pipelines
	return pf.duration != nil || pf.wallTime != nil || pf.queued != nil || pf.finished != nil ||
		pf.reruns != nil || pf.last != nil || pf.active != nil
}

// pipelineValues gives the pipeline labels their values.
func (j *Jobs) pipelineValues(p event.Project, pl *gitlabapi.Pipeline) labelValues {
	var v labelValues
	v[project] = p.Path
	v[ref] = j.refs.Load().Label(pl.Ref, p.DefaultBranch)
	v[source] = SourceLabel(pl.Source)
	v[status] = pl.Status
	return v
}

// PipelineFinished observes a pipeline's first result: its duration, the
// time from its creation to its finish and its queued duration, and
// counts it.
func (j *Jobs) PipelineFinished(p event.Project, pl *gitlabapi.Pipeline) {
	v := j.pipelineValues(p, pl)
	if j.pipelines.duration != nil {
		j.pipelines.duration.observe(&v, pipelineDuration(pl), pl.ID)
	}
	if j.pipelines.wallTime != nil && pl.CreatedAt != nil {
		wall := max(pl.Finished().Sub(*pl.CreatedAt).Seconds(), 0)
		j.pipelines.wallTime.observe(&v, wall, pl.ID)
	}
	if j.pipelines.queued != nil && pl.QueuedDuration != nil {
		j.pipelines.queued.observe(&v, *pl.QueuedDuration, pl.ID)
	}
	if j.pipelines.finished != nil {
		j.pipelines.finished.inc(&v)
	}
	j.pipelinesObserved.Inc()
	j.recordLastPipeline(p, pl, &v)
}

// PipelineRerun counts a later result of a pipeline, once per pipeline
// and result, and makes it the latest result of its ref.
func (j *Jobs) PipelineRerun(p event.Project, pl *gitlabapi.Pipeline, first string, repeat bool) {
	v := j.pipelineValues(p, pl)
	if j.pipelines.reruns != nil && !repeat {
		v[firstStatus] = first
		j.pipelines.reruns.inc(&v)
	}
	j.recordLastPipeline(p, pl, &v)
}

func (j *Jobs) recordLastPipeline(p event.Project, pl *gitlabapi.Pipeline, v *labelValues) {
	if j.pipelines.last == nil || !j.refs.Load().Tracked(pl.Ref, p.DefaultBranch) {
		return
	}
	last := lastJob{id: pl.ID, status: pl.Status, duration: pipelineDuration(pl)}
	if at := pl.Finished(); !at.IsZero() {
		last.finished = float64(at.UnixMilli()) / 1000
	}
	if pl.Coverage != nil {
		ratio := float64(*pl.Coverage) / 100
		last.coverage = &ratio
	}
	j.pipelines.last.record(v, last)
}

// ProjectPipelines replaces the project's unfinished pipelines.
func (j *Jobs) ProjectPipelines(p event.Project, unfinished map[string]int) {
	if j.pipelines.active != nil {
		j.pipelines.active.set(p.Path, unfinished)
	}
}

// pipelineDuration is GitLab's duration; 0 for a pipeline that never
// started (GitLab sets none).
func pipelineDuration(pl *gitlabapi.Pipeline) float64 {
	if pl.Duration == nil {
		return 0
	}
	return *pl.Duration
}

// activePipelines are the unfinished pipelines (family pipelines), from
// the scraper's last report per project.
type activePipelines struct {
	*configured
	desc *prometheus.Desc

	mu        sync.Mutex
	byProject map[string]map[string]int // by status
}

func newActivePipelines(f *configured) *activePipelines {
	return &activePipelines{configured: f, byProject: map[string]map[string]int{},
		desc: prometheus.NewDesc(f.Metrics[0].Name, f.Metrics[0].Help+fromPolling, f.labelNames(), nil)}
}

func (a *activePipelines) set(path string, unfinished map[string]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byProject[path] = maps.Clone(unfinished)
}

func (a *activePipelines) deleteProject(path string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.byProject, path)
}

func (a *activePipelines) expire(time.Time) {} // rebuilt from every poll's report

func (a *activePipelines) describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *activePipelines) collect(ch chan<- prometheus.Metric) {
	for key, n := range a.tally() {
		ch <- gauge(a.desc, float64(n), splitKey(key, len(a.labels))...)
	}
}

func (a *activePipelines) len() int { return len(a.tally()) }

// tally sums the pipelines by label set. A project with none unfinished
// shows running 0 (with the status label), so that graphs have no gaps.
func (a *activePipelines) tally() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	counts := map[string]int{}
	for path, byStatus := range a.byProject {
		var v labelValues
		v[project] = path
		if a.has(status) {
			v[status] = string(gitlabapi.StatusRunning)
			counts[a.key(&v)] += 0
		}
		for s, n := range byStatus {
			v[status] = s
			counts[a.key(&v)] += n
		}
	}
	return counts
}
