package collector

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// A series is handed to the registry as the protobuf message client_golang
// would write for it, built straight from the compact store. The const
// constructors take a map of buckets, validate, sort it, and write it again
// on every Gather, and the exemplar wrapper writes the histogram once more:
// at tens of thousands of series that was most of the time /metrics took.
// TestHistogramMatchesClientGolang holds the messages to client_golang's own
// output, field by field.

// builtMetric is a series' message, built under the family's lock.
type builtMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (b builtMetric) Desc() *prometheus.Desc { return b.desc }

func (b builtMetric) Write(out *dto.Metric) error {
	out.Label, out.Histogram = b.m.Label, b.m.Histogram
	return nil
}

// labelOrder is the family's labels as client_golang writes them: sorted by
// name. pos maps each to its place in a series key.
type labelOrder struct {
	names []string
	pos   []int
}

func newLabelOrder(names []string) labelOrder {
	o := labelOrder{names: slices.Clone(names), pos: make([]int, len(names))}
	for i := range o.pos {
		o.pos[i] = i
	}
	slices.SortFunc(o.pos, func(a, b int) int { return cmp.Compare(names[a], names[b]) })
	for i, p := range o.pos {
		o.names[i] = names[p]
	}
	return o
}

// compare orders keys as the registry orders their metrics: value by value,
// labels by name.
func (o *labelOrder) compare(a, b string) int {
	for _, p := range o.pos {
		if c := strings.Compare(keyField(a, p), keyField(b, p)); c != 0 {
			return c
		}
	}
	return 0
}

// pairs are the label pairs of the series with this key. The values point
// into one slice, the names into the family's: the messages are read, never
// changed.
func (o *labelOrder) pairs(key string) []*dto.LabelPair {
	values := splitKey(key, len(o.pos))
	pairs := make([]dto.LabelPair, len(o.pos))
	out := make([]*dto.LabelPair, len(o.pos))
	for i, p := range o.pos {
		pairs[i].Name, pairs[i].Value = &o.names[i], &values[p]
		out[i] = &pairs[i]
	}
	return out
}

// build is one series' message in the family's form: classic buckets with
// their exemplars, a native histogram (with the exemplars when it has no
// classic buckets), or both.
func (v *histogramVec) build(key string, s *histogramSeries) *dto.Metric {
	count, sum := s.count, s.sum
	h := &dto.Histogram{SampleCount: &count, SampleSum: &sum, CreatedTimestamp: timestamppb.New(time.Unix(0, s.created))}
	if v.Form != family.Native {
		h.Bucket = v.classicBuckets(s)
	}
	if v.Form != family.Classic {
		v.native(h, s.native)
	}
	if len(s.exemplars) > 0 && v.exemplarLabel != "" {
		v.addExemplars(h, s)
	}
	return &dto.Metric{Label: v.byName.pairs(key), Histogram: h}
}

// classicBuckets are the cumulative buckets, without +Inf (implied by the
// sample count), as NewConstHistogram writes them.
func (v *histogramVec) classicBuckets(s *histogramSeries) []*dto.Bucket {
	n := len(v.bounds)
	buckets := make([]dto.Bucket, n)
	counts := make([]uint64, n)
	out := make([]*dto.Bucket, n)
	var cum uint64
	for i := range n {
		cum += s.buckets[i]
		counts[i] = cum
		buckets[i].CumulativeCount, buckets[i].UpperBound = &counts[i], &v.bounds[i]
		out[i] = &buckets[i]
	}
	return out
}

// native fills in the native histogram as NewConstNativeHistogram does.
func (v *histogramVec) native(h *dto.Histogram, n *nativeHistogram) {
	schema, zero := n.schema, n.zero
	h.Schema, h.ZeroThreshold, h.ZeroCount = &schema, &nativeZeroThreshold, &zero
	h.NegativeSpan, h.NegativeDelta = n.neg.spans()
	h.PositiveSpan, h.PositiveDelta = n.pos.spans()
	if nativeZeroThreshold == 0 && zero == 0 && len(h.PositiveSpan) == 0 && len(h.NegativeSpan) == 0 {
		// A histogram with no bucket at all is still marked native.
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32), Length: new(uint32)}}
	}
}

// spans are the buckets as spans and deltas, as client_golang encodes them:
// a gap of one or two empty buckets stays inside a span, a longer one
// starts the next.
func (b *sparseBuckets) spans() ([]*dto.BucketSpan, []int64) {
	if len(b.packed) == 0 {
		return nil, nil
	}
	var (
		spans  []*dto.BucketSpan
		deltas = make([]int64, 0, len(b.packed))
		prev   int64
		next   int32
	)
	add := func(count int64) {
		*spans[len(spans)-1].Length++
		deltas = append(deltas, count-prev)
		prev = count
	}
	for k, p := range b.packed {
		i, count := packedIndex(p), int64(p&countMask)
		gap := i - next
		if k == 0 || gap > 2 {
			offset, length := gap, uint32(0)
			spans = append(spans, &dto.BucketSpan{Offset: &offset, Length: &length})
		} else {
			for range gap {
				add(0)
			}
		}
		add(count)
		next = i + 1
	}
	return spans, deltas
}

// addExemplars places the exemplars as client_golang's NewMetricWithExemplars
// does: on the classic bucket each falls in (+Inf added to carry one above
// the last bound), or, with no classic buckets, on the native histogram.
func (v *histogramVec) addExemplars(h *dto.Histogram, s *histogramSeries) {
	for _, e := range s.exemplars {
		ex := &dto.Exemplar{
			Label:     []*dto.LabelPair{{Name: &v.exemplarLabel, Value: new(strconv.FormatInt(e.id, 10))}},
			Value:     new(e.value),
			Timestamp: timestamppb.New(time.UnixMilli(e.at)),
		}
		switch {
		case v.Form == family.Native:
			h.Exemplars = append(h.Exemplars, ex)
		case int(e.bucket) < len(h.Bucket):
			h.Bucket[e.bucket].Exemplar = ex
		default:
			inf := math.Inf(+1)
			h.Bucket = append(h.Bucket, &dto.Bucket{CumulativeCount: new(h.GetSampleCount()), UpperBound: &inf, Exemplar: ex})
		}
	}
}
