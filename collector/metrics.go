package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// Metrics is every metric the exporter serves besides build_info and the
// Go runtime's: the job metrics and the exporter's metrics about itself. It
// is the scraper's Recorder and the API client's Observer; each method
// hands the call to the half that answers it.
type Metrics struct {
	Jobs *Jobs
	Self *SelfMetrics
}

var (
	_ event.Recorder     = (*Metrics)(nil)
	_ gitlabapi.Observer = (*Metrics)(nil)
)

// New builds all metrics.
func New(o Options) (*Metrics, error) {
	jobs, err := NewJobs(o)
	if err != nil {
		return nil, err
	}
	return &Metrics{Jobs: jobs, Self: NewSelfMetrics()}, nil
}

// The scraper's Recorder: the job metrics answer for jobs,
func (m *Metrics) JobStarted(p event.Project, j *gitlabapi.Job)  { m.Jobs.JobStarted(p, j) }
func (m *Metrics) JobFinished(p event.Project, j *gitlabapi.Job) { m.Jobs.JobFinished(p, j) }
func (m *Metrics) JobRetried(p event.Project, j *gitlabapi.Job)  { m.Jobs.JobRetried(p, j) }
func (m *Metrics) ProjectActive(p event.Project, jobs []event.ActiveJob) {
	m.Jobs.ProjectActive(p, jobs)
}

// and for pipelines,
func (m *Metrics) PipelineFinished(p event.Project, pl *gitlabapi.Pipeline) {
	m.Jobs.PipelineFinished(p, pl)
}
func (m *Metrics) PipelineRerun(p event.Project, pl *gitlabapi.Pipeline, first string, repeat bool) {
	m.Jobs.PipelineRerun(p, pl, first, repeat)
}
func (m *Metrics) ProjectPipelines(p event.Project, unfinished map[string]int) {
	m.Jobs.ProjectPipelines(p, unfinished)
}

// the self-metrics for polls, discovery and state,
func (m *Metrics) PollFinished(p event.Project, r event.PollResult) { m.Self.PollFinished(p, r) }
func (m *Metrics) ProjectUnresolved(ref, reason string)             { m.Self.ProjectUnresolved(ref, reason) }
func (m *Metrics) GroupListed(group, reason string)                 { m.Self.GroupListed(group, reason) }
func (m *Metrics) GroupRemoved(group string)                        { m.Self.GroupRemoved(group) }
func (m *Metrics) ProjectsPolled(n int)                             { m.Self.ProjectsPolled(n) }
func (m *Metrics) StateFailed(op string)                            { m.Self.StateFailed(op) }

// and both drop a project's series: ProjectRemoved here, ProjectHandedOver
// in handover.go.
func (m *Metrics) ProjectRemoved(path string) {
	m.Jobs.ProjectRemoved(path)
	m.Self.ProjectRemoved(path)
}

// The API client's Observer: the self-metrics answer.
func (m *Metrics) ObserveRequest(endpoint string, code int, d time.Duration) {
	m.Self.ObserveRequest(endpoint, code, d)
}
func (m *Metrics) ObserveRateLimitRemaining(x float64) { m.Self.ObserveRateLimitRemaining(x) }

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.Jobs.Describe(ch)
	m.Self.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.Jobs.Collect(ch)
	m.Self.Collect(ch)
}
