package gitlabtest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// manualHook is a fixture with a manual-delivery webhook to a receiver.
func manualHook(t *testing.T, opt WebhookOptions) (fixture, *Webhook, *receiver) {
	t.Helper()
	f := newFixture(t, Options{})
	rc := newReceiver(t)
	opt.Manual = true
	return f, addHook(t, f.s, rc, opt), rc
}

// TestJobHookPerStatusChange: one Job Hook for a new job and one for each
// later status, each carrying the status it announces.
func TestJobHookPerStatusChange(t *testing.T) {
	success, failed, canceled := opFinish("success", FinishOptions{}), opFinish("failed", FinishOptions{}), opFinish("canceled", FinishOptions{})
	cases := []struct {
		when string
		ops  []jobOp
		want []string
	}{
		{"", []jobOp{opEnqueue, opStart, success}, []string{"created", "pending", "running", "success"}},
		{"", []jobOp{opEnqueue, opStart, failed}, []string{"created", "pending", "running", "failed"}},
		{"", []jobOp{opEnqueue, canceled}, []string{"created", "pending", "canceled"}},
		{"", []jobOp{opSkip}, []string{"created", "skipped"}},
		{"", []jobOp{opWait, opStart, success}, []string{"created", "waiting_for_resource", "running", "success"}},
		{"manual", nil, []string{"manual"}},
		{"manual", []jobOp{opPlay, opStart, success}, []string{"manual", "pending", "running", "success"}},
		{"delayed", []jobOp{opPlay}, []string{"scheduled", "pending"}},
		// Refused transitions change nothing and announce nothing.
		{"", []jobOp{opStart, opEnqueue, opEnqueue}, []string{"created", "pending"}},
	}
	for _, c := range cases {
		var names []string
		for _, o := range c.ops {
			names = append(names, o.name)
		}
		t.Run(c.when+"/"+strings.Join(names, ","), func(t *testing.T) {
			f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true})
			id := f.s.CreateJob(f.pipeline, JobSpec{Name: "j", When: c.when})
			for _, o := range c.ops {
				f.clock.Advance(time.Second)
				_ = o.do(f.s, id) // refusals are part of the case
			}
			flush(t, hook)
			if got := hookStatuses(t, rc, id, 0); !slices.Equal(got, c.want) {
				t.Errorf("Job Hooks %v, want %v", got, c.want)
			}
			for _, r := range rc.requests() {
				if r.header.Get("X-Gitlab-Event") != JobHookEvent || r.payload(t)["object_kind"] != "build" {
					t.Errorf("a job-events-only webhook sent %s / %v", r.header.Get("X-Gitlab-Event"), r.payload(t)["object_kind"])
				}
			}
		})
	}
}

// TestJobHookIsTheStateAtTheChange: payloads are rendered when the status
// changes, not when they are sent.
func TestJobHookIsTheStateAtTheChange(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true})
	id := f.job(t, "j", "running")
	f.clock.Advance(7 * time.Second)
	must(t, f.s.Finish(id, "success", FinishOptions{}))
	f.clock.Advance(time.Hour)
	flush(t, hook)
	durations := map[string]any{}
	for _, r := range rc.requests() {
		p := r.payload(t)
		durations[p["build_status"].(string)] = p["build_duration"]
	}
	if durations["pending"] != nil || durations["running"] != float64(0) || durations["success"] != float64(7) {
		t.Errorf("build_duration by status %v, want pending null, running 0, success 7", durations)
	}
	recs := hook.Deliveries()
	if last := recs[len(recs)-1]; !last.Time.Equal(t0.Add(7*time.Second)) || last.Status != "success" || last.JobID != id {
		t.Errorf("last record %+v, want success of job %d at t0+7s", last, id)
	}
}

// TestRetriedJobHooks: the new attempt is announced, pending, with
// retries_count 1; the old attempt's status does not change.
func TestRetriedJobHooks(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true})
	id := f.job(t, "j", "failed")
	retry, err := f.s.Retry(id)
	must(t, err)
	flush(t, hook)
	if got := hookStatuses(t, rc, id, 0); !slices.Equal(got, []string{"created", "pending", "running", "failed"}) {
		t.Errorf("first attempt: %v", got)
	}
	reqs := rc.requests()
	last := reqs[len(reqs)-1].payload(t)
	if last["build_id"] != float64(retry) || last["build_status"] != "pending" || last["retries_count"] != float64(1) {
		t.Errorf("last hook %v %v retries_count %v, want the pending retry %d with 1", last["build_id"], last["build_status"], last["retries_count"], retry)
	}
}

// TestNoJobHookForBridges: GitLab sends none for trigger jobs, while the
// pipelines they move still send Pipeline Hooks.
func TestNoJobHookForBridges(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{})
	bridge, child := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger"})
	must(t, f.s.Enqueue(bridge))
	childJob := f.jobIn(t, child, JobSpec{Name: "c"}, "success")
	flush(t, hook)
	if r, _ := f.s.Job(bridge); r.Status != "success" {
		t.Fatalf("bridge %s, want success: the scenario moved it", r.Status)
	}
	for _, r := range rc.requests() {
		if p := r.payload(t); p["object_kind"] == "build" && p["build_id"] == float64(bridge) {
			t.Errorf("Job Hook for bridge %d: %s", bridge, r.body)
		}
	}
	if got := hookStatuses(t, rc, childJob, 0); !slices.Equal(got, []string{"created", "pending", "running", "success"}) {
		t.Errorf("child job hooks %v", got)
	}
	// The parent has only the bridge: it follows the bridge's status.
	if got := hookStatuses(t, rc, 0, f.pipeline); !slices.Equal(got, []string{"pending", "running", "success"}) {
		t.Errorf("parent Pipeline Hooks %v", got)
	}
}

// TestPipelineHooks: one per pipeline status change, with the child
// pipeline's naming its source.
func TestPipelineHooks(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{PipelineEvents: true})
	a := f.s.CreateJob(f.pipeline, JobSpec{Name: "a", Stage: "build"})
	b := f.s.CreateJob(f.pipeline, JobSpec{Name: "b", Stage: "test"})
	bridge, child := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger", Stage: "test"})
	for _, step := range []func() error{
		func() error { return f.s.Enqueue(a) },
		func() error { return f.s.Start(a) },
		func() error { return f.s.Finish(a, "success", FinishOptions{}) },
		func() error { return f.s.Enqueue(b) },
		func() error { return f.s.Enqueue(bridge) },
		func() error { return f.s.Start(b) },
		func() error { return f.s.Finish(b, "failed", FinishOptions{}) },
	} {
		f.clock.Advance(time.Second)
		must(t, step())
	}
	c := f.jobIn(t, child, JobSpec{Name: "c"}, "running")
	must(t, f.s.Finish(c, "success", FinishOptions{}))
	flush(t, hook)

	if got, want := hookStatuses(t, rc, 0, f.pipeline), []string{"pending", "running", "failed"}; !slices.Equal(got, want) {
		t.Errorf("parent Pipeline Hooks %v, want %v", got, want)
	}
	if got, want := hookStatuses(t, rc, 0, child), []string{"pending", "running", "success"}; !slices.Equal(got, want) {
		t.Errorf("child Pipeline Hooks %v, want %v", got, want)
	}
	for _, r := range rc.requests() {
		p := r.payload(t)
		if r.header.Get("X-Gitlab-Event") != PipelineHookEvent || p["object_kind"] != "pipeline" {
			t.Fatalf("a pipeline-events-only webhook sent %s", r.header.Get("X-Gitlab-Event"))
		}
		id := int64(p["object_attributes"].(map[string]any)["id"].(float64))
		src, has := p["source_pipeline"].(map[string]any)
		switch {
		case id == child && (!has || src["job_id"] != float64(bridge) || src["pipeline_id"] != float64(f.pipeline)):
			t.Errorf("child hook source_pipeline %v, want bridge %d of pipeline %d", p["source_pipeline"], bridge, f.pipeline)
		case id == f.pipeline && has:
			t.Errorf("parent hook has source_pipeline %v", src)
		}
	}
}

// TestWebhookHeaders: the delivery headers of GitLab's docs example, with
// values from the Server and the webhook.
func TestWebhookHeaders(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{SecretToken: "s3cret"})
	f.job(t, "j", "created")
	flush(t, hook)
	r := rc.requests()[0]
	for name := range loadObject(t, "webhook_request_headers_docs.json") {
		if r.header.Get(name) == "" {
			t.Errorf("header %s missing", name)
		}
	}
	want := map[string]string{
		"Content-Type": "application/json", "User-Agent": "GitLab/18.1.1-ee", "X-Gitlab-Event": JobHookEvent,
		"X-Gitlab-Instance": f.s.URL(), "X-Gitlab-Webhook-UUID": hook.UUID(), "X-Gitlab-Token": "s3cret",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	rec := hook.Deliveries()[0]
	if r.header.Get("X-Gitlab-Event-UUID") != rec.EventUUID || r.header.Get("Idempotency-Key") != rec.IdempotencyKey ||
		rec.EventUUID == rec.IdempotencyKey || !uuidPattern.MatchString(rec.EventUUID) || !uuidPattern.MatchString(hook.UUID()) {
		t.Errorf("event UUID %q, idempotency key %q, record %+v", r.header.Get("X-Gitlab-Event-UUID"), r.header.Get("Idempotency-Key"), rec)
	}

	// Without a secret token there is no X-Gitlab-Token at all.
	f2, hook2, rc2 := manualHook(t, WebhookOptions{})
	f2.job(t, "j", "created")
	flush(t, hook2)
	if _, ok := rc2.requests()[0].header["X-Gitlab-Token"]; ok {
		t.Error("X-Gitlab-Token sent without a secret token")
	}
}

// TestEventUUIDSharedByWebhooks: X-Gitlab-Event-UUID names the event for
// every webhook; Idempotency-Key and X-Gitlab-Webhook-UUID differ.
func TestEventUUIDSharedByWebhooks(t *testing.T) {
	f, h1, rc1 := manualHook(t, WebhookOptions{})
	rc2 := newReceiver(t)
	h2 := addHook(t, f.s, rc2, WebhookOptions{Manual: true, Timestamps: TimestampsUTC})
	f.job(t, "j", "pending")
	flush(t, h1)
	flush(t, h2)
	a, b := rc1.requests(), rc2.requests()
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("%d and %d requests, want 3 each (job created, pending; pipeline pending)", len(a), len(b))
	}
	for i := range a {
		if a[i].eventUUID() != b[i].eventUUID() || a[i].header.Get("Idempotency-Key") == b[i].header.Get("Idempotency-Key") ||
			a[i].header.Get("X-Gitlab-Webhook-UUID") == b[i].header.Get("X-Gitlab-Webhook-UUID") {
			t.Errorf("request %d: headers %v and %v", i, a[i].header, b[i].header)
		}
		if !strings.Contains(string(b[i].body), " UTC\"") || strings.Contains(string(a[i].body), " UTC\"") {
			t.Errorf("request %d: each webhook should have its own timestamp form", i)
		}
	}
}
