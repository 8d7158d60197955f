package collector

import (
	"iter"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// counterVec is a counter family kept as compactly as histogramVec, for
// the same reason: a client_golang CounterVec holds a full Counter (label
// pairs, created timestamp, self-collector) per series, which was 14 % of
// the exporter's heap for two counters at 2,000 projects.
type counterVec struct {
	sampleFamily
	now func() time.Time
	seriesIndex[*counterSeries]
}

type counterSeries struct {
	key     string
	created int64 // unix nanoseconds
	value   float64
}

func (s *counterSeries) seriesKey() string { return s.key }

func newCounterVec(name, help string, labels ...string) *counterVec {
	f := newSampleFamily(name, help, true, labels...)
	return &counterVec{sampleFamily: f, now: time.Now, seriesIndex: newSeriesIndex[*counterSeries](f.seriesLabels)}
}

// inc adds 1 to the series with these label values (in declared order).
func (v *counterVec) inc(values ...string) {
	key := strings.Join(values, labelSep)
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.series[key]
	if s == nil {
		s = &counterSeries{key: key, created: v.now().UnixNano()}
		v.add(s)
	}
	s.value++
}

// samples yields the series in the order client_golang's Gather sorts them.
func (v *counterVec) samples() iter.Seq[sample] {
	rows := v.sorted()
	return func(yield func(sample) bool) {
		var values []string
		for _, s := range rows {
			v.mu.Lock()
			value := s.value
			v.mu.Unlock()
			values = splitKey(values[:0], s.key)
			if !yield(sample{values: values, value: value, created: s.created}) {
				return
			}
		}
	}
}

// Describe implements prometheus.Collector.
func (v *counterVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector.
func (v *counterVec) Collect(ch chan<- prometheus.Metric) {
	for s := range v.samples() {
		ch <- v.constMetric(s) // copies the values it keeps
	}
}

func unixNano(ns int64) time.Time { return time.Unix(0, ns) }
