package gitlabtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 has sub-millisecond digits on purpose: the API must render
// milliseconds while the model keeps microseconds.
var t0 = time.Date(2025, 9, 2, 11, 54, 28, 847_123_000, time.UTC)

func newTestServer(t *testing.T, opts Options) (*Server, *ManualClock) {
	t.Helper()
	c := NewManualClock(t0)
	if opts.Clock == nil {
		opts.Clock = c
	}
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s, c
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// get requests path (relative to the server) with the default token unless
// headers are given as name/value pairs; "" as the only pair sends none.
func get(t *testing.T, s *Server, path string, headers ...string) result {
	t.Helper()
	return do(t, "GET", s.URL()+path, headers...)
}

func do(t *testing.T, method, url string, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(headers) == 0 {
		req.Header.Set("PRIVATE-TOKEN", DefaultToken)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "" {
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	return v
}

// ids extracts the "id" of every object in a JSON array.
func ids(t *testing.T, r result) []int64 {
	t.Helper()
	var rows []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(r.body, &rows); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	out := make([]int64, len(rows))
	for i, row := range rows {
		out[i] = row.ID
	}
	return out
}

// links parses a Link header into rel → URL.
func links(h http.Header) map[string]string {
	out := map[string]string{}
	v := h.Get("Link")
	if v == "" {
		return out
	}
	for _, part := range strings.Split(v, ", ") {
		url, rel, ok := strings.Cut(part, ">; rel=\"")
		if !ok {
			continue
		}
		out[strings.TrimSuffix(rel, "\"")] = strings.TrimPrefix(url, "<")
	}
	return out
}

func wantBody(t *testing.T, r result, status int, body string) {
	t.Helper()
	if r.status != status || string(r.body) != body {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, body)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixture is a project with one pipeline, ready for jobs.
type fixture struct {
	s        *Server
	clock    *ManualClock
	project  int64
	pipeline int64
}

func newFixture(t *testing.T, opts Options) fixture {
	t.Helper()
	s, c := newTestServer(t, opts)
	p := s.CreateProject("grp/sub/proj", ProjectOptions{})
	if p == 0 {
		t.Fatal("CreateProject failed")
	}
	return fixture{s: s, clock: c, project: p, pipeline: s.CreatePipeline(p, "", PipelineOptions{})}
}

// job creates a build and drives it to status ("created", "pending",
// "running", "success", "failed", "canceled", "manual", "skipped").
func (f fixture) job(t *testing.T, name, status string) int64 {
	t.Helper()
	return f.jobIn(t, f.pipeline, JobSpec{Name: name}, status)
}

func (f fixture) jobIn(t *testing.T, pipeline int64, spec JobSpec, status string) int64 {
	t.Helper()
	if status == "manual" {
		spec.When = "manual"
	}
	id := f.s.CreateJob(pipeline, spec)
	if id == 0 {
		t.Fatalf("CreateJob(%d, %+v) failed", pipeline, spec)
	}
	switch status {
	case "created", "manual":
	case "skipped":
		must(t, f.s.Skip(id))
	case "pending":
		must(t, f.s.Enqueue(id))
	case "running":
		must(t, f.s.Enqueue(id))
		must(t, f.s.Start(id))
	case "success", "failed", "canceled":
		must(t, f.s.Enqueue(id))
		must(t, f.s.Start(id))
		must(t, f.s.Finish(id, status, FinishOptions{}))
	default:
		t.Fatalf("fixture cannot reach status %q", status)
	}
	return id
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }

func ptr[T any](v T) *T { return &v }

// deref is *p for messages, nil for a nil p.
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
