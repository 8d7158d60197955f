package collector

import (
	"bufio"
	"encoding/binary"
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// writeProto writes the vector as one length-delimited MetricFamily, the
// protobuf exposition, with the fields the client_model path sets (the
// same message, checked with proto.Equal), for the reason writeText exists.
func (v *histogramVec) writeProto(w *bufio.Writer) error {
	rows := v.sorted()
	if len(rows) == 0 {
		return nil // expfmt writes no family without series
	}
	var (
		metric, hist, sub, ex []byte
		values                []string
	)
	// The family is tens of MB at thousands of projects: sized from the
	// last scrape, it is not copied over and over as it grows.
	family := make([]byte, 0, v.lastProtoSize.Load()+v.lastProtoSize.Load()/8)
	family = protowire.AppendTag(family, 1, protowire.BytesType)
	family = protowire.AppendString(family, v.name)
	family = protowire.AppendTag(family, 2, protowire.BytesType)
	family = protowire.AppendString(family, v.help)
	family = protowire.AppendTag(family, 3, protowire.VarintType)
	family = protowire.AppendVarint(family, uint64(dto.MetricType_HISTOGRAM))
	for _, s := range rows {
		values = splitKey(values[:0], s.key)
		metric = v.appendLabelPairs(metric[:0], values, &sub)
		v.mu.Lock()
		hist = v.appendHistogram(hist[:0], s, &sub, &ex)
		v.mu.Unlock()
		metric = appendMessage(metric, 7, hist)
		family = appendMessage(family, 4, metric)
	}
	v.lastProtoSize.Store(int64(len(family)))
	return writeDelimited(w, family)
}

// writeDelimited writes a MetricFamily message with its length in front.
func writeDelimited(w *bufio.Writer, family []byte) error {
	var size [binary.MaxVarintLen64]byte
	if _, err := w.Write(protowire.AppendVarint(size[:0], uint64(len(family)))); err != nil {
		return err
	}
	if _, err := w.Write(family); err != nil {
		return err
	}
	return w.Flush()
}

// appendLabelPairs encodes a series' labels as dto.Metric.Label fields.
func (l seriesLabels) appendLabelPairs(b []byte, values []string, scratch *[]byte) []byte {
	for i, name := range l.labelNames {
		*scratch = appendLabelPair((*scratch)[:0], name, values[l.labelOrder[i]])
		b = appendMessage(b, 1, *scratch)
	}
	return b
}

// appendHistogram encodes io.prometheus.client.Histogram; scratch and ex
// are reused for nested messages.
func (v *histogramVec) appendHistogram(b []byte, s *histogramSeries, scratch, ex *[]byte) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, s.count)
	b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(s.sum))
	n := len(v.bounds)
	withInf := s.exemplarAt(n) != nil
	var cumulative uint64
	for i := range n + 1 {
		cumulative += s.buckets[i]
		if i == n && !withInf {
			break
		}
		bound := math.Inf(+1)
		if i < n {
			bound = v.bounds[i]
		}
		bucket := protowire.AppendTag((*scratch)[:0], 1, protowire.VarintType)
		bucket = protowire.AppendVarint(bucket, cumulative)
		bucket = protowire.AppendTag(bucket, 2, protowire.Fixed64Type)
		bucket = protowire.AppendFixed64(bucket, math.Float64bits(bound))
		if e := s.exemplarAt(i); e != nil {
			*ex = v.appendExemplar((*ex)[:0], *e)
			bucket = appendMessage(bucket, 3, *ex)
		}
		*scratch = bucket
		b = appendMessage(b, 3, bucket)
	}
	if nh := s.native; nh != nil {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(nh.schema)))
		b = protowire.AppendTag(b, 6, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(nativeZeroThreshold))
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, nh.zero)
		b = appendSpans(b, 9, 10, nh.neg, scratch)
		b = appendSpans(b, 12, 13, nh.pos, scratch)
	}
	var ts [24]byte
	b = appendMessage(b, 15, appendTimestamp(ts[:0], s.created/1e9, int32(s.created%1e9)))
	return b
}

func (v *histogramVec) appendExemplar(b []byte, e exemplar) []byte {
	// The label pair and timestamp are a few dozen bytes: built on the stack.
	var pair, ts [40]byte
	b = appendMessage(b, 1, appendLabelPair(pair[:0], v.exemplarLabel, strconv.FormatInt(e.id, 10)))
	b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(e.value))
	return appendMessage(b, 3, appendTimestamp(ts[:0], e.at/1000, int32(e.at%1000)*1e6))
}

// appendSpans encodes native buckets as spans and (unpacked, as in the
// proto2 schema) deltas, the layout of sparseBuckets.spans.
func appendSpans(b []byte, spanField, deltaField protowire.Number, sb sparseBuckets, scratch *[]byte) []byte {
	spans, deltas := sb.spans()
	for _, sp := range spans {
		m := protowire.AppendTag((*scratch)[:0], 1, protowire.VarintType)
		m = protowire.AppendVarint(m, protowire.EncodeZigZag(int64(sp.offset)))
		m = protowire.AppendTag(m, 2, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(sp.length))
		*scratch = m
		b = appendMessage(b, spanField, m)
	}
	for _, d := range deltas {
		b = protowire.AppendTag(b, deltaField, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(d))
	}
	return b
}

func appendLabelPair(b []byte, name, value string) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendString(b, value)
}

// appendTimestamp encodes google.protobuf.Timestamp, a proto3 message:
// zero fields are left out.
func appendTimestamp(b []byte, seconds int64, nanos int32) []byte {
	if seconds != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(seconds))
	}
	if nanos != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(nanos))
	}
	return b
}

func appendMessage(b []byte, field protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
