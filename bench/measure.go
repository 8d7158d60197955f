package bench

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Usage is a process's CPU time so far and its memory now.
type Usage struct {
	CPU       time.Duration `json:"cpu"`        // user + system
	RSS       int64         `json:"rss"`        // VmRSS, bytes
	PeakRSS   int64         `json:"peak_rss"`   // VmHWM, bytes
	HeapInuse uint64        `json:"heap_inuse"` // Go heap spans in use
	HeapAlloc uint64        `json:"heap_alloc"` // Go heap: live objects (after a GC: exactly the live set)
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processUsage reads CPU time, RSS and the Go heap without forcing a GC.
func processUsage() Usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, peak := procStatus()
	return Usage{CPU: cpuTime(), RSS: rss, PeakRSS: peak, HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc}
}

// settledUsage is processUsage after two GCs, so the heap figures are the
// live set rather than garbage waiting for the next cycle.
func settledUsage() Usage {
	runtime.GC()
	runtime.GC()
	return processUsage()
}

// procStatus returns VmRSS and VmHWM from /proc/self/status (0 elsewhere).
func procStatus() (rss, peak int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fields := strings.Fields(v) // "123456 kB"
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			peak = n << 10
		}
	}
	return rss, peak
}

// Exposition is the cost of one scrape of /metrics.
type Exposition struct {
	Families  int
	Series    int // samples in the text format: what Prometheus ingests without native histograms
	TextBytes int
	GzipBytes int // text, gzip-compressed as /metrics sends it
	ProtoSize int // delimited protobuf, with native histograms
	// ProtoSeries is what Prometheus stores from the protobuf exposition
	// with native histograms on: a native histogram is one series, a
	// classic one buckets + 3 (with both, Prometheus keeps the native one).
	ProtoSeries int
	Text        time.Duration  // gather + encode to text, as /metrics does it
	OpenMet     time.Duration  // the same in OpenMetrics, what Prometheus 2 asks for by default
	Proto       time.Duration  // gather + encode to protobuf, what Prometheus 3 asks for
	Observed    float64        // gitlab_jobs_exporter_jobs_observed_total
	Followed    float64        // gitlab_jobs_exporter_followed_jobs
	BySeries    map[string]int // samples by family (histogram buckets, sums and counts included)
}

func (e Exposition) topFamilies(n int) string {
	names := slices.Collect(maps.Keys(e.BySeries))
	slices.SortFunc(names, func(a, b string) int { return e.BySeries[b] - e.BySeries[a] })
	var parts []string
	for _, name := range names[:min(n, len(names))] {
		parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(name, "gitlab_"), e.BySeries[name]))
	}
	return strings.Join(parts, ", ")
}

// linesWithPrefix adds up the series of the families named prefix*.
func (e Exposition) linesWithPrefix(prefix string) int {
	n := 0
	for name, lines := range e.BySeries {
		if strings.HasPrefix(name, prefix) {
			n += lines
		}
	}
	return n
}

// familiesWithPrefix lists the series of the families named prefix*, by
// name, and their total.
func (e Exposition) familiesWithPrefix(prefix string) string {
	var parts []string
	total := 0
	for _, name := range slices.Sorted(maps.Keys(e.BySeries)) {
		if strings.HasPrefix(name, prefix) {
			parts = append(parts, fmt.Sprintf("%s %d", strings.TrimPrefix(name, prefix), e.BySeries[name]))
			total += e.BySeries[name]
		}
	}
	return fmt.Sprintf("%d: %s", total, strings.Join(parts, ", "))
}

// measureExposition serves /metrics as text, OpenMetrics and protobuf the
// way promhttp does: gather the registry, encode each family.
func measureExposition(reg prometheus.Gatherer) (Exposition, error) {
	var e Exposition
	// Each format is written to a counter, not kept: /metrics streams to
	// the socket, and holding 100+ MB of text would be the benchmark's
	// memory, not the exporter's.
	encode := func(format expfmt.Format, w io.Writer) (time.Duration, error) {
		start := time.Now()
		mfs, err := reg.Gather()
		if err != nil {
			return 0, err
		}
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return 0, err
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			if err := c.Close(); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
	var err error
	var om countingWriter
	if e.OpenMet, err = encode(expfmt.NewFormat(expfmt.TypeOpenMetrics), &om); err != nil {
		return e, err
	}
	lines := &lineCounter{bySeries: map[string]int{}}
	if e.Text, err = encode(expfmt.NewFormat(expfmt.TypeTextPlain), lines); err != nil {
		return e, err
	}
	e.TextBytes, e.Series, e.BySeries, e.Families = lines.n, lines.series, lines.bySeries, len(lines.bySeries)
	var gz countingWriter // a second, untimed pass: the size Prometheus receives
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if _, err := encode(expfmt.NewFormat(expfmt.TypeTextPlain), zw); err != nil {
		return e, err
	}
	_ = zw.Close()
	e.GzipBytes = gz.n
	var proto countingWriter
	if e.Proto, err = encode(expfmt.NewFormat(expfmt.TypeProtoDelim), &proto); err != nil {
		return e, err
	}
	e.ProtoSize = proto.n

	// Untimed: the bookkeeping gauges and the series Prometheus stores.
	mfs, err := reg.Gather()
	if err != nil {
		return e, err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch h := m.GetHistogram(); {
			case h != nil && h.Schema != nil:
				e.ProtoSeries++
			case h != nil:
				e.ProtoSeries += len(h.GetBucket()) + 3
			default:
				e.ProtoSeries++
			}
		}
		if len(mf.GetMetric()) != 1 {
			continue
		}
		switch m := mf.GetMetric()[0]; mf.GetName() {
		case "gitlab_jobs_exporter_jobs_observed_total":
			e.Observed = m.GetCounter().GetValue()
		case "gitlab_jobs_exporter_followed_jobs":
			e.Followed = m.GetGauge().GetValue()
		}
	}
	return e, nil
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// lineCounter counts the samples of a text exposition by family as it is
// written, keeping only the line in progress. The text timing includes
// this counting: a little more than /metrics does.
type lineCounter struct {
	n, series int
	bySeries  map[string]int
	family    string
	partial   []byte
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += len(p)
	rest := p
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			l.partial = append(l.partial, rest...)
			return len(p), nil
		}
		line := rest[:i]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		switch {
		case bytes.HasPrefix(line, []byte("# TYPE ")):
			l.family = string(bytes.Fields(line)[2])
		case len(line) > 0 && line[0] != '#':
			l.series++
			l.bySeries[l.family]++
		}
		rest = rest[i+1:]
	}
}

// releaseMemory gives the heap of a finished run back to the system and
// restarts the peak RSS (VmHWM, Linux only), so that the next run in the
// same process measures its own memory.
func releaseMemory() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
