package gitlabapi

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring; empty = valid
		wantAPI string // base API URL when valid
	}{
		{name: "host only", opts: Options{BaseURL: "https://gitlab.example.com"}, wantAPI: "https://gitlab.example.com/api/v4"},
		{name: "trailing slash", opts: Options{BaseURL: "https://gitlab.example.com/"}, wantAPI: "https://gitlab.example.com/api/v4"},
		{name: "with /api/v4", opts: Options{BaseURL: "https://gitlab.example.com/api/v4/"}, wantAPI: "https://gitlab.example.com/api/v4"},
		{name: "relative URL root", opts: Options{BaseURL: "http://10.0.0.1:8080/gitlab"}, wantAPI: "http://10.0.0.1:8080/gitlab/api/v4"},
		{name: "empty", opts: Options{}, wantErr: "BaseURL is empty"},
		{name: "no scheme", opts: Options{BaseURL: "gitlab.example.com"}, wantErr: "http:// or https://"},
		{name: "ftp", opts: Options{BaseURL: "ftp://gitlab.example.com"}, wantErr: "http:// or https://"},
		{name: "no host", opts: Options{BaseURL: "https:///api/v4"}, wantErr: "no host"},
		{name: "user info", opts: Options{BaseURL: "https://u:secretpw@gitlab.example.com"}, wantErr: "user info"},
		{name: "query", opts: Options{BaseURL: "https://gitlab.example.com/?private_token=x"}, wantErr: "query"},
		{name: "bad URL", opts: Options{BaseURL: "https://gitlab.example.com:port"}, wantErr: "not a URL"},
		{name: "token with newline", opts: Options{BaseURL: "https://g", Token: "abc\nX-Evil: 1"}, wantErr: "Token contains"},
		{name: "negative rps", opts: Options{BaseURL: "https://g", RequestsPerSecond: -1}, wantErr: "RequestsPerSecond"},
		{name: "NaN rps", opts: Options{BaseURL: "https://g", RequestsPerSecond: math.NaN()}, wantErr: "RequestsPerSecond"},
		{name: "negative burst", opts: Options{BaseURL: "https://g", Burst: -1}, wantErr: "Burst"},
		{name: "negative concurrency", opts: Options{BaseURL: "https://g", MaxConcurrent: -2}, wantErr: "MaxConcurrent"},
		{name: "negative timeout", opts: Options{BaseURL: "https://g", Timeout: -time.Second}, wantErr: "Timeout"},
		{name: "unknown auth mode", opts: Options{BaseURL: "https://g", AuthMode: 7}, wantErr: "AuthMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secretpw") || strings.Contains(err.Error(), "X-Evil") {
					t.Errorf("secret echoed: %v", err)
				}
				return
			}
			mustOK(t, err)
			if got := c.base.String(); got != tt.wantAPI {
				t.Errorf("API base = %q, want %q", got, tt.wantAPI)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Options{BaseURL: "https://gitlab.example.com", Token: testToken})
	mustOK(t, err)
	if c.limiter.Limit() != 10 || c.limiter.Burst() != 20 || cap(c.sem) != 8 || c.timeout != 30*time.Second ||
		c.maxRetries != 4 || c.maxBody != 32<<20 || c.userAgent == "" {
		t.Errorf("defaults: limit %v burst %d conc %d timeout %v retries %d", c.limiter.Limit(), c.limiter.Burst(), cap(c.sem), c.timeout, c.maxRetries)
	}
	c, err = New(Options{BaseURL: "https://gitlab.example.com", MaxRetries: -3})
	mustOK(t, err)
	if c.maxRetries != 0 {
		t.Errorf("negative MaxRetries gave %d retries", c.maxRetries)
	}
}

// A sub-path install and a full project path reach GitLab as one %2F-encoded segment.
func TestPathEncodingOnTheWire(t *testing.T) {
	var env *testEnv
	env = newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, Job{ID: 3})
	}), nil)
	c, err := New(Options{BaseURL: env.srv.URL + "/gitlab/", Clock: env.clock, RequestsPerSecond: 1e6})
	mustOK(t, err)
	for project, want := range map[string]string{
		"group/sub/proj":    "/gitlab/api/v4/projects/group%2Fsub%2Fproj/jobs/3",
		"42":                "/gitlab/api/v4/projects/42/jobs/3",
		"my.group/my-proj_": "/gitlab/api/v4/projects/my.group%2Fmy-proj_/jobs/3",
	} {
		before := env.log.len()
		_, err := c.Job(context.Background(), project, 3)
		mustOK(t, err)
		if got := env.log.get(before).RequestURI; got != want {
			t.Errorf("%s: request %s, want %s", project, got, want)
		}
	}
}
