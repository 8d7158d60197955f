package collector

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector/internal/promdto"
)

// seriesMeta is what every kept series records besides its values.
type seriesMeta struct {
	created int64 // unix nanoseconds: the series' created timestamp
	updated int64 // unix seconds of its last observation, for expiry
}

func newSeriesMeta(now time.Time) seriesMeta {
	return seriesMeta{created: now.UnixNano(), updated: now.Unix()}
}

func (m *seriesMeta) touch(now time.Time) { m.updated = now.Unix() }

type series interface{ meta() *seriesMeta }

// seriesIndex holds a family's series by key (the values of its labels
// joined with labelSep). mu guards the series' values too: observations
// are rare (one per job event), so one lock per family is enough.
//
// It also keeps the keys in the order the registry sorts a family's
// metrics in (by label value, labels by name): Gather sorts every family
// on every scrape, and a family handed over already in order costs it one
// pass instead of a full sort of tens of thousands of series.
type seriesIndex[S series] struct {
	mu     sync.Mutex
	series map[string]S
	byName promdto.LabelOrder
	sorted []string // the keys, in byName order, as of the last inOrder (less those deleted since)
	added  []string // keys added since

	values, projectAt int // values in a key; the project's place among them, -1 when it has none
}

func newSeriesIndex[S series](f *configured) seriesIndex[S] {
	return seriesIndex[S]{series: map[string]S{}, byName: promdto.NewLabelOrder(f.labelNames(), keyField),
		values: len(f.labels), projectAt: f.position(project)}
}

// add keeps a new series; the caller holds mu.
func (x *seriesIndex[S]) add(key string, s S) {
	x.series[key] = s
	x.added = append(x.added, key)
}

// inOrder are the keys in the registry's order; the caller holds mu.
func (x *seriesIndex[S]) inOrder() []string {
	if len(x.added) > 0 {
		slices.SortFunc(x.added, x.byName.Compare)
		x.sorted = mergeKeys(x.sorted, x.added, x.byName.Compare)
		x.added = nil
	}
	return x.sorted
}

// mergeKeys merges two sorted lists of distinct keys.
func mergeKeys(a, b []string, compare func(a, b string) int) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if compare(a[0], b[0]) < 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// keyField is the i-th value of a key.
func keyField(key string, i int) string {
	for ; i > 0; i-- {
		key = key[strings.Index(key, labelSep)+len(labelSep):]
	}
	if end := strings.Index(key, labelSep); end >= 0 {
		return key[:end]
	}
	return key
}

// expire drops the series last updated before cutoff.
func (x *seriesIndex[S]) expire(cutoff time.Time) {
	before := cutoff.Unix()
	x.mu.Lock()
	defer x.mu.Unlock()
	before0 := len(x.series)
	for key, s := range x.series {
		if s.meta().updated < before {
			delete(x.series, key)
		}
	}
	x.shrink(before0)
}

// shrink forgets the keys of deleted series, and gives back the memory of
// a map that lost most of its entries: Go maps keep their buckets when
// entries are deleted.
func (x *seriesIndex[S]) shrink(had int) {
	if len(x.series) == had {
		return
	}
	gone := func(key string) bool { _, ok := x.series[key]; return !ok }
	x.sorted, x.added = slices.DeleteFunc(x.sorted, gone), slices.DeleteFunc(x.added, gone)
	if len(x.series) > had/2 {
		return
	}
	x.sorted = slices.Clone(x.sorted)
	m := make(map[string]S, len(x.series))
	for k, s := range x.series {
		m[k] = s
	}
	x.series = m
}

// deleteProject drops the project's series (when project is a label).
func (x *seriesIndex[S]) deleteProject(path string) {
	if x.projectAt < 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	had := len(x.series)
	for key := range x.series {
		if splitKey(key, x.values)[x.projectAt] == path {
			delete(x.series, key)
		}
	}
	x.shrink(had)
}

func (x *seriesIndex[S]) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.series)
}
