package collector

import (
	"sync"
	"time"
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
type seriesIndex[S series] struct {
	mu     sync.Mutex
	series map[string]S
}

func newSeriesIndex[S series]() seriesIndex[S] { return seriesIndex[S]{series: map[string]S{}} }

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

// shrink gives back the memory of a map that lost most of its entries:
// Go maps keep their buckets when entries are deleted.
func (x *seriesIndex[S]) shrink(had int) {
	if len(x.series) > had/2 {
		return
	}
	m := make(map[string]S, len(x.series))
	for k, s := range x.series {
		m[k] = s
	}
	x.series = m
}

// deleteMatching drops every series whose value at pos (of n values) is value.
func (x *seriesIndex[S]) deleteMatching(pos, n int, value string) {
	if pos < 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	had := len(x.series)
	for key := range x.series {
		if splitKey(key, n)[pos] == value {
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
