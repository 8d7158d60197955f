//go:build unix

package e2e

import (
	"fmt"
	"maps"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

const failureAlert = "GitLabCIJobFailureRatioHigh"

// TestPrometheusEndToEnd runs the whole monitoring chain on loopback: a
// scripted fake GitLab in this process, the exporter binary, a real
// Prometheus with the shipped prometheus.yml and alerts.yml, and a real
// Alertmanager notifying a webhook in this test. It checks that what
// reaches Prometheus matches the fake's ground truth exactly, that a burst
// of failures fires the failure-ratio alert and that passing jobs resolve
// it, and that every dashboard query returns data.
//
// The alert rule is used as shipped (increase over 5m, for: 1m): the burst
// fires it about a minute after the failures, and enough passing runs
// bring the ratio under the threshold without waiting for the window to
// pass, so the test takes about 90 seconds.
func TestPrometheusEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with Prometheus and Alertmanager takes about 90 s; skipped in -short mode")
	}
	promBin := deploytest.RequireTool(t, "prometheus", deploytest.HintPromtool)
	amBin := deploytest.RequireTool(t, "prometheus-alertmanager", deploytest.HintAmtool)
	t.Parallel()
	root := deploytest.RepoRoot(t)
	dir := t.TempDir()
	token := newToken(t)

	// A rate limit far above what the test uses, so that GitLab sends the
	// RateLimit-Remaining header the exporter exports.
	gl := gitlabtest.NewServer(gitlabtest.Options{
		Token: token, FirstJobID: 7_000_000_000,
		RateLimit: &gitlabtest.RateLimitOptions{Limit: 1_000_000, Period: time.Minute},
	})
	t.Cleanup(gl.Close)
	c := &ci{t: t, gl: gl}
	api := gl.CreateProject("acme/api", gitlabtest.ProjectOptions{})
	web := gl.CreateProject("acme/web", gitlabtest.ProjectOptions{DefaultBranch: "master"})
	c.history(api, web)
	if tr := c.truth(); len(tr.poolStarts) < 4 || tr.poolWaiting["gpu"] != 1 || len(tr.runnerFinished) < 3 {
		t.Fatalf("the history lacks the runner pools the test checks: starts %v, waiting %v, by runner %v", tr.poolStarts, tr.poolWaiting, tr.runnerFinished)
	}

	hook := &webhook{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	amAddr := freeAddr(t)
	amConfig := filepath.Join(dir, "alertmanager.yml")
	writeYAML(t, amConfig, map[string]any{
		"route": map[string]any{
			"receiver": "webhook", "group_by": []string{"alertname", "project"},
			"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h",
		},
		"receivers": []any{map[string]any{
			"name":            "webhook",
			"webhook_configs": []any{map[string]any{"url": hookSrv.URL + "/alerts", "send_resolved": true}},
		}},
	})
	am := start(t, "alertmanager", amBin, nil,
		"--config.file="+amConfig, "--storage.path="+filepath.Join(dir, "alertmanager"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	waitHTTP200(t, "http://"+amAddr+"/-/ready", 30*time.Second, am)

	expConfig := filepath.Join(dir, "exporter.yml")
	// The group holds the same two projects; it gives the dashboards'
	// group panels their series.
	writeFile(t, expConfig, exporterConfig(gl.URL(), "projects:\n  - acme/api\n  - acme/web\ngroups:\n  - path: acme\n"+
		"metrics:\n  runners: {enabled: true}\n"))
	exp := startExporter(t, expConfig, token)
	waitHTTP200(t, exp.base+"/-/ready", 30*time.Second, exp.process)

	promAddr := freeAddr(t)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writePrometheusConfig(t, promConfig, promSetup{root: root, self: promAddr, alertmanager: amAddr, prometheus2: true,
		targets: map[string]string{exporterJob: strings.TrimPrefix(exp.base, "http://")}})
	prom := start(t, "prometheus", promBin, nil,
		"--config.file="+promConfig, "--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr)
	waitHTTP200(t, "http://"+promAddr+"/-/ready", 30*time.Second, prom)
	p := promAPI{base: "http://" + promAddr}
	procs := []*process{am, exp.process, prom}

	liveStart := time.Now()
	waitFor(t, 30*time.Second, "Prometheus to scrape the exporter", func() (bool, string) {
		r, err := p.query(`up{job="gitlab_jobs_exporter"} == 1`)
		return err == nil && len(r) == 1, fmt.Sprint(r, err)
	}, procs...)

	t.Log("history: every finished job in Prometheus exactly once")
	c.checkTruth(p, exp, procs)
	up, err := p.query(`gitlab_jobs_exporter_project_up`)
	if got := byLabel(up, "project"); err != nil || !maps.Equal(got, map[string]float64{"acme/api": 1, "acme/web": 1}) {
		t.Errorf("project_up in Prometheus = %v (%v), want both projects at 1", got, err)
	}

	t.Log("poll errors: a project answering 403 for a while")
	gl.ForbidProject(web, true)
	waitFor(t, 20*time.Second, "a forbidden poll error of acme/web in Prometheus", func() (bool, string) {
		r, err := p.query(`gitlab_jobs_exporter_poll_errors_total{project="acme/web", reason="forbidden"} > 0`)
		return err == nil && len(r) == 1, fmt.Sprint(r, err)
	}, procs...)
	gl.ForbidProject(web, false)
	waitFor(t, 20*time.Second, "acme/web up again", func() (bool, string) {
		r, err := p.query(`gitlab_jobs_exporter_project_up{project="acme/web"} == 1`)
		return err == nil && len(r) == 1, fmt.Sprint(r, err)
	}, procs...)

	t.Log("failure burst on the default branch")
	alertLabels := map[string]string{
		"alertname": failureAlert, "severity": "warning",
		"project": "acme/api", "ref": "main", "stage": "test", "job_name": "unit",
	}
	// History alone must not even make the alert pending: its counters
	// appear in Prometheus already at their totals, which increase() does not
	// count as an increase.
	if r, err := p.query(`ALERTS{alertname="` + failureAlert + `"}`); err != nil || len(r) > 0 {
		t.Errorf("%s pending or firing before the burst: %v %v", failureAlert, r, err)
	}
	if a, ok := hook.find(func(a receivedAlert) bool { return a.Labels["alertname"] == failureAlert }); ok {
		t.Fatalf("%s notified before any burst: %+v", failureAlert, a)
	}
	// One pipeline per run: a second job of the same name in a pipeline is
	// a retry, in GitLab and for the exporter.
	burstAt := time.Now()
	for range 6 {
		c.run(c.pipeline(api, ""), gitlabtest.JobSpec{Name: "unit", Stage: "test"}, "failed", gitlabtest.FinishOptions{FailureReason: "script_failure"})
	}
	c.checkTruth(p, exp, procs)
	c.pipelineCountedThenRetried(p, nil, api, "acme/api", procs)
	fired := hook.waitAlert(t, 100*time.Second, "firing", alertLabels, procs...)
	t.Logf("%s firing reached the webhook %s after the burst", failureAlert, fired.At.Sub(burstAt).Round(time.Second))

	t.Log("recovery: the job passes again")
	recoverAt := time.Now()
	for round := range 10 {
		for range 4 {
			coverage := 70 + float64(round)
			c.run(c.pipeline(api, ""), gitlabtest.JobSpec{Name: "unit", Stage: "test"}, "success", gitlabtest.FinishOptions{
				Artifacts: []gitlabtest.Artifact{{FileType: "junit", Size: int64(20_000 + 1000*round)}},
				Coverage:  &coverage,
			})
		}

		if round == 4 {
			// A canceled attempt retried: counted as a retry, not as a failure.
			id := c.create(c.pipeline(api, ""), gitlabtest.JobSpec{Name: "unit", Stage: "test"})
			c.must(gl.Enqueue(id))
			c.must(gl.Finish(id, "canceled", gitlabtest.FinishOptions{}))
			retry, err := gl.Retry(id)
			c.must(err)
			c.must(gl.Start(retry))
			c.must(gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
		}
		time.Sleep(time.Second) // spread over several scrapes, so rates see them
	}
	resolved := hook.waitAlert(t, 60*time.Second, "resolved", alertLabels, procs...)
	if !resolved.StartsAt.Equal(fired.StartsAt) {
		t.Errorf("resolved alert started at %s, the firing one at %s: not the same alert", resolved.StartsAt, fired.StartsAt)
	}
	t.Logf("%s resolved reached the webhook %s after the first passing run", failureAlert, resolved.At.Sub(recoverAt).Round(time.Second))
	c.checkTruth(p, exp, procs)

	t.Log("pipelines that wait for a runner and run, and merge request pipelines")
	for i := range 2 {
		// The fake runs on the wall clock here, and GitLab counts whole
		// seconds: a pipeline queued and running for a second each has a
		// queue time and a duration. Two, in two scrapes, so that rates see
		// the second.
		slow := c.create(c.pipeline(api, ""), gitlabtest.JobSpec{Name: "slow", Stage: "test"})
		c.must(gl.Enqueue(slow))
		time.Sleep(1100 * time.Millisecond)
		c.must(gl.Start(slow))
		time.Sleep(1100 * time.Millisecond)
		c.must(gl.Finish(slow, "success", withCoverage(90)))
		mr := gl.CreatePipeline(api, gitlabtest.MergeRequestRef(4+int64(i), gitlabtest.MergeRequestMerge), gitlabtest.PipelineOptions{Source: "merge_request_event"})
		c.run(mr, gitlabtest.JobSpec{Name: "unit", Stage: "test"}, "success", gitlabtest.FinishOptions{})
		waitFor(t, 30*time.Second, "Prometheus to have the queued and merge request pipelines", func() (bool, string) {
			r, err := p.query(`sum(gitlab_ci_pipeline_queued_duration_seconds_count) + sum(gitlab_ci_pipelines_finished_total{ref="merged_result"})`)
			return err == nil && len(r) == 1 && r[0].Values[0] == float64(2*(i+1)), fmt.Sprint(r, err)
		}, procs...)
	}
	// Their series were born with the first of them: rates need the
	// second's scrape inside the last step of the dashboards' range
	// queries (2 s).
	waitScrapedAfter(t, p, time.Now().Add(2*time.Second), procs)

	t.Log("dashboards: every panel query returns data")
	checkDashboards(t, root, p, liveStart)

	// A healthy run fires nothing else; web's failures are allowed to fail
	// or on an untracked branch.
	if r, err := p.query(`ALERTS`); err != nil || len(r) > 0 {
		t.Errorf("alerts still pending or firing at the end: %v %v", r, err)
	}
	for _, a := range hook.all() {
		if a.Labels["alertname"] != failureAlert || a.Labels["project"] != "acme/api" {
			t.Errorf("unexpected alert notification: %s %v", a.Status, a.Labels)
		}
	}
	if strings.Contains(exp.out.String(), token) || strings.Contains(prom.out.String(), token) {
		t.Errorf("the token appears in the exporter's or Prometheus' output")
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %s: %v", path, err)
	}
	writeFile(t, path, string(b))
}

// ci drives the fake GitLab like runners and developers would.
type ci struct {
	t  *testing.T
	gl *gitlabtest.Server
	// tags are the runner tags a project's jobs ask for unless said
	// otherwise (history sets them).
	tags map[int64][]string
}

func (c *ci) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *ci) pipeline(project int64, ref string) int64 {
	c.t.Helper()
	id := c.gl.CreatePipeline(project, ref, gitlabtest.PipelineOptions{})
	if id == 0 {
		c.t.Fatalf("creating a pipeline on %q of project %d failed", ref, project)
	}
	return id
}

func (c *ci) create(pipeline int64, spec gitlabtest.JobSpec) int64 {
	c.t.Helper()
	id := c.gl.CreateJob(pipeline, spec)
	if id == 0 {
		c.t.Fatalf("creating job %+v in pipeline %d failed", spec, pipeline)
	}
	return id
}

// run takes a new job through pending and running to status.
func (c *ci) run(pipeline int64, spec gitlabtest.JobSpec, status string, opt gitlabtest.FinishOptions) int64 {
	c.t.Helper()
	id := c.create(pipeline, spec)
	c.must(c.gl.Enqueue(id))
	c.must(c.gl.Start(id))
	c.must(c.gl.Finish(id, status, opt))
	return id
}

// history is what happened before the exporter started: every finished
// status, failure reasons, a retry, a child pipeline, an untracked branch,
// jobs allowed to fail, and jobs left pending, running and manual; jobs
// with and without runner tags, run by runners of every type, and a job
// asking for tags no runner has.
//
// The two projects' jobs ask for different runners, so that no runner
// pool, runner type or runner has jobs of both: the Prometheus 3 test
// serves one project's histograms native and the other's classic, which
// Prometheus stores in bucket layouts it cannot add up.
func (c *ci) history(api, web int64) {
	c.t.Helper()
	gl := c.gl
	c.tags = map[int64][]string{web: {"windows"}} // acme/api's jobs are untagged unless said otherwise
	ok := gitlabtest.FinishOptions{}
	build := gitlabtest.JobSpec{Name: "build", Stage: "build", Tags: []string{"docker", "linux"}} // shared or group runners
	unit := gitlabtest.JobSpec{Name: "unit", Stage: "test"}
	lint := gitlabtest.JobSpec{Name: "lint", Stage: "test", AllowFailure: true, Tags: []string{"arm64"}} // the group runner
	withArtifacts := gitlabtest.FinishOptions{Artifacts: []gitlabtest.Artifact{
		{FileType: "archive", Size: 3 << 20}, {FileType: "trace", Size: 20 << 10},
	}}
	scriptFailure := gitlabtest.FinishOptions{FailureReason: "script_failure"}

	p := c.pipeline(api, "")
	c.run(p, build, "success", withArtifacts)
	failed := c.run(p, unit, "failed", scriptFailure)
	retry, err := gl.Retry(failed)
	c.must(err)
	c.must(gl.Start(retry))
	c.must(gl.Finish(retry, "success", ok))
	c.run(p, lint, "failed", scriptFailure)
	_, child := gl.CreateBridge(p, gitlabtest.JobSpec{Name: "trigger: docs", Stage: "deploy"})
	c.run(child, gitlabtest.JobSpec{Name: "docs", Stage: "test"}, "success", ok)

	p = c.pipeline(api, "")
	c.run(p, build, "success", withArtifacts)
	c.run(p, unit, "success", ok)
	canceled := c.create(p, gitlabtest.JobSpec{Name: "e2e", Stage: "test"})
	c.must(gl.Enqueue(canceled))
	c.must(gl.Finish(canceled, "canceled", ok))
	c.create(p, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})

	p = c.pipeline(api, "")
	c.must(gl.Enqueue(c.create(p, build))) // no runner picks it up
	running := c.create(p, gitlabtest.JobSpec{Name: "integration", Stage: "test"})
	c.must(gl.Enqueue(running))
	c.must(gl.Start(running))
	// No runner has a gpu: a starving pool.
	c.must(gl.Enqueue(c.create(p, gitlabtest.JobSpec{Name: "train", Stage: "test", Tags: []string{"gpu"}})))

	windows := func(spec gitlabtest.JobSpec) gitlabtest.JobSpec { spec.Tags = c.tags[web]; return spec }
	p = c.pipeline(web, "")
	c.run(p, windows(build), "success", withArtifacts)
	c.run(p, windows(unit), "success", ok)
	c.run(p, windows(lint), "failed", scriptFailure)
	skipped := c.create(p, windows(gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"}))
	c.must(gl.Skip(skipped))
	c.must(gl.Enqueue(c.create(p, windows(gitlabtest.JobSpec{Name: "package", Stage: "deploy"}))))

	p = c.pipeline(web, "feature/login")
	c.run(p, windows(build), "success", ok)
	c.run(p, windows(unit), "failed", gitlabtest.FinishOptions{FailureReason: "runner_system_failure"})

	// A merge request pipeline, which the pipeline metrics tell apart by
	// its ref, with a coverage.
	mr := gl.CreatePipeline(api, gitlabtest.MergeRequestRef(3, gitlabtest.MergeRequestHead), gitlabtest.PipelineOptions{Source: "merge_request_event"})
	c.run(mr, unit, "success", withCoverage(81.5))
}

func withCoverage(percent float64) gitlabtest.FinishOptions {
	return gitlabtest.FinishOptions{Coverage: &percent}
}

// pipelineCountedThenRetried runs a pipeline of project that fails, waits
// until Prometheus has its first result, then retries its job to green: a
// pipeline that went green only after a retry. clock is the fake's, nil
// when it runs on the wall clock.
func (c *ci) pipelineCountedThenRetried(p promAPI, clock *gitlabtest.ManualClock, project int64, path string, procs []*process) {
	c.t.Helper()
	query := `sum(gitlab_ci_pipelines_finished_total{project="` + path + `", status="failed"})`
	before := 0.0
	if r, err := p.query(query); err == nil && len(r) == 1 {
		before = r[0].Values[0]
	}
	failed := c.run(c.pipeline(project, ""), gitlabtest.JobSpec{Name: "unit", Stage: "test", Tags: c.tags[project]},
		"failed", gitlabtest.FinishOptions{FailureReason: "script_failure"})
	waitFor(c.t, 30*time.Second, "Prometheus to count the failed pipeline", func() (bool, string) {
		r, err := p.query(query)
		return err == nil && len(r) == 1 && r[0].Values[0] > before, fmt.Sprint(r, err)
	}, procs...)
	if clock != nil {
		clock.Set(time.Now()) // the retry's finish is not the first one's
	}
	retry, err := c.gl.Retry(failed)
	c.must(err)
	c.must(c.gl.Start(retry))
	c.must(c.gl.Finish(retry, "success", withCoverage(80)))
}

// truth is what the exporter must have counted, from the fake's records.
type truth struct {
	finished   int
	failures   map[string]int // by failure_reason
	retried    int
	unfinished map[string]int // by status
	// The runner pools: starts by tags and runner type ("tags/type"), jobs
	// waiting by tags and when the first of each was queued, finished jobs
	// by runner label.
	poolStarts     map[string]int
	poolWaiting    map[string]int
	poolQueuedAt   map[string]time.Time
	runnerFinished map[string]int
	// Pipelines: those that finished, each once, by source; those
	// unfinished by status.
	pipelinesBySource   map[string]int
	unfinishedPipelines map[string]int
}

func (c *ci) truth() truth {
	tr := truth{failures: map[string]int{}, unfinished: map[string]int{},
		poolStarts: map[string]int{}, poolWaiting: map[string]int{}, poolQueuedAt: map[string]time.Time{}, runnerFinished: map[string]int{},
		pipelinesBySource: map[string]int{}, unfinishedPipelines: map[string]int{}}
	now := time.Now()
	pipelines := map[int64]bool{}
	for _, j := range c.gl.Jobs() {
		if !pipelines[j.PipelineID] {
			pipelines[j.PipelineID] = true
			pl, _ := c.gl.Pipeline(j.PipelineID)
			if pl.Finished() {
				tr.pipelinesBySource[pl.Source]++
			} else {
				tr.unfinishedPipelines[pl.Status]++
			}
		}
		switch {
		case gitlabapi.JobStatus(j.Status).Finished():
			tr.finished++
		case !j.Retried:
			tr.unfinished[j.Status]++
		}
		if j.Status == "failed" {
			tr.failures[j.FailureReason]++
		}
		if j.Retried {
			tr.retried++
		}
		tags := strings.Join(j.Tags, ",")
		if j.StartedAt != nil && j.QueuedDuration != nil && !j.IsBridge {
			tr.poolStarts[tags+"/"+runnerTypeOf(j)]++
		}
		if j.Status == "pending" && !j.IsBridge {
			tr.poolWaiting[tags]++
			queued := now.Add(-time.Duration(*j.QueuedDuration * float64(time.Second)))
			if t, ok := tr.poolQueuedAt[tags]; !ok || queued.Before(t) {
				tr.poolQueuedAt[tags] = queued
			}
		}
		if gitlabapi.JobStatus(j.Status).Finished() && j.RunnerDescription != "" {
			tr.runnerFinished[runnerLabel(j.RunnerDescription)]++
		}
	}
	return tr
}

// runnerTypeOf is the runner_type label of a job that started.
func runnerTypeOf(j gitlabtest.JobRecord) string {
	if j.RunnerType == "" {
		return "unknown"
	}
	return j.RunnerType
}

// runnerLabel is the runner label of the fake's runners under the shipped
// runner_pools, which fold the numbered shared runner managers.
func runnerLabel(description string) string {
	if strings.Contains(description, ".saas-linux-small-amd64.runners-manager.") {
		return "saas-linux-small-amd64"
	}
	return description
}

// diff compares Prometheus' view with the ground truth and describes the
// differences ("" when there are none).
func (tr truth) diff(p promAPI) string {
	var diffs []string
	scalar := func(expr string) float64 {
		r, err := p.query(expr)
		if err != nil {
			diffs = append(diffs, err.Error())
			return -1
		}
		total := 0.0
		for _, s := range r {
			total += s.Values[0]
		}
		return total
	}
	ints := func(expr, label string) map[string]int {
		r, err := p.query(expr)
		if err != nil {
			diffs = append(diffs, err.Error())
			return nil
		}
		out := map[string]int{}
		for k, v := range byLabel(r, label) {
			if v != 0 {
				out[k] = int(v)
			}
		}
		return out
	}
	if got := scalar(`sum(gitlab_ci_job_duration_seconds_count)`); got != float64(tr.finished) {
		diffs = append(diffs, fmt.Sprintf("finished jobs %v, GitLab has %d", got, tr.finished))
	}
	if got := scalar(`sum(gitlab_jobs_exporter_jobs_observed_total)`); got != float64(tr.finished) {
		diffs = append(diffs, fmt.Sprintf("jobs_observed_total %v, GitLab has %d finished", got, tr.finished))
	}
	if got := ints(`sum by (failure_reason) (gitlab_ci_job_failures_total)`, "failure_reason"); !maps.Equal(got, tr.failures) {
		diffs = append(diffs, fmt.Sprintf("failures by reason %v, GitLab has %v", got, tr.failures))
	}
	if got := scalar(`sum(gitlab_ci_job_retries_total)`); got != float64(tr.retried) {
		diffs = append(diffs, fmt.Sprintf("retries %v, GitLab has %d", got, tr.retried))
	}
	if got := ints(`sum by (status) (gitlab_ci_jobs)`, "status"); !maps.Equal(got, tr.unfinished) {
		diffs = append(diffs, fmt.Sprintf("unfinished jobs by status %v, GitLab has %v", got, tr.unfinished))
	}
	if got := ints(`label_join(sum by (tags, runner_type) (gitlab_ci_runner_pool_queued_duration_seconds_count), "pool", "/", "tags", "runner_type")`, "pool"); !maps.Equal(got, tr.poolStarts) {
		diffs = append(diffs, fmt.Sprintf("starts by tags/runner type %v, GitLab has %v", got, tr.poolStarts))
	}
	if got := ints(`gitlab_ci_runner_pool_pending_jobs`, "tags"); !maps.Equal(got, tr.poolWaiting) {
		diffs = append(diffs, fmt.Sprintf("jobs waiting by tags %v, GitLab has %v", got, tr.poolWaiting))
	}
	if got := ints(`sum by (runner) (gitlab_ci_runner_job_duration_seconds_count)`, "runner"); !maps.Equal(got, tr.runnerFinished) {
		diffs = append(diffs, fmt.Sprintf("finished jobs by runner %v, GitLab has %v", got, tr.runnerFinished))
	}
	if got := ints(`sum by (source) (gitlab_ci_pipelines_finished_total)`, "source"); !maps.Equal(got, tr.pipelinesBySource) {
		diffs = append(diffs, fmt.Sprintf("finished pipelines by source %v, GitLab has %v", got, tr.pipelinesBySource))
	}
	if got := ints(`sum by (status) (gitlab_ci_pipelines)`, "status"); !maps.Equal(got, tr.unfinishedPipelines) {
		diffs = append(diffs, fmt.Sprintf("unfinished pipelines by status %v, GitLab has %v", got, tr.unfinishedPipelines))
	}
	// Queued, not created: within a poll's duration of GitLab's queue time.
	if r, err := p.query(`gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds`); err != nil {
		diffs = append(diffs, err.Error())
	} else if got := byLabel(r, "tags"); len(got) != len(tr.poolQueuedAt) {
		diffs = append(diffs, fmt.Sprintf("oldest queueing by tags %v, GitLab has %v", got, tr.poolQueuedAt))
	} else {
		for tags, want := range tr.poolQueuedAt {
			if at, ok := got[tags]; !ok || math.Abs(at-float64(want.UnixMilli())/1000) > 5 {
				diffs = append(diffs, fmt.Sprintf("oldest job waiting for %q queued at %v, GitLab says %v", tags, at, want))
			}
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// checkTruth waits until Prometheus agrees with the fake's ground truth,
// then checks that it still does after a full poll of every project and a
// scrape of its result: a job counted twice would show up then.
func (c *ci) checkTruth(p promAPI, exp *exporter, procs []*process) {
	c.t.Helper()
	tr := c.truth()
	waitFor(c.t, 30*time.Second, "Prometheus to agree with GitLab's ground truth", func() (bool, string) {
		d := tr.diff(p)
		return d == "", d
	}, procs...)
	waitFullPoll(c.t, exp, "acme/api", "acme/web")
	waitScrapedAfter(c.t, p, time.Now(), procs)
	if d := tr.diff(p); d != "" {
		c.t.Errorf("Prometheus matched GitLab's ground truth, then drifted: %s", d)
	}
}

// waitScrapedAfter waits until Prometheus holds a scrape of the exporter
// that started after at (a sample's timestamp is its scrape's start).
func waitScrapedAfter(t *testing.T, p promAPI, at time.Time, procs []*process) {
	t.Helper()
	waitFor(t, 30*time.Second, "Prometheus to scrape the exporter again", func() (bool, string) {
		r, err := p.query(`timestamp(up{job="gitlab_jobs_exporter"})`)
		if err != nil || len(r) != 1 || len(r[0].Values) != 1 {
			return false, fmt.Sprint(r, err)
		}
		last := time.UnixMilli(int64(math.Round(r[0].Values[0] * 1000)))
		return last.After(at), fmt.Sprintf("last scrape at %s, want one after %s", last.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
	}, procs...)
}

// checkDashboards evaluates every panel query of every dashboard, with
// "All" in each variable, and requires a number in the result: a range
// query over the live part of the test, an instant query with $__range
// spanning it.
func checkDashboards(t *testing.T, root string, p promAPI, from time.Time) {
	t.Helper()
	to := time.Now()
	span := fmt.Sprintf("%ds", int(to.Sub(from).Seconds())+1)
	globals := map[string]string{
		"__rate_interval": "1m", "__interval": "1m",
		"__range": span, "__range_s": strings.TrimSuffix(span, "s"),
	}
	queries := 0
	for _, d := range loadDashboards(t, root) {
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			m := labelValuesQuery.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s variable %s: query %q is not label_values(selector, label)", d.File, v.Name, q)
				continue
			}
			sel, err := d.substitute(m[1], globals)
			if err != nil {
				t.Errorf("%s variable %s: %v", d.File, v.Name, err)
				continue
			}
			r, err := p.query(fmt.Sprintf("count by (%s) (%s)", m[2], sel))
			values := slices.Sorted(maps.Keys(byLabel(r, m[2])))
			if err != nil || len(values) == 0 || slices.Contains(values, "") {
				t.Errorf("%s variable %s offers %q (%v)", d.File, v.Name, values, err)
			}
			if v.Name == "project" && !(slices.Contains(values, "acme/api") && slices.Contains(values, "acme/web")) {
				t.Errorf("%s variable project offers %q, want both projects", d.File, values)
			}
		}
		for _, panel := range d.dataPanels() {
			for _, tg := range panel.Targets {
				where := fmt.Sprintf("%s panel %d %q target %s", d.File, panel.ID, panel.Title, tg.RefID)
				expr, err := d.substitute(tg.Expr, globals)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				queries++
				var r []sample
				if tg.Instant {
					r, err = p.query(expr)
				} else {
					r, err = p.queryRange(expr, from, to, 2*time.Second)
				}
				if err != nil || !hasNumber(r) {
					t.Errorf("%s returns no data (%d series %v, err %v):\n%s", where, len(r), r, err, expr)
				}
			}
		}
	}
	t.Logf("%d dashboard queries checked", queries)
}
