package app

import (
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/logging"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

const canaryToken = "glpat-SECRET-canary-123"

// TestTokenNeverLeaks runs the exporter against a GitLab that fails in
// every way a poll can see (revoked token, deleted project, 5xx from a
// proxy that echoes the request headers, pagination links and redirects
// to another host), with debug logging, and looks for the token in
// everything the exporter writes or serves.
func TestTokenNeverLeaks(t *testing.T) {
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: canaryToken})
	t.Cleanup(gl.Close)
	ids := map[string]int64{}
	for _, p := range []string{"g/ok", "g/gone", "g/echo", "g/echo-cut", "g/link", "g/redirect"} {
		ids[p] = gl.CreateProject(p, gitlabtest.ProjectOptions{})
		pid := gl.CreatePipeline(ids[p], "main", gitlabtest.PipelineOptions{})
		job := gl.CreateJob(pid, gitlabtest.JobSpec{Name: "build", Stage: "build"})
		noErr(t, gl.Enqueue(job))
		noErr(t, gl.Start(job))
		noErr(t, gl.Finish(job, "success", gitlabtest.FinishOptions{}))
	}

	// elsewhere is another host: it must never receive a request, so never
	// the token.
	var elsewhereHits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[]")
	}))
	t.Cleanup(elsewhere.Close)

	jobsOf := func(r *http.Request, project string) bool {
		return r.URL.EscapedPath() == fmt.Sprintf("/api/v4/projects/%d/jobs", ids[project])
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case jobsOf(r, "g/echo"):
			// A broken proxy that echoes the request headers into its error page.
			var b strings.Builder
			for k, v := range r.Header {
				fmt.Fprintf(&b, "%s=%s ", k, html.EscapeString(strings.Join(v, ",")))
			}
			echoPage(w, b.String())
		case jobsOf(r, "g/echo-cut"):
			// The same, with the token where error messages are cut short
			// (200 characters): a cut token must not leak its first half.
			echoPage(w, strings.Repeat("x", 173)+" "+r.Header.Get("PRIVATE-TOKEN"))
		case jobsOf(r, "g/link"):
			rec := httptest.NewRecorder()
			gl.Handler().ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=2&per_page=100&private_token=x>; rel="next"`, elsewhere.URL, r.URL.Path))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		case jobsOf(r, "g/redirect"):
			http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusFound)
		default:
			gl.Handler().ServeHTTP(w, r)
		}
	}))
	t.Cleanup(front.Close)
	gl.SetBaseURL(front.URL)

	logs := &lockedBuffer{}
	logger, _, err := logging.New(logs, "debug", "logfmt")
	noErr(t, err)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "config.yaml")
	cfg := testConfig{url: front.URL, token: canaryToken, projects: []string{"g/ok", "g/gone", "g/echo", "g/echo-cut", "g/link", "g/redirect"}}
	writeTestConfig(t, configFile, cfg)
	a, err := New(configFile, envWith(""), logger)
	noErr(t, err)
	storage := filepath.Join(dir, "data")
	noErr(t, a.OpenStorage(storage))
	handler, err := a.Handler("/metrics", false)
	noErr(t, err)
	runApp(t, a)

	errorsOf := func(project, reason string) float64 {
		return metricValue(t, a.Registry, "gitlab_jobs_exporter_poll_errors_total", map[string]string{"project": project, "reason": reason})
	}
	waitUntil(t, 20*time.Second, "every project polled", a.Ready)
	for project, reason := range map[string]string{"g/echo": "server_error", "g/echo-cut": "server_error", "g/link": "other", "g/redirect": "other"} {
		if errorsOf(project, reason) == 0 {
			t.Errorf("%s: no %s poll error", project, reason)
		}
	}

	gl.RevokeToken()
	waitUntil(t, 20*time.Second, "a 401 poll", func() bool { return errorsOf("g/ok", "unauthorized") > 0 })
	gl.RestoreToken()
	gl.DeleteProject(ids["g/gone"])
	waitUntil(t, 20*time.Second, "a 404 poll", func() bool { return errorsOf("g/gone", "not_found") > 0 })

	// A reload that fails, and one that works.
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	reload := func() (int, string) {
		resp, err := http.Post(srv.URL+"/-/reload", "text/plain", nil)
		noErr(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	bad := cfg
	bad.extra = "refs:\n  tracked: \"(\"\n"
	writeTestConfig(t, configFile, bad)
	code, failedReload := reload()
	if code != http.StatusInternalServerError {
		t.Errorf("reload of an invalid config answered %d, want 500", code)
	}
	writeTestConfig(t, configFile, cfg)
	if code, body := reload(); code != http.StatusOK {
		t.Errorf("reload answered %d %q", code, body)
	}

	var served strings.Builder
	served.WriteString(failedReload)
	for _, path := range []string{"/metrics", "/", "/-/ready", "/-/healthy"} {
		resp, err := http.Get(srv.URL + path)
		noErr(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served.Write(body)
	}
	if cfgText, err := LoadConfig(configFile, shard.Shard{}, envWith(""), logger); err == nil {
		served.WriteString(cfgText.String()) // what --config.check prints
	} else {
		t.Errorf("LoadConfig: %v", err)
	}

	if n := elsewhereHits.Load(); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
	logText := logs.String()
	// The test is only worth something if the failures reached the log.
	for _, want := range []string{"HTTP 401", "HTTP 404", "HTTP 502", "next-page link goes to", "redirect to another scheme or host refused", "token is written in the config file"} {
		if !strings.Contains(logText, want) {
			t.Errorf("log has no %q; the failure did not happen or is not logged", want)
		}
	}
	var stored strings.Builder
	noErr(t, filepath.WalkDir(storage, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		stored.Write(b)
		return err
	}))
	if stored.Len() == 0 {
		t.Errorf("no state was saved under %s", storage)
	}
	// Any three characters of the token's secret part count as a leak.
	leak := regexp.MustCompile(`SECR|ECRET|canary`)
	for what, text := range map[string]string{"the log": logText, "the HTTP answers": served.String(), "the saved state": stored.String()} {
		if loc := leak.FindStringIndex(text); loc != nil {
			t.Errorf("the token appears in %s: ...%s...", what, text[max(0, loc[0]-200):min(len(text), loc[1]+50)])
		}
	}
}

// echoPage answers 502 with an HTML error page whose title ends with echo.
func echoPage(w http.ResponseWriter, echo string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway "+echo+"</title></head><body>"+echo+"</body></html>")
}
