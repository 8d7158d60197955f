package promdto

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

const maxBuckets = 160

// native counts values the way the collector does, with this package: a
// bucket index per value, buckets merged when there are too many.
type native struct {
	schema   int32
	zero     uint64
	pos, neg map[int32]int64
}

func (n *native) observe(x float64) {
	switch {
	case x > ZeroThreshold:
		n.pos[Index(x, n.schema)]++
	case x < -ZeroThreshold:
		n.neg[Index(-x, n.schema)]++
	default:
		n.zero++
	}
	for len(n.pos)+len(n.neg) > maxBuckets && n.schema > MinSchema {
		n.schema--
		n.pos, n.neg = merged(n.pos), merged(n.neg)
	}
}

func merged(buckets map[int32]int64) map[int32]int64 {
	out := map[int32]int64{}
	for i, n := range buckets {
		out[Merged(i)] += n
	}
	return out
}

func spans(buckets map[int32]int64) ([]*dto.BucketSpan, []int64) {
	indexes := slices.Sorted(maps.Keys(buckets))
	return Spans(len(indexes), func(k int) (int32, int64) { return indexes[k], buckets[indexes[k]] })
}

// TestNativeMatchesClientGolang: bucket indexes, merging and the span
// encoding give the native histogram client_golang writes for the same
// values (bucket factor 1.1, at most 160 buckets, no reset and no zero
// bucket widening, so that it halves its resolution instead).
func TestNativeMatchesClientGolang(t *testing.T) {
	var wide []float64 // ~180 buckets at schema 3: the resolution halves
	for x := 0.001; x < 1e5; x *= 1.07 {
		wide = append(wide, x)
	}
	var wider []float64 // down to the lowest schema
	for x := 1e-300; x < 1e300; x *= 1.5 {
		wider = append(wider, x, -x)
	}
	for _, tc := range []struct {
		name          string
		zeroThreshold float64
		values        []float64
	}{
		{"nothing", 0, nil},
		{"nothing, zero threshold 0", prometheus.NativeHistogramZeroThresholdZero, nil},
		{"durations", 0, []float64{0, 0, 1, 1.5, 2, 4, 42, 42.1, 59.9, 60, 61, 3600, 14399, 1e6}},
		{"exact powers of two", 0, []float64{0.5, 1, 2, 4, 8, 1024}},
		{"negative and infinite", 0, []float64{-3, -0.25, math.Inf(+1), math.Inf(-1), 1e-300}},
		{"gaps", 0, []float64{1, 1.2, 1.5, 3, 100, 1e4}},
		{"beyond 160 buckets", 0, wide},
		{"lowest schema", 0, wider},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.zeroThreshold < 0 {
				defer func(z float64) { ZeroThreshold = z }(ZeroThreshold)
				ZeroThreshold = 0
			}
			ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h",
				NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: maxBuckets,
				NativeHistogramZeroThreshold: tc.zeroThreshold})
			ours := native{schema: Schema, pos: map[int32]int64{}, neg: map[int32]int64{}}
			for _, x := range tc.values {
				ref.Observe(x)
				ours.observe(x)
			}
			var m dto.Metric
			if err := ref.Write(&m); err != nil {
				t.Fatal(err)
			}
			r := m.GetHistogram()
			want := &dto.Histogram{Schema: r.Schema, ZeroThreshold: r.ZeroThreshold, ZeroCount: r.ZeroCount,
				NegativeSpan: r.NegativeSpan, NegativeDelta: r.NegativeDelta,
				PositiveSpan: r.PositiveSpan, PositiveDelta: r.PositiveDelta}
			got := &dto.Histogram{}
			got.NegativeSpan, got.NegativeDelta = spans(ours.neg)
			got.PositiveSpan, got.PositiveDelta = spans(ours.pos)
			SetNative(got, ours.schema, ours.zero)
			if !proto.Equal(got, want) {
				t.Errorf("got\n%v\nclient_golang writes\n%v", got, want)
			}
			if tc.name == "lowest schema" && got.GetSchema() != MinSchema {
				t.Errorf("schema %d, want %d", got.GetSchema(), MinSchema)
			}
		})
	}
}

// TestOrderMatchesClientGolang: label pairs and the order of series are
// those Gather writes.
func TestOrderMatchesClientGolang(t *testing.T) {
	labels := []string{"project", "ref", "stage", "job_name", "status"} // job_name sorts first
	// Values that are prefixes of each other, empty, or differ only in a
	// later label: where joined keys and label-by-label order disagree.
	words := []string{"", "a", "ab", "a b", "b", "main", "x/y"}
	rng := rand.New(rand.NewPCG(1, 2))
	var keys []string
	for range 300 {
		values := make([]string, len(labels))
		for i := range values {
			values[i] = words[rng.IntN(len(words))]
		}
		if key := strings.Join(values, "\xff"); !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	value := func(key string, i int) string { return strings.Split(key, "\xff")[i] }
	order := NewLabelOrder(labels, value)

	desc := prometheus.NewDesc("g", "g", labels, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		for i, key := range keys {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(i), strings.Split(key, "\xff")...)
		}
	}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gathered := mfs[0].GetMetric()

	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, order.Compare)
	for n, m := range gathered {
		key := keys[int(m.GetGauge().GetValue())]
		if key != sorted[n] {
			t.Fatalf("metric %d: Gather writes %q, Compare sorts %q there", n, key, sorted[n])
		}
		if pairs := order.Pairs(strings.Split(key, "\xff")); !slices.EqualFunc(pairs, m.GetLabel(), func(a, b *dto.LabelPair) bool { return proto.Equal(a, b) }) {
			t.Fatalf("pairs %v, Gather writes %v", pairs, m.GetLabel())
		}
	}
	if len(gathered) != len(keys) {
		t.Fatalf("gathered %d metrics, want %d", len(gathered), len(keys))
	}
}
