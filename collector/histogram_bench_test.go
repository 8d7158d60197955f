package collector

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// benchSeries is the label shape of the duration histogram in the large
// benchmark scenario: 2,000 projects, a few job names and statuses each.
const benchSeries = 20_000

var benchBounds = []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}

type observeFunc func(labels *labelValues, v float64, id int64)

func fillHistograms(observe observeFunc) {
	var id int64
	for s := range benchSeries {
		labels := labelValues{project: "group/project-" + strconv.Itoa(s/10), ref: "main", stage: "test",
			jobName: "rspec-" + strconv.Itoa(s%10), status: "success"}
		for k := range 20 { // durations spread like CI jobs, 20 per series
			id++
			observe(&labels, float64(30+(k*37+s)%900), id)
		}
	}
}

var benchLabels = []string{family.LabelProject, family.LabelRef, family.LabelStage, family.LabelJobName, family.LabelStatus}

func benchVec(b testing.TB) *histogramVec {
	f, err := newFamily(family.Family{Key: "bench", Labels: benchLabels, Histogram: true},
		family.Options{Enabled: true, Labels: benchLabels, Form: family.Both, Buckets: benchBounds})
	if err != nil {
		b.Fatal(err)
	}
	return newHistogramVec(f, family.Metric{Name: "h", Help: "h"}, "job_id", time.Now)
}

func implementations() map[string]func(testing.TB) (prometheus.Collector, observeFunc) {
	return map[string]func(testing.TB) (prometheus.Collector, observeFunc){
		"histogramVec": func(b testing.TB) (prometheus.Collector, observeFunc) {
			v := benchVec(b)
			return v, v.observe
		},
		"client_golang": func(testing.TB) (prometheus.Collector, observeFunc) {
			v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h", Help: "h", Buckets: benchBounds,
				NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: maxNativeBuckets}, benchLabels)
			return v, func(l *labelValues, x float64, id int64) {
				v.WithLabelValues(l[project], l[ref], l[stage], l[jobName], l[status]).(prometheus.ExemplarObserver).
					ObserveWithExemplar(x, prometheus.Labels{"job_id": strconv.FormatInt(id, 10)})
			}
		},
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkHistogramMemory prints the heap one histogram series costs
// (classic and native buckets, exemplars), against client_golang's.
func BenchmarkHistogramMemory(b *testing.B) {
	for name, make := range implementations() {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				before := heapInUse()
				c, observe := make(b)
				fillHistograms(observe)
				after := heapInUse()
				runtime.KeepAlive(c)
				b.ReportMetric(float64(after-before)/benchSeries, "heap-bytes/series")
			}
		})
	}
}

// BenchmarkHistogramScrape gathers benchSeries histograms and encodes
// them as /metrics does, from histogramVec's const histograms and from
// client_golang's own HistogramVec.
func BenchmarkHistogramScrape(b *testing.B) {
	for name, make := range implementations() {
		c, observe := make(b)
		fillHistograms(observe)
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeOpenMetrics), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
			b.Run(fmt.Sprintf("%s/%d", name, format.FormatType()), func(b *testing.B) {
				for range b.N {
					mfs, err := reg.Gather()
					if err != nil {
						b.Fatal(err)
					}
					enc := expfmt.NewEncoder(io.Discard, format)
					for _, mf := range mfs {
						if err := enc.Encode(mf); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
