package collector

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector/internal/promdto"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// clientGolangHistogram is the reference: client_golang's own histogram with
// the options the exporter used before it kept its histograms itself.
// MinResetDuration 0 and no zero-bucket widening make it halve its
// resolution when it has too many buckets, as histogramVec does.
func clientGolangHistogram(bounds []float64, native bool) *prometheus.HistogramVec {
	opts := prometheus.HistogramOpts{Name: "h", Help: "h", Buckets: bounds}
	if native {
		opts.NativeHistogramBucketFactor = 1.1
		opts.NativeHistogramMaxBucketNumber = maxNativeBuckets
	}
	return prometheus.NewHistogramVec(opts, []string{"project", "job_name"})
}

// testVec is a histogram family with labels project and job_name.
func testVec(t testing.TB, bounds []float64, form family.Form, exemplarLabel string) *histogramVec {
	t.Helper()
	labels := []string{family.LabelProject, family.LabelJobName}
	f, err := newFamily(family.Family{Key: "test", Labels: labels, Histogram: true},
		family.Options{Enabled: true, Labels: labels, Form: form, Buckets: bounds})
	if err != nil {
		t.Fatal(err)
	}
	return newHistogramVec(f, family.Metric{Name: "h", Help: "h"}, exemplarLabel, time.Now)
}

func values(projectPath, job string) *labelValues {
	var v labelValues
	v[project], v[jobName] = projectPath, job
	return &v
}

// Describe and Collect make a histogramVec a prometheus.Collector in tests.
func (v *histogramVec) Describe(ch chan<- *prometheus.Desc) { v.describe(ch) }
func (v *histogramVec) Collect(ch chan<- prometheus.Metric) { v.collect(ch) }

func writeMetric(t *testing.T, m prometheus.Metric) *dto.Metric {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func collectOne(t *testing.T, c prometheus.Collector) *dto.Metric {
	t.Helper()
	ch := make(chan prometheus.Metric, 10)
	c.Collect(ch)
	close(ch)
	var got []*dto.Metric
	for m := range ch {
		got = append(got, writeMetric(t, m))
	}
	if len(got) != 1 {
		t.Fatalf("collected %d series, want 1", len(got))
	}
	return got[0]
}

// withoutTimestamps clears what depends on the wall clock: the created
// timestamp and the exemplars' timestamps. family.Native exemplars, which
// histogramVec does not keep (the classic buckets' exemplars serve), are
// dropped too.
func withoutTimestamps(m *dto.Metric) *dto.Metric {
	m = proto.Clone(m).(*dto.Metric)
	h := m.GetHistogram()
	h.CreatedTimestamp = nil
	h.Exemplars = nil
	for _, b := range h.Bucket {
		if b.Exemplar != nil {
			b.Exemplar.Timestamp = nil
		}
	}
	return m
}

func TestHistogramMatchesClientGolang(t *testing.T) {
	durations := []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}
	// Spread over ~180 buckets at schema 3: forces one halving of the resolution.
	var wide []float64
	for x := 0.001; x < 1e5; x *= 1.07 {
		wide = append(wide, x)
	}
	for _, tc := range []struct {
		name   string
		bounds []float64
		native bool
		values []float64
	}{
		{"classic only", durations, false, []float64{0, 3, 5, 5.5, 61, 14400, 20000}},
		{"native, durations", durations, true, []float64{0, 0, 1, 1.5, 2, 4, 42, 42.1, 59.9, 60, 61, 3600, 14399, 1e6}},
		{"native, exact powers of two", durations, true, []float64{0.5, 1, 2, 4, 8, 1024}},
		{"native, negative and infinite", durations, true, []float64{-3, -0.25, math.Inf(+1), math.Inf(-1), 1e-300}},
		{"native, artifact sizes", defaultArtifactBounds(), true, []float64{100, 1023, 1024, 5000, 1 << 20, 3 << 30, 5 << 30}},
		{"native, beyond 160 buckets", durations, true, wide},
		{"native form", nil, true, []float64{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := family.Classic
			switch {
			case tc.bounds == nil:
				form = family.Native
			case tc.native:
				form = family.Both
			}
			ours := testVec(t, tc.bounds, form, "job_id")
			ref := clientGolangHistogram(tc.bounds, tc.native)
			for i, x := range tc.values {
				id := int64(100 + i)
				ours.observe(values("g/app", "rspec"), x, id)
				ref.WithLabelValues("g/app", "rspec").(prometheus.ExemplarObserver).
					ObserveWithExemplar(x, prometheus.Labels{"job_id": strconv.FormatInt(id, 10)})
			}
			got, want := withoutTimestamps(collectOne(t, ours)), withoutTimestamps(collectOne(t, ref))
			if form == family.Native {
				// client_golang without classic buckets still writes a +Inf
				// bucket to carry an exemplar; the native form's exemplars
				// are the native histogram's own.
				want.Histogram.Bucket = nil
			}
			if !proto.Equal(got, want) {
				t.Errorf("histogramVec wrote\n%v\nclient_golang writes\n%v", got, want)
			}
			if tc.name == "native, beyond 160 buckets" && got.GetHistogram().GetSchema() >= promdto.Schema {
				t.Errorf("schema %d: the resolution was not lowered", got.GetHistogram().GetSchema())
			}
		})
	}
}

func defaultArtifactBounds() []float64 {
	var b []float64
	for v := float64(1 << 10); v <= 4<<30; v *= 4 {
		b = append(b, v)
	}
	return b
}

func TestHistogramCountsNothingTwiceWhenResolutionDrops(t *testing.T) {
	v := testVec(t, nil, family.Native, "")
	var n uint64
	for x := 1e-6; x < 1e12; x *= 1.01 {
		v.observe(values("p", "j"), x, 0)
		n++
	}
	h := collectOne(t, v).GetHistogram()
	var inBuckets int64
	var running int64
	buckets := 0
	for _, d := range h.GetPositiveDelta() {
		running += d
		inBuckets += running
		buckets++
	}
	if uint64(inBuckets)+h.GetZeroCount() != n || h.GetSampleCount() != n {
		t.Errorf("native buckets hold %d + zero %d, count %d; observed %d", inBuckets, h.GetZeroCount(), h.GetSampleCount(), n)
	}
	if buckets > maxNativeBuckets {
		t.Errorf("%d native buckets, limit %d", buckets, maxNativeBuckets)
	}
}

func TestHistogramExemplarsInOpenMetrics(t *testing.T) {
	v := testVec(t, []float64{10, 60}, family.Classic, "job_id")
	v.now = func() time.Time { return time.Unix(1700000000, 0) }
	v.observe(values("g/app", "x"), 42, 7)
	v.observe(values("g/app", "x"), 45, 8) // same bucket: the newer exemplar wins
	v.observe(values("g/app", "x"), 100, 9)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(v)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		`h_bucket{job_name="x",project="g/app",le="60.0"} 2 # {job_id="8"} 45.0 1.7e+09`,
		`h_bucket{job_name="x",project="g/app",le="+Inf"} 3 # {job_id="9"} 100.0 1.7e+09`,
		`h_count{job_name="x",project="g/app"} 3`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("OpenMetrics output lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestNativeFormKeepsTheLatestExemplar: without classic buckets a series
// carries one exemplar, its latest job's, on the native histogram.
func TestNativeFormKeepsTheLatestExemplar(t *testing.T) {
	v := testVec(t, []float64{10, 60}, family.Native, "job_id")
	v.now = func() time.Time { return time.Unix(1700000000, 0) }
	for i, x := range []float64{42, 5, 100} {
		v.observe(values("g/app", "x"), x, int64(7+i))
	}
	h := collectOne(t, v).GetHistogram()
	if len(h.GetBucket()) != 0 || len(h.GetExemplars()) != 1 {
		t.Fatalf("%d classic buckets and %d exemplars, want 0 and 1", len(h.GetBucket()), len(h.GetExemplars()))
	}
	e := h.GetExemplars()[0]
	if e.GetValue() != 100 || e.GetLabel()[0].GetValue() != "9" || e.GetTimestamp().AsTime().Unix() != 1700000000 {
		t.Errorf("exemplar %v, want job 9's 100 at 1700000000", e)
	}
}

func TestHistogramConcurrentObserveAndGather(t *testing.T) {
	v := testVec(t, []float64{1, 10}, family.Both, "job_id")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(v)
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				v.observe(values("p", strconv.Itoa(i%7+1)), float64(i), int64(w*each+i+1))
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, m := range mfs[0].Metric {
		total += m.GetHistogram().GetSampleCount()
	}
	if total != writers*each {
		t.Errorf("counted %d observations, want %d", total, writers*each)
	}
}
