package collector

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector/internal/promdto"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// histogramVec is a histogram family's series, kept compactly and exported
// through client_golang as const metrics (histogram_dto.go).
//
// client_golang's HistogramVec keeps, per series, two copies of its counts
// for lock-free writes, a sync.Map entry per native bucket in each copy, and
// a full protobuf exemplar per bucket. With tens of thousands of series
// that was about 90 % of the exporter's heap. Observations here are rare
// (one per job), so a mutex and plain slices do: the same exposition at an
// eighth of the memory.
type histogramVec struct {
	*configured
	desc          *prometheus.Desc
	bounds        []float64 // classic upper bounds, without +Inf
	exemplarLabel string    // "" when exemplars are off
	now           func() time.Time

	seriesIndex[*histogramSeries]
}

// Native histograms are client_golang's with a bucket factor of 1.1 and its
// default zero threshold (promdto); a series that needs more than
// maxNativeBuckets buckets halves its resolution instead of being reset, so
// nothing counted is ever lost.
const maxNativeBuckets = 160

type histogramSeries struct {
	seriesMeta
	count     uint64
	sum       float64
	buckets   []uint64   // per classic bucket, not cumulative; the last is +Inf; nil in the native form
	exemplars []exemplar // at most one per classic bucket, by bucket; the native form's latest
	native    *nativeHistogram
}

func (s *histogramSeries) meta() *seriesMeta { return &s.seriesMeta }

// exemplar is the latest observation of a classic bucket. Series keep
// only those of buckets that had one: most series have seen a few jobs.
type exemplar struct {
	bucket int32
	id     int64
	value  float64
	at     int64 // unix milliseconds, the precision Prometheus keeps
}

func (s *histogramSeries) setExemplar(e exemplar) {
	k, found := slices.BinarySearchFunc(s.exemplars, e.bucket, func(e exemplar, b int32) int { return cmp.Compare(e.bucket, b) })
	if found {
		s.exemplars[k] = e
		return
	}
	s.exemplars = slices.Insert(s.exemplars, k, e)
}

type nativeHistogram struct {
	schema   int32
	zero     uint64
	pos, neg sparseBuckets
}

// sparseBuckets are the native buckets that have counts, ascending by
// index, each packed in a uint64: the index (offset by 1<<15) in the top
// 16 bits, the count in the low 48. Indexes stay within ±8,700 (float64's
// range at schema 3); a count would need 2.8e14 jobs to overflow.
type sparseBuckets struct {
	packed []uint64
}

const (
	countBits  = 48
	countMask  = 1<<countBits - 1
	indexShift = 1 << 15
)

func packedIndex(p uint64) int32          { return int32(p>>countBits) - indexShift }
func packBucket(i int32, n uint64) uint64 { return uint64(i+indexShift)<<countBits | n }

func newHistogramVec(f *configured, m family.Metric, exemplarLabel string, now func() time.Time) *histogramVec {
	v := &histogramVec{
		configured:    f,
		desc:          prometheus.NewDesc(m.Name, m.Help+fromPolling, f.labelNames(), nil),
		bounds:        slices.Clone(f.Buckets),
		exemplarLabel: exemplarLabel,
		now:           now,
		seriesIndex:   newSeriesIndex[*histogramSeries](f),
	}
	if n := len(v.bounds); n > 0 && math.IsInf(v.bounds[n-1], +1) {
		v.bounds = v.bounds[:n-1] // +Inf is implicit
	}
	return v
}

// observe adds x to the series of these label values; exemplarID, when
// not 0, becomes the exemplar of x's classic bucket.
func (v *histogramVec) observe(values *labelValues, x float64, exemplarID int64) {
	key := v.key(values)
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.series[key]
	if s == nil {
		s = &histogramSeries{seriesMeta: newSeriesMeta(now)}
		if v.Form != family.Native {
			s.buckets = make([]uint64, len(v.bounds)+1)
		}
		if v.Form != family.Classic {
			s.native = &nativeHistogram{schema: promdto.Schema}
		}
		v.add(key, s)
	}
	s.touch(now)
	b := sort.SearchFloat64s(v.bounds, x) // first bound >= x; len(bounds) is +Inf
	if s.buckets != nil {
		s.buckets[b]++
	}
	s.count++
	s.sum += x
	if exemplarID != 0 && v.exemplarLabel != "" {
		e := exemplar{bucket: int32(b), id: exemplarID, value: x, at: now.UnixMilli()}
		if s.buckets == nil {
			// The native form keeps the latest only: Prometheus stores
			// each new one it scrapes, so every job's exemplar still
			// reaches it unless two jobs of one series finish between
			// two scrapes, and a scrape carries one per series.
			s.exemplars = append(s.exemplars[:0], e)
		} else {
			s.setExemplar(e)
		}
	}
	if s.native != nil && !math.IsNaN(x) {
		s.native.observe(x)
	}
}

func (v *histogramVec) describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// collect sends every series as its message (build). The messages are built
// under the lock, which holds up recording jobs only for as long as that
// takes: Gather encodes after Collect returns.
func (v *histogramVec) collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	metrics := make([]prometheus.Metric, 0, len(v.series))
	for _, key := range v.inOrder() {
		metrics = append(metrics, builtMetric{v.desc, v.build(key, v.series[key])})
	}
	v.mu.Unlock()
	for _, m := range metrics {
		ch <- m
	}
}

// observe counts x into its native bucket, as client_golang does.
func (n *nativeHistogram) observe(x float64) {
	switch {
	case x > promdto.ZeroThreshold:
		n.pos.add(promdto.Index(x, n.schema))
	case x < -promdto.ZeroThreshold:
		n.neg.add(promdto.Index(-x, n.schema))
	default:
		n.zero++
	}
	for len(n.pos.packed)+len(n.neg.packed) > maxNativeBuckets && n.schema > promdto.MinSchema {
		n.schema--
		n.pos.halveResolution()
		n.neg.halveResolution()
	}
}

func (b *sparseBuckets) add(i int32) {
	key := packBucket(i, 0)
	k, _ := slices.BinarySearch(b.packed, key)
	if k < len(b.packed) && packedIndex(b.packed[k]) == i {
		b.packed[k]++
		return
	}
	b.packed = slices.Insert(b.packed, k, packBucket(i, 1))
}

// halveResolution merges pairs of buckets for the next lower schema.
func (b *sparseBuckets) halveResolution() {
	out := 0
	for _, p := range b.packed {
		i, n := promdto.Merged(packedIndex(p)), p&countMask
		if out > 0 && packedIndex(b.packed[out-1]) == i {
			b.packed[out-1] += n
			continue
		}
		b.packed[out] = packBucket(i, n)
		out++
	}
	b.packed = b.packed[:out]
}
