package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is every metric the exporter serves besides build_info and the
// Go runtime's. It is the scraper's Recorder and the API client's Observer.
type Metrics struct {
	*Jobs
	*SelfMetrics
}

// New builds all metrics.
func New(o Options) (*Metrics, error) {
	jobs, err := NewJobs(o)
	if err != nil {
		return nil, err
	}
	return &Metrics{Jobs: jobs, SelfMetrics: NewSelfMetrics()}, nil
}

// ProjectRemoved drops every series of the project.
func (m *Metrics) ProjectRemoved(path string) {
	m.Jobs.ProjectRemoved(path)
	m.SelfMetrics.ProjectRemoved(path)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.Jobs.Describe(ch)
	m.SelfMetrics.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.Jobs.Collect(ch)
	m.SelfMetrics.Collect(ch)
}
