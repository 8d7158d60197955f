package gitlabapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxBodyBytes bounds what a hostile or broken server can make us hold;
	// a full page of 100 jobs is well under 1 MiB.
	maxBodyBytes = 32 << 20
	// maxErrorBodyBytes is enough for any GitLab error message.
	maxErrorBodyBytes = 64 << 10
)

type response struct {
	status int
	header http.Header
	body   []byte
}

// get performs GET u with the client's limits and retry policy; endpoint is
// the route template used in errors and observations.
func (c *Client) get(ctx context.Context, endpoint string, u *url.URL) (*response, error) {
	path := u.EscapedPath()
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, retry, err := c.attempt(ctx, endpoint, u)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, canceledError(endpoint, path, ctxErr, lastErr)
		}
		var wait time.Duration
		switch {
		case err != nil:
			if !retry {
				return nil, err
			}
			wait = c.backoff(attempt)
		case resp.status >= 200 && resp.status <= 299:
			return resp, nil
		case resp.status == http.StatusTooManyRequests:
			pause, ok := serverPause(resp.header, c.clock.Now())
			if !ok {
				pause = c.backoff(attempt)
			}
			// The pause is shared: GitLab throttles the user or IP, so
			// every goroutine of this client must hold back, and the retry
			// below waits for it in acquire.
			c.pauseFor(pause)
			ae := c.apiError(endpoint, path, resp)
			ae.RetryAfter = pause
			err = ae
		case resp.status >= 500 && resp.status <= 599:
			err = c.apiError(endpoint, path, resp)
			wait = c.backoff(attempt)
		default:
			return nil, c.apiError(endpoint, path, resp)
		}
		lastErr = err
		if attempt > c.maxRetries {
			if c.maxRetries == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("%w (giving up after %d attempts)", err, attempt)
		}
		if wait > 0 {
			if err := c.clock.Sleep(ctx, wait); err != nil {
				return nil, canceledError(endpoint, path, err, lastErr)
			}
		}
	}
}

// attempt sends one request. retry reports whether a failure is worth
// another attempt.
func (c *Client) attempt(ctx context.Context, endpoint string, u *url.URL) (resp *response, retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	defer release()

	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, fmt.Errorf("gitlab GET %s (%s): %w", endpoint, u.EscapedPath(), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		switch c.authMode {
		case AuthBearer:
			req.Header.Set("Authorization", "Bearer "+c.token)
		default:
			req.Header.Set("PRIVATE-TOKEN", c.token)
		}
	}

	countRequest(ctx)
	start := c.clock.Now()
	hr, err := c.hc.Do(req)
	if err != nil {
		c.obs.ObserveRequest(endpoint, 0, c.clock.Now().Sub(start))
		return nil, isRetryableTransport(err), c.transportError(endpoint, u, actx, err)
	}
	defer hr.Body.Close()
	ok := hr.StatusCode >= 200 && hr.StatusCode <= 299
	limit := c.maxBody
	if !ok {
		limit = maxErrorBodyBytes
	}
	body, rerr := io.ReadAll(io.LimitReader(hr.Body, limit+1))
	c.obs.ObserveRequest(endpoint, hr.StatusCode, c.clock.Now().Sub(start))
	c.observeRemaining(hr.Header)
	if rerr != nil {
		return nil, true, c.transportError(endpoint, u, actx, rerr)
	}
	if int64(len(body)) > limit {
		if ok {
			return nil, false, &DecodeError{Endpoint: endpoint, Path: u.EscapedPath(),
				Err: fmt.Errorf("response body larger than %d bytes", limit)}
		}
		body = body[:limit]
	}
	return &response{status: hr.StatusCode, header: hr.Header, body: body}, false, nil
}

func (c *Client) observeRemaining(h http.Header) {
	v := strings.TrimSpace(h.Get("RateLimit-Remaining"))
	if v == "" {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return
	}
	c.obs.ObserveRateLimitRemaining(f)
}

func (c *Client) apiError(endpoint, path string, resp *response) *APIError {
	body := resp.body
	if c.token != "" {
		// A misbehaving proxy could echo request headers into its body.
		// Redact before the message is cut to length: a cut token would
		// no longer match and leak its first characters.
		body = bytes.ReplaceAll(body, []byte(c.token), []byte("[REDACTED]"))
	}
	msg := errorMessage(resp.status, body)
	if c.token != "" {
		msg = strings.ReplaceAll(msg, c.token, "[REDACTED]")
	}
	return &APIError{Endpoint: endpoint, Path: path, StatusCode: resp.status, Message: msg}
}

// transportError describes a failure without a usable response. The
// *url.Error wrapper is dropped: it repeats the URL, and its "context
// deadline exceeded" would be mistaken for the caller's own deadline.
func (c *Client) transportError(endpoint string, u *url.URL, actx context.Context, err error) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = attemptTimeout(c.timeout)
	} else {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
	}
	return fmt.Errorf("gitlab GET %s (%s): %w", endpoint, u.EscapedPath(), err)
}

// attemptTimeout is a per-attempt timeout. It is a net.Error whose Timeout
// is true, so callers classify it as a timeout, without wrapping
// context.DeadlineExceeded, which would read as the caller's own deadline.
type attemptTimeout time.Duration

func (e attemptTimeout) Error() string {
	return fmt.Sprintf("no complete response within %s (per-attempt timeout)", time.Duration(e))
}

func (attemptTimeout) Timeout() bool   { return true }
func (attemptTimeout) Temporary() bool { return true }

// isRetryableTransport is false for failures another attempt cannot fix.
func isRetryableTransport(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.Is(err, errCrossOriginRedirect),
		errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn):
		return false
	}
	return true
}

func canceledError(endpoint, path string, ctxErr, last error) error {
	if last != nil {
		return fmt.Errorf("gitlab GET %s (%s): %w; last error: %w", endpoint, path, ctxErr, last)
	}
	return fmt.Errorf("gitlab GET %s (%s): %w", endpoint, path, ctxErr)
}
