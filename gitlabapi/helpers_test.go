package gitlabapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const testToken = "glpat-SECRETtoken123456"

// fakeClock never sleeps: Sleep records the wait and moves time forward to
// the end of it (never backwards, so concurrent sleepers agree).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// onSleep, when set, runs before a sleep is recorded; a non-nil error
	// is returned instead of sleeping.
	onSleep func(ctx context.Context, d time.Duration) error
}

// t0 matches the instant of GitLab's own RateLimit spec fixture.
var t0 = time.Date(2021, 1, 5, 10, 29, 30, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.onSleep != nil {
		if err := f.onSleep(ctx, d); err != nil {
			return err
		}
	}
	if d <= 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	if end := f.now.Add(d); end.After(f.now) {
		f.now = end
	}
	return nil
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

type observation struct {
	Endpoint string
	Code     int
}

type recObserver struct {
	mu        sync.Mutex
	reqs      []observation
	remaining []float64
}

func (o *recObserver) ObserveRequest(endpoint string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reqs = append(o.reqs, observation{endpoint, code})
}

func (o *recObserver) ObserveRateLimitRemaining(r float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.remaining = append(o.remaining, r)
}

func (o *recObserver) requests() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]observation(nil), o.reqs...)
}

// requestLog records what reached the fake GitLab.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
	at   []time.Time
}

func (l *requestLog) add(r *http.Request, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r.Clone(context.Background()))
	l.at = append(l.at, at)
}

func (l *requestLog) uris() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.reqs))
	for i, r := range l.reqs {
		out[i] = r.RequestURI
	}
	return out
}

func (l *requestLog) get(i int) *http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reqs[i]
}

func (l *requestLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.at...)
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

type testEnv struct {
	srv   *httptest.Server
	log   *requestLog
	clock *fakeClock
	obs   *recObserver
	c     *Client
}

// newEnv starts a fake GitLab serving h and a client against it with a
// fake clock, exact (jitter-free) backoff and a limiter that never waits.
func newEnv(t *testing.T, h http.Handler, tweak func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{log: &requestLog{}, clock: newFakeClock(), obs: &recObserver{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.log.add(r, e.clock.Now())
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	opts := Options{
		BaseURL:           e.srv.URL,
		Token:             testToken,
		RequestsPerSecond: 1e6,
		Burst:             1000,
		MaxConcurrent:     8,
		Timeout:           5 * time.Second,
		MaxRetries:        4,
		Observer:          e.obs,
		Clock:             e.clock,
	}
	if tweak != nil {
		tweak(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.jitter = func(d time.Duration) time.Duration { return d }
	e.c = c
	return e
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// gitlabRouteNotFound is GitLab's catch-all answer.
func gitlabRouteNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// validOptions are options New accepts, for tests about something else.
func validOptions(baseURL string) Options {
	return Options{BaseURL: baseURL, Token: testToken, RequestsPerSecond: 10, Burst: 20,
		MaxConcurrent: 8, Timeout: 30 * time.Second, MaxRetries: 4}
}
