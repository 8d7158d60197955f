package gitlabtest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimitOptions configures the Rack::Attack-style throttle.
type RateLimitOptions struct {
	Limit  int           // requests per Period; <= 0 disables the throttle
	Period time.Duration // window length, whole seconds; 0 = 1 minute
}

// rateLimiter is Rack::Attack's fixed window (counter per epoch-aligned
// period) for throttle_authenticated_api, one per user.
type rateLimiter struct {
	mu      sync.Mutex
	limit   int
	period  int64 // seconds
	windows map[string]*window
}

type window struct {
	start int64
	count int
}

func newRateLimiter(o RateLimitOptions) *rateLimiter {
	period := int64(o.Period / time.Second)
	if o.Period == 0 {
		period = 60
	}
	return &rateLimiter{limit: o.Limit, period: max(period, 1), windows: map[string]*window{}}
}

// perMinute is RateLimit-Limit: the quota normalised to a minute,
// ceil(limit * 60 / period).
func (rl *rateLimiter) perMinute() int {
	return int((int64(rl.limit)*60 + rl.period - 1) / rl.period)
}

// observe counts a request, sets the headers GitLab sends on every
// throttled-path response and reports whether it is over the limit, in
// which case the 429-only headers are set as well.
func (rl *rateLimiter) observe(h http.Header, now time.Time, user string) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	sec := now.Unix()
	start := sec - ((sec%rl.period)+rl.period)%rl.period
	w := rl.windows[user]
	if w == nil {
		w = &window{}
		rl.windows[user] = w
	}
	if start != w.start {
		w.start, w.count = start, 0
	}
	w.count++
	end := start + rl.period
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Limit", strconv.Itoa(rl.perMinute()))
	h.Set("RateLimit-Observed", strconv.Itoa(w.count))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(rl.limit-w.count, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(end, 10))
	if w.count <= rl.limit {
		return false
	}
	h.Set("RateLimit-ResetTime", time.Unix(end, 0).UTC().Format(http.TimeFormat))
	h.Set("Retry-After", strconv.FormatInt(end-sec, 10))
	return true
}
