// Package promdto re-creates what client_golang v1.25.0 (the version in
// go.mod) does internally, so that the collector can write its compact
// series as the messages client_golang would write for them:
//
//   - native histograms: the bucket a value falls in at schema 3 (a bucket
//     factor of 1.1) and below, the bucket two buckets merge into when the
//     resolution halves, and the span and delta encoding of the buckets;
//   - order: label pairs sorted by name, and a family's series in the order
//     Gather sorts them into.
//
// TestNativeMatchesClientGolang and TestOrderMatchesClientGolang hold each
// to client_golang's own output: an upgrade that changes any of it fails
// them.
package promdto

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const (
	// Schema is the schema client_golang picks for a bucket factor of 1.1.
	Schema = 3
	// MinSchema is the lowest it halves the resolution down to.
	MinSchema = -4
)

// ZeroThreshold is client_golang's default zero threshold (a variable: the
// messages point to it).
var ZeroThreshold = prometheus.DefNativeHistogramZeroThreshold

// boundsSchema3 are client_golang's bucket bounds for schema 3 (the
// fractions of math.Frexp), copied so that values fall into the same buckets.
var boundsSchema3 = []float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

// Index is the index of the bucket holding x > 0 at the given schema (at
// most Schema): bucket i holds (2^((i-1)/2^schema), 2^(i/2^schema)].
func Index(x float64, schema int32) int32 {
	inf := math.IsInf(x, +1)
	if inf {
		x = math.MaxFloat64 // and one bucket above it, as client_golang does
	}
	frac, exp := math.Frexp(x)
	// The index at schema 3, then merged down.
	i := int32(sort.SearchFloat64s(boundsSchema3, frac) + (exp-1)*len(boundsSchema3))
	for s := int32(Schema); s > schema; s-- {
		i = Merged(i)
	}
	if inf {
		i++
	}
	return i
}

// Merged is the bucket that bucket i is part of at one schema lower:
// buckets 2i-1 and 2i become bucket i.
func Merged(i int32) int32 {
	if i > 0 {
		return (i + 1) / 2
	}
	return i / 2 // rounds towards zero, which is up for negative i
}

// Spans encodes n native buckets as client_golang does: a gap of one or two
// empty buckets stays inside a span, a longer one starts the next.
// bucket(k) is the index and count of the k-th bucket that has a count, in
// ascending order of index.
func Spans(n int, bucket func(k int) (int32, int64)) ([]*dto.BucketSpan, []int64) {
	if n == 0 {
		return nil, nil
	}
	var (
		spans  []*dto.BucketSpan
		deltas = make([]int64, 0, n)
		prev   int64
		next   int32
	)
	add := func(count int64) {
		*spans[len(spans)-1].Length++
		deltas = append(deltas, count-prev)
		prev = count
	}
	for k := range n {
		i, count := bucket(k)
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

// SetNative marks h, its spans and deltas set, a native histogram of this
// schema and zero count, as NewConstNativeHistogram does, with the default
// zero threshold.
func SetNative(h *dto.Histogram, schema int32, zero uint64) {
	h.Schema, h.ZeroThreshold, h.ZeroCount = &schema, &ZeroThreshold, &zero
	if ZeroThreshold == 0 && zero == 0 && len(h.PositiveSpan) == 0 && len(h.NegativeSpan) == 0 {
		// A histogram with no bucket at all is still marked native.
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32), Length: new(uint32)}}
	}
}

// LabelOrder is a family's labels as client_golang writes them: sorted by
// name. Series are known by a key; value(key, i) is the value of the i-th
// label in the family's own order.
type LabelOrder struct {
	names []string
	pos   []int // of each name, in the family's order
	value func(key string, i int) string
}

// NewLabelOrder orders labels, given in the family's order.
func NewLabelOrder(labels []string, value func(key string, i int) string) LabelOrder {
	o := LabelOrder{names: slices.Clone(labels), pos: make([]int, len(labels)), value: value}
	for i := range o.pos {
		o.pos[i] = i
	}
	slices.SortFunc(o.pos, func(a, b int) int { return cmp.Compare(labels[a], labels[b]) })
	for i, p := range o.pos {
		o.names[i] = labels[p]
	}
	return o
}

// Compare orders keys as Gather orders their metrics: value by value,
// labels by name.
func (o *LabelOrder) Compare(a, b string) int {
	for _, p := range o.pos {
		if c := strings.Compare(o.value(a, p), o.value(b, p)); c != 0 {
			return c
		}
	}
	return 0
}

// Pairs are the label pairs of a series with these values, in the family's
// order. The pairs point into values and the order's names: the messages
// are read, never changed.
func (o *LabelOrder) Pairs(values []string) []*dto.LabelPair {
	pairs := make([]dto.LabelPair, len(o.pos))
	out := make([]*dto.LabelPair, len(o.pos))
	for i, p := range o.pos {
		pairs[i].Name, pairs[i].Value = &o.names[i], &values[p]
		out[i] = &pairs[i]
	}
	return out
}
