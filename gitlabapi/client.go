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
)

// AuthMode selects the header that carries the token.
type AuthMode int

const (
	// AuthPrivateToken sends "PRIVATE-TOKEN: <token>" (personal, project and group access tokens).
	AuthPrivateToken AuthMode = iota
	// AuthBearer sends "Authorization: Bearer <token>" (OAuth tokens; access tokens also accept it).
	AuthBearer
)

// Options configures a Client. Zero values select the documented defaults.
type Options struct {
	BaseURL           string        // "https://gitlab.example.com" (the client appends /api/v4); a trailing /api/v4 is also accepted
	Token             string        // sent only in a header, never in a URL
	AuthMode          AuthMode      // header carrying Token
	RequestsPerSecond float64       // client-side limit shared by all calls; 0 = default 10
	Burst             int           // 0 = default 20
	MaxConcurrent     int           // bound on in-flight requests; 0 = default 8
	Timeout           time.Duration // per attempt; 0 = default 30s
	MaxRetries        int           // retries after the first attempt for 429/5xx/transport errors; 0 = default 4; negative = no retries
	HTTPClient        *http.Client  // optional (custom CA/TLS); nil = a client with sane transport timeouts
	Observer          Observer      // optional
	Clock             Clock         // optional; nil = real time
	UserAgent         string        // optional
}

const (
	defaultRequestsPerSecond = 10
	defaultBurst             = 20
	defaultMaxConcurrent     = 8
	defaultTimeout           = 30 * time.Second
	defaultMaxRetries        = 4
	defaultUserAgent         = "gitlab_jobs_exporter"
	apiPrefix                = "/api/v4"
)

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
	rps := opts.RequestsPerSecond
	switch {
	case math.IsNaN(rps) || rps < 0:
		return nil, fmt.Errorf("gitlab client: RequestsPerSecond must be positive, got %v", rps)
	case rps == 0:
		rps = defaultRequestsPerSecond
	}
	burst := opts.Burst
	switch {
	case burst < 0:
		return nil, fmt.Errorf("gitlab client: Burst must be positive, got %d", burst)
	case burst == 0:
		burst = defaultBurst
	}
	maxConc := opts.MaxConcurrent
	switch {
	case maxConc < 0:
		return nil, fmt.Errorf("gitlab client: MaxConcurrent must be positive, got %d", maxConc)
	case maxConc == 0:
		maxConc = defaultMaxConcurrent
	}
	timeout := opts.Timeout
	switch {
	case timeout < 0:
		return nil, fmt.Errorf("gitlab client: Timeout must be positive, got %s", timeout)
	case timeout == 0:
		timeout = defaultTimeout
	}
	retries := opts.MaxRetries
	switch {
	case retries < 0:
		retries = 0
	case retries == 0:
		retries = defaultMaxRetries
	}
	c := &Client{
		base:       base,
		token:      opts.Token,
		authMode:   opts.AuthMode,
		hc:         guardedHTTPClient(opts.HTTPClient, base, maxConc),
		limiter:    rate.NewLimiter(rate.Limit(rps), burst),
		sem:        make(chan struct{}, maxConc),
		timeout:    timeout,
		maxRetries: retries,
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
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("gitlab client: BaseURL is empty")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("gitlab client: BaseURL %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("gitlab client: BaseURL %q must start with http:// or https://", u.Redacted())
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("gitlab client: BaseURL %q has no host", u.Redacted())
	}
	if u.User != nil {
		// Credentials in the URL would leak into every error message.
		return nil, fmt.Errorf("gitlab client: BaseURL %q must not contain user info; use Token", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("gitlab client: BaseURL %q must not have a query or fragment", u.Redacted())
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	p = strings.TrimSuffix(p, apiPrefix)
	p = strings.TrimRight(p, "/")
	b, err := url.Parse(u.Scheme + "://" + u.Host + p + apiPrefix)
	if err != nil {
		return nil, fmt.Errorf("gitlab client: BaseURL %q: %w", raw, err)
	}
	return b, nil
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
