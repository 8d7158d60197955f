package gitlabapi

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// TestProjectJobPagesFirstPage walks the fake GitLab with a first page of
// another size than the rest: per_page must change after the first request
// and the keyset walk must still return every job exactly once, in order.
func TestProjectJobPagesFirstPage(t *testing.T) {
	tests := []struct {
		name       string
		jobs       int
		pendingOf2 bool // enqueue every second job and ask for scope pending only
		firstPage  int
		perPage    int
		wantSizes  []string // per_page of each request
	}{
		{name: "small first page, full pages after", jobs: 250, firstPage: 20, perPage: 100,
			wantSizes: []string{"20", "100", "100", "100"}},
		{name: "everything fits the first page", jobs: 15, firstPage: 20, perPage: 100,
			wantSizes: []string{"20"}},
		{name: "exactly one first page", jobs: 20, firstPage: 20, perPage: 100,
			wantSizes: []string{"20"}},
		{name: "no first page size", jobs: 250, perPage: 100,
			wantSizes: []string{"100", "100", "100"}},
		{name: "large first page, small pages after", jobs: 160, firstPage: 100, perPage: 30,
			wantSizes: []string{"100", "30", "30"}},
		{name: "scope survives the rewritten link", jobs: 300, pendingOf2: true, firstPage: 20, perPage: 100,
			wantSizes: []string{"20", "100", "100"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gl := gitlabtest.NewServer(gitlabtest.Options{Token: "tok", FirstJobID: bigID})
			t.Cleanup(gl.Close)
			project := gl.CreateProject("g/app", gitlabtest.ProjectOptions{})
			pipeline := gl.CreatePipeline(project, "main", gitlabtest.PipelineOptions{})
			var want []int64 // newest first
			for k := range tc.jobs {
				id := gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: "job" + strconv.Itoa(k), Stage: "test"})
				if tc.pendingOf2 && k%2 == 1 {
					if err := gl.Enqueue(id); err != nil {
						t.Fatal(err)
					}
				}
				if !tc.pendingOf2 || k%2 == 1 {
					want = append(want, id)
				}
			}
			slices.Reverse(want)
			opts := validOptions(gl.URL())
			opts.Token, opts.RequestsPerSecond, opts.Burst, opts.MaxRetries = "tok", 1000, 1000, 0
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			opt := ListJobsOptions{PerPage: tc.perPage, FirstPage: tc.firstPage, Minimal: true}
			if tc.pendingOf2 {
				opt.Scopes = []JobStatus{StatusPending}
			}
			var got []int64
			for page, err := range c.ProjectJobPages(context.Background(), strconv.FormatInt(project, 10), opt) {
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range page {
					got = append(got, j.ID)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("walk returned %d jobs, want each of the %d exactly once, newest first", len(got), len(want))
			}
			var sizes []string
			for _, r := range gl.Requests() {
				sizes = append(sizes, r.Query.Get("per_page"))
				if tc.pendingOf2 && !slices.Equal(r.Query["scope[]"], []string{"pending"}) {
					t.Errorf("request %s?%s lost the scope", r.Path, r.Query.Encode())
				}
			}
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("per_page of the requests = %v, want %v", sizes, tc.wantSizes)
			}
		})
	}
}

func TestWithPerPage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cursor=abc%3D&order_by=id&per_page=20&scope[]=running", "cursor=abc%3D&order_by=id&per_page=100&scope[]=running"},
		{"cursor=abc&order_by=id", "cursor=abc&order_by=id&per_page=100"},
		{"per%5Fpage=20&cursor=abc", "per_page=100&cursor=abc"},
		{"per_page=20&cursor=abc&per_page=30", "per_page=100&cursor=abc"},
		{"", "per_page=100"},
	}
	for _, tc := range tests {
		if got := withPerPage(tc.in, 100); got != tc.want {
			t.Errorf("withPerPage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestProjectJobPagesRejectsNegativeFirstPage(t *testing.T) {
	c, err := New(validOptions("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range c.ProjectJobPages(context.Background(), "1", ListJobsOptions{FirstPage: -1}) {
		if err == nil {
			t.Fatal("a negative FirstPage was accepted")
		}
		return
	}
	t.Fatal("ProjectJobPages yielded nothing for a negative FirstPage")
}
