package gitlabtest

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// Options configures a Server.
type Options struct {
	Token     string            // accepted via PRIVATE-TOKEN, Authorization: Bearer or JOB-TOKEN; "" = "test-token"
	Clock     Clock             // nil = real time
	RateLimit *RateLimitOptions // nil = no Rack::Attack headers; else RateLimit-* on every response and real 429s

	// FirstJobID starts the job sequence (0 = 1). gitlab.com job ids exceed
	// 2^32; a large start makes sure clients keep ids in int64.
	FirstJobID int64
	// Version is what /version and /metadata report ("" = "18.1.1-ee").
	Version string
	// RequestLogLimit caps how many records Requests keeps, dropping the
	// oldest (0 = unlimited); RequestCount keeps counting. For long runs.
	RequestLogLimit int
	// Users are more API users, by token: each token is accepted as Token
	// is, authenticates as its user (RequestRecord.User), and is throttled
	// on its own, as GitLab's per-user rate limits are. Token's user is
	// DefaultUser.
	Users map[string]string
	// RetryReopens makes a retry by hand reopen what the failure closed,
	// as GitLab does (ResetSkippedJobsService; a finished bridge of a
	// parent waits again): skipped jobs of later stages go back to created
	// under their ids. Off by default: the exporter does not yet follow a
	// job out of a finished status, so a skipped job that runs after all
	// keeps its first count, and tests of job counts would see that gap.
	RetryReopens bool
}

// DefaultToken is the token a Server accepts when Options.Token is empty.
const DefaultToken = "test-token"

// DefaultUser is the user Options.Token authenticates as.
const DefaultUser = "root"

// Server is the fake GitLab: the model plus its HTTP API.
type Server struct {
	token   string
	users   map[string]string // token → user, Token's included
	clock   Clock
	version string
	limiter *rateLimiter
	revoked atomic.Bool

	ts        *httptest.Server
	closing   chan struct{}
	closeOnce sync.Once
	baseMu    sync.RWMutex
	baseURL   string

	mu sync.RWMutex
	m  model

	faults   faultSet
	log      requestLog
	requests atomic.Uint64

	// webhooks and hookSeq are guarded by mu: events are generated under
	// the model lock.
	webhooks []*Webhook
	hookSeq  uint64
	hookCtx  context.Context // ends at Close: stops every delivery
	hookStop context.CancelFunc
	hookWG   sync.WaitGroup // real-time senders

	// finishes are the pipeline finishes recorded since the last
	// PipelineFinishes, while trackFinishes is set; guarded by mu.
	finishes      []PipelineRecord
	trackFinishes bool
}

// NewServer starts the fake on an httptest.Server at 127.0.0.1; call Close
// (e.g. via t.Cleanup) when done.
func NewServer(opts Options) *Server {
	s := NewHandler(opts)
	s.ts = httptest.NewServer(s.Handler())
	s.SetBaseURL(s.ts.URL)
	return s
}

// NewHandler returns the same fake without a listener, for serving it
// elsewhere (cmd/gitlab-sim): use Handler and SetBaseURL.
func NewHandler(opts Options) *Server {
	s := &Server{
		token: opts.Token, clock: opts.Clock, version: opts.Version,
		closing: make(chan struct{}),
	}
	if s.token == "" {
		s.token = DefaultToken
	}
	s.users = map[string]string{s.token: DefaultUser}
	for token, user := range opts.Users {
		s.users[token] = user
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.version == "" {
		s.version = "18.1.1-ee"
	}
	first := opts.FirstJobID
	if first <= 0 {
		first = 1
	}
	s.m = newModel(first)
	s.m.retryReopens = opts.RetryReopens
	s.m.sink = s
	s.hookCtx, s.hookStop = context.WithCancel(context.Background())
	if opts.RateLimit != nil && opts.RateLimit.Limit > 0 {
		s.limiter = newRateLimiter(*opts.RateLimit)
	}
	s.log.limit = opts.RequestLogLimit
	return s
}

// URL is the base URL without /api/v4, e.g. "http://127.0.0.1:34567".
func (s *Server) URL() string {
	s.baseMu.RLock()
	defer s.baseMu.RUnlock()
	return s.baseURL
}

// SetBaseURL sets the address used in Link headers and web_url fields.
// Without it a handler-only server uses the request's Host.
func (s *Server) SetBaseURL(u string) {
	s.baseMu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.baseMu.Unlock()
}

// Handler serves /api/v4/...
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops the listener, if any, releases requests held by a
// FaultSlow and stops webhook delivery: requests on their way are
// canceled, queued deliveries recorded as canceled, and the senders have
// returned when Close does.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock() // AddWebhook starts no sender after this
	s.hookStop()
	s.mu.Unlock()
	s.hookWG.Wait()
	s.mu.RLock()
	hooks := s.webhooks
	s.mu.RUnlock()
	for _, w := range hooks {
		w.flushMu.Lock() // a manual Flush under way has seen the close
		w.mu.Lock()
		w.closeLocked()
		w.mu.Unlock()
		w.flushMu.Unlock()
	}
	if s.ts != nil {
		s.ts.Close()
	}
}

// RevokeToken makes every request answer 401 {"message":"401 Unauthorized"}.
func (s *Server) RevokeToken() { s.revoked.Store(true) }

// RestoreToken undoes RevokeToken.
func (s *Server) RestoreToken() { s.revoked.Store(false) }

func (s *Server) now() stamp { return stampOf(s.clock.Now()) }

// request is one API call on its way through serveHTTP.
type request struct {
	r    *http.Request
	q    url.Values
	rt   route
	base string
}

// response is what a handler produced: values already copied out of the
// model, so they can be marshalled after the lock is released.
type response struct {
	status int
	body   any
	header http.Header
}

func ok(body any) *response { return &response{status: 200, body: body, header: http.Header{}} }

// serveHTTP runs a request through the same steps as GitLab's stack: the
// front proxy (faults), Rack::Attack (rate limit), routing, authentication,
// then the endpoint.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt := matchRoute(r.URL.EscapedPath())
	rec := &statusWriter{ResponseWriter: w, log: &s.log, record: RequestRecord{
		Method: r.Method, Endpoint: rt.endpoint, Path: r.URL.EscapedPath(),
		Query: redactQuery(r.URL.Query()), ProjectID: s.projectIDOf(rt), Time: s.clock.Now(),
	}}
	rec.record.User, _ = s.authenticated(r)
	defer rec.logNow(0) // nothing answered: the handler aborted
	rec.Header().Set("X-Request-Id", fmt.Sprintf("01FAKE%020d", s.requests.Add(1)))

	if f := s.faults.take(rt.endpoint, rec.record.ProjectID); f != nil {
		if done := s.applyFault(rec, r, f, rt); done {
			return
		}
	}
	s.serveAPI(rec, r, rt)
}

// serveAPI answers a request normally.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rt route) {
	user, authd := s.authenticated(r)
	if authd && s.limiter != nil {
		if throttled := s.limiter.observe(w.Header(), s.clock.Now(), user); throttled {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte("Retry later\n"))
			return
		}
	}
	if rt.endpoint == "" {
		errNoRoute.write(w)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		errMethod.write(w)
		return
	}
	if !authd {
		errUnauthorized.write(w)
		return
	}
	req := &request{r: r, q: r.URL.Query(), rt: rt, base: s.base(r)}
	resp, e := s.dispatch(req)
	if e != nil {
		e.write(w)
		return
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	writeJSON(w, resp.status, resp.body)
}

func (s *Server) base(r *http.Request) string {
	if b := s.URL(); b != "" {
		return b
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// authenticated checks the token headers and parameters GitLab reads, and
// returns the user the token belongs to.
func (s *Server) authenticated(r *http.Request) (user string, ok bool) {
	if s.revoked.Load() {
		return "", false
	}
	candidates := []string{r.Header.Get("PRIVATE-TOKEN"), r.Header.Get("JOB-TOKEN")}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		candidates = append(candidates, strings.TrimSpace(a[7:]))
	}
	q := r.URL.Query()
	for k := range tokenParams {
		candidates = append(candidates, q.Get(k))
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		for token, user := range s.users {
			if subtle.ConstantTimeCompare([]byte(c), []byte(token)) == 1 {
				return user, true
			}
		}
	}
	return "", false
}

// projectIDOf resolves :id for the request log and project-scoped faults:
// a numeric id as given, a path when it names a live project, else 0.
func (s *Server) projectIDOf(rt route) int64 {
	if !rt.projectScoped() {
		return 0
	}
	if n, ok := parseID(rt.id); ok {
		return n
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.m.findProject(rt.id); p != nil {
		return p.id
	}
	return 0
}

func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return "gitlab.example.com"
	}
	return u.Hostname()
}

// statusWriter logs the request when its status is written, before the
// client can see the answer, so tests may inspect the log right after a
// response arrives.
type statusWriter struct {
	http.ResponseWriter
	log    *requestLog
	record RequestRecord
	logged bool
}

func (w *statusWriter) logNow(status int) {
	if w.logged {
		return
	}
	w.logged = true
	w.record.Status = status
	w.log.add(w.record)
}

func (w *statusWriter) WriteHeader(code int) {
	w.logNow(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.logged {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Hijack and Flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SetRetryReopens switches Options.RetryReopens.
func (s *Server) SetRetryReopens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.retryReopens = on
}
