package collector

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// histogramVec is a histogram with variable labels, kept compactly.
//
// client_golang's HistogramVec keeps, per series, two copies of its counts
// for lock-free writes, a sync.Map entry per native bucket in each copy, and
// a full protobuf exemplar per bucket. With tens of thousands of series
// (every project × ref × stage × job × status that ever ran) that was about
// 90 % of the exporter's heap. Observations here are rare (one per job), so
// a mutex and plain slices do: the same exposition at an eighth of the memory.
type histogramVec struct {
	name, help string
	desc       *prometheus.Desc
	seriesLabels
	bounds        []float64 // classic upper bounds, without +Inf
	native        bool
	exemplarLabel string // "" when exemplars are off
	now           func() time.Time

	seriesIndex[*histogramSeries]

	lastProtoSize atomic.Int64 // bytes of the last protobuf family written
}

// Native histograms as client_golang builds them with a bucket factor of
// 1.1 and its default zero threshold; a series that needs more than
// maxNativeBuckets buckets halves its resolution instead of being reset, so
// nothing counted is ever lost.
const (
	nativeSchema     = 3
	nativeMinSchema  = -4
	maxNativeBuckets = 160
)

var nativeZeroThreshold = prometheus.DefNativeHistogramZeroThreshold

// nativeBoundsSchema3 are client_golang's bucket bounds for schema 3 (the
// fractions of math.Frexp), copied so that values fall into the same buckets.
var nativeBoundsSchema3 = []float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

type histogramSeries struct {
	key       string // label values joined with labelSep, in the declared order
	created   int64  // unix nanoseconds
	count     uint64
	sum       float64
	buckets   []uint64   // per classic bucket, not cumulative; the last is +Inf
	exemplars []exemplar // at most one per classic bucket, by bucket
	native    *nativeHistogram
}

func (s *histogramSeries) seriesKey() string { return s.key }

// exemplar is the latest observation of a classic bucket. Series keep
// only those of buckets that had one: most series have seen a few jobs.
type exemplar struct {
	bucket int32
	id     int64
	value  float64
	at     int64 // unix milliseconds, the precision Prometheus keeps
}

// exemplarAt returns the exemplar of classic bucket b, or nil.
func (s *histogramSeries) exemplarAt(b int) *exemplar {
	k, found := slices.BinarySearchFunc(s.exemplars, int32(b), func(e exemplar, b int32) int { return cmp.Compare(e.bucket, b) })
	if !found {
		return nil
	}
	return &s.exemplars[k]
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

func newHistogramVec(name, help string, bounds []float64, native bool, exemplarLabel string, labels ...string) *histogramVec {
	l := newSeriesLabels(labels)
	v := &histogramVec{
		name:          name,
		help:          help,
		desc:          prometheus.NewDesc(name, help, labels, nil),
		seriesLabels:  l,
		bounds:        slices.Clone(bounds),
		native:        native,
		exemplarLabel: exemplarLabel,
		now:           time.Now,
		seriesIndex:   newSeriesIndex[*histogramSeries](l),
	}
	if n := len(v.bounds); n > 0 && math.IsInf(v.bounds[n-1], +1) {
		v.bounds = v.bounds[:n-1] // +Inf is implicit
	}
	return v
}

// observe adds v to the series with these label values; exemplarID, when
// not 0, becomes the exemplar of v's classic bucket.
func (v *histogramVec) observe(values []string, x float64, exemplarID int64) {
	key := strings.Join(values, labelSep)
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.series[key]
	if s == nil {
		s = &histogramSeries{key: key, created: v.now().UnixNano(), buckets: make([]uint64, len(v.bounds)+1)}
		if v.native {
			s.native = &nativeHistogram{schema: nativeSchema}
		}
		v.add(s)
	}
	b := sort.SearchFloat64s(v.bounds, x) // first bound >= x; len(bounds) is +Inf
	s.buckets[b]++
	s.count++
	s.sum += x
	if exemplarID != 0 && v.exemplarLabel != "" {
		s.setExemplar(exemplar{bucket: int32(b), id: exemplarID, value: x, at: v.now().UnixMilli()})
	}
	if s.native != nil && !math.IsNaN(x) {
		s.native.observe(x)
	}
}

// Describe implements prometheus.Collector.
func (v *histogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector. It holds the lock only to list
// the series; each is read under the lock when written out.
func (v *histogramVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	metrics := make([]histogramMetric, 0, len(v.series))
	for _, s := range v.series {
		metrics = append(metrics, histogramMetric{vec: v, series: s})
	}
	v.mu.Unlock()
	for i := range metrics {
		ch <- &metrics[i]
	}
}

type histogramMetric struct {
	vec    *histogramVec
	series *histogramSeries
}

func (m *histogramMetric) Desc() *prometheus.Desc { return m.vec.desc }

// Write implements prometheus.Metric, with the exposition client_golang
// gives a histogram: cumulative buckets, an explicit +Inf bucket only when
// it holds an exemplar, and the native buckets alongside.
func (m *histogramMetric) Write(out *dto.Metric) error {
	v, s := m.vec, m.series
	// Values are split off the key here rather than kept per series:
	// a scrape's garbage is cheaper than memory held for every series.
	out.Label = v.labelPairs(strings.Split(s.key, labelSep))

	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.bounds)
	h := &dto.Histogram{
		SampleCount:      new(s.count),
		SampleSum:        new(s.sum),
		CreatedTimestamp: timestamppb.New(time.Unix(0, s.created)),
	}
	withInf := s.exemplarAt(n) != nil
	buckets := make([]dto.Bucket, n, n+1)
	cumulative := make([]uint64, n+1)
	h.Bucket = make([]*dto.Bucket, 0, n+1)
	var sum uint64
	for i := range n {
		sum += s.buckets[i]
		cumulative[i] = sum
		buckets[i].CumulativeCount = &cumulative[i]
		buckets[i].UpperBound = &v.bounds[i]
		h.Bucket = append(h.Bucket, &buckets[i])
	}
	if withInf {
		cumulative[n] = s.count
		buckets = append(buckets, dto.Bucket{CumulativeCount: &cumulative[n], UpperBound: new(math.Inf(+1))})
		h.Bucket = append(h.Bucket, &buckets[n])
	}
	v.writeExemplars(h.Bucket, s.exemplars)
	if s.native != nil {
		s.native.write(h)
	}
	out.Histogram = h
	return nil
}

// labelPairs builds the sorted label pairs of a series, pointing into the
// series' own values rather than copying them.
func (v *histogramVec) labelPairs(values []string) []*dto.LabelPair {
	pairs := make([]dto.LabelPair, len(v.labelNames))
	out := make([]*dto.LabelPair, len(v.labelNames))
	for i := range v.labelNames {
		pairs[i].Name = &v.labelNames[i]
		pairs[i].Value = &values[v.labelOrder[i]]
		out[i] = &pairs[i]
	}
	return out
}

// writeExemplars attaches the exemplars to their buckets. A scrape writes
// tens of thousands of them, so each kind of object is allocated once for
// all exemplars of the series.
func (v *histogramVec) writeExemplars(buckets []*dto.Bucket, exemplars []exemplar) {
	n := len(exemplars)
	if n == 0 {
		return
	}
	var (
		protos     = make([]dto.Exemplar, n)
		pairs      = make([]dto.LabelPair, n)
		pairPtrs   = make([]*dto.LabelPair, n)
		ids        = make([]string, n)
		values     = make([]float64, n)
		timestamps = make([]timestamppb.Timestamp, n)
	)
	for k, e := range exemplars {
		if int(e.bucket) >= len(buckets) {
			continue
		}
		ids[k] = strconv.FormatInt(e.id, 10)
		values[k] = e.value
		timestamps[k].Seconds, timestamps[k].Nanos = e.at/1000, int32(e.at%1000)*1e6
		pairs[k].Name, pairs[k].Value = &v.exemplarLabel, &ids[k]
		pairPtrs[k] = &pairs[k]
		protos[k].Label, protos[k].Value, protos[k].Timestamp = pairPtrs[k:k+1:k+1], &values[k], &timestamps[k]
		buckets[e.bucket].Exemplar = &protos[k]
	}
}

// observe counts x into its native bucket, as client_golang does.
func (n *nativeHistogram) observe(x float64) {
	switch {
	case x > nativeZeroThreshold:
		n.pos.add(nativeIndex(x, n.schema))
	case x < -nativeZeroThreshold:
		n.neg.add(nativeIndex(-x, n.schema))
	default:
		n.zero++
	}
	for len(n.pos.packed)+len(n.neg.packed) > maxNativeBuckets && n.schema > nativeMinSchema {
		n.schema--
		n.pos.halveResolution()
		n.neg.halveResolution()
	}
}

// nativeIndex is the index of the bucket holding x > 0 at the given schema:
// bucket i holds (2^((i-1)/2^schema), 2^(i/2^schema)].
func nativeIndex(x float64, schema int32) int32 {
	inf := math.IsInf(x, +1)
	if inf {
		x = math.MaxFloat64 // and one bucket above it, as client_golang does
	}
	frac, exp := math.Frexp(x)
	// The index at schema 3, then merged down: at one schema lower, buckets
	// 2i-1 and 2i of the higher one become bucket i.
	i := int32(sort.SearchFloat64s(nativeBoundsSchema3, frac) + (exp-1)*len(nativeBoundsSchema3))
	for s := int32(nativeSchema); s > schema; s-- {
		i = ceilHalf(i)
	}
	if inf {
		i++
	}
	return i
}

func ceilHalf(i int32) int32 {
	if i > 0 {
		return (i + 1) / 2
	}
	return i / 2 // rounds towards zero, which is up for negative i
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
		i, n := ceilHalf(packedIndex(p)), p&countMask
		if out > 0 && packedIndex(b.packed[out-1]) == i {
			b.packed[out-1] += n
			continue
		}
		b.packed[out] = packBucket(i, n)
		out++
	}
	b.packed = b.packed[:out]
}

func (n *nativeHistogram) write(h *dto.Histogram) {
	h.Schema = new(n.schema)
	h.ZeroThreshold = new(nativeZeroThreshold)
	h.ZeroCount = new(n.zero)
	h.NegativeSpan, h.NegativeDelta = n.neg.dtoSpans()
	h.PositiveSpan, h.PositiveDelta = n.pos.dtoSpans()
}

type bucketSpan struct {
	offset int32
	length uint32
}

// spans lays the buckets out as client_golang does: gaps of up to two
// empty buckets are written as zeros rather than starting a new span.
func (b *sparseBuckets) spans() ([]bucketSpan, []int64) {
	if len(b.packed) == 0 {
		return nil, nil
	}
	var (
		spans  []bucketSpan
		deltas = make([]int64, 0, len(b.packed))
		prev   int64
		next   int32
	)
	appendDelta := func(count int64) {
		spans[len(spans)-1].length++
		deltas = append(deltas, count-prev)
		prev = count
	}
	for k, p := range b.packed {
		i := packedIndex(p)
		gap := i - next
		if k == 0 || gap > 2 {
			spans = append(spans, bucketSpan{offset: gap})
		} else {
			for range gap {
				appendDelta(0)
			}
		}
		appendDelta(int64(p & countMask))
		next = i + 1
	}
	return spans, deltas
}

// dtoSpans is spans for client_model.
func (b *sparseBuckets) dtoSpans() ([]*dto.BucketSpan, []int64) {
	spans, deltas := b.spans()
	if spans == nil {
		return nil, nil
	}
	out := make([]*dto.BucketSpan, len(spans))
	for i, sp := range spans {
		out[i] = &dto.BucketSpan{Offset: new(sp.offset), Length: new(sp.length)}
	}
	return out, deltas
}
