//go:build unix

package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

const webhookSecret = "e2e-webhook-secret"

// TestWebhooksEndToEnd points the fake GitLab's webhooks at the real
// binary. With a 10-minute reconciliation every count must come from the
// deliveries: each finished job, a manual job played far below the first
// page included, is on /metrics within 2 s of its finishing delivery
// (p99). Then, with deliveries lost, duplicated, delayed, reordered and
// sent with a wrong token, and the scheduled polls repairing what was
// lost, the counts equal the ground truth exactly.
func TestWebhooksEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end webhook test takes about 30 s; skipped in -short mode")
	}
	t.Parallel()
	token := newToken(t)
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: token, FirstJobID: 11_000_000_000})
	t.Cleanup(gl.Close)
	c := &ci{t: t, gl: gl}
	app := gl.CreateProject("acme/app", gitlabtest.ProjectOptions{})
	c.run(c.pipeline(app, ""), gitlabtest.JobSpec{Name: "build", Stage: "build"}, "success", gitlabtest.FinishOptions{})
	// A manual deploy, then 150 jobs (of one pipeline: the first walk
	// lists each new pipeline's bridges) that push it off the first page.
	deployPipeline := c.pipeline(app, "")
	deploy := c.create(deployPipeline, gitlabtest.JobSpec{Name: "deploy", Stage: "deploy", When: "manual"})
	many := c.pipeline(app, "")
	for i := range 150 {
		c.run(many, gitlabtest.JobSpec{Name: fmt.Sprintf("lint %d/150", i+1), Stage: "test"}, "success", gitlabtest.FinishOptions{})
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "exporter.yml")
	writeFile(t, cfg, strings.Replace(exporterConfig(gl.URL(), "projects: [acme/app]\nwebhook:\n  enabled: true\n"),
		"interval: 1s", "interval: 10m", 1))
	exp := startExporterEnv(t, cfg, []string{"GITLAB_TOKEN=" + token, "GITLAB_WEBHOOK_SECRET_TOKEN=" + webhookSecret})
	hook, err := gl.AddWebhook(gitlabtest.WebhookOptions{URL: exp.base + "/webhook", SecretToken: webhookSecret,
		Timestamps: gitlabtest.TimestampsMixed, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}

	// The first delivery wakes the project's first poll (scheduled ones
	// are spread over up to 30 s), which walks the history; not measured.
	c.run(c.pipeline(app, ""), gitlabtest.JobSpec{Name: "warm-up", Stage: "test"}, "success", gitlabtest.FinishOptions{})
	waitHTTP200(t, exp.base+"/-/ready", 30*time.Second, exp.process)

	t.Log("latency: from each finishing delivery to the count on /metrics")
	var latencies []time.Duration
	measure := func(finish func() int64) time.Duration {
		t.Helper()
		before := observed(t, exp)
		id := finish()
		sent := waitSent(t, hook, id)
		waitFor(t, 10*time.Second, fmt.Sprintf("job %d counted", id), func() (bool, string) {
			n := observed(t, exp)
			return n == before+1, fmt.Sprintf("jobs_observed_total %v, was %v", n, before)
		}, exp.process)
		latencies = append(latencies, time.Since(sent))
		return time.Since(sent)
	}
	for i := range 30 {
		measure(func() int64 {
			if i%2 == 1 {
				return c.run(c.pipeline(app, ""), gitlabtest.JobSpec{Name: "unit", Stage: "test"}, "failed",
					gitlabtest.FinishOptions{FailureReason: "script_failure"})
			}
			return c.run(c.pipeline(app, ""), gitlabtest.JobSpec{Name: "unit", Stage: "test"}, "success", gitlabtest.FinishOptions{})
		})
	}
	manual := measure(func() int64 {
		c.must(gl.Play(deploy))
		c.must(gl.Start(deploy))
		c.must(gl.Finish(deploy, "success", gitlabtest.FinishOptions{}))
		return deploy
	})
	slices.Sort(latencies)
	p99 := latencies[int(math.Ceil(0.99*float64(len(latencies))))-1]
	t.Logf("delivery to /metrics: p50 %s, p99 %s, max %s over %d jobs (the played manual job: %s)",
		latencies[len(latencies)/2].Round(time.Millisecond), p99.Round(time.Millisecond),
		latencies[len(latencies)-1].Round(time.Millisecond), len(latencies), manual.Round(time.Millisecond))
	if p99 > 2*time.Second {
		t.Errorf("p99 from a finishing delivery to /metrics is %s, want at most 2s", p99)
	}
	fams := scrapeExporter(t, exp)
	hinted, full := fams.sumValues("gitlab_jobs_exporter_webhook_polls_total"), fams.sumValues("gitlab_jobs_exporter_polls_total")
	if full > 2 {
		t.Errorf("%v full polls in a test shorter than the 10m interval, want the first walk and at most the scheduled first poll", full)
	}
	// Each job is counted by a poll its delivery woke, unless the
	// project's first scheduled poll (spread over up to 30 s from the
	// start) took the delivery's hint before that poll ran.
	if hinted+full-1 < 31 {
		t.Errorf("%v hinted polls and %v full ones beside the first walk, want one per job", hinted, full-1)
	}

	// With a 3 s reconciliation this phase proves that no fault makes a
	// count wrong, not that the deliveries made it sooner: the phase above
	// (10 min reconciliation) proves that; scraper's
	// TestWebhooksCountLikePollingAlone proves both under faults on a
	// manual clock.
	t.Log("faults: lost, duplicated, delayed, reordered and forged deliveries; the scheduled polls repair")
	cfg2 := filepath.Join(dir, "reconciling.yml")
	writeFile(t, cfg2, strings.Replace(exporterConfig(gl.URL(), "projects: [acme/app]\nwebhook:\n  enabled: true\n"),
		"interval: 1s", "interval: 3s", 1))
	exp2 := startExporterEnv(t, cfg2, []string{"GITLAB_TOKEN=" + token, "GITLAB_WEBHOOK_SECRET_TOKEN=" + webhookSecret},
		"--storage.path="+filepath.Join(dir, "data2"))
	waitHTTP200(t, exp2.base+"/-/ready", 30*time.Second, exp2.process)
	faulty, err := gl.AddWebhook(gitlabtest.WebhookOptions{URL: exp2.base + "/webhook", SecretToken: webhookSecret, Seed: 2,
		Faults: gitlabtest.WebhookFaults{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, WrongToken: 0.05, Jitter: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 40 {
		p := c.pipeline(app, "")
		id := c.run(p, gitlabtest.JobSpec{Name: "unit", Stage: "test"}, []string{"success", "failed", "canceled"}[round%3], gitlabtest.FinishOptions{})
		if round%7 == 0 {
			retry, err := gl.Retry(id)
			c.must(err)
			c.must(gl.Start(retry))
			c.must(gl.Finish(retry, "success", gitlabtest.FinishOptions{}))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = faulty.Flush(ctx)
	c.must(err)
	want := finishedJobs(gl)
	waitFor(t, 30*time.Second, "the counts of the exporter with faulty deliveries to equal the ground truth", func() (bool, string) {
		n := observed(t, exp2)
		return n == float64(want), fmt.Sprintf("jobs_observed_total %v, GitLab has %d finished", n, want)
	}, exp2.process)
	waitFullPoll(t, exp2, "acme/app")
	if n := observed(t, exp2); n != float64(want) {
		t.Errorf("after a full poll: jobs_observed_total %v, GitLab has %d finished", n, want)
	}
	st := faulty.Stats()
	fams = scrapeExporter(t, exp2)
	t.Logf("faulty webhook: %+v; exporter counted deliveries %v", st, fams.byLabel("gitlab_jobs_exporter_webhook_deliveries_total", "result"))
	if st.Lost == 0 || st.Duplicated == 0 || st.Reordered == 0 || st.WrongToken == 0 {
		t.Errorf("the faults did not all happen: %+v", st)
	}
	if got := fams.byLabel("gitlab_jobs_exporter_webhook_deliveries_total", "result")["unauthorized"]; got == 0 {
		t.Errorf("no delivery counted unauthorized, though %d carried a wrong token", st.WrongToken)
	}
	if strings.Contains(exp.out.String(), webhookSecret) || strings.Contains(exp2.out.String(), webhookSecret) {
		t.Error("the webhook secret appears in the exporter's output")
	}
}

// observed is gitlab_jobs_exporter_jobs_observed_total.
func observed(t *testing.T, e *exporter) float64 {
	t.Helper()
	return scrapeExporter(t, e).sumValues("gitlab_jobs_exporter_jobs_observed_total")
}

// finishedJobs counts the fake's finished jobs and bridges.
func finishedJobs(gl *gitlabtest.Server) int {
	n := 0
	for _, j := range gl.Jobs() {
		if gitlabapi.JobStatus(j.Status).Finished() {
			n++
		}
	}
	return n
}

// waitSent waits for the Job Hook saying job id finished to be answered,
// and returns when it was sent.
func waitSent(t *testing.T, hook *gitlabtest.Webhook, id int64) time.Time {
	t.Helper()
	var sent time.Time
	waitFor(t, 10*time.Second, fmt.Sprintf("the finishing delivery of job %d", id), func() (bool, string) {
		for _, d := range hook.Deliveries() {
			if d.JobID == id && gitlabapi.JobStatus(d.Status).Finished() && len(d.Attempts) > 0 && d.Attempts[0].StatusCode == http.StatusAccepted {
				sent = d.Attempts[0].SentAt
				return true, ""
			}
		}
		return false, "not answered yet"
	})
	return sent
}
