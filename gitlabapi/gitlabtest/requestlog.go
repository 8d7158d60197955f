package gitlabtest

import (
	"net/url"
	"slices"
	"sync"
	"time"
)

// RequestRecord is one request the fake answered. Endpoint is the matched
// template ("" when no route matched); Status is 0 when the connection was
// reset without an answer; ProjectID is the numeric :id as sent, or the
// project a path resolved to, else 0; User is the user whose token the
// request carried ("" for none). Token parameters are redacted.
type RequestRecord struct {
	Method, Endpoint, Path string
	User                   string
	Query                  url.Values
	Status                 int
	ProjectID              int64
	Time                   time.Time
}

type requestLog struct {
	mu      sync.Mutex
	limit   int
	records []RequestRecord
	counts  map[string]int
	total   int
}

// add is called before the response reaches the client, so a test that
// has its answer can rely on the record being there.
func (l *requestLog) add(r RequestRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	l.counts[r.Endpoint]++
	l.total++
	l.records = append(l.records, r)
	if l.limit > 0 && len(l.records) >= 2*l.limit {
		l.records = slices.Clone(l.records[len(l.records)-l.limit:])
	}
}

// Requests returns the logged requests, oldest first.
func (s *Server) Requests() []RequestRecord {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := l.records
	if l.limit > 0 && len(recs) > l.limit {
		recs = recs[len(recs)-l.limit:]
	}
	return slices.Clone(recs)
}

// RequestCount returns how many requests hit endpoint ("" = all) since the
// start or the last ResetRequests.
func (s *Server) RequestCount(endpoint string) int {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	if endpoint == "" {
		return l.total
	}
	return l.counts[endpoint]
}

// ResetRequests empties the log and the counters.
func (s *Server) ResetRequests() {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records, l.counts, l.total = nil, nil, 0
}

func redactQuery(q url.Values) url.Values {
	for k := range tokenParams {
		if _, ok := q[k]; ok {
			q[k] = []string{"[REDACTED]"}
		}
	}
	return q
}
