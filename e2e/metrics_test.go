//go:build unix

package e2e

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// families is a parsed /metrics page.
type families map[string]*dto.MetricFamily

func parseMetrics(body string) (families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	return fams, nil
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func labelNames(m *dto.Metric) []string {
	var out []string
	for _, l := range m.GetLabel() {
		out = append(out, l.GetName())
	}
	sort.Strings(out)
	return out
}

// value is a counter's, gauge's or untyped metric's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// sumValues adds up the values (counters, gauges) or observation counts
// (histograms) of every series of a family.
func (f families) sumValues(name string) float64 {
	total := 0.0
	for _, m := range f[name].GetMetric() {
		if h := m.GetHistogram(); h != nil {
			total += float64(h.GetSampleCount())
			continue
		}
		total += value(m)
	}
	return total
}

// byLabel maps one label's values to the value of the series carrying it.
func (f families) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		out[labelsOf(m)[label]] += value(m)
	}
	return out
}

// checkHistogram reports what is wrong with one histogram series: classic
// buckets must be cumulative and end with +Inf at the count, the sum must
// be a plausible total.
func checkHistogram(m *dto.Metric, maxMean float64) []string {
	h := m.GetHistogram()
	var errs []string
	if h.GetSampleCount() == 0 {
		errs = append(errs, "count is 0 (a series should exist only once something was observed)")
	}
	if s := h.GetSampleSum(); s < 0 || math.IsNaN(s) {
		errs = append(errs, fmt.Sprintf("sum %g is negative or NaN", s))
	} else if c := h.GetSampleCount(); c > 0 && s/float64(c) > maxMean {
		errs = append(errs, fmt.Sprintf("mean %g above the plausible %g", s/float64(c), maxMean))
	}
	var prev uint64
	bounds := make([]float64, 0, len(h.GetBucket()))
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev {
			errs = append(errs, fmt.Sprintf("bucket le=%g count %d below the previous bucket's %d", b.GetUpperBound(), b.GetCumulativeCount(), prev))
		}
		prev = b.GetCumulativeCount()
		bounds = append(bounds, b.GetUpperBound())
	}
	if len(bounds) == 0 {
		errs = append(errs, "no classic buckets")
	}
	if !slices.IsSorted(bounds) {
		errs = append(errs, fmt.Sprintf("bucket bounds not increasing: %v", bounds))
	}
	// The text format always ends with le="+Inf", which is the count.
	if n := len(bounds); n > 0 && (!math.IsInf(bounds[n-1], 1) || prev != h.GetSampleCount()) {
		errs = append(errs, fmt.Sprintf("last bucket le=%g holds %d, want le=+Inf holding the count %d", bounds[n-1], prev, h.GetSampleCount()))
	}
	return errs
}
