package collector

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// lastJobs are the latest finished job (family last_job), or pipeline
// (last_pipeline), of each label set: its status, duration, finish time
// and, for pipelines, coverage.
type lastJobs struct {
	*configured
	now                                    func() time.Time
	statusDesc, durationDesc, finishedDesc *prometheus.Desc
	coverageDesc                           *prometheus.Desc // nil when the family has no coverage metric
	seriesIndex[*lastJob]
}

type lastJob struct {
	seriesMeta
	id       int64
	status   string
	duration float64
	finished float64  // unix seconds; 0 when unknown
	coverage *float64 // a ratio; nil when none
}

func (l *lastJob) meta() *seriesMeta { return &l.seriesMeta }

func newLastJobs(f *configured, now func() time.Time) *lastJobs {
	desc := func(m family.Metric, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(m.Name, m.Help+fromPolling, f.labelNames(extra...), nil)
	}
	l := &lastJobs{configured: f, now: now, seriesIndex: newSeriesIndex[*lastJob](f),
		statusDesc:   desc(f.Metrics[0], family.LabelStatus),
		durationDesc: desc(f.Metrics[1]),
		finishedDesc: desc(f.Metrics[2]),
	}
	if len(f.Metrics) > 3 {
		l.coverageDesc = desc(f.Metrics[3])
	}
	return l
}

// record keeps job as the latest of its label set unless a newer one (by
// id: GitLab's ids grow with creation) is there already. The same id
// again is a pipeline that finished again: its new result replaces the old.
func (l *lastJobs) record(values *labelValues, job lastJob) {
	key := l.key(values)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch prev := l.series[key]; {
	case prev == nil:
		l.add(key, &job)
	case job.id >= prev.id:
		job.seriesMeta = prev.seriesMeta
		l.series[key] = &job
	}
	l.series[key].touch(now)
}

func (l *lastJobs) describe(ch chan<- *prometheus.Desc) {
	ch <- l.statusDesc
	ch <- l.durationDesc
	ch <- l.finishedDesc
	if l.coverageDesc != nil {
		ch <- l.coverageDesc
	}
}

func (l *lastJobs) collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	metrics := make([]prometheus.Metric, 0, 3*len(l.series))
	for _, key := range l.inOrder() {
		s := l.series[key]
		values := splitKey(key, len(l.labels))
		metrics = append(metrics,
			gauge(l.statusDesc, 1, append(values, s.status)...),
			gauge(l.durationDesc, s.duration, values...))
		if s.finished > 0 {
			metrics = append(metrics, gauge(l.finishedDesc, s.finished, values...))
		}
		if s.coverage != nil && l.coverageDesc != nil {
			metrics = append(metrics, gauge(l.coverageDesc, *s.coverage, values...))
		}
	}
	l.mu.Unlock()
	for _, m := range metrics {
		ch <- m
	}
}

func gauge(desc *prometheus.Desc, v float64, values ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, values...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// activeJobs are what is unfinished now (family jobs): jobs by status and
// the oldest pending job, from the scraper's last report per project.
type activeJobs struct {
	*configured
	oldest     *configured // the family's labels but status
	jobsDesc   *prometheus.Desc
	oldestDesc *prometheus.Desc
	zeros      bool // pending and running are 0 rather than absent, per project (with the status label)

	mu        sync.Mutex
	byProject map[string]projectJobs
}

// projectJobs is a project's report, counted when it arrives: the
// collector keeps no copy of each followed job, so the manual jobs
// followed for weeks cost it nothing.
type projectJobs struct {
	info          event.Project
	byStatus      map[gitlabapi.JobStatus]int
	oldestPending time.Time // zero when nothing is pending
}

// zeroStatuses get a 0 for every project that has none, so that a graph
// of what is pending or running has no gaps.
var zeroStatuses = []gitlabapi.JobStatus{gitlabapi.StatusPending, gitlabapi.StatusRunning}

func newActiveJobs(f *configured) *activeJobs {
	oldest := &configured{Family: f.Family, Options: f.Options,
		labels: slices.DeleteFunc(slices.Clone(f.labels), func(i labelIndex) bool { return i == status })}
	a := &activeJobs{configured: f, oldest: oldest, byProject: map[string]projectJobs{},
		jobsDesc:   prometheus.NewDesc(f.Metrics[0].Name, f.Metrics[0].Help+fromPolling, f.labelNames(), nil),
		oldestDesc: prometheus.NewDesc(f.Metrics[1].Name, f.Metrics[1].Help+fromPolling, oldest.labelNames(), nil),
	}
	a.zeros = f.has(status)
	return a
}

func (a *activeJobs) set(p event.Project, jobs []event.ActiveJob) {
	pj := projectJobs{info: p, byStatus: map[gitlabapi.JobStatus]int{}}
	for _, job := range jobs {
		pj.byStatus[job.Status]++
		if job.Status == gitlabapi.StatusPending && (pj.oldestPending.IsZero() || job.CreatedAt.Before(pj.oldestPending)) {
			pj.oldestPending = job.CreatedAt
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byProject[p.Path] = pj
}

func (a *activeJobs) deleteProject(path string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.byProject, path)
}

func (a *activeJobs) expire(time.Time) {} // rebuilt from every poll's report

func (a *activeJobs) describe(ch chan<- *prometheus.Desc) {
	ch <- a.jobsDesc
	ch <- a.oldestDesc
}

func (a *activeJobs) collect(ch chan<- prometheus.Metric) {
	counts, oldest := a.tally()
	for key, n := range counts {
		ch <- gauge(a.jobsDesc, float64(n), splitKey(key, len(a.labels))...)
	}
	for key, t := range oldest {
		ch <- gauge(a.oldestDesc, float64(t.UnixMilli())/1000, splitKey(key, len(a.oldest.labels))...)
	}
}

func (a *activeJobs) len() int {
	counts, oldest := a.tally()
	return len(counts) + len(oldest)
}

// tally counts the jobs by label set and finds the oldest pending job of
// each label set but status.
func (a *activeJobs) tally() (map[string]int, map[string]time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	counts, oldest := map[string]int{}, map[string]time.Time{}
	for _, p := range a.byProject {
		var v labelValues
		v[project] = p.info.Path
		if a.zeros {
			for _, s := range zeroStatuses {
				v[status] = string(s)
				counts[a.key(&v)] += 0
			}
		}
		for s, n := range p.byStatus {
			v[status] = string(s)
			counts[a.key(&v)] += n
		}
		if !p.oldestPending.IsZero() {
			k := a.oldest.key(&v)
			if t, ok := oldest[k]; !ok || p.oldestPending.Before(t) {
				oldest[k] = p.oldestPending
			}
		}
	}
	return counts, oldest
}
