//go:build unix

package e2e

import (
	"debug/buildinfo"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// simProjects are the projects `gitlab-sim --projects=3` creates.
var simProjects = []string{"group/project-1", "group/project-2", "group/project-3"}

// TestBinary runs the built exporter against cmd/gitlab-sim, watching the
// sim's group through discovery, and exercises it from the outside only:
// HTTP endpoints, signals, exit codes and its output.
func TestBinary(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	sim := start(t, "gitlab-sim", bins.sim, nil,
		"--listen-address=127.0.0.1:0", "--token="+token, "--projects=3",
		"--history=20m", "--jobs-per-hour=600", "--failure-rate=0.2", "--retry-rate=0.5",
		"--rate-limit=100000", "--seed=7")
	simURL := sim.find(t, regexp.MustCompile(`GitLab URL (http://\S+) `), 60*time.Second)

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yml")
	good := exporterConfig(simURL, "groups:\n  - path: group\n")
	writeFile(t, cfgFile, good)
	exp := startExporter(t, cfgFile, token, "--log.level=debug")
	waitHTTP200(t, exp.base+"/-/ready", 60*time.Second, exp.process, sim)

	// Every /metrics page read, to look for the token at the end.
	var pagesMu sync.Mutex
	var pages []string
	scrape := func(t *testing.T) (string, families) {
		t.Helper()
		code, body, err := get(exp.base + "/metrics")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /metrics: %d %v", code, err)
		}
		pagesMu.Lock()
		pages = append(pages, body)
		pagesMu.Unlock()
		fams, err := parseMetrics(body)
		if err != nil {
			t.Fatal(err)
		}
		return body, fams
	}
	gauge := func(t *testing.T, name string) float64 {
		t.Helper()
		_, fams := scrape(t)
		if fams[name] == nil {
			t.Fatalf("%s is missing from /metrics", name)
		}
		return fams.sumValues(name)
	}

	t.Run("job metrics", func(t *testing.T) {
		// The projects are polled once before /-/ready; the sim's 20 minutes
		// of history hold about 200 jobs.
		_, fams := scrape(t)
		checkJobMetrics(t, fams)
	})

	t.Run("every finished job counted once", func(t *testing.T) {
		// jobs_observed_total counts each finished job once, like the
		// duration histogram. The sim keeps running, so a poll may land
		// between the collection of the two families: one equal page is
		// required, not every page.
		var observed, finished float64
		for range 20 {
			_, fams := scrape(t)
			observed = fams.sumValues("gitlab_jobs_exporter_jobs_observed_total")
			finished = fams.sumValues("gitlab_ci_job_duration_seconds")
			if observed == finished {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("jobs_observed_total %v != duration histogram count %v on 20 pages", observed, finished)
	})

	t.Run("families are declared in deploytest.ExportedMetricNames", func(t *testing.T) {
		// Dashboards and rules are checked against that list; app's
		// TestExportedFamiliesMatchTheDeclaredList checks it in-process, this
		// the text a scrape of the binary returns.
		declared := map[string]deploytest.Family{}
		for _, f := range deploytest.ExportedMetricNames() {
			declared[f.Name] = f
		}
		_, fams := scrape(t)
		checked := 0
		for name, got := range fams {
			if !strings.HasPrefix(name, "gitlab_") {
				continue
			}
			checked++
			f, ok := declared[name]
			if !ok {
				t.Errorf("%s is exported but not declared", name)
				continue
			}
			if typ := strings.ToLower(got.GetType().String()); typ != f.Type {
				t.Errorf("%s has type %s, declared %s", name, typ, f.Type)
			}
			want := slices.Sorted(slices.Values(f.Labels))
			for _, m := range got.GetMetric() {
				if names := labelNames(m); !slices.Equal(names, want) {
					t.Errorf("%s has labels %v, declared %v", name, names, want)
					break
				}
			}
		}
		if checked < 20 {
			t.Errorf("only %d gitlab_* families on the page", checked)
		}
	})

	t.Run("build_info says which code this is", func(t *testing.T) {
		// The binary is built without -ldflags, as by a user's go build:
		// the version and revision come from what the toolchain stamped
		// into it, read here from the file itself.
		bi, err := buildinfo.ReadFile(bins.exporter)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		wantRevision := "unknown"
		if rev := settings["vcs.revision"]; rev != "" {
			wantRevision = rev
			if settings["vcs.modified"] == "true" {
				wantRevision += "-modified"
			}
			t.Logf("built as version %s from revision %s", bi.Main.Version, wantRevision)
		} else {
			t.Logf("built as version %s, without a revision: not from a repository the go command reads", bi.Main.Version)
		}
		_, fams := scrape(t)
		infos := fams["gitlab_jobs_exporter_build_info"].GetMetric()
		if len(infos) != 1 {
			t.Fatalf("%d build_info series, want 1", len(infos))
		}
		labels := labelsOf(infos[0])
		if labels["version"] == "" || labels["version"] != bi.Main.Version {
			t.Errorf("build_info version %q, want the main module's %q", labels["version"], bi.Main.Version)
		}
		if labels["revision"] != wantRevision {
			t.Errorf("build_info revision %q, want %q", labels["revision"], wantRevision)
		}
		wantInfo := fmt.Sprintf("(version=%s, branch=, revision=%s)", bi.Main.Version, wantRevision)
		if _, page, err := get(exp.base + "/"); err != nil || !strings.Contains(page, wantInfo) {
			t.Errorf("the landing page does not show %s (%v)", wantInfo, err)
		}
		if !strings.Contains(exp.out.String(), `msg="starting gitlab_jobs_exporter" version="`+wantInfo+`"`) {
			t.Errorf("the start line does not log %s", wantInfo)
		}
	})

	t.Run("every project up", func(t *testing.T) {
		_, fams := scrape(t)
		up := fams.byLabel("gitlab_jobs_exporter_project_up", "project")
		for _, p := range simProjects {
			if v, ok := up[p]; !ok || v != 1 {
				t.Errorf("gitlab_jobs_exporter_project_up{project=%q} = %v (present %v), want 1", p, v, ok)
			}
		}
		if len(up) != len(simProjects) {
			t.Errorf("project_up has projects %v, want exactly %v", up, simProjects)
		}
		if n := fams.sumValues("gitlab_jobs_exporter_projects"); n != float64(len(simProjects)) {
			t.Errorf("gitlab_jobs_exporter_projects = %v, want %d", n, len(simProjects))
		}
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := deploytest.RequireTool(t, "promtool", deploytest.HintPromtool)
		body, _ := scrape(t)
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})

	t.Run("landing page and health", func(t *testing.T) {
		tests := []struct {
			path, method string
			code         int
			body         []string
		}{
			{"/", http.MethodGet, 200, []string{"GitLab Jobs Exporter", `href="/metrics"`, `href="/-/healthy"`}},
			{"/-/healthy", http.MethodGet, 200, []string{"Healthy"}},
			{"/-/ready", http.MethodGet, 200, []string{"Ready"}},
			{"/-/reload", http.MethodGet, 405, []string{"POST"}},
		}
		for _, tc := range tests {
			code, body, err := get(exp.base + tc.path)
			if err != nil {
				t.Fatalf("GET %s: %v", tc.path, err)
			}
			if code != tc.code {
				t.Errorf("GET %s = %d, want %d", tc.path, code, tc.code)
			}
			for _, s := range tc.body {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s body lacks %q:\n%s", tc.path, s, tail(body, 2000))
				}
			}
		}
	})

	t.Run("reload", func(t *testing.T) {
		const reloadOK = "gitlab_jobs_exporter_config_last_reload_successful"
		// An unknown key: strict parsing rejects the whole file.
		broken := good + "poll_interval: 1s\n"
		brokenAt := fmt.Sprintf("%s:%d: poll_interval: unknown key", cfgFile, strings.Count(good, "\n")+1)
		waitReload := func(what string, want float64) {
			t.Helper()
			waitFor(t, 10*time.Second, fmt.Sprintf("%s: %s == %v", what, reloadOK, want), func() (bool, string) {
				v := gauge(t, reloadOK)
				return v == want, fmt.Sprint(v)
			}, exp.process)
		}
		if v := gauge(t, reloadOK); v != 1 {
			t.Fatalf("%s = %v before any reload, want 1", reloadOK, v)
		}
		successAt := gauge(t, "gitlab_jobs_exporter_config_last_reload_success_timestamp_seconds")

		writeFile(t, cfgFile, broken)
		exp.signal(t, syscall.SIGHUP)
		waitReload("SIGHUP with a broken config", 0)
		if !strings.Contains(exp.out.String(), brokenAt) {
			t.Errorf("the failed reload does not log %q", brokenAt)
		}
		// Still serving, still polling with the previous configuration.
		if code, _, err := get(exp.base + "/-/healthy"); err != nil || code != 200 {
			t.Errorf("/-/healthy after a failed reload: %d %v", code, err)
		}
		polls := gauge(t, "gitlab_jobs_exporter_polls_total")
		waitFor(t, 10*time.Second, "polls to go on after a failed reload", func() (bool, string) {
			v := gauge(t, "gitlab_jobs_exporter_polls_total")
			return v > polls, fmt.Sprintf("polls_total %v, was %v", v, polls)
		}, exp.process)

		writeFile(t, cfgFile, good)
		exp.signal(t, syscall.SIGHUP)
		waitReload("SIGHUP with the fixed config", 1)
		if at := gauge(t, "gitlab_jobs_exporter_config_last_reload_success_timestamp_seconds"); at < successAt {
			t.Errorf("last reload success timestamp %v went back from %v", at, successAt)
		}

		writeFile(t, cfgFile, broken)
		code, body, err := post(exp.base + "/-/reload")
		if err != nil || code != http.StatusInternalServerError || !strings.Contains(body, brokenAt) {
			t.Errorf("POST /-/reload with a broken config = %d %v %q, want 500 naming the problem", code, err, body)
		}
		waitReload("POST /-/reload with a broken config", 0)

		writeFile(t, cfgFile, good)
		code, body, err = post(exp.base + "/-/reload")
		if err != nil || code != http.StatusOK {
			t.Errorf("POST /-/reload with the fixed config = %d %v %q, want 200", code, err, body)
		}
		waitReload("POST /-/reload with the fixed config", 1)
	})

	t.Run("SIGTERM", func(t *testing.T) {
		begin := time.Now()
		exp.signal(t, syscall.SIGTERM)
		if code := exp.wait(t, 15*time.Second); code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0", code)
		}
		t.Logf("exited %s after SIGTERM", time.Since(begin).Round(time.Millisecond))
		if !strings.Contains(exp.out.String(), `msg="shutting down"`) {
			t.Errorf("no shutdown message in the log")
		}
	})

	t.Run("one ts and one caller per log line", func(t *testing.T) {
		// exporter-toolkit's lines ("Listening on") come through slog.
		key := regexp.MustCompile(`(?:^| )(ts|caller|time)=`)
		lines := strings.Split(strings.TrimSpace(exp.out.String()), "\n")
		for _, line := range lines {
			n := map[string]int{}
			for _, m := range key.FindAllStringSubmatch(line, -1) {
				n[m[1]]++
			}
			if n["ts"] != 1 || n["caller"] != 1 || n["time"] != 0 {
				t.Errorf("ts %d times, caller %d times, time %d times, want 1, 1, 0: %s", n["ts"], n["caller"], n["time"], line)
			}
		}
		if !regexp.MustCompile(`(?m)^level=info ts=\S+ caller=tls_config\.go:\d+ msg="Listening on"`).MatchString(exp.out.String()) {
			t.Errorf("no \"Listening on\" line from exporter-toolkit's call site among %d lines", len(lines))
		}
	})

	t.Run("token never exposed", func(t *testing.T) {
		// The sim prints the token on purpose: proof that the grep finds it.
		if !strings.Contains(sim.out.String(), token) {
			t.Fatalf("the token is not in the sim's output either; the search below proves nothing")
		}
		if strings.Contains(exp.out.String(), token) {
			t.Errorf("the token appears in the exporter's output")
		}
		pagesMu.Lock()
		defer pagesMu.Unlock()
		if len(pages) == 0 {
			t.Fatal("no /metrics page was read")
		}
		for i, p := range pages {
			if strings.Contains(p, token) {
				t.Errorf("the token appears in /metrics page %d", i)
			}
		}
	})
}

// checkJobMetrics checks the job metric families the sim's history must
// have produced, and that their values are sane.
func checkJobMetrics(t *testing.T, fams families) {
	t.Helper()
	now := float64(time.Now().Unix())
	histograms := []struct {
		name    string
		maxMean float64 // the sim's medians are 2m (duration), 10s (queue)
	}{
		{"gitlab_ci_job_duration_seconds", 3600},
		{"gitlab_ci_job_queued_duration_seconds", 3600},
		{"gitlab_ci_job_artifacts_size_bytes", 1 << 30},
	}
	for _, h := range histograms {
		f := fams[h.name]
		if f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) == 0 {
			t.Errorf("%s: type %v with %d series, want a histogram with series", h.name, f.GetType(), len(f.GetMetric()))
			continue
		}
		for _, m := range f.GetMetric() {
			for _, e := range checkHistogram(m, h.maxMean) {
				t.Errorf("%s%v: %s", h.name, labelsOf(m), e)
			}
			if p := labelsOf(m)["project"]; !slices.Contains(simProjects, p) {
				t.Errorf("%s has project %q, not one of the sim's", h.name, p)
			}
		}
	}

	statuses := fams.byLabel("gitlab_ci_job_duration_seconds", "status")
	for _, s := range []string{"success", "failed"} {
		if statuses[s] == 0 {
			t.Errorf("no gitlab_ci_job_duration_seconds series with status=%q", s)
		}
	}
	if observed := fams.sumValues("gitlab_jobs_exporter_jobs_observed_total"); observed < 100 {
		t.Errorf("only %v jobs observed from 20 minutes of history at 600 jobs/hour", observed)
	}

	counters := []struct {
		name  string
		check func(map[string]string) string
	}{
		{"gitlab_ci_job_failures_total", func(l map[string]string) string {
			if l["failure_reason"] == "" || (l["allow_failure"] != "true" && l["allow_failure"] != "false") {
				return "needs a failure_reason and allow_failure true or false"
			}
			return ""
		}},
		{"gitlab_ci_job_retries_total", nil},
		{"gitlab_jobs_exporter_api_requests_total", func(l map[string]string) string {
			if !regexp.MustCompile(`^[0-9]{1,3}$`).MatchString(l["code"]) || l["endpoint"] == "" {
				return "needs a numeric code and an endpoint"
			}
			return ""
		}},
	}
	for _, c := range counters {
		f := fams[c.name]
		if f.GetType() != dto.MetricType_COUNTER || len(f.GetMetric()) == 0 {
			t.Errorf("%s: type %v with %d series, want a counter with series", c.name, f.GetType(), len(f.GetMetric()))
			continue
		}
		for _, m := range f.GetMetric() {
			if v := value(m); v < 1 || v != math.Trunc(v) {
				t.Errorf("%s%v = %v, want a whole number >= 1", c.name, labelsOf(m), v)
			}
			if c.check != nil {
				if msg := c.check(labelsOf(m)); msg != "" {
					t.Errorf("%s%v: %s", c.name, labelsOf(m), msg)
				}
			}
		}
	}

	gauges := []struct {
		name     string
		min, max float64
		whole    bool
	}{
		{"gitlab_ci_jobs", 0, 1000, true},
		{"gitlab_ci_job_last_status", 1, 1, true},
		{"gitlab_ci_job_last_duration_seconds", 0, 4 * 3600, false},
		{"gitlab_ci_job_last_finished_timestamp_seconds", now - 2*3600, now + 60, false},
		{"gitlab_jobs_exporter_project_last_success_timestamp_seconds", now - 600, now + 60, false},
		{"gitlab_jobs_exporter_rate_limit_remaining", 0, 100000, true},
		{"gitlab_jobs_exporter_followed_jobs", 0, 1000, true},
		{"gitlab_jobs_exporter_build_info", 1, 1, true},
	}
	for _, g := range gauges {
		f := fams[g.name]
		if f.GetType() != dto.MetricType_GAUGE || len(f.GetMetric()) == 0 {
			t.Errorf("%s: type %v with %d series, want a gauge with series", g.name, f.GetType(), len(f.GetMetric()))
			continue
		}
		for _, m := range f.GetMetric() {
			v := value(m)
			if v < g.min || v > g.max || (g.whole && v != math.Trunc(v)) {
				t.Errorf("%s%v = %v, want a value in [%v, %v] (whole: %v)", g.name, labelsOf(m), v, g.min, g.max, g.whole)
			}
		}
	}
	if v := fams.byLabel("gitlab_jobs_exporter_build_info", "goversion"); len(v) != 1 {
		t.Errorf("build_info goversion values %v, want one", v)
	}
}

// TestConfigCheck runs --config.check on good and bad files: exit 0 and the
// effective config, or exit 1 and file:line: key: problem.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	const base = "gitlab:\n  url: https://gitlab.example.com\nprojects: [group/app]\n"
	tests := []struct {
		name    string
		config  string
		code    int
		wantOut string // regexp; FILE stands for the config path
	}{
		{"valid", base, 0, `(?m)^FILE is valid$`},
		{"unknown key", base + "poll:\n  intervall: 1s\n", 1, `(?m)^FILE:5: poll\.intervall: unknown key`},
		{"bad duration", base + "poll:\n  interval: soon\n", 1, `(?m)^FILE:5: poll\.interval: `},
		{"interval below minimum", base + "poll:\n  interval: 100ms\n", 1, `(?m)^FILE:5: poll\.interval: `},
		{"bad regexp", base + "refs:\n  tracked: \"(\"\n", 1, `(?m)^FILE:5: refs\.tracked: `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yml")
			writeFile(t, file, tc.config)
			cmd := exec.Command(bins.exporter, "--config.file="+file, "--config.check")
			cmd.Env = append(os.Environ(), "GITLAB_TOKEN="+token)
			cmd.Dir = t.TempDir()
			setProcAttr(cmd)
			out, _ := runTimeout(t, cmd, 30*time.Second)
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			want := regexp.MustCompile(strings.ReplaceAll(tc.wantOut, "FILE", regexp.QuoteMeta(file)))
			if !want.MatchString(out) {
				t.Errorf("output does not match %s:\n%s", want, out)
			}
			if strings.Contains(out, token) {
				t.Errorf("the token appears in the output")
			}
		})
	}
}

// TestBadConfigAtStart: a config the exporter cannot use stops it at once
// with exit code 1 and the problem in the log, rather than serving nothing.
func TestBadConfigAtStart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "config.yml")
	writeFile(t, file, "gitlab:\n  url: https://gitlab.example.com\nprojects: [group/app]\npoll:\n  intervall: 1s\n")
	p := start(t, "gitlab_jobs_exporter", bins.exporter, []string{"GITLAB_TOKEN=" + newToken(t)},
		"--config.file="+file, "--web.listen-address=127.0.0.1:0")
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := file + ":5: poll.intervall: unknown key"; !strings.Contains(p.out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, p.out.String())
	}
	if strings.Contains(p.out.String(), "Listening on") {
		t.Errorf("the exporter started serving with a bad config")
	}
}

// runTimeout runs cmd to completion, killing it after timeout.
func runTimeout(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (string, error) {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within %s:\n%s", cmd.Path, timeout, out.String())
		return "", nil
	}
}
