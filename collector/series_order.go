package collector

import (
	"slices"
	"strings"
	"sync"
)

// seriesLabels are the label names of a vector whose series are keyed by
// their values joined with labelSep, in the declared order.
type seriesLabels struct {
	labelNames []string // sorted by name, as dto.Metric.Label must be
	labelOrder []int    // labelOrder[i]: position in the values of labelNames[i]
}

const labelSep = "\xff" // cannot occur in UTF-8 label values

func newSeriesLabels(labels []string) seriesLabels {
	l := seriesLabels{labelNames: slices.Sorted(slices.Values(labels))}
	for _, name := range l.labelNames {
		l.labelOrder = append(l.labelOrder, slices.Index(labels, name))
	}
	return l
}

// position is where label name sits in a key's values, or -1.
func (l seriesLabels) position(name string) int {
	k := slices.Index(l.labelNames, name)
	if k < 0 {
		return -1
	}
	return l.labelOrder[k]
}

// splitKey appends a key's values to dst. They point into the key: writing
// a scrape splits every key, and must not allocate for it.
func splitKey(dst []string, key string) []string {
	for {
		i := strings.IndexByte(key, labelSep[0])
		if i < 0 {
			return append(dst, key)
		}
		dst = append(dst, key[:i])
		key = key[i+1:]
	}
}

// compareKeys orders keys as client_golang's Gather orders series: by
// label values, labels taken in name order.
func (l seriesLabels) compareKeys(a, b string) int {
	var av, bv [8]string
	as, bs := splitKey(av[:0], a), splitKey(bv[:0], b)
	for _, pos := range l.labelOrder {
		if c := strings.Compare(as[pos], bs[pos]); c != 0 {
			return c
		}
	}
	return 0
}

// deleteMatching drops every series of m whose value at pos is value, and
// reports whether it dropped any.
func deleteMatching[S any](m map[string]S, pos int, value string) bool {
	var values [8]string
	deleted := false
	for key := range m {
		if splitKey(values[:0], key)[pos] == value {
			delete(m, key)
			deleted = true
		}
	}
	return deleted
}

// seriesIndex is a vector's series by key, kept in the order they are
// written. mu guards the series' values too.
type seriesIndex[S keyed] struct {
	labels seriesLabels
	mu     sync.Mutex
	series map[string]S // by label values joined with labelSep
	order  seriesOrder[S]
}

func newSeriesIndex[S keyed](l seriesLabels) seriesIndex[S] {
	return seriesIndex[S]{labels: l, series: map[string]S{}}
}

// add indexes a new series; the caller holds mu.
func (x *seriesIndex[S]) add(s S) {
	x.series[s.seriesKey()] = s
	x.order.add(s)
}

// deleteMatching drops every series whose label name has this value.
func (x *seriesIndex[S]) deleteMatching(name, value string) {
	pos := x.labels.position(name)
	if pos < 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if deleteMatching(x.series, pos, value) {
		x.order.forget()
	}
}

// sorted lists the series in the order client_golang's Gather sorts them.
func (x *seriesIndex[S]) sorted() []S {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.order.snapshot(x.labels, func(s S) bool { return x.series[s.seriesKey()] == s })
}

// keyed is a series with its key.
type keyed interface {
	comparable
	seriesKey() string
}

// seriesOrder keeps a vector's series in the order they are written, so
// that a scrape does not sort them all again: at 2,000 projects sorting
// 100,000 series every scrape cost more than writing them. Series added
// since the last write are sorted and merged in, removed ones filtered out.
// The vector's lock guards it.
type seriesOrder[S keyed] struct {
	sorted  []S // replaced, never changed in place: a writer may still hold it
	added   []S
	removed bool
}

func (o *seriesOrder[S]) add(s S) { o.added = append(o.added, s) }

// forget notes that series were removed from the vector.
func (o *seriesOrder[S]) forget() { o.removed = true }

// snapshot returns the series in order; alive reports whether a series is
// still in the vector.
func (o *seriesOrder[S]) snapshot(l seriesLabels, alive func(S) bool) []S {
	if len(o.added) == 0 && !o.removed {
		return o.sorted
	}
	cmp := func(a, b S) int { return l.compareKeys(a.seriesKey(), b.seriesKey()) }
	slices.SortFunc(o.added, cmp)
	merged := make([]S, 0, len(o.sorted)+len(o.added))
	rest := o.sorted
	for _, s := range o.added {
		k, _ := slices.BinarySearchFunc(rest, s, cmp)
		merged = append(append(merged, rest[:k]...), s)
		rest = rest[k:]
	}
	merged = append(merged, rest...)
	if o.removed {
		merged = slices.DeleteFunc(merged, func(s S) bool { return !alive(s) })
	}
	o.sorted, o.added, o.removed = merged, nil, false
	return merged
}
