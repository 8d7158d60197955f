package collector

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
)

// writeText writes the vector in the Prometheus text format, or in
// OpenMetrics with exemplars, byte for byte as expfmt writes what Collect
// gives (series in the order client_golang's Gather sorts them).
//
// At 2,000 projects the job histograms are over a million lines; going
// through client_model protobufs and expfmt cost 2.8 s a scrape, most of
// it allocating and freeing the intermediate objects. Writing the lines
// straight from the compact series costs a fraction of that.
func (v *histogramVec) writeText(w *bufio.Writer, openMetrics bool) error {
	rows := v.sorted()
	if len(rows) == 0 {
		return nil // expfmt writes no family without series
	}
	name := v.name
	writeHeader(w, name, v.help, "histogram", openMetrics)
	les := make([][]byte, len(v.bounds))
	for i, b := range v.bounds {
		les[i] = appendFloat(nil, b, openMetrics)
	}
	var (
		labels    []byte // `{a="x",b="y",` for the series at hand
		values    []string
		num       []byte
		counts    []uint64
		exemplars []exemplar
	)
	for _, s := range rows {
		values = splitKey(values[:0], s.key)
		labels = v.appendLabels(append(labels[:0], '{'), values)
		// Copy the numbers under the lock and write without it: writing may
		// wait on a slow client, which must not hold up the scraper.
		v.mu.Lock()
		count, sum := s.count, s.sum
		counts = append(counts[:0], s.buckets...)
		exemplars = append(exemplars[:0], s.exemplars...)
		v.mu.Unlock()
		var cumulative uint64
		for i := range len(v.bounds) + 1 {
			cumulative += counts[i]
			w.WriteString(name)
			w.WriteString("_bucket")
			w.Write(labels)
			w.WriteString(`le="`)
			if i < len(v.bounds) {
				w.Write(les[i])
			} else {
				w.WriteString("+Inf")
			}
			w.WriteString(`"} `)
			num = appendCount(num[:0], cumulative, openMetrics)
			if openMetrics && len(exemplars) > 0 && int(exemplars[0].bucket) == i {
				num = v.appendTextExemplar(num, exemplars[0])
				exemplars = exemplars[1:] // sorted by bucket
			}
			num = append(num, '\n')
			w.Write(num)
		}
		labels[len(labels)-1] = '}' // the trailing comma closes the set
		w.WriteString(name)
		w.WriteString("_sum")
		w.Write(labels)
		num = append(appendFloat(append(num[:0], ' '), sum, openMetrics), '\n')
		w.Write(num)
		w.WriteString(name)
		w.WriteString("_count")
		w.Write(labels)
		num = append(appendCount(append(num[:0], ' '), count, openMetrics), '\n')
		w.Write(num)
	}
	return w.Flush()
}

// appendLabels appends `a="x",b="y",` for a series' values, in label name
// order and escaped, leaving the set open for le or closed by the caller.
func (l seriesLabels) appendLabels(b []byte, values []string) []byte {
	for i, n := range l.labelNames {
		b = append(b, n...)
		b = append(b, `="`...)
		b = appendEscaped(b, values[l.labelOrder[i]])
		b = append(b, `",`...)
	}
	return b
}

// appendTextExemplar appends an OpenMetrics exemplar to b.
func (v *histogramVec) appendTextExemplar(b []byte, e exemplar) []byte {
	b = append(b, " # {"...)
	b = append(b, v.exemplarLabel...)
	b = append(b, `="`...)
	b = strconv.AppendInt(b, e.id, 10)
	b = append(b, `"} `...)
	b = appendFloat(b, e.value, true)
	b = append(b, ' ')
	return appendFloat(b, float64(e.at*1e6)/1e9, true)
}

// writeHeader writes HELP and TYPE; name is the family's name in the
// format at hand (without _total for an OpenMetrics counter).
func writeHeader(w *bufio.Writer, name, help, typ string, openMetrics bool) {
	w.WriteString("# HELP ")
	w.WriteString(name)
	w.WriteByte(' ')
	if openMetrics {
		w.Write(appendEscaped(nil, help))
	} else {
		helpEscaper.WriteString(w, help)
	}
	w.WriteString("\n# TYPE ")
	w.WriteString(name)
	w.WriteByte(' ')
	w.WriteString(typ)
	w.WriteByte('\n')
}

// helpEscaper escapes HELP in the text format, where quotes stay as they are.
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// appendEscaped escapes a label value (and an OpenMetrics HELP text).
func appendEscaped(b []byte, s string) []byte {
	for i := range len(s) {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats as expfmt does: shortest representation, with ".0"
// on integral values in OpenMetrics.
func appendFloat(b []byte, f float64, openMetrics bool) []byte {
	switch {
	case f == 0: // also -0, as expfmt writes it
		if openMetrics {
			return append(b, "0.0"...)
		}
		return append(b, '0')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if openMetrics && !bytes.ContainsAny(b[start:], "e.") {
		b = append(b, ".0"...)
	}
	return b
}

// appendCount formats a count: an integer in OpenMetrics, a float in the
// text format (where expfmt writes every value as a float).
func appendCount(b []byte, n uint64, openMetrics bool) []byte {
	if openMetrics {
		return strconv.AppendUint(b, n, 10)
	}
	return appendFloat(b, float64(n), false)
}
