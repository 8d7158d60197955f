package gitlabtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// received is one webhook request as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
}

func (r received) eventUUID() string { return r.header.Get("X-Gitlab-Event-UUID") }

// payload decodes the body into a generic JSON object.
func (r received) payload(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("webhook body %q: %v", r.body, err)
	}
	return m
}

// receiver is an httptest webhook endpoint that keeps every request.
type receiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	got     []received
	arrived chan struct{} // closed and replaced on every request
	status  int           // answer; 0 = 200
	block   chan struct{} // when set, requests wait for it (or their context)
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{arrived: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		status, block := rc.status, rc.block
		close(rc.arrived)
		rc.arrived = make(chan struct{})
		rc.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/webhook" }

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitRequests waits up to 10 s until n requests have arrived.
func (rc *receiver) waitRequests(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		rc.mu.Lock()
		got, arrived := len(rc.got), rc.arrived
		rc.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-arrived:
		case <-timeout:
			t.Fatalf("%d requests arrived, want %d", got, n)
		}
	}
}

// byUUID counts the requests per X-Gitlab-Event-UUID.
func (rc *receiver) byUUID() map[string]int {
	out := map[string]int{}
	for _, r := range rc.requests() {
		out[r.eventUUID()]++
	}
	return out
}

// addHook registers a webhook to rc, failing the test on error.
func addHook(t *testing.T, s *Server, rc *receiver, opt WebhookOptions) *Webhook {
	t.Helper()
	opt.URL = rc.url()
	w, err := s.AddWebhook(opt)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func flush(t *testing.T, w *Webhook) int {
	t.Helper()
	n, err := w.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitStats waits up to 10 s for done, which a real-time sender makes true.
func waitStats(t *testing.T, w *Webhook, what string, done func(WebhookStats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Wait(ctx, done); err != nil {
		t.Fatalf("waiting for %s: %v; stats %+v", what, err, w.Stats())
	}
}

// hookStatuses lists, in arrival order, the statuses the receiver got for
// one job (Job Hooks) or, with job 0, for one pipeline (Pipeline Hooks).
func hookStatuses(t *testing.T, rc *receiver, jobID, pipelineID int64) []string {
	t.Helper()
	var out []string
	for _, r := range rc.requests() {
		p := r.payload(t)
		switch {
		case jobID != 0 && p["object_kind"] == "build" && int64(p["build_id"].(float64)) == jobID:
			out = append(out, p["build_status"].(string))
		case jobID == 0 && p["object_kind"] == "pipeline":
			attrs := p["object_attributes"].(map[string]any)
			if int64(attrs["id"].(float64)) == pipelineID {
				out = append(out, attrs["status"].(string))
			}
		}
	}
	return out
}
