package gitlabapi

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
)

func TestObserverEndpointsAndCodes(t *testing.T) {
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Remaining", r.URL.Query().Get("remaining"))
		switch p := r.URL.EscapedPath(); {
		case p == "/api/v4/projects/g%2Fp/jobs/9":
			writeJSON(w, 404, map[string]string{"message": "404 Not found"})
		case p == "/api/v4/projects/g%2Fp" || p == "/api/v4/metadata":
			writeJSON(w, 200, map[string]any{})
		default:
			writeJSON(w, 200, []any{})
		}
	}), func(o *Options) { o.MaxRetries = 0 })
	ctx := context.Background()
	for range env.c.ProjectJobPages(ctx, "g/p", ListJobsOptions{}) {
	}
	_, _ = env.c.PipelineJobs(ctx, "g/p", 1, PipelineJobsOptions{})
	_, _ = env.c.PipelineBridges(ctx, "g/p", 1, nil)
	_, _ = env.c.Job(ctx, "g/p", 9)
	_, _ = env.c.Project(ctx, "g/p")
	_, _ = env.c.ProjectPipelines(ctx, "g/p", ListPipelinesOptions{})
	_, _ = env.c.GroupProjects(ctx, "g", GroupProjectsOptions{})
	_, _ = env.c.Metadata(ctx)
	want := []observation{
		{"/projects/:id/jobs", 200},
		{"/projects/:id/pipelines/:pipeline_id/jobs", 200},
		{"/projects/:id/pipelines/:pipeline_id/bridges", 200},
		{"/projects/:id/jobs/:job_id", 404},
		{"/projects/:id", 200},
		{"/projects/:id/pipelines", 200},
		{"/groups/:id/projects", 200},
		{"/metadata", 200},
	}
	if got := env.obs.requests(); !slices.Equal(got, want) {
		t.Errorf("observations\n got %v\nwant %v", got, want)
	}
}

func TestObserverTransportErrorAndRemaining(t *testing.T) {
	remaining := []string{"", "oops", "NaN", "1999", "0", "12.5"}
	var n atomic.Int64
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i == 0 {
			hijack(false)(w, r)
			return
		}
		if v := remaining[i-1]; v != "" {
			w.Header().Set("RateLimit-Remaining", v)
		}
		writeJSON(w, 200, metadataBody)
	}), nil)
	for range remaining {
		_, err := env.c.Metadata(context.Background())
		mustOK(t, err)
	}
	obs := env.obs.requests()
	if len(obs) != len(remaining)+1 || obs[0] != (observation{EndpointMetadata, 0}) || obs[1] != (observation{EndpointMetadata, 200}) {
		t.Errorf("observations = %v", obs)
	}
	env.obs.mu.Lock()
	defer env.obs.mu.Unlock()
	if got, want := env.obs.remaining, []float64{1999, 0, 12.5}; !slices.Equal(got, want) {
		t.Errorf("remaining = %v, want %v", got, want)
	}
}

func TestRequestCounterCountsAttempts(t *testing.T) {
	bad := func(w http.ResponseWriter, r *http.Request) { writeRaw(w, 502, "text/html", "<title>502</title>") }
	env := newEnv(t, failThen(bad, bad), nil)
	var n, other atomic.Int64
	_, err := env.c.Metadata(WithRequestCounter(context.Background(), &n))
	mustOK(t, err)
	_, err = env.c.Metadata(WithRequestCounter(context.Background(), &other))
	mustOK(t, err)
	if n.Load() != 3 || other.Load() != 1 {
		t.Errorf("counted %d and %d attempts, want 3 and 1", n.Load(), other.Load())
	}
}
