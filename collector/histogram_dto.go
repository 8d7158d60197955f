package collector

import (
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector/internal/promdto"
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
		n := s.native
		h.NegativeSpan, h.NegativeDelta = n.neg.spans()
		h.PositiveSpan, h.PositiveDelta = n.pos.spans()
		promdto.SetNative(h, n.schema, n.zero)
	}
	if len(s.exemplars) > 0 && v.exemplarLabel != "" {
		v.addExemplars(h, s)
	}
	return &dto.Metric{Label: v.byName.Pairs(splitKey(key, len(v.labels))), Histogram: h}
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

// spans are the buckets as client_golang encodes them.
func (b *sparseBuckets) spans() ([]*dto.BucketSpan, []int64) {
	return promdto.Spans(len(b.packed), func(k int) (int32, int64) {
		return packedIndex(b.packed[k]), int64(b.packed[k] & countMask)
	})
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
