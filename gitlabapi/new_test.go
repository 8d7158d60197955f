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
		tweak   func(o *Options)
		wantErr string // substring; empty = valid
		wantAPI string // base API URL when valid
	}{
		{name: "host only", tweak: func(o *Options) { o.BaseURL = "https://gitlab.example.com" }, wantAPI: "https://gitlab.example.com/api/v4"},
		{name: "trailing slash", tweak: func(o *Options) { o.BaseURL = "https://gitlab.example.com/" }, wantAPI: "https://gitlab.example.com/api/v4"},
		{name: "relative URL root", tweak: func(o *Options) { o.BaseURL = "http://10.0.0.1:8080/gitlab" }, wantAPI: "http://10.0.0.1:8080/gitlab/api/v4"},
		{name: "with /api/v4", tweak: func(o *Options) { o.BaseURL = "https://gitlab.example.com/api/v4/" }, wantErr: `without "/api/v4"`},
		{name: "empty", tweak: func(o *Options) { o.BaseURL = "" }, wantErr: "BaseURL: is empty"},
		{name: "no scheme", tweak: func(o *Options) { o.BaseURL = "gitlab.example.com" }, wantErr: "want an http or https URL"},
		{name: "ftp", tweak: func(o *Options) { o.BaseURL = "ftp://gitlab.example.com" }, wantErr: "want an http or https URL"},
		{name: "no host", tweak: func(o *Options) { o.BaseURL = "https:///api/v4" }, wantErr: "with a host"},
		{name: "user info", tweak: func(o *Options) { o.BaseURL = "https://u:secretpw@gitlab.example.com" }, wantErr: "credentials"},
		{name: "query", tweak: func(o *Options) { o.BaseURL = "https://gitlab.example.com/?private_token=x" }, wantErr: "query"},
		{name: "bad URL", tweak: func(o *Options) { o.BaseURL = "https://gitlab.example.com:port" }, wantErr: "not a valid URL"},
		{name: "token with newline", tweak: func(o *Options) { o.Token = "abc\nX-Evil: 1" }, wantErr: "Token contains"},
		{name: "no rps", tweak: func(o *Options) { o.RequestsPerSecond = 0 }, wantErr: "RequestsPerSecond must be greater than 0, got 0"},
		{name: "negative rps", tweak: func(o *Options) { o.RequestsPerSecond = -1 }, wantErr: "RequestsPerSecond"},
		{name: "NaN rps", tweak: func(o *Options) { o.RequestsPerSecond = math.NaN() }, wantErr: "RequestsPerSecond"},
		{name: "no burst", tweak: func(o *Options) { o.Burst = 0 }, wantErr: "Burst must be at least 1, got 0"},
		{name: "no concurrency", tweak: func(o *Options) { o.MaxConcurrent = 0 }, wantErr: "MaxConcurrent must be at least 1, got 0"},
		{name: "no timeout", tweak: func(o *Options) { o.Timeout = 0 }, wantErr: "Timeout must be greater than 0, got 0s"},
		{name: "negative timeout", tweak: func(o *Options) { o.Timeout = -time.Second }, wantErr: "Timeout"},
		{name: "negative retries", tweak: func(o *Options) { o.MaxRetries = -1 }, wantErr: "MaxRetries must not be negative"},
		{name: "unknown auth mode", tweak: func(o *Options) { o.AuthMode = 7 }, wantErr: "AuthMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := validOptions("https://g")
			tt.tweak(&opts)
			c, err := New(opts)
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

// The limits are taken as given: the client has no defaults of its own,
// and MaxRetries 0 means no retries.
func TestNewTakesTheLimitsAsGiven(t *testing.T) {
	c, err := New(Options{BaseURL: "https://gitlab.example.com", Token: testToken, RequestsPerSecond: 3, Burst: 5,
		MaxConcurrent: 2, Timeout: 7 * time.Second, MaxRetries: 0})
	mustOK(t, err)
	if c.limiter.Limit() != 3 || c.limiter.Burst() != 5 || cap(c.sem) != 2 || c.timeout != 7*time.Second ||
		c.maxRetries != 0 || c.maxBody != 32<<20 || c.userAgent == "" {
		t.Errorf("limit %v burst %d conc %d timeout %v retries %d", c.limiter.Limit(), c.limiter.Burst(), cap(c.sem), c.timeout, c.maxRetries)
	}
}

// A sub-path install and a full project path reach GitLab as one %2F-encoded segment.
func TestPathEncodingOnTheWire(t *testing.T) {
	var env *testEnv
	env = newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, Job{ID: 3})
	}), nil)
	opts := validOptions(env.srv.URL + "/gitlab/")
	opts.Clock, opts.RequestsPerSecond = env.clock, 1e6
	c, err := New(opts)
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
