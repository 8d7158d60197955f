package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaxConcurrentBoundsInFlightRequests(t *testing.T) {
	const limit, callers = 3, 10
	var inFlight, peak atomic.Int64
	arrived := make(chan struct{}, callers)
	gate := make(chan struct{})
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-gate
		writeJSON(w, 200, metadataBody)
	}), func(o *Options) { o.MaxConcurrent = limit })

	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := env.c.Metadata(context.Background()); err != nil {
				t.Errorf("Metadata: %v", err)
			}
		})
	}
	// The first `limit` requests are all held at once; only then is the
	// gate opened and the rest let through.
	for range limit {
		<-arrived
	}
	close(gate)
	wg.Wait()
	if p := peak.Load(); p != limit {
		t.Errorf("peak in-flight = %d, want exactly %d", p, limit)
	}
	if n := env.log.len(); n != callers {
		t.Errorf("requests = %d, want %d", n, callers)
	}
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
