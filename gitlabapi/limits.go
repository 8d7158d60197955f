package gitlabapi

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	backoffBase = 500 * time.Millisecond
	backoffCap  = 30 * time.Second
	// maxServerPause caps Retry-After: GitLab's hourly throttles can ask for
	// most of an hour, and a scrape loop should rather fail and try again.
	maxServerPause = 10 * time.Minute
)

// acquire waits, in order, for a 429 pause to end, for a rate-limiter
// token and for an in-flight slot. The returned func frees the slot.
func (c *Client) acquire(ctx context.Context) (func(), error) {
	if err := c.waitPause(ctx); err != nil {
		return nil, err
	}
	if err := c.waitLimiter(ctx); err != nil {
		return nil, err
	}
	for {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// A 429 may have arrived while this request queued for a slot.
		if c.pauseLeft() <= 0 {
			return func() { <-c.sem }, nil
		}
		<-c.sem
		if err := c.waitPause(ctx); err != nil {
			return nil, err
		}
	}
}

func (c *Client) waitPause(ctx context.Context) error {
	for {
		d := c.pauseLeft()
		if d <= 0 {
			return nil
		}
		if err := c.clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// waitLimiter takes a token at the Clock's time rather than the limiter's
// own, so a fake Clock sees the wait.
func (c *Client) waitLimiter(ctx context.Context) error {
	now := c.clock.Now()
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("gitlab client: rate limiter cannot grant a request")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if err := c.clock.Sleep(ctx, d); err != nil {
		r.CancelAt(c.clock.Now())
		return err
	}
	return nil
}

func (c *Client) pauseLeft() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blockedUntil.Sub(c.clock.Now())
}

func (c *Client) pauseFor(d time.Duration) {
	until := c.clock.Now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if until.After(c.blockedUntil) {
		c.blockedUntil = until
	}
}

// backoff is the wait before retry number attempt (1-based): 500ms, 1s, 2s,
// ... capped at 30s, then jittered.
func (c *Client) backoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 16 {
		d = min(backoffBase<<(attempt-1), backoffCap)
	}
	return c.jitter(d)
}

// equalJitter returns a random wait in [d/2, d]: spread enough to keep
// exporters from retrying in lockstep, yet still growing with d.
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// serverPause reads how long GitLab asks us to wait after a 429:
// Retry-After (seconds or HTTP date), else RateLimit-Reset (Unix seconds),
// else RateLimit-ResetTime (HTTP date). Values in the past (clock skew) are
// skipped; the result is capped at maxServerPause.
func serverPause(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			if secs > 0 {
				return capPause(secs), true
			}
		} else if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return min(d, maxServerPause), true
			}
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if unix, err := strconv.ParseInt(v, 10, 64); err == nil {
			if d := time.Unix(unix, 0).Sub(now); d > 0 {
				return min(d, maxServerPause), true
			}
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-ResetTime")); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return min(d, maxServerPause), true
			}
		}
	}
	return 0, false
}

func capPause(secs int64) time.Duration {
	if secs >= int64(maxServerPause/time.Second) {
		return maxServerPause
	}
	return time.Duration(secs) * time.Second
}
