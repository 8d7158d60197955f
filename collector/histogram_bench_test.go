package collector

import (
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

// BenchmarkHistogramScrape gathers and encodes benchSeries histograms as
// a scrape of /metrics does, in the text and protobuf formats.
func BenchmarkHistogramScrape(b *testing.B) {
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
