package app

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/go-kit/log"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// TestExportedFamiliesMatchTheDeclaredList drives the real exporter against
// the fake GitLab until every metric family exists, and compares what it
// exports with deploytest.ExportedMetricNames, the list the dashboards and
// alert rules are checked against.
func TestExportedFamiliesMatchTheDeclaredList(t *testing.T) {
	// A clock of its own, moved on only to give the pipeline below a queue.
	clock := gitlabtest.NewManualClock(time.Now())
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: "tok", Clock: clock,
		RateLimit: &gitlabtest.RateLimitOptions{Limit: 100000, Period: time.Minute}})
	t.Cleanup(gl.Close)
	project := gl.CreateProject("g/app", gitlabtest.ProjectOptions{})
	pipeline := gl.CreatePipeline(project, "main", gitlabtest.PipelineOptions{})
	run := func(name, status string) int64 {
		id := gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: name, Stage: "test"})
		must(t, gl.Enqueue(id))
		must(t, gl.Start(id))
		must(t, gl.Finish(id, status, gitlabtest.FinishOptions{Artifacts: []gitlabtest.Artifact{{FileType: "archive", Size: 4096, Filename: "a.zip", FileFormat: "zip"}}}))
		return id
	}
	flaky := run("flaky", "failed")
	retry, err := gl.Retry(flaky)
	must(t, err)
	must(t, gl.Start(retry))
	must(t, gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
	run("build", "success")
	must(t, gl.Enqueue(gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: "waiting", Stage: "deploy"})))
	// A pipeline that fails, and is retried and goes green once the
	// exporter counted its first result, so that the pipeline families
	// have series.
	fails := gl.CreatePipeline(project, "main", gitlabtest.PipelineOptions{})
	failing := gl.CreateJob(fails, gitlabtest.JobSpec{Name: "once", Stage: "test"})
	must(t, gl.Enqueue(failing))
	clock.Advance(5 * time.Second)
	must(t, gl.Start(failing))
	must(t, gl.Finish(failing, "failed", gitlabtest.FinishOptions{}))
	rerun := func() {
		clock.Advance(time.Second)
		again, err := gl.Retry(failing)
		must(t, err)
		clock.Advance(time.Second)
		must(t, gl.Start(again))
		coverage := 87.5 // so that the latest pipeline has a coverage
		must(t, gl.Finish(again, "success", gitlabtest.FinishOptions{Coverage: &coverage}))
	}
	gl.InjectFault(gitlabtest.Fault{Endpoint: "/projects/:id/jobs", Kind: gitlabtest.FaultMalformedJSON, Times: 1})

	dir := t.TempDir()
	configFile := filepath.Join(dir, "config.yaml")
	must(t, os.WriteFile(configFile, []byte(fmt.Sprintf(
		"gitlab:\n  url: %s\npoll:\n  interval: 1s\nprojects: [g/app]\n"+
			// A group, and one that does not exist, so that group_up and
			// group_errors_total have series.
			"groups:\n  - path: g\n  - path: no-such-group\n"+
			"webhook:\n  enabled: true\n"+
			// The family that is off by default.
			"metrics:\n  runners: {enabled: true}\n", gl.URL())), 0o600))
	getenv := func(k string) string {
		switch k {
		case "GITLAB_TOKEN":
			return "tok"
		case "GITLAB_WEBHOOK_SECRET_TOKEN":
			return "hook-secret"
		}
		return ""
	}
	a, err := New(configFile, getenv, log.NewNopLogger())
	must(t, err)
	must(t, a.OpenStorage(filepath.Join(dir, "data")))
	// An unusable state file, so that state_errors_total has a series.
	must(t, os.WriteFile(filepath.Join(dir, "data", "projects", fmt.Sprint(project)+".json"), []byte("{"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// A webhook delivery, so that the webhook families have series.
	handler, err := a.Handler("/metrics", false)
	must(t, err)
	hookSrv := httptest.NewServer(handler)
	t.Cleanup(hookSrv.Close)
	hook, err := gl.AddWebhook(gitlabtest.WebhookOptions{URL: hookSrv.URL + "/webhook", SecretToken: "hook-secret"})
	must(t, err)
	finished := gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: "hinted", Stage: "test"})
	must(t, gl.Enqueue(finished))
	must(t, gl.Start(finished))
	must(t, gl.Finish(finished, "success", gitlabtest.FinishOptions{}))
	must(t, hook.Wait(ctx, func(s gitlabtest.WebhookStats) bool { return s.Succeeded >= 3 }))

	want := map[string]deploytest.Family{}
	for _, f := range deploytest.ExportedMetricNames() {
		want[f.Name] = f
	}
	// Hinted polls that fail, so that webhook_poll_errors_total has a
	// series: only they fetch a job by id here, and each delivery below
	// wakes one unless a scheduled poll takes its hint first.
	gl.InjectFault(gitlabtest.Fault{Endpoint: "/projects/:id/jobs/:job_id", Kind: gitlabtest.FaultServerError})
	deliver := func(base string) {
		body := fmt.Sprintf(`{"object_kind":"build","build_id":%d,"build_status":"success","pipeline_id":%d,"project_id":%d}`,
			finished, pipeline, project)
		r, err := http.NewRequest("POST", base+"/webhook", strings.NewReader(body))
		must(t, err)
		r.Header.Set("X-Gitlab-Token", "hook-secret")
		r.Header.Set("X-Gitlab-Event", "Job Hook")
		resp, err := http.DefaultClient.Do(r)
		must(t, err)
		resp.Body.Close()
	}

	// A shard of a sharded set that does not own g/app, passing a delivery
	// about it on to an owner that does not answer, so that
	// webhook_forwards_total has a series.
	other := 1 - shard.Of(project, 2)
	shardedFile := filepath.Join(dir, "sharded.yaml")
	cfgText, err := os.ReadFile(configFile)
	must(t, err)
	must(t, os.WriteFile(shardedFile, []byte(strings.Replace(string(cfgText), "webhook:\n  enabled: true\n",
		"webhook:\n  enabled: true\n  forward_url: http://127.0.0.1:1/{shard}\n", 1)), 0o600))
	sharded, err := New(shardedFile, getenv, log.NewNopLogger(), WithShard(shard.Shard{Index: other, Total: 2}))
	must(t, err)
	must(t, sharded.OpenStorage(filepath.Join(dir, "sharded-data")))
	shardedDone := make(chan struct{})
	go func() { defer close(shardedDone); sharded.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-shardedDone })
	shardedHandler, err := sharded.Handler("/metrics", false)
	must(t, err)
	shardedSrv := httptest.NewServer(shardedHandler)
	t.Cleanup(shardedSrv.Close)

	var got map[string]deploytest.Family
	deadline := time.Now().Add(20 * time.Second)
	for {
		deliver(hookSrv.URL)
		deliver(shardedSrv.URL)
		got = gathered(t, a)
		maps.Copy(got, gathered(t, sharded))
		if _, counted := got["gitlab_ci_pipelines_finished_total"]; counted && rerun != nil {
			rerun()
			rerun = nil
		}
		missing := 0
		for name := range want {
			if _, ok := got[name]; !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is declared but not exported", name)
		case g.Type != w.Type:
			t.Errorf("%s: exported as %s, declared as %s", name, g.Type, w.Type)
		case !sameLabels(g.Labels, w.Labels):
			t.Errorf("%s: exported labels %v, declared %v", name, g.Labels, w.Labels)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok && strings.HasPrefix(name, "gitlab_") {
			t.Errorf("%s is exported but missing from deploytest.ExportedMetricNames", name)
		}
	}
}

func gathered(t *testing.T, a *App) map[string]deploytest.Family {
	t.Helper()
	mfs, err := a.Registry.Gather()
	must(t, err)
	out := map[string]deploytest.Family{}
	for _, mf := range mfs {
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		f := deploytest.Family{Name: mf.GetName(), Type: strings.ToLower(mf.GetType().String())}
		for l := range labels {
			f.Labels = append(f.Labels, l)
		}
		out[f.Name] = f
	}
	return out
}

func sameLabels(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
