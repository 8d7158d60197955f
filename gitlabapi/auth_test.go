package gitlabapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAuthHeaders(t *testing.T) {
	tests := []struct {
		mode       AuthMode
		header     string
		want       string
		absentHdrs []string
	}{
		{AuthPrivateToken, "PRIVATE-TOKEN", testToken, []string{"Authorization", "JOB-TOKEN"}},
		{AuthBearer, "Authorization", "Bearer " + testToken, []string{"PRIVATE-TOKEN", "JOB-TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, metadataBody)
			}), func(o *Options) { o.AuthMode = tt.mode; o.UserAgent = "exporter-test/1" })
			_, err := env.c.Metadata(context.Background())
			mustOK(t, err)
			r := env.log.get(0)
			if got := r.Header.Values(tt.header); len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s = %q, want %q", tt.header, got, tt.want)
			}
			for _, h := range tt.absentHdrs {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("unexpected %s: %q", h, v)
				}
			}
			if strings.Contains(r.RequestURI, testToken) || strings.Contains(r.RequestURI, "private_token") {
				t.Errorf("token in URL: %s", r.RequestURI)
			}
			if r.Header.Get("User-Agent") != "exporter-test/1" || r.Header.Get("Accept") != "application/json" {
				t.Errorf("User-Agent %q Accept %q", r.Header.Get("User-Agent"), r.Header.Get("Accept"))
			}
		})
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		writeJSON(w, 200, []Job{})
	}))
	defer other.Close()

	tests := []struct {
		name    string
		serve   func(w http.ResponseWriter, r *http.Request)
		wantErr error
	}{
		{"401", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, map[string]string{"message": "401 Unauthorized"})
		}, ErrUnauthorized},
		{"proxy echoes the token", func(w http.ResponseWriter, r *http.Request) {
			writeRaw(w, 400, "text/plain", "bad header PRIVATE-TOKEN: "+r.Header.Get("PRIVATE-TOKEN"))
		}, ErrBadRequest},
		{"Link to another host", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/api/v4/projects/42/jobs?cursor=x&pagination=keyset>; rel="next"`, other.URL))
			writeJSON(w, 200, []Job{{ID: 1}})
		}, ErrBadLink},
		{"Link to another scheme", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", fmt.Sprintf(`<https://%s/api/v4/projects/42/jobs?cursor=x>; rel="next"`, r.Host))
			writeJSON(w, 200, []Job{{ID: 1}})
		}, ErrBadLink},
		{"redirect to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/api/v4/projects/42/jobs", http.StatusMovedPermanently)
		}, errCrossOriginRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otherHits.Store(0)
			env := newEnv(t, http.HandlerFunc(tt.serve), nil)
			var err error
			for _, e := range env.c.ProjectJobPages(context.Background(), "42", ListJobsOptions{}) {
				if e != nil {
					err = e
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("token in error: %v", err)
			}
			if n := otherHits.Load(); n != 0 {
				t.Errorf("other host got %d requests", n)
			}
			if n := env.log.len(); n != 1 {
				t.Errorf("requests = %d, want 1 (no retry)", n)
			}
			for _, o := range env.obs.requests() {
				if strings.Contains(o.Endpoint, testToken) {
					t.Errorf("token in observed endpoint %q", o.Endpoint)
				}
			}
		})
	}
}

// GitLab answers 301 for a moved project; following it on the same host
// keeps the token.
func TestSameHostRedirectFollowed(t *testing.T) {
	env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() == "/api/v4/projects/old%2Fname" {
			http.Redirect(w, r, "/api/v4/projects/new%2Fname", http.StatusMovedPermanently)
			return
		}
		if r.Header.Get("PRIVATE-TOKEN") != testToken {
			writeJSON(w, 401, map[string]string{"message": "401 Unauthorized"})
			return
		}
		writeJSON(w, 200, Project{ID: 5, PathWithNamespace: "new/name"})
	}), nil)
	p, err := env.c.Project(context.Background(), "old/name")
	mustOK(t, err)
	if p.ID != 5 || p.PathWithNamespace != "new/name" {
		t.Errorf("project = %+v", p)
	}
}
