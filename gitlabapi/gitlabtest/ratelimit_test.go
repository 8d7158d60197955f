package gitlabtest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	f := newFixture(t, Options{RateLimit: &RateLimitOptions{Limit: 3, Period: time.Minute}})
	// t0 is 11:54:28.847: the window runs 11:54:00–11:55:00.
	windowEnd := time.Date(2025, 9, 2, 11, 55, 0, 0, time.UTC)
	steps := []struct {
		advance             time.Duration
		status              int
		observed, remaining string
		retryAfter          string
		reset               time.Time
	}{
		{0, 200, "1", "2", "", windowEnd},
		{0, 200, "2", "1", "", windowEnd},
		{0, 200, "3", "0", "", windowEnd},
		{0, 429, "4", "0", "32", windowEnd},
		{20 * time.Second, 429, "5", "0", "12", windowEnd},
		{12 * time.Second, 200, "1", "2", "", windowEnd.Add(time.Minute)},
	}
	for i, st := range steps {
		f.clock.Advance(st.advance)
		r := get(t, f.s, "/api/v4/projects/1/jobs")
		h := r.header
		if r.status != st.status || h.Get("RateLimit-Observed") != st.observed || h.Get("RateLimit-Remaining") != st.remaining ||
			h.Get("Retry-After") != st.retryAfter || h.Get("RateLimit-Reset") != itoa(st.reset.Unix()) ||
			h.Get("RateLimit-Limit") != "3" || h.Get("RateLimit-Name") != "throttle_authenticated_api" {
			t.Errorf("step %d: %d %v", i, r.status, h)
		}
		if st.status == 429 {
			if string(r.body) != "Retry later\n" || h.Get("Content-Type") != "text/plain" ||
				h.Get("RateLimit-ResetTime") != st.reset.Format(http.TimeFormat) {
				t.Errorf("step %d: 429 %q %v", i, r.body, h)
			}
		} else if h.Get("RateLimit-ResetTime") != "" {
			t.Errorf("step %d: RateLimit-ResetTime on a %d", i, r.status)
		}
	}
	if r := get(t, f.s, "/api/v4/projects/1/jobs", "PRIVATE-TOKEN", "wrong"); r.status != 401 || r.header.Get("RateLimit-Observed") != "" {
		t.Errorf("wrong token: %d %v", r.status, r.header)
	}
}

func TestRateLimitHeadersNormalisePerMinute(t *testing.T) {
	cases := []struct {
		opt              RateLimitOptions
		limit, remaining string
	}{
		{RateLimitOptions{Limit: 3600, Period: time.Hour}, "60", "3599"},
		{RateLimitOptions{Limit: 2000, Period: time.Minute}, "2000", "1999"},
		{RateLimitOptions{Limit: 10}, "10", "9"},
		{RateLimitOptions{Limit: 5, Period: 10 * time.Second}, "30", "4"},
	}
	for _, c := range cases {
		s, _ := newTestServer(t, Options{RateLimit: &c.opt})
		r := get(t, s, "/api/v4/version")
		if r.header.Get("RateLimit-Limit") != c.limit || r.header.Get("RateLimit-Remaining") != c.remaining {
			t.Errorf("%+v: Limit %q Remaining %q, want %q %q", c.opt, r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Remaining"), c.limit, c.remaining)
		}
	}
	s, _ := newTestServer(t, Options{})
	if r := get(t, s, "/api/v4/version"); r.header.Get("RateLimit-Limit") != "" {
		t.Error("RateLimit headers without Options.RateLimit")
	}
}

// Each user has a token and a rate limit of its own, and the request log
// says whose token each request carried.
func TestUsersHaveTheirOwnTokensAndLimits(t *testing.T) {
	f := newFixture(t, Options{Users: map[string]string{"token-of-shard-1": "shard-1"},
		RateLimit: &RateLimitOptions{Limit: 2, Period: time.Minute}})
	as := func(token string) int {
		req := httptest.NewRequest(http.MethodGet, "/api/v4/projects/1/jobs", nil)
		req.Header.Set("PRIVATE-TOKEN", token)
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, req)
		return w.Code
	}
	got := []int{as(DefaultToken), as(DefaultToken), as(DefaultToken), as("token-of-shard-1"), as("token-of-shard-1"), as("wrong")}
	if want := []int{200, 200, 429, 200, 200, 401}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v: each user is throttled on its own", got, want)
	}
	var users []string
	for _, r := range f.s.Requests() {
		users = append(users, r.User)
	}
	if want := []string{DefaultUser, DefaultUser, DefaultUser, "shard-1", "shard-1", ""}; !slices.Equal(users, want) {
		t.Errorf("logged users %q, want %q", users, want)
	}
}
