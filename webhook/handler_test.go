package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

const secret = "s3cr3t-webhook-token"

// sink records hints and polls the projects in polled.
type sink struct {
	mu     sync.Mutex
	polled map[int64]bool
	hints  []scraper.Hint
}

// Configured: every project in polled, polled by this shard or not.
func (s *sink) Configured(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.polled[id]
	return ok
}

func (s *sink) Hint(h scraper.Hint) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hints = append(s.hints, h)
	return s.polled[h.ProjectID]
}

type counts map[string]int // "event result"

func (c counts) WebhookDelivery(event, result string) { c[event+" "+result]++ }

// countingBody records how much of a body the handler read.
type countingBody struct {
	r    io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "gitlabapi", "gitlabtest", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandler(t *testing.T) {
	jobHook := fixture(t, "webhook_job_event_real_gitlab_com.json") // project 31537070, "2023-01-10 13:50:02 UTC" timestamps
	docsJobHook := fixture(t, "webhook_job_event_docs.json")        // ISO timestamps
	pipelineHook := fixture(t, "webhook_pipeline_event_go-gitlab.json")
	child := func(status string) []byte {
		return []byte(`{"object_kind":"pipeline","object_attributes":{"id":77,"status":"` + status + `"},"project":{"id":5},
		"source_pipeline":{"project":{"id":4},"pipeline_id":70,"job_id":700}}`)
	}
	big := bytes.Repeat([]byte(" "), MaxBody+1)
	for _, tc := range []struct {
		name     string
		method   string
		event    string
		token    string
		body     []byte
		chunked  bool // no Content-Length
		wantCode int
		want     string // "event result" counted
		hints    []scraper.Hint
	}{
		{"job hook, polled project", "POST", "Job Hook", secret, jobHook, false, 202, "job accepted",
			[]scraper.Hint{{ProjectID: 31537070, JobID: 3580121225, PipelineID: 743121198, JobStatus: "success"}}},
		{"job hook in the docs' form", "POST", "Job Hook", secret, docsJobHook, false, 202, "job ignored",
			[]scraper.Hint{{ProjectID: 380, JobID: 1977, PipelineID: 2366, JobStatus: "created"}}},
		{"pipeline hook", "POST", "Pipeline Hook", secret, pipelineHook, false, 202, "pipeline ignored",
			[]scraper.Hint{{ProjectID: 1, PipelineID: 31, JobStatus: "success"}}},
		{"child pipeline finished names its parent", "POST", "Pipeline Hook", secret, child("success"), false, 202, "pipeline accepted",
			[]scraper.Hint{{ProjectID: 5, PipelineID: 77, JobStatus: "success"}, {ProjectID: 4, BridgesOf: 70}}},
		{"child pipeline created names its parent", "POST", "Pipeline Hook", secret, child("created"), false, 202, "pipeline accepted",
			[]scraper.Hint{{ProjectID: 5, PipelineID: 77, JobStatus: "created"}, {ProjectID: 4, BridgesOf: 70}}},
		{"child pipeline running leaves its parent's bridge", "POST", "Pipeline Hook", secret, child("running"), false, 202, "pipeline accepted",
			[]scraper.Hint{{ProjectID: 5, PipelineID: 77, JobStatus: "running"}}},
		{"another event", "POST", "Push Hook", secret, []byte(`{"object_kind":"push","project_id":31537070}`), false, 202, "other ignored", nil},
		{"no token", "POST", "Job Hook", "", jobHook, false, 401, "job unauthorized", nil},
		{"wrong token", "POST", "Job Hook", secret + "x", jobHook, false, 401, "job unauthorized", nil},
		{"token a prefix of the secret", "POST", "Job Hook", secret[:5], jobHook, false, 401, "job unauthorized", nil},
		{"not POST", "GET", "Job Hook", secret, nil, false, 405, "job bad_request", nil},
		{"a JSON array", "POST", "Job Hook", secret, []byte(`[{"object_kind":"build"}]`), false, 400, "job bad_request", nil},
		{"JSON null", "POST", "Job Hook", secret, []byte(`null`), false, 400, "job bad_request", nil},
		{"not JSON", "POST", "Job Hook", secret, []byte(`<html>`), false, 400, "job bad_request", nil},
		{"truncated", "POST", "Job Hook", secret, jobHook[:100], false, 400, "job bad_request", nil},
		{"wrong types", "POST", "Job Hook", secret, []byte(`{"object_kind":"build","build_id":"12"}`), false, 400, "job bad_request", nil},
		{"too large", "POST", "Pipeline Hook", secret, big, false, 413, "pipeline too_large", nil},
		{"too large, chunked", "POST", "Pipeline Hook", secret, big, true, 413, "pipeline too_large", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{polled: map[int64]bool{31537070: true, 5: true}}
			c := counts{}
			h := NewHandler(s, c)
			h.SetSecret(secret)
			body := &countingBody{r: bytes.NewReader(tc.body)}
			r := httptest.NewRequest(tc.method, "/webhook", body)
			r.ContentLength = int64(len(tc.body))
			if tc.chunked {
				r.ContentLength = -1
			}
			r.Header.Set("X-Gitlab-Event", tc.event)
			if tc.token != "" {
				r.Header.Set("X-Gitlab-Token", tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantCode {
				t.Errorf("status %d, want %d", w.Code, tc.wantCode)
			}
			if len(c) != 1 || c[tc.want] != 1 {
				t.Errorf("counted %v, want %q once", c, tc.want)
			}
			if w.Code >= 400 && w.Body.Len() > 0 {
				t.Errorf("error answer has a body: %q", w.Body.String())
			}
			switch {
			case tc.wantCode == 401 && body.read > 0:
				t.Errorf("read %d bytes of an unauthenticated body", body.read)
			case tc.wantCode == 413 && !tc.chunked && body.read > 0:
				t.Errorf("read %d bytes of a body announced too large", body.read)
			case tc.wantCode == 413 && body.read > MaxBody+1:
				t.Errorf("read %d bytes of a body over the limit", body.read)
			}
			if !slices.Equal(s.hints, tc.hints) {
				t.Errorf("hints %+v, want %+v", s.hints, tc.hints)
			}
			if closes := w.Header().Get("Connection") == "close"; closes != (tc.wantCode == 401 || tc.wantCode == 413) {
				t.Errorf("Connection: close is %v on a %d", closes, w.Code)
			}
		})
	}
}

func TestHandlerIsOffWithoutSecret(t *testing.T) {
	s := &sink{polled: map[int64]bool{31537070: true}}
	c := counts{}
	h := NewHandler(s, c)
	for _, secretNow := range []string{"", secret, ""} {
		h.SetSecret(secretNow)
		r := httptest.NewRequest("POST", "/webhook", bytes.NewReader(fixture(t, "webhook_job_event_real_gitlab_com.json")))
		r.Header.Set("X-Gitlab-Token", secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if want := map[bool]int{true: 404, false: 202}[secretNow == ""]; w.Code != want {
			t.Errorf("secret %q: status %d, want %d", secretNow, w.Code, want)
		}
	}
	if len(s.hints) != 1 {
		t.Errorf("%d hints, want 1 (while on)", len(s.hints))
	}
}

// TestMaxBodyFitsABigPipeline: GitLab's Pipeline Hook for a pipeline of
// 1,000 jobs, as the fake renders it, fits MaxBody with room to spare.
func TestMaxBodyFitsABigPipeline(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Gitlab-Event") == "Pipeline Hook" {
			mu.Lock()
			sizes = append(sizes, len(b))
			mu.Unlock()
		}
	}))
	defer recv.Close()
	gl := gitlabtest.NewServer(gitlabtest.Options{Clock: gitlabtest.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))})
	defer gl.Close()
	hook, err := gl.AddWebhook(gitlabtest.WebhookOptions{URL: recv.URL, PipelineEvents: true, Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	project := gl.CreateProject("g/big", gitlabtest.ProjectOptions{})
	pipeline := gl.CreatePipeline(project, "main", gitlabtest.PipelineOptions{})
	var last int64
	for i := range 1000 {
		last = gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: "rspec " + strings.Repeat("x", i%20), Stage: "test"})
	}
	if err := gl.Enqueue(last); err != nil {
		t.Fatal(err)
	}
	if _, err := hook.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	largest := 0
	for _, n := range sizes {
		largest = max(largest, n)
	}
	t.Logf("Pipeline Hook of a 1,000-job pipeline: %d bytes (%.1f MiB); MaxBody %d MiB", largest, float64(largest)/(1<<20), MaxBody>>20)
	if largest == 0 || largest > MaxBody/2 {
		t.Errorf("largest Pipeline Hook %d bytes; MaxBody %d should hold it twice", largest, MaxBody)
	}
}

// BenchmarkUnauthorizedDelivery is what a flood of deliveries with a wrong
// token costs: a digest and a comparison each, the body never read and the
// scraper never called.
func BenchmarkUnauthorizedDelivery(b *testing.B) {
	h := NewHandler(&sink{}, counts{})
	h.SetSecret(secret)
	body := bytes.Repeat([]byte("x"), 64<<10)
	for b.Loop() {
		r := httptest.NewRequest("POST", "/webhook", bytes.NewReader(body))
		r.Header.Set("X-Gitlab-Token", "guess")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			b.Fatalf("status %d", w.Code)
		}
	}
}
