package gitlabapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var metadataBody = map[string]any{"version": "18.1.1-ee", "revision": "ceb07b24cb0", "enterprise": true}

// failThen answers the first len(fails) requests with fails[i] and then
// serves the metadata payload.
func failThen(fails ...http.HandlerFunc) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(fails) {
			fails[i](w, r)
			return
		}
		writeJSON(w, http.StatusOK, metadataBody)
	})
}

func throttled(headers map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		writeRaw(w, http.StatusTooManyRequests, "text/plain", "Retry later")
	}
}

func TestRetryAfter429(t *testing.T) {
	tests := []struct {
		name     string
		headers  map[string]string
		wantWait time.Duration
	}{
		{"Retry-After seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second},
		{"Retry-After wins over reset headers", map[string]string{
			"Retry-After": "12", "RateLimit-Reset": strconv.FormatInt(t0.Unix()+99, 10),
			"RateLimit-ResetTime": t0.Add(99 * time.Second).Format(http.TimeFormat)}, 12 * time.Second},
		{"Retry-After HTTP date", map[string]string{"Retry-After": t0.Add(20 * time.Second).Format(http.TimeFormat)}, 20 * time.Second},
		{"RateLimit-Reset unix time", map[string]string{"RateLimit-Reset": strconv.FormatInt(t0.Unix()+45, 10)}, 45 * time.Second},
		{"RateLimit-ResetTime HTTP date", map[string]string{"RateLimit-ResetTime": t0.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"GitLab's hourly throttle is capped", map[string]string{ // headers from GitLab's own spec
			"RateLimit-Reset": "1609844400", "RateLimit-ResetTime": "Tue, 05 Jan 2021 11:00:00 GMT", "Retry-After": "1830"}, 10 * time.Minute},
		{"absurd Retry-After is capped", map[string]string{"Retry-After": "99999999999999999"}, 10 * time.Minute},
		{"reset in the past falls back to backoff", map[string]string{"RateLimit-Reset": strconv.FormatInt(t0.Unix()-5, 10)}, backoffBase},
		{"no headers: backoff", nil, backoffBase},
		{"garbage headers: backoff", map[string]string{"Retry-After": "soon", "RateLimit-Reset": "x"}, backoffBase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, failThen(throttled(tt.headers)), nil)
			md, err := env.c.Metadata(context.Background())
			mustOK(t, err)
			if md.Version != "18.1.1-ee" {
				t.Errorf("version = %q", md.Version)
			}
			if got := env.clock.Sleeps(); !slices.Equal(got, []time.Duration{tt.wantWait}) {
				t.Errorf("waits = %v, want [%v]", got, tt.wantWait)
			}
			if n := env.log.len(); n != 2 {
				t.Errorf("requests = %d, want 2", n)
			}
		})
	}
}

func TestRateLimitJSONBodyFromApplicationLimit(t *testing.T) {
	env := newEnv(t, failThen(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 429, map[string]any{"message": map[string]string{"error": "This endpoint has been requested too many times. Try again later."}})
	}), func(o *Options) { o.MaxRetries = 0 })
	_, err := env.c.Metadata(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want a rate-limited APIError", err)
	}
	if ae.Message != "This endpoint has been requested too many times. Try again later." || ae.RetryAfter != backoffBase {
		t.Errorf("APIError = %+v", ae)
	}
}

// A 429 pauses the whole client: requests from other goroutines do not
// reach GitLab before the pause ends.
func TestRateLimitPauseIsShared(t *testing.T) {
	var throttledOnce atomic.Bool
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if throttledOnce.CompareAndSwap(false, true) {
			throttled(map[string]string{"Retry-After": "30"})(w, r)
			return
		}
		writeJSON(w, 200, metadataBody)
	}), func(o *Options) { o.MaxRetries = 0 })

	_, err := env.c.Metadata(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RetryAfter != 30*time.Second {
		t.Fatalf("first call: err = %v, want 429 with RetryAfter 30s", err)
	}
	if strings.Contains(err.Error(), "giving up") {
		t.Errorf("no retries were configured, yet: %v", err)
	}

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := env.c.Metadata(context.Background()); err != nil {
				t.Errorf("concurrent call: %v", err)
			}
		})
	}
	wg.Wait()

	at := env.log.times()
	if len(at) != 6 {
		t.Fatalf("requests = %d, want 6", len(at))
	}
	for i, a := range at[1:] {
		if a.Before(t0.Add(30 * time.Second)) {
			t.Errorf("request %d reached GitLab at +%v, inside the 30s pause", i+1, a.Sub(t0))
		}
	}
	if s := env.clock.Sleeps(); len(s) == 0 || s[0] != 30*time.Second {
		t.Errorf("waits = %v, want a first wait of 30s", s)
	}
}

func TestServerErrorBackoff(t *testing.T) {
	html := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			writeRaw(w, code, "text/html", "<html><head><title>"+strconv.Itoa(code)+" "+http.StatusText(code)+"</title></head><body><h1>oops</h1></body></html>")
		}
	}
	j500 := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, map[string]string{"message": "500 Internal Server Error"})
	}
	tests := []struct {
		name       string
		fails      []http.HandlerFunc
		maxRetries int
		wantWaits  []time.Duration
		wantErr    string // substring; empty = success
	}{
		{
			name:       "500, 502, 503 then success",
			fails:      []http.HandlerFunc{j500, html(502), html(503)},
			maxRetries: 4,
			wantWaits:  []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
		},
		{
			name:       "waits grow and stop at the 30s cap",
			fails:      slices.Repeat([]http.HandlerFunc{html(503)}, 9),
			maxRetries: 10,
			wantWaits: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
				8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		},
		{
			name:       "MaxRetries exhausted",
			fails:      slices.Repeat([]http.HandlerFunc{html(502)}, 5),
			maxRetries: 4,
			wantWaits:  []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second},
			wantErr:    "HTTP 502: 502 Bad Gateway (giving up after 5 attempts)",
		},
		{
			name:       "no retries",
			fails:      []http.HandlerFunc{html(504)},
			maxRetries: 0,
			wantErr:    "HTTP 504: 504 Gateway Timeout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, failThen(tt.fails...), func(o *Options) { o.MaxRetries = tt.maxRetries })
			_, err := env.c.Metadata(context.Background())
			if tt.wantErr == "" {
				mustOK(t, err)
			} else {
				if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrServer containing %q", err, tt.wantErr)
				}
				if tt.maxRetries == 0 && strings.Contains(err.Error(), "giving up") {
					t.Errorf("no retries were configured, yet: %v", err)
				}
			}
			if got := env.clock.Sleeps(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			wantReq := len(tt.wantWaits) + 1
			if n := env.log.len(); n != wantReq {
				t.Errorf("requests = %d, want %d", n, wantReq)
			}
		})
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	c, err := New(validOptions("https://gitlab.example.com"))
	mustOK(t, err)
	for attempt := 1; attempt <= 20; attempt++ {
		ceiling := min(backoffBase<<min(attempt-1, 15), backoffCap)
		for range 50 {
			if d := c.backoff(attempt); d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	tests := []struct {
		status int
		body   map[string]string
		is     error
	}{
		{404, map[string]string{"message": "404 Project Not Found"}, ErrNotFound},
		{401, map[string]string{"message": "401 Unauthorized"}, ErrUnauthorized},
		{403, map[string]string{"message": "403 Forbidden"}, ErrForbidden},
		{400, map[string]string{"error": "scope does not have a valid value"}, ErrBadRequest},
		{405, map[string]string{"error": "Keyset pagination is not yet available for this type of request"}, ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			}), nil)
			_, err := env.c.Project(context.Background(), "42")
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if n := env.log.len(); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
			if s := env.clock.Sleeps(); len(s) != 0 {
				t.Errorf("waited %v", s)
			}
		})
	}
}

func hijack(reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tcp, ok := conn.(*net.TCPConn); ok && reset {
			_ = tcp.SetLinger(0) // close with RST instead of FIN
		}
		_ = conn.Close()
	}
}

func TestTransportErrorsAreRetried(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	truncated := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"version":`))
	}
	tests := []struct {
		name      string
		fail      http.HandlerFunc
		wantCodes []int
		wantInErr string
	}{
		{"per-attempt timeout", slow, []int{0, 200}, "per-attempt timeout"},
		{"connection closed", hijack(false), []int{0, 200}, ""},
		{"connection reset", hijack(true), []int{0, 200}, ""},
		{"body cut short", truncated, []int{200, 200}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, failThen(tt.fail), func(o *Options) { o.Timeout = 50 * time.Millisecond })
			md, err := env.c.Metadata(context.Background())
			mustOK(t, err)
			if !md.Enterprise {
				t.Errorf("metadata not decoded: %+v", md)
			}
			var codes []int
			for _, o := range env.obs.requests() {
				codes = append(codes, o.Code)
			}
			if !slices.Equal(codes, tt.wantCodes) {
				t.Errorf("observed codes = %v, want %v", codes, tt.wantCodes)
			}
			if got := env.clock.Sleeps(); !slices.Equal(got, []time.Duration{backoffBase}) {
				t.Errorf("waits = %v, want [%v]", got, backoffBase)
			}

			// The same failure every time: the error says what and how often.
			env2 := newEnv(t, http.HandlerFunc(tt.fail), func(o *Options) { o.Timeout = 50 * time.Millisecond; o.MaxRetries = 2 })
			_, err = env2.c.Metadata(context.Background())
			if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") ||
				!strings.Contains(err.Error(), tt.wantInErr) || !strings.Contains(err.Error(), EndpointMetadata) {
				t.Errorf("err = %v", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("an attempt timeout must not look like the caller's deadline: %v", err)
			}
			if n := env2.log.len(); n != 3 {
				t.Errorf("requests = %d, want 3", n)
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	t.Run("already cancelled: no request", func(t *testing.T) {
		env := newEnv(t, failThen(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := env.c.Metadata(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if n := env.log.len(); n != 0 {
			t.Errorf("requests = %d", n)
		}
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		env := newEnv(t, failThen(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 500, map[string]string{"message": "500 Internal Server Error"})
		}), nil)
		ctx, cancel := context.WithCancel(context.Background())
		env.clock.onSleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
		_, err := env.c.Metadata(ctx)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrServer) {
			t.Fatalf("err = %v, want Canceled wrapping the last ErrServer", err)
		}
		if n := env.log.len(); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
	})
	t.Run("cancelled during a 429 pause", func(t *testing.T) {
		env := newEnv(t, failThen(throttled(map[string]string{"Retry-After": "60"})), nil)
		ctx, cancel := context.WithCancel(context.Background())
		env.clock.onSleep = func(_ context.Context, d time.Duration) error {
			if d != time.Minute {
				t.Errorf("pause = %v, want 1m", d)
			}
			cancel()
			return context.Canceled
		}
		_, err := env.c.Metadata(ctx)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("err = %v", err)
		}
		if n := env.log.len(); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
	})
	t.Run("cancelled while the request is in flight", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		}), nil)
		_, err := env.c.Metadata(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if n := env.log.len(); n != 1 {
			t.Errorf("requests = %d, want 1 (no retry after cancel)", n)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		max  int64
	}{
		{"truncated", `{"version": "18.1`, 0},
		{"wrong shape", `["not", "an", "object"]`, 0},
		{"html with 200", `<html>maintenance</html>`, 0},
		{"over the size cap", `{"version": "` + strings.Repeat("x", 2000) + `"}`, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeRaw(w, 200, "application/json", tt.body)
			}), nil)
			if tt.max > 0 {
				env.c.maxBody = tt.max
			}
			_, err := env.c.Metadata(context.Background())
			var de *DecodeError
			if !errors.Is(err, ErrDecode) || !errors.As(err, &de) || de.Endpoint != EndpointMetadata || de.Path != "/api/v4/metadata" {
				t.Fatalf("err = %#v, want a DecodeError for /metadata", err)
			}
			if n := env.log.len(); n != 1 {
				t.Errorf("requests = %d, want 1 (no retry)", n)
			}
		})
	}
}
