package collector

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// benchSeries is the label shape of the duration histogram in the large
// benchmark scenario: 2,000 projects, a few job names and statuses each.
const benchSeries = 20_000

var benchBounds = []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}

type observeFunc func(labels []string, v float64, id int64)

func fillHistograms(observe observeFunc) {
	var id int64
	for s := range benchSeries {
		labels := []string{"group/project-" + strconv.Itoa(s/10), "main", "test", "rspec-" + strconv.Itoa(s%10), "success"}
		for k := range 20 { // durations spread like CI jobs, 20 per series
			id++
			observe(labels, float64(30+(k*37+s)%900), id)
		}
	}
}

func implementations() map[string]func() (prometheus.Collector, observeFunc) {
	labels := []string{"project", "ref", "stage", "job", "status"}
	return map[string]func() (prometheus.Collector, observeFunc){
		"histogramVec": func() (prometheus.Collector, observeFunc) {
			v := newHistogramVec("h", "h", benchBounds, true, "job_id", labels...)
			return v, v.observe
		},
		"client_golang": func() (prometheus.Collector, observeFunc) {
			v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h", Help: "h", Buckets: benchBounds,
				NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: maxNativeBuckets}, labels)
			return v, func(l []string, x float64, id int64) {
				v.WithLabelValues(l...).(prometheus.ExemplarObserver).
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
				c, observe := make()
				fillHistograms(observe)
				after := heapInUse()
				runtime.KeepAlive(c)
				b.ReportMetric(float64(after-before)/benchSeries, "heap-bytes/series")
			}
		})
	}
}

// BenchmarkHistogramScrape writes benchSeries histograms as /metrics does
// (straight from the series), and for comparison as client_golang does
// (gather to client_model objects, then expfmt), from histogramVec and from
// client_golang's own HistogramVec.
func BenchmarkHistogramScrape(b *testing.B) {
	v := newHistogramVec("h", "h", benchBounds, true, "job_id", "project", "ref", "stage", "job", "status")
	fillHistograms(v.observe)
	for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeOpenMetrics), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
		b.Run(fmt.Sprintf("direct/%s", format), func(b *testing.B) {
			w := bufio.NewWriter(io.Discard)
			for range b.N {
				var err error
				if format.FormatType() == expfmt.TypeProtoDelim {
					err = v.writeProto(w)
				} else {
					err = v.writeText(w, format.FormatType() == expfmt.TypeOpenMetrics)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for name, make := range implementations() {
		c, observe := make()
		fillHistograms(observe)
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
			b.Run(fmt.Sprintf("%s/%s", name, format), func(b *testing.B) {
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
