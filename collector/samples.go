package collector

import (
	"bufio"
	"iter"
	"math"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// sampleFamily is a counter or gauge family with labels that /metrics
// writes straight from the exporter's data, as expfmt writes it from a
// registry. At 2,000 projects the job counters and gauges are over 100,000
// series, and building a client_model object for each (then sorting and
// checking them all in Gather) cost more than writing every histogram.
type sampleFamily struct {
	name, help string
	counter    bool
	desc       *prometheus.Desc // for the registry path (Collect)
	seriesLabels
}

// sample is one series of a family. values are in the family's declared
// label order; they may point into a buffer the next sample reuses.
type sample struct {
	values  []string
	value   float64
	created int64 // unix nanoseconds; counters only, 0 if unknown
}

func newSampleFamily(name, help string, counter bool, labels ...string) sampleFamily {
	return sampleFamily{name: name, help: help, counter: counter,
		desc: prometheus.NewDesc(name, help, labels, nil), seriesLabels: newSeriesLabels(labels)}
}

// constMetric is a sample as a prometheus.Metric, for Collect.
func (f *sampleFamily) constMetric(s sample) prometheus.Metric {
	if f.counter {
		return prometheus.MustNewConstMetricWithCreatedTimestamp(f.desc, prometheus.CounterValue, s.value, unixNano(s.created), s.values...)
	}
	return prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, s.value, s.values...)
}

// writeText writes the family in the text format or OpenMetrics; samples
// must come in the order client_golang's Gather sorts them (seriesOrder).
// Like expfmt, it writes nothing for a family without samples.
func (f *sampleFamily) writeText(w *bufio.Writer, samples iter.Seq[sample], openMetrics bool) error {
	header, typ := f.name, "gauge"
	if f.counter {
		typ = "counter"
		if openMetrics {
			header = strings.TrimSuffix(f.name, "_total")
		}
	}
	var line []byte
	first := true
	for s := range samples {
		if first {
			writeHeader(w, header, f.help, typ, openMetrics)
			first = false
		}
		line = append(line[:0], f.name...)
		if len(f.labelNames) > 0 {
			line = f.appendLabels(append(line, '{'), s.values)
			line[len(line)-1] = '}' // the trailing comma closes the set
		}
		line = append(appendFloat(append(line, ' '), s.value, openMetrics), '\n')
		w.Write(line)
	}
	return w.Flush()
}

// writeProto writes the family as a length-delimited MetricFamily.
func (f *sampleFamily) writeProto(w *bufio.Writer, samples iter.Seq[sample]) error {
	typ, valueField := dto.MetricType_GAUGE, protowire.Number(2) // dto.Metric.gauge
	if f.counter {
		typ, valueField = dto.MetricType_COUNTER, 3 // dto.Metric.counter
	}
	family := protowire.AppendTag(nil, 1, protowire.BytesType)
	family = protowire.AppendString(family, f.name)
	family = protowire.AppendTag(family, 2, protowire.BytesType)
	family = protowire.AppendString(family, f.help)
	family = protowire.AppendTag(family, 3, protowire.VarintType)
	family = protowire.AppendVarint(family, uint64(typ))
	var metric, value, sub []byte
	empty := true
	for s := range samples {
		empty = false
		metric = f.appendLabelPairs(metric[:0], s.values, &sub)
		value = protowire.AppendTag(value[:0], 1, protowire.Fixed64Type)
		value = protowire.AppendFixed64(value, math.Float64bits(s.value))
		if f.counter && s.created != 0 {
			var ts [24]byte
			value = appendMessage(value, 3, appendTimestamp(ts[:0], s.created/1e9, int32(s.created%1e9)))
		}
		metric = appendMessage(metric, valueField, value)
		family = appendMessage(family, 4, metric)
	}
	if empty {
		return nil
	}
	return writeDelimited(w, family)
}
