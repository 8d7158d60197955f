package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestMaxConcurrentBoundsInFlightRequests holds every request in the
// handler until no caller can move (synctest.Wait): the requests then in
// flight are all the bound lets through, and the other callers wait for a
// slot. The handler is called in-process, so that no goroutine of the
// bubble waits on a socket.
func TestMaxConcurrentBoundsInFlightRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 3, 10
		var mu sync.Mutex
		var inFlight, peak, requests int
		gate := make(chan struct{})
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			requests++
			mu.Unlock()
			<-gate
			mu.Lock()
			inFlight--
			mu.Unlock()
			writeJSON(w, 200, metadataBody)
		})
		c, err := New(Options{
			BaseURL: "https://gitlab.test", Token: testToken, RequestsPerSecond: 1e6, Burst: 1000,
			MaxConcurrent: limit, Timeout: 30 * time.Second, HTTPClient: &http.Client{Transport: handlerTransport{handler}},
		})
		if err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				if _, err := c.Metadata(context.Background()); err != nil {
					t.Errorf("Metadata: %v", err)
				}
			})
		}
		synctest.Wait()
		mu.Lock()
		held := inFlight
		mu.Unlock()
		if held != limit {
			t.Errorf("%d requests in flight while all are held, want %d", held, limit)
		}
		close(gate)
		wg.Wait()
		if peak != limit {
			t.Errorf("peak in-flight = %d, want exactly %d", peak, limit)
		}
		if requests != callers {
			t.Errorf("requests = %d, want %d", requests, callers)
		}
	})
}

// handlerTransport answers a request by calling a handler directly.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestWaitingForASlotHonoursContext(t *testing.T) {
	gate := make(chan struct{})
	arrived := make(chan struct{}, 1)
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-gate
		writeJSON(w, 200, metadataBody)
	}), func(o *Options) { o.MaxConcurrent = 1 })
	defer close(gate)
	go func() { _, _ = env.c.Metadata(context.Background()) }()
	<-arrived // the only slot is now taken

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := env.c.Metadata(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := env.log.len(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestRequestsPerSecond(t *testing.T) {
	tests := []struct {
		name      string
		rps       float64
		burst     int
		calls     int
		wantWaits []time.Duration
	}{
		{"2/s, burst 1", 2, 1, 5, slices.Repeat([]time.Duration{500 * time.Millisecond}, 4)},
		{"10/s, burst 3", 10, 3, 5, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}},
		{"burst covers all", 1, 5, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, metadataBody)
			}), func(o *Options) { o.RequestsPerSecond = tt.rps; o.Burst = tt.burst })
			for range tt.calls {
				_, err := env.c.Metadata(context.Background())
				mustOK(t, err)
			}
			if got := env.clock.Sleeps(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			// Request k may not leave before (k - burst + 1) / rps.
			for k, at := range env.log.times() {
				earliest := time.Duration(float64(max(0, k-tt.burst+1)) / tt.rps * float64(time.Second))
				if at.Sub(t0) < earliest {
					t.Errorf("request %d at +%v, before +%v", k, at.Sub(t0), earliest)
				}
			}
		})
	}
}

func TestRateLimiterWaitHonoursContext(t *testing.T) {
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, metadataBody)
	}), func(o *Options) { o.RequestsPerSecond = 0.001; o.Burst = 1 })
	_, err := env.c.Metadata(context.Background())
	mustOK(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	env.clock.onSleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	if _, err := env.c.Metadata(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n := env.log.len(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}
