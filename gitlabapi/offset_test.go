package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func jobItems(n int) []any {
	var out []any
	for i := range n {
		out = append(out, Job{ID: bigID - int64(i), Status: StatusSuccess})
	}
	return out
}

func TestOffsetWalks(t *testing.T) {
	updated := time.Date(2024, 6, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name     string
		path     string
		items    []any
		call     func(c *Client) (int, error) // returns the number of items
		wantURIs []string
	}{
		{
			name:  "pipeline jobs with retried and scopes",
			path:  "/api/v4/projects/group%2Fproj/pipelines/77/jobs",
			items: jobItems(250),
			call: func(c *Client) (int, error) {
				jobs, err := c.PipelineJobs(context.Background(), "group/proj", 77,
					PipelineJobsOptions{IncludeRetried: true, Scopes: []JobStatus{StatusSuccess, StatusFailed}})
				if err == nil && (jobs[0].ID != bigID || jobs[249].ID != bigID-249) {
					t.Errorf("jobs out of order: first %d last %d", jobs[0].ID, jobs[249].ID)
				}
				return len(jobs), err
			},
			wantURIs: []string{
				"/api/v4/projects/group%2Fproj/pipelines/77/jobs?include_retried=true&per_page=100&scope[]=success&scope[]=failed",
				"/api/v4/projects/group%2Fproj/pipelines/77/jobs?include_retried=true&page=2&per_page=100&scope[]=success&scope[]=failed",
				"/api/v4/projects/group%2Fproj/pipelines/77/jobs?include_retried=true&page=3&per_page=100&scope[]=success&scope[]=failed",
			},
		},
		{
			name:  "pipeline jobs without retried",
			path:  "/api/v4/projects/42/pipelines/7/jobs",
			items: jobItems(3),
			call: func(c *Client) (int, error) {
				jobs, err := c.PipelineJobs(context.Background(), "42", 7, PipelineJobsOptions{})
				return len(jobs), err
			},
			wantURIs: []string{"/api/v4/projects/42/pipelines/7/jobs?per_page=100"},
		},
		{
			name: "bridges",
			path: "/api/v4/projects/42/pipelines/7/bridges",
			items: func() []any {
				var out []any
				for i := range 101 {
					out = append(out, Bridge{Job: Job{ID: int64(1000 + i)}, DownstreamPipeline: &PipelineBasic{ID: int64(5000 + i)}})
				}
				return out
			}(),
			call: func(c *Client) (int, error) {
				bs, err := c.PipelineBridges(context.Background(), "42", 7, []JobStatus{StatusRunning})
				if err == nil && (bs[100].ID != 1100 || bs[100].DownstreamPipeline.ID != 5100) {
					t.Errorf("last bridge = %+v", bs[100])
				}
				return len(bs), err
			},
			wantURIs: []string{
				"/api/v4/projects/42/pipelines/7/bridges?per_page=100&scope[]=running",
				"/api/v4/projects/42/pipelines/7/bridges?page=2&per_page=100&scope[]=running",
			},
		},
		{
			name: "group projects with subgroups, not archived",
			path: "/api/v4/groups/my-group%2Fteam/projects",
			items: func() []any {
				var out []any
				for i := range 150 {
					out = append(out, Project{ID: int64(i + 1), PathWithNamespace: "my-group/team/p"})
				}
				return out
			}(),
			call: func(c *Client) (int, error) {
				ps, err := c.GroupProjects(context.Background(), "my-group/team", GroupProjectsOptions{IncludeSubgroups: true})
				return len(ps), err
			},
			wantURIs: []string{
				"/api/v4/groups/my-group%2Fteam/projects?archived=false&include_subgroups=true&order_by=id&per_page=100&sort=asc",
				"/api/v4/groups/my-group%2Fteam/projects?archived=false&include_subgroups=true&order_by=id&page=2&per_page=100&sort=asc",
			},
		},
		{
			name:  "group projects including archived",
			path:  "/api/v4/groups/9/projects",
			items: []any{Project{ID: 1}},
			call: func(c *Client) (int, error) {
				ps, err := c.GroupProjects(context.Background(), "9", GroupProjectsOptions{IncludeArchived: true})
				return len(ps), err
			},
			wantURIs: []string{"/api/v4/groups/9/projects?include_subgroups=false&order_by=id&per_page=100&sort=asc"},
		},
		{
			name: "pipelines with filters",
			path: "/api/v4/projects/42/pipelines",
			items: func() []any {
				var out []any
				for i := range 120 {
					out = append(out, PipelineBasic{ID: int64(i + 1)})
				}
				return out
			}(),
			call: func(c *Client) (int, error) {
				ps, err := c.ProjectPipelines(context.Background(), "42", ListPipelinesOptions{
					UpdatedAfter: &updated, OrderBy: "updated_at", Sort: "asc", Ref: "main",
					Status: "success", Scope: "finished", Source: "push"})
				return len(ps), err
			},
			wantURIs: []string{
				"/api/v4/projects/42/pipelines?order_by=updated_at&per_page=100&ref=main&scope=finished&sort=asc&source=push&status=success&updated_after=2024-06-01T10%3A30%3A00Z",
				"/api/v4/projects/42/pipelines?order_by=updated_at&page=2&per_page=100&ref=main&scope=finished&sort=asc&source=push&status=success&updated_after=2024-06-01T10%3A30%3A00Z",
			},
		},
		{
			name:  "pipelines stop at MaxPages",
			path:  "/api/v4/projects/42/pipelines",
			items: jobItems(500),
			call: func(c *Client) (int, error) {
				ps, err := c.ProjectPipelines(context.Background(), "42", ListPipelinesOptions{MaxPages: 2})
				return len(ps), err
			},
			wantURIs: []string{
				"/api/v4/projects/42/pipelines?per_page=100",
				"/api/v4/projects/42/pipelines?page=2&per_page=100",
			},
		},
		{
			name:  "empty list",
			path:  "/api/v4/projects/42/pipelines/7/bridges",
			items: []any{},
			call: func(c *Client) (int, error) {
				bs, err := c.PipelineBridges(context.Background(), "42", 7, nil)
				return len(bs), err
			},
			wantURIs: []string{"/api/v4/projects/42/pipelines/7/bridges?per_page=100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &offsetPages{path: tt.path, items: tt.items}
			env := newEnv(t, fake, nil)
			fake.base = func() string { return env.srv.URL }
			n, err := tt.call(env.c)
			mustOK(t, err)
			wantN := min(len(tt.items), 100*len(tt.wantURIs))
			if n != wantN {
				t.Errorf("items = %d, want %d", n, wantN)
			}
			if got := env.log.uris(); !slices.Equal(got, tt.wantURIs) {
				t.Errorf("requests\n got %q\nwant %q", got, tt.wantURIs)
			}
		})
	}
}

func TestOffsetNextPageHeaders(t *testing.T) {
	const path = "/api/v4/projects/42/pipelines"
	tests := []struct {
		name         string
		serve        func(base string, w http.ResponseWriter, r *http.Request)
		wantErr      error
		wantItems    int
		wantRequests int
	}{
		{
			name: "X-Next-Page stripped by a proxy: follow Link",
			serve: func(base string, w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("page") == "" {
					w.Header().Set("Link", `<`+base+path+`?page=2&per_page=100>; rel="next", <`+base+path+`?page=1&per_page=100>; rel="first"`)
				}
				writeJSON(w, 200, []PipelineBasic{{ID: 1}})
			},
			wantItems: 2, wantRequests: 2,
		},
		{
			name: "X-Next-Page garbage",
			serve: func(base string, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Next-Page", "two")
				writeJSON(w, 200, []PipelineBasic{{ID: 1}})
			},
			wantErr: ErrBadLink, wantRequests: 1,
		},
		{
			name: "X-Next-Page does not advance",
			serve: func(base string, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Next-Page", "1")
				writeJSON(w, 200, []PipelineBasic{{ID: 1}})
			},
			wantErr: ErrBadLink, wantRequests: 1,
		},
		{
			name: "X-Total-Pages ignored when X-Next-Page says more",
			serve: func(base string, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Total-Pages", "1")
				w.Header().Set("X-Total", "1")
				if r.URL.Query().Get("page") == "" {
					w.Header().Set("X-Next-Page", "2")
				} else {
					w.Header().Set("X-Next-Page", "")
				}
				writeJSON(w, 200, []PipelineBasic{{ID: 1}})
			},
			wantItems: 2, wantRequests: 2,
		},
		{
			name: "unknown pipeline",
			serve: func(base string, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 404, map[string]string{"message": "404 Project Not Found"})
			},
			wantErr: ErrNotFound, wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env *testEnv
			env = newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.serve(env.srv.URL, w, r)
			}), nil)
			ps, err := env.c.ProjectPipelines(context.Background(), "42", ListPipelinesOptions{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), EndpointProjectPipelines) {
					t.Errorf("error %q does not name the endpoint", err)
				}
			} else {
				mustOK(t, err)
			}
			if len(ps) != tt.wantItems {
				t.Errorf("items = %d, want %d", len(ps), tt.wantItems)
			}
			if n := env.log.len(); n != tt.wantRequests {
				t.Errorf("requests = %d, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestInvalidArgumentsMakeNoRequest(t *testing.T) {
	env := newEnv(t, http.NotFoundHandler(), nil)
	ctx := context.Background()
	calls := map[string]func() error{
		"pipeline id 0":       func() error { _, err := env.c.PipelineJobs(ctx, "42", 0, PipelineJobsOptions{}); return err },
		"negative bridges id": func() error { _, err := env.c.PipelineBridges(ctx, "42", -1, nil); return err },
		"job id 0":            func() error { _, err := env.c.Job(ctx, "42", 0); return err },
		"empty project":       func() error { _, err := env.c.Project(ctx, " "); return err },
		"slash-wrapped path":  func() error { _, err := env.c.Project(ctx, "/group/proj/"); return err },
		"dot-dot project":     func() error { _, err := env.c.Project(ctx, ".."); return err },
		"empty group":         func() error { _, err := env.c.GroupProjects(ctx, "", GroupProjectsOptions{}); return err },
		"negative MaxPages": func() error {
			_, err := env.c.ProjectPipelines(ctx, "42", ListPipelinesOptions{MaxPages: -1})
			return err
		},
		"empty scope": func() error {
			_, err := env.c.PipelineJobs(ctx, "42", 1, PipelineJobsOptions{Scopes: []JobStatus{" "}})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := env.log.len(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}
