package gitlabtest

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

const (
	// FaultRateLimit answers like a Rack::Attack throttle: 429 text/plain
	// "Retry later" with Retry-After and RateLimit-* headers.
	FaultRateLimit FaultKind = iota + 1
	// FaultAppRateLimit answers like GitLab's application limit on the jobs
	// list: 429 JSON {"message":{"error":"..."}} without Retry-After.
	FaultAppRateLimit
	// FaultServerError answers Status (default 502) with an HTML body, as a
	// front proxy does.
	FaultServerError
	// FaultSlow waits Delay, then answers normally.
	FaultSlow
	// FaultMalformedJSON answers 200 with a body that is not JSON.
	FaultMalformedJSON
	// FaultTruncatedJSON answers 200 with the real body cut in the middle
	// (the HTTP message itself is complete; the JSON is not).
	FaultTruncatedJSON
	// FaultConnectionReset closes the connection without answering.
	FaultConnectionReset
)

// Fault makes matching requests misbehave. Endpoint is a template such as
// EndpointProjectJobs ("" = any request); ProjectID narrows it to one
// project (0 = any). Times is how many requests it hits (0 = until cleared).
// After lets that many matching requests through first, so that a fault can
// hit the second page of a walk.
// Faults act in front of authentication and rate limiting, like a proxy.
type Fault struct {
	Endpoint   string
	ProjectID  int64
	Kind       FaultKind
	Times      int
	Status     int           // FaultServerError; default 502
	RetryAfter time.Duration // FaultRateLimit; default 1s, rounded up to seconds
	Delay      time.Duration // FaultSlow
	After      int
}

type faultEntry struct {
	id        int
	f         Fault
	remaining int // for Times > 0
	passed    int // matching requests let through, up to f.After
}

type faultSet struct {
	mu     sync.Mutex
	list   []*faultEntry
	nextID int
}

// InjectFault adds a fault and returns its id for RemoveFault. When several
// match, the earliest injected applies.
func (s *Server) InjectFault(f Fault) (id int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.nextID++
	s.faults.list = append(s.faults.list, &faultEntry{id: s.faults.nextID, f: f, remaining: f.Times})
	return s.faults.nextID
}

// RemoveFault removes one fault.
func (s *Server) RemoveFault(id int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	for i, e := range s.faults.list {
		if e.id == id {
			s.faults.list = append(s.faults.list[:i], s.faults.list[i+1:]...)
			return
		}
	}
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.list = nil
	s.faults.mu.Unlock()
}

// take returns the fault for this request, using up one of its Times.
func (fs *faultSet) take(endpoint string, projectID int64) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, e := range fs.list {
		if (e.f.Endpoint != "" && e.f.Endpoint != endpoint) || (e.f.ProjectID != 0 && e.f.ProjectID != projectID) {
			continue
		}
		if e.passed < e.f.After {
			e.passed++
			continue
		}
		f := e.f
		if e.f.Times > 0 {
			e.remaining--
			if e.remaining <= 0 {
				fs.list = append(fs.list[:i], fs.list[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

const appRateLimitMessage = "This endpoint has been requested too many times. Try again later."

// applyFault answers according to f; it returns false when the request
// must continue normally (FaultSlow).
func (s *Server) applyFault(w *statusWriter, r *http.Request, f *Fault, rt route) bool {
	switch f.Kind {
	case FaultRateLimit:
		retry := int64((max(f.RetryAfter, time.Second) + time.Second - 1) / time.Second)
		now := s.clock.Now()
		reset := now.Unix() + retry
		limit := 2000 // gitlab.com's authenticated API limit per minute
		if s.limiter != nil {
			limit = s.limiter.perMinute()
		}
		h := w.Header()
		h.Set("RateLimit-Name", "throttle_authenticated_api")
		h.Set("RateLimit-Limit", strconv.Itoa(limit))
		h.Set("RateLimit-Observed", strconv.Itoa(limit+1))
		h.Set("RateLimit-Remaining", "0")
		h.Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
		h.Set("RateLimit-ResetTime", time.Unix(reset, 0).UTC().Format(http.TimeFormat))
		h.Set("Retry-After", strconv.FormatInt(retry, 10))
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("Retry later\n"))
	case FaultAppRateLimit:
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": map[string]string{"error": appRateLimitMessage}})
	case FaultServerError:
		status := f.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(errorPage(status)))
	case FaultSlow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.closing:
		}
		return false
	case FaultMalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`[{"id":1,"status":"success","name":"build"},{"id":2,"status":success,"name":"test"}]`))
	case FaultTruncatedJSON:
		buf := &bufferWriter{header: http.Header{}}
		s.serveAPI(buf, r, rt)
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(http.StatusOK)
		body := buf.body.Bytes()
		_, _ = w.Write(body[:len(body)/2])
	case FaultConnectionReset:
		w.logNow(0)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler) // net/http's way to drop a response it cannot hijack
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST rather than FIN
		}
		_ = conn.Close()
	default:
		return false
	}
	return true
}

func errorPage(status int) string {
	text := http.StatusText(status)
	return "<!DOCTYPE html>\n<html>\n<head>\n  <meta content=\"width=device-width, initial-scale=1, maximum-scale=1\" name=\"viewport\">\n" +
		"  <title>" + text + " (" + strconv.Itoa(status) + ")</title>\n</head>\n<body>\n  <h1>" + strconv.Itoa(status) +
		"</h1>\n  <h3>" + text + "</h3>\n  <p>Whoops, GitLab is taking too much time to respond.</p>\n</body>\n</html>\n"
}

// bufferWriter captures a whole response for FaultTruncatedJSON.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(code int)        { b.status = code }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
