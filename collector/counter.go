package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// counterVec is a counter family kept as compactly as histogramVec, for
// the same reason: a client_golang CounterVec holds a full Counter (label
// pairs, created timestamp, self-collector) per series, which was 14 % of
// the exporter's heap for two counters at 2,000 projects.
type counterVec struct {
	*configured
	desc *prometheus.Desc
	now  func() time.Time
	seriesIndex[*counterSeries]
}

type counterSeries struct {
	seriesMeta
	value float64
}

func (s *counterSeries) meta() *seriesMeta { return &s.seriesMeta }

func newCounterVec(f *configured, m family.Metric, now func() time.Time) *counterVec {
	return &counterVec{configured: f, now: now, seriesIndex: newSeriesIndex[*counterSeries](f),
		desc: prometheus.NewDesc(m.Name, m.Help+fromPolling, f.labelNames(), nil)}
}

// inc adds 1 to the series of these label values.
func (v *counterVec) inc(values *labelValues) {
	key := v.key(values)
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.series[key]
	if s == nil {
		s = &counterSeries{seriesMeta: newSeriesMeta(now)}
		v.add(key, s)
	}
	s.touch(now)
	s.value++
}

func (v *counterVec) describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *counterVec) collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	metrics := make([]prometheus.Metric, 0, len(v.series))
	for _, key := range v.inOrder() {
		s := v.series[key]
		m, err := prometheus.NewConstMetricWithCreatedTimestamp(v.desc, prometheus.CounterValue,
			s.value, time.Unix(0, s.created), splitKey(key, len(v.labels))...)
		if err != nil {
			m = prometheus.NewInvalidMetric(v.desc, err)
		}
		metrics = append(metrics, m)
	}
	v.mu.Unlock()
	for _, m := range metrics {
		ch <- m
	}
}
