package gitlabapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/baseurl"
)

// AuthMode selects the header that carries the token.
type AuthMode int

const (
	// AuthPrivateToken sends "PRIVATE-TOKEN: <token>" (personal, project and group access tokens).
	AuthPrivateToken AuthMode = iota
	// AuthBearer sends "Authorization: Bearer <token>" (OAuth tokens; access tokens also accept it).
	AuthBearer
)

// Options configures a Client. The limits have no defaults here: the
// configuration (package config) holds them, and every one must be given.
type Options struct {
	BaseURL           string        // "https://gitlab.example.com", as baseurl.Canonical accepts it; the client appends /api/v4
	Token             string        // sent only in a header, never in a URL
	AuthMode          AuthMode      // header carrying Token
	RequestsPerSecond float64       // client-side limit shared by all calls; > 0
	Burst             int           // >= 1
	MaxConcurrent     int           // bound on in-flight requests; >= 1
	Timeout           time.Duration // per attempt; > 0
	MaxRetries        int           // retries after the first attempt for 429/5xx/transport errors; 0 = none
	HTTPClient        *http.Client  // optional (custom CA/TLS); nil = a client with sane transport timeouts
	Observer          Observer      // optional
	Clock             Clock         // optional; nil = real time
	UserAgent         string        // optional; "" = "gitlab_jobs_exporter"
}

const defaultUserAgent = "gitlab_jobs_exporter"

// Client talks to one GitLab instance. It is safe for concurrent use; all
// calls share its rate limiter, concurrency bound and 429 pause.
type Client struct {
	base       *url.URL // scheme and host, Path ends with /api/v4
	token      string
	authMode   AuthMode
	hc         *http.Client
	limiter    *rate.Limiter
	sem        chan struct{}
	timeout    time.Duration
	maxRetries int
	obs        Observer
	clock      Clock
	userAgent  string
	maxBody    int64 // cap on a 2xx body; a field so tests need not send 32 MiB

	// jitter spreads a backoff delay d; tests replace it to get exact waits.
	jitter func(d time.Duration) time.Duration

	mu           sync.Mutex
	blockedUntil time.Time // no request leaves before this instant (set by 429s)
}

// New validates opts and returns a Client.
func New(opts Options) (*Client, error) {
	base, err := parseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if err := checkToken(opts.Token); err != nil {
		return nil, err
	}
	if opts.AuthMode != AuthPrivateToken && opts.AuthMode != AuthBearer {
		return nil, fmt.Errorf("gitlab client: unknown AuthMode %d", int(opts.AuthMode))
	}
	if err := checkLimits(opts); err != nil {
		return nil, err
	}
	c := &Client{
		base:       base,
		token:      opts.Token,
		authMode:   opts.AuthMode,
		hc:         guardedHTTPClient(opts.HTTPClient, base, opts.MaxConcurrent),
		limiter:    rate.NewLimiter(rate.Limit(opts.RequestsPerSecond), opts.Burst),
		sem:        make(chan struct{}, opts.MaxConcurrent),
		timeout:    opts.Timeout,
		maxRetries: opts.MaxRetries,
		obs:        opts.Observer,
		clock:      opts.Clock,
		userAgent:  opts.UserAgent,
		maxBody:    maxBodyBytes,
		jitter:     equalJitter,
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	return c, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	canonical, err := baseurl.Canonical(raw)
	if err != nil {
		return nil, fmt.Errorf("gitlab client: BaseURL: %w", err)
	}
	return url.Parse(canonical + baseurl.APIPrefix)
}

// checkLimits rejects limits that would block every request or make no
// sense; zero is no default but an error, except for MaxRetries.
func checkLimits(opts Options) error {
	switch {
	case math.IsNaN(opts.RequestsPerSecond) || opts.RequestsPerSecond <= 0:
		return fmt.Errorf("gitlab client: RequestsPerSecond must be greater than 0, got %v", opts.RequestsPerSecond)
	case opts.Burst < 1:
		return fmt.Errorf("gitlab client: Burst must be at least 1, got %d", opts.Burst)
	case opts.MaxConcurrent < 1:
		return fmt.Errorf("gitlab client: MaxConcurrent must be at least 1, got %d", opts.MaxConcurrent)
	case opts.Timeout <= 0:
		return fmt.Errorf("gitlab client: Timeout must be greater than 0, got %s", opts.Timeout)
	case opts.MaxRetries < 0:
		return fmt.Errorf("gitlab client: MaxRetries must not be negative, got %d", opts.MaxRetries)
	}
	return nil
}

// checkToken rejects bytes that cannot travel in an HTTP header; the token
// itself is never echoed.
func checkToken(tok string) error {
	for i := 0; i < len(tok); i++ {
		if b := tok[i]; b < 0x21 || b > 0x7e {
			return fmt.Errorf("gitlab client: Token contains a non-printable or non-ASCII byte at position %d", i)
		}
	}
	return nil
}

// errCrossOriginRedirect stops a redirect that would carry the token to
// another scheme or host; Go forwards custom headers like PRIVATE-TOKEN.
var errCrossOriginRedirect = errors.New("redirect to another scheme or host refused")

// guardedHTTPClient returns a copy of hc (or a default client) whose
// redirects stay on the GitLab origin.
func guardedHTTPClient(hc *http.Client, base *url.URL, maxConc int) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = maxConc
		tr.TLSHandshakeTimeout = 10 * time.Second
		tr.ExpectContinueTimeout = time.Second
		c.Transport = tr
	}
	prev := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, base) {
			return errCrossOriginRedirect
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host)
}
