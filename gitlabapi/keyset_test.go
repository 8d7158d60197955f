package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// bigID is a real gitlab.com job id: above 2^33.
const bigID int64 = 11215821048

// twelveJobs has ids bigID..bigID-11 with statuses cycling pending,
// running, success, failed.
func twelveJobs() []Job {
	statuses := []JobStatus{StatusPending, StatusRunning, StatusSuccess, StatusFailed}
	var jobs []Job
	for i := range 12 {
		jobs = append(jobs, Job{ID: bigID - int64(i), Status: statuses[i%4], Name: "job"})
	}
	return jobs
}

func TestProjectJobPagesKeysetWalk(t *testing.T) {
	const firstURI = "/api/v4/projects/group%2Fsub%2Fproj/jobs?order_by=id&pagination=keyset&per_page=2&scope[]=pending&scope[]=running&sort=desc"
	tests := []struct {
		name         string
		jobs         []Job
		scopes       []JobStatus
		perPage      int
		breakAfter   int // stop after this many pages; 0 = never
		wantPages    [][]int64
		wantRequests int
	}{
		{
			name: "three pages, last one full and without Link", jobs: twelveJobs(),
			scopes: []JobStatus{StatusPending, StatusRunning}, perPage: 2,
			wantPages:    [][]int64{{bigID, bigID - 1}, {bigID - 4, bigID - 5}, {bigID - 8, bigID - 9}},
			wantRequests: 3,
		},
		{
			name: "caller breaks after the first page", jobs: twelveJobs(),
			scopes: []JobStatus{StatusPending, StatusRunning}, perPage: 2, breakAfter: 1,
			wantPages:    [][]int64{{bigID, bigID - 1}},
			wantRequests: 1,
		},
		{
			name: "caller breaks after the second page", jobs: twelveJobs(),
			scopes: []JobStatus{StatusPending, StatusRunning}, perPage: 2, breakAfter: 2,
			wantPages:    [][]int64{{bigID, bigID - 1}, {bigID - 4, bigID - 5}},
			wantRequests: 2,
		},
		{
			name: "empty project yields nothing", jobs: nil,
			scopes: []JobStatus{StatusPending, StatusRunning}, perPage: 2,
			wantPages: nil, wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &keysetJobs{projectPath: "group/sub/proj", jobs: tt.jobs}
			env := newEnv(t, fake, nil)
			fake.base = func() string { return env.srv.URL }

			var pages [][]int64
			for page, err := range env.c.ProjectJobPages(context.Background(), "group/sub/proj",
				ListJobsOptions{Scopes: tt.scopes, PerPage: tt.perPage}) {
				mustOK(t, err)
				var ids []int64
				for _, j := range page {
					ids = append(ids, j.ID)
				}
				pages = append(pages, ids)
				if len(pages) == tt.breakAfter {
					break
				}
			}
			if !slices.EqualFunc(pages, tt.wantPages, slices.Equal) {
				t.Errorf("pages = %v, want %v", pages, tt.wantPages)
			}
			uris := env.log.uris()
			if len(uris) != tt.wantRequests {
				t.Fatalf("requests = %d %v, want %d", len(uris), uris, tt.wantRequests)
			}
			if uris[0] != firstURI {
				t.Errorf("first request\n got %s\nwant %s", uris[0], firstURI)
			}
			// Every later request is exactly the Link GitLab sent before.
			links := fake.sentLinks()
			for i := 1; i < len(uris); i++ {
				want := strings.TrimPrefix(links[i-1], env.srv.URL)
				if uris[i] != want {
					t.Errorf("request %d\n got %s\nwant %s", i, uris[i], want)
				}
				if !strings.Contains(uris[i], "scope%5B%5D=pending") || !strings.Contains(uris[i], "cursor=") {
					t.Errorf("request %d was not the verbatim Link: %s", i, uris[i])
				}
			}
		})
	}
}

func TestProjectJobPagesPerPage(t *testing.T) {
	tests := []struct {
		perPage int
		want    string
	}{
		{0, "per_page=100"},
		{250, "per_page=100"},
		{100, "per_page=100"},
		{20, "per_page=20"},
	}
	for _, tt := range tests {
		fake := &keysetJobs{projectPath: "42", jobs: twelveJobs()}
		env := newEnv(t, fake, nil)
		fake.base = func() string { return env.srv.URL }
		for _, err := range env.c.ProjectJobPages(context.Background(), "42", ListJobsOptions{PerPage: tt.perPage}) {
			mustOK(t, err)
			break
		}
		uris := env.log.uris()
		if len(uris) != 1 || !strings.Contains(uris[0], tt.want) || strings.Contains(uris[0], "scope") {
			t.Errorf("PerPage %d: requests %v, want one with %s and no scope", tt.perPage, uris, tt.want)
		}
	}
}

func TestProjectJobPagesErrors(t *testing.T) {
	tests := []struct {
		name         string
		project      string
		opt          ListJobsOptions
		handler      func(fake *keysetJobs) http.HandlerFunc
		wantPages    int
		wantIs       error
		wantRequests int
	}{
		{
			name: "negative per_page", project: "42", opt: ListJobsOptions{PerPage: -1},
			wantRequests: 0,
		},
		{
			name: "empty scope", project: "42", opt: ListJobsOptions{Scopes: []JobStatus{""}},
			wantRequests: 0,
		},
		{
			name: "empty project", project: "", wantRequests: 0,
		},
		{
			name: "second page fails", project: "42", opt: ListJobsOptions{PerPage: 5},
			handler: func(fake *keysetJobs) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("cursor") != "" {
						writeJSON(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
						return
					}
					fake.ServeHTTP(w, r)
				}
			},
			wantPages: 1, wantIs: ErrForbidden, wantRequests: 2,
		},
		{
			name: "Link repeats the current URL", project: "42", opt: ListJobsOptions{PerPage: 5},
			handler: func(fake *keysetJobs) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Link", "<"+fake.base()+r.RequestURI+">; rel=\"next\"")
					writeJSON(w, http.StatusOK, []Job{{ID: 1}})
				}
			},
			wantPages: 1, wantIs: ErrBadLink, wantRequests: 1,
		},
		{
			name: "truncated JSON", project: "42",
			handler: func(*keysetJobs) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					writeRaw(w, http.StatusOK, "application/json", `[{"id": 1, "status": "runn`)
				}
			},
			wantIs: ErrDecode, wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &keysetJobs{projectPath: "42", jobs: twelveJobs()}
			var h http.Handler = fake
			if tt.handler != nil {
				h = tt.handler(fake)
			}
			env := newEnv(t, h, nil)
			fake.base = func() string { return env.srv.URL }
			pages, errs := 0, 0
			var last error
			for page, err := range env.c.ProjectJobPages(context.Background(), tt.project, tt.opt) {
				if err != nil {
					errs++
					last = err
					if page != nil {
						t.Errorf("error yielded with a page")
					}
					continue
				}
				pages++
			}
			if errs != 1 {
				t.Fatalf("errors yielded = %d, want exactly 1", errs)
			}
			if tt.wantIs != nil && !errors.Is(last, tt.wantIs) {
				t.Errorf("error %v is not %v", last, tt.wantIs)
			}
			if pages != tt.wantPages {
				t.Errorf("pages = %d, want %d", pages, tt.wantPages)
			}
			if n := env.log.len(); n != tt.wantRequests {
				t.Errorf("requests = %d, want %d", n, tt.wantRequests)
			}
		})
	}
}
