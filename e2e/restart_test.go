//go:build unix

package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// TestRestartAfterSIGKILLCountsExactlyOnce is scraper's
// TestKillMidPollCountsOnceAfterRestart across real process lifetimes: the
// exporter binary is SIGKILLed while a poll hangs listing bridges, after it
// walked finished jobs but before it saved its state or exported their
// counts. A second process with the same --storage.path must count exactly
// the jobs the first one did not: over both lifetimes, every finished job
// once, by status too. About 10 s.
func TestRestartAfterSIGKILLCountsExactlyOnce(t *testing.T) {
	t.Parallel()
	token := newToken(t)
	gl := newGatedGitLab(t, gitlabtest.Options{Token: token, FirstJobID: 9_000_000_000})
	c := &ci{t: t, gl: gl.Server}
	proj := gl.CreateProject("acme/app", gitlabtest.ProjectOptions{})
	if proj == 0 {
		t.Fatal("creating acme/app failed")
	}
	// A project without jobs whose polls never hang: its polls_total shows
	// the exporter's polling going on while acme/app's poll hangs.
	if gl.CreateProject("acme/idle", gitlabtest.ProjectOptions{}) == 0 {
		t.Fatal("creating acme/idle failed")
	}

	// History: every finished status, and a job left running (followed, and
	// saved as such in the state file).
	build := gitlabtest.JobSpec{Name: "build", Stage: "build"}
	unit := gitlabtest.JobSpec{Name: "unit", Stage: "test"}
	p := c.pipeline(proj, "")
	c.run(p, build, "success", gitlabtest.FinishOptions{Artifacts: []gitlabtest.Artifact{{FileType: "archive", Size: 1 << 20}}})
	c.run(p, unit, "failed", gitlabtest.FinishOptions{FailureReason: "script_failure"})
	canceled := c.create(p, gitlabtest.JobSpec{Name: "e2e", Stage: "test"})
	c.must(gl.Enqueue(canceled))
	c.must(gl.Finish(canceled, "canceled", gitlabtest.FinishOptions{}))
	c.must(gl.Skip(c.create(p, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})))
	p = c.pipeline(proj, "")
	c.run(p, build, "success", gitlabtest.FinishOptions{})
	longRunning := c.create(p, gitlabtest.JobSpec{Name: "integration", Stage: "test"})
	c.must(gl.Enqueue(longRunning))
	c.must(gl.Start(longRunning))

	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	cfgFile := filepath.Join(dir, "config.yml")
	writeFile(t, cfgFile, exporterConfig(gl.URL(), "projects:\n  - acme/app\n  - acme/idle\n"))

	t.Log("first process: count the history")
	exp1 := startExporter(t, cfgFile, token, "--storage.path="+storage)
	want := finishedByStatus(gl.Jobs())
	first := waitObserved(t, exp1, total(want), 0, 20*time.Second)
	if _, err := os.Stat(filepath.Join(storage, "projects", fmt.Sprintf("%d.json", proj))); err != nil {
		t.Fatalf("no state file after the first polls: %v", err)
	}

	t.Log("first process: SIGKILL in the middle of a poll")
	gl.InjectFault(gitlabtest.Fault{Endpoint: gitlabtest.EndpointBridges, Kind: gitlabtest.FaultSlow, Delay: time.Minute})
	var hanging, stillRunning int64
	gl.atomically(func() {
		// No job list is answered in between: the poll that sees this
		// pipeline sees all its jobs, four finished and one running.
		hanging = c.pipeline(proj, "")
		c.run(hanging, build, "success", gitlabtest.FinishOptions{})
		c.run(hanging, unit, "failed", gitlabtest.FinishOptions{FailureReason: "runner_system_failure"})
		c.run(hanging, gitlabtest.JobSpec{Name: "lint", Stage: "test", AllowFailure: true}, "failed", gitlabtest.FinishOptions{})
		id := c.create(hanging, gitlabtest.JobSpec{Name: "e2e", Stage: "test"})
		c.must(gl.Enqueue(id))
		c.must(gl.Finish(id, "canceled", gitlabtest.FinishOptions{}))
		stillRunning = c.create(hanging, gitlabtest.JobSpec{Name: "package", Stage: "deploy"})
		c.must(gl.Enqueue(stillRunning))
		c.must(gl.Start(stillRunning))
	})
	hangingPath := fmt.Sprintf("/api/v4/projects/%d/pipelines/%d/bridges", proj, hanging)
	waitFor(t, 10*time.Second, "the poll to hang on "+hangingPath, func() (bool, string) {
		in := gl.bridgesInFlight()
		return slices.Contains(in, hangingPath), fmt.Sprintf("bridges requests in flight: %q", in)
	}, exp1.process)
	// A full poll of acme/idle since: the exporter went on polling, and
	// still nothing of the hanging poll leaks out.
	waitFullPoll(t, exp1, "acme/idle")
	if in := gl.bridgesInFlight(); !slices.Contains(in, hangingPath) {
		t.Fatalf("the poll of acme/app stopped hanging (bridges requests in flight: %q)", in)
	}
	fams := scrapeExporter(t, exp1)
	if got := fams.sumValues("gitlab_jobs_exporter_jobs_observed_total"); got != first.observed {
		t.Fatalf("jobs_observed_total = %v while the poll hangs, want still %v", got, first.observed)
	}
	if got := histogramCounts(fams, "gitlab_ci_job_duration_seconds", "status"); !maps.Equal(got, first.byStatus) {
		t.Fatalf("duration counts by status = %v while the poll hangs, want still %v", got, first.byStatus)
	}
	if err := exp1.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	exp1.wait(t, 10*time.Second)
	if ws, ok := exp1.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first process ended with %v, want killed by SIGKILL", exp1.cmd.ProcessState)
	}
	if strings.Contains(exp1.out.String(), "resuming from saved state") {
		t.Errorf("the first process resumed from a state it cannot have had")
	}

	t.Log("down: jobs finish, followed and new ones")
	gl.ClearFaults()
	c.must(gl.Finish(longRunning, "failed", gitlabtest.FinishOptions{FailureReason: "stuck_or_timeout_failure"}))
	c.must(gl.Finish(stillRunning, "success", gitlabtest.FinishOptions{}))
	p = c.pipeline(proj, "")
	c.run(p, build, "success", gitlabtest.FinishOptions{})
	c.run(p, unit, "success", gitlabtest.FinishOptions{})

	t.Log("second process: same storage, counts the rest")
	exp2 := startExporter(t, cfgFile, token, "--storage.path="+storage)
	want = finishedByStatus(gl.Jobs())
	second := waitObserved(t, exp2, total(want), first.observed, 20*time.Second)
	// A full poll more of each project: a job counted twice would show up now.
	waitFullPoll(t, exp2, "acme/app", "acme/idle")
	fams = scrapeExporter(t, exp2)
	if got := fams.sumValues("gitlab_jobs_exporter_jobs_observed_total"); got != second.observed {
		t.Errorf("second process: jobs_observed_total went from %v to %v with nothing new in GitLab", second.observed, got)
	}
	if first.observed+second.observed != float64(total(want)) {
		t.Errorf("jobs_observed_total %v + %v != %d finished jobs in GitLab", first.observed, second.observed, total(want))
	}
	sum := maps.Clone(first.byStatus)
	for s, n := range histogramCounts(fams, "gitlab_ci_job_duration_seconds", "status") {
		sum[s] += n
	}
	if !maps.Equal(sum, want) {
		t.Errorf("duration counts by status over both processes %v (first %v), GitLab has %v", sum, first.byStatus, want)
	}
	if second.observed == 0 || first.observed == 0 {
		t.Errorf("observed %v then %v: each process should have counted something", first.observed, second.observed)
	}
	if !strings.Contains(exp2.out.String(), `msg="resuming from saved state" project=acme/app`) {
		t.Errorf("the second process does not log resuming from saved state")
	}
	if n := fams.sumValues("gitlab_jobs_exporter_state_errors_total"); n != 0 {
		t.Errorf("second process: gitlab_jobs_exporter_state_errors_total = %v, want 0", n)
	}
	t.Logf("counted %v jobs, then %v after SIGKILL and restart; GitLab has %d finished %v", first.observed, second.observed, total(want), want)
}

// counts is what one exporter process has counted.
type counts struct {
	observed float64        // jobs_observed_total
	byStatus map[string]int // gitlab_ci_job_duration_seconds count by status
}

// waitObserved waits until the exporter's jobs_observed_total plus before
// reaches want, and returns its counts from that page.
func waitObserved(t *testing.T, e *exporter, want int, before float64, timeout time.Duration) counts {
	t.Helper()
	var c counts
	waitFor(t, timeout, fmt.Sprintf("jobs_observed_total to reach %d - %v", want, before), func() (bool, string) {
		code, body, err := get(e.base + "/metrics")
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("GET /metrics: %d %v", code, err)
		}
		fams, err := parseMetrics(body)
		if err != nil {
			t.Fatal(err)
		}
		c = counts{
			observed: fams.sumValues("gitlab_jobs_exporter_jobs_observed_total"),
			byStatus: histogramCounts(fams, "gitlab_ci_job_duration_seconds", "status"),
		}
		if n := fams.sumValues("gitlab_jobs_exporter_state_errors_total"); n != 0 {
			t.Fatalf("gitlab_jobs_exporter_state_errors_total = %v", n)
		}
		if before+c.observed > float64(want) {
			// Counters only grow: some job was counted twice.
			t.Fatalf("jobs_observed_total %v + %v is above the %d finished jobs in GitLab (by status %v)", before, c.observed, want, c.byStatus)
		}
		return before+c.observed == float64(want), fmt.Sprintf("%v + %v by status %v", before, c.observed, c.byStatus)
	}, e.process)
	if total(c.byStatus) != int(c.observed) {
		t.Fatalf("duration histogram counts %v do not add up to jobs_observed_total %v", c.byStatus, c.observed)
	}
	return c
}

func scrapeExporter(t *testing.T, e *exporter) families {
	t.Helper()
	code, body, err := get(e.base + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %v", e.base, code, err)
	}
	fams, err := parseMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// histogramCounts maps one label's values to the observation count of the
// histogram series carrying them.
func histogramCounts(f families, name, label string) map[string]int {
	out := map[string]int{}
	for _, m := range f[name].GetMetric() {
		if n := m.GetHistogram().GetSampleCount(); n > 0 {
			out[labelsOf(m)[label]] += int(n)
		}
	}
	return out
}

// finishedByStatus is the ground truth: finished jobs (bridges aside) by
// status.
func finishedByStatus(jobs []gitlabtest.JobRecord) map[string]int {
	out := map[string]int{}
	for _, j := range jobs {
		if !j.IsBridge && gitlabapi.JobStatus(j.Status).Finished() {
			out[j.Status]++
		}
	}
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// gatedGitLab is the fake GitLab behind a handler of this test's, which
// knows which bridges requests are in flight (the fake logs a request only
// once it answers, so a hanging one is not in its log) and can hold the
// other requests while the test changes several jobs at once.
type gatedGitLab struct {
	*gitlabtest.Server
	gate sync.RWMutex // read-held by each request but bridges ones

	mu       sync.Mutex
	inFlight map[string]int // bridges request path → requests being answered
}

func newGatedGitLab(t *testing.T, opts gitlabtest.Options) *gatedGitLab {
	t.Helper()
	g := &gatedGitLab{Server: gitlabtest.NewHandler(opts), inFlight: map[string]int{}}
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	t.Cleanup(g.Close) // first: releases requests held by a FaultSlow
	g.SetBaseURL(ts.URL)
	return g
}

func (g *gatedGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/bridges") {
		g.gate.RLock()
		defer g.gate.RUnlock()
		g.Handler().ServeHTTP(w, r)
		return
	}
	path := r.URL.Path
	g.mu.Lock()
	g.inFlight[path]++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.inFlight[path]--; g.inFlight[path] == 0 {
			delete(g.inFlight, path)
		}
		g.mu.Unlock()
	}()
	g.Handler().ServeHTTP(w, r)
}

// bridgesInFlight returns the paths of the bridges requests being answered.
func (g *gatedGitLab) bridgesInFlight() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.inFlight))
}

// atomically runs fn while no request but bridges ones is being answered,
// so that a poll sees either none or all of fn's changes in a job list.
func (g *gatedGitLab) atomically(fn func()) {
	g.gate.Lock()
	defer g.gate.Unlock()
	fn()
}
