package gitlabtest

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// realtimeHook is a fixture with a real-time webhook to a receiver.
func realtimeHook(t *testing.T, opt WebhookOptions) (fixture, *Webhook, *receiver) {
	t.Helper()
	f := newFixture(t, Options{})
	rc := newReceiver(t)
	return f, addHook(t, f.s, rc, opt), rc
}

func TestWebhookRealTime(t *testing.T) {
	cases := []struct {
		name   string
		faults WebhookFaults
	}{
		{"plain", WebhookFaults{}},
		{"delayed and reordered", WebhookFaults{Delay: 5 * time.Millisecond, Jitter: 20 * time.Millisecond, Reorder: 0.3, MaxHold: 50 * time.Millisecond, Duplicate: 0.2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, hook, rc := realtimeHook(t, WebhookOptions{JobEvents: true, SecretToken: "tok", Faults: c.faults, Seed: 11})
			makeEvents(t, f, 20)
			waitStats(t, hook, "every delivery", func(s WebhookStats) bool { return s.Events == 20 && s.Queued == 0 })
			checkAgainstRecord(t, hook, rc, "tok")
			if n, err := hook.Flush(context.Background()); err != nil || n != 0 {
				t.Errorf("Flush with nothing queued: %d, %v", n, err)
			}
		})
	}
}

// TestWebhookFlushRealTime: in real-time mode Flush returns once what is
// due has been sent.
func TestWebhookFlushRealTime(t *testing.T) {
	f, hook, rc := realtimeHook(t, WebhookOptions{JobEvents: true})
	makeEvents(t, f, 5)
	if _, err := hook.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.requests()); got != 5 {
		t.Errorf("%d requests arrived before Flush returned, want 5", got)
	}
}

// TestWebhookFailedDeliveries: error answers and timeouts are recorded and
// not retried.
func TestWebhookFailedDeliveries(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		f, hook, rc := realtimeHook(t, WebhookOptions{JobEvents: true})
		rc.status = http.StatusInternalServerError
		makeEvents(t, f, 3)
		waitStats(t, hook, "3 sent", func(s WebhookStats) bool { return s.Sent == 3 })
		for _, rec := range hook.Deliveries() {
			if len(rec.Attempts) != 1 || rec.Attempts[0].StatusCode != 500 || rec.State != DeliverySent {
				t.Errorf("record %+v, want one attempt answered 500", rec)
			}
		}
		if st := hook.Stats(); st.Failed != 3 || st.Succeeded != 0 || len(rc.requests()) != 3 {
			t.Errorf("stats %+v, %d requests", st, len(rc.requests()))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f, hook, rc := realtimeHook(t, WebhookOptions{JobEvents: true, Timeout: 20 * time.Millisecond})
		rc.block = make(chan struct{}) // never released: every request times out
		makeEvents(t, f, 2)
		waitStats(t, hook, "2 sent", func(s WebhookStats) bool { return s.Sent == 2 })
		for _, rec := range hook.Deliveries() {
			if a := rec.Attempts; len(a) != 1 || a[0].StatusCode != 0 || !strings.Contains(a[0].Err, "deadline") {
				t.Errorf("attempts %+v, want one timed out", a)
			}
		}
		if st := hook.Stats(); st.Failed != 2 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestWebhookNeverBlocksTheModel: with the receiver stuck, status changes
// go on and the overflow is dropped and counted.
func TestWebhookNeverBlocksTheModel(t *testing.T) {
	f, hook, rc := realtimeHook(t, WebhookOptions{JobEvents: true, QueueSize: 2})
	rc.block = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			f.s.CreateJob(f.pipeline, JobSpec{Name: "j"})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("status changes blocked behind a stuck receiver")
	}
	st := hook.Stats()
	// One may be on its way, two wait; the rest cannot have fit.
	if st.Dropped < 7 || st.Dropped+st.Queued != 10 {
		t.Errorf("stats %+v: want at least 7 of 10 dropped", st)
	}
	close(rc.block)
	waitStats(t, hook, "the queue to drain", func(s WebhookStats) bool { return s.Queued == 0 })
	checkAgainstRecord(t, hook, rc, "")
}

// TestServerCloseStopsDelivery: Close cancels the request on its way and
// what is queued, returns after the sender has stopped, and nothing is
// sent afterwards; no goroutine is left behind.
func TestServerCloseStopsDelivery(t *testing.T) {
	before := runtime.NumGoroutine()
	rc := newReceiver(t)
	rc.block = make(chan struct{})
	s := NewServer(Options{Clock: NewManualClock(t0)})
	p := s.CreatePipeline(s.CreateProject("g/p", ProjectOptions{}), "", PipelineOptions{})
	hook, err := s.AddWebhook(WebhookOptions{URL: rc.url(), JobEvents: true})
	must(t, err)
	manual, err := s.AddWebhook(WebhookOptions{URL: rc.url(), JobEvents: true, Manual: true})
	must(t, err)
	for range 3 {
		s.CreateJob(p, JobSpec{Name: "j"})
	}
	rc.waitRequests(t, 1)

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a delivery was stuck")
	}
	select {
	case <-hook.done:
	default:
		t.Fatal("the sender is still running after Close")
	}
	recs := hook.Deliveries()
	if a := recs[0].Attempts; len(a) != 1 || a[0].Err == "" {
		t.Errorf("the stuck request: %+v, want canceled", a)
	}
	if recs[1].State != DeliveryCanceled || recs[2].State != DeliveryCanceled {
		t.Errorf("queued deliveries: %s, %s, want canceled", recs[1].State, recs[2].State)
	}
	if st := manual.Stats(); st.Canceled != 3 || st.Queued != 0 {
		t.Errorf("manual webhook after Close: %+v", st)
	}

	s.CreateJob(p, JobSpec{Name: "after close"})
	if _, err := manual.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	if st := hook.Stats(); st.Events != 4 || st.Canceled != 3 || st.Requests != 1 || len(rc.requests()) != 1 {
		t.Errorf("after Close: stats %+v, %d requests", st, len(rc.requests()))
	}

	close(rc.block)
	rc.srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling for the count; the deadline is the proof
	}
}

// deliveryTrace is what a receiver can tell apart, in arrival order.
type deliveryTrace struct {
	uuid, key, token, body string
}

// simulate runs a faulty workload with a manual webhook, flushing every
// simulated minute, and returns what arrived and the record.
func simulate(t *testing.T, hookSeed int64) ([]deliveryTrace, []WebhookDelivery) {
	t.Helper()
	c := NewManualClock(t0)
	s := NewServer(Options{Clock: c})
	t.Cleanup(s.Close)
	rc := newReceiver(t)
	hook, err := s.AddWebhook(WebhookOptions{
		URL: rc.url(), SecretToken: "tok", Manual: true, Seed: hookSeed, Timestamps: TimestampsMixed,
		Faults: WebhookFaults{Loss: 0.1, Duplicate: 0.1, WrongToken: 0.1, Reorder: 0.2, Jitter: 90 * time.Second},
	})
	must(t, err)
	w := NewWorkload(s, c, WorkloadOptions{Projects: 3, JobsPerHour: 300, FailureRate: 0.2, ManualRate: 0.5, RetryRate: 0.5, ChildPipelineRate: 0.3, Seed: 5})
	for range 20 {
		w.Step(time.Minute)
		flush(t, hook)
	}
	var out []deliveryTrace
	for _, r := range rc.requests() {
		// Each run's fake listens on its own port.
		body := strings.ReplaceAll(string(r.body), s.URL(), "http://fake")
		out = append(out, deliveryTrace{r.eventUUID(), r.header.Get("Idempotency-Key"), r.header.Get("X-Gitlab-Token"), body})
	}
	checkAgainstRecord(t, hook, rc, "tok")
	return out, hook.Deliveries()
}

// TestManualDeliveryDeterministic: the same seeds give the same bytes in
// the same order; another webhook seed other faults.
func TestManualDeliveryDeterministic(t *testing.T) {
	a, recA := simulate(t, 1)
	b, recB := simulate(t, 1)
	if len(a) < 50 {
		t.Fatalf("only %d deliveries: the simulation is too small to tell", len(a))
	}
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(recA, recB) {
		t.Fatal("same seeds, different deliveries")
	}
	c, _ := simulate(t, 2)
	if reflect.DeepEqual(a, c) {
		t.Fatal("another webhook seed, same deliveries")
	}
	var iso, utc int
	for _, d := range a {
		if strings.Contains(d.body, ` UTC"`) {
			utc++
		} else {
			iso++
		}
	}
	if iso == 0 || utc == 0 {
		t.Errorf("mixed timestamps: %d ISO and %d UTC payloads", iso, utc)
	}
}

func TestAddWebhookRejects(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	for _, opt := range []WebhookOptions{
		{},
		{URL: "ftp://x/hook"},
		{URL: "http://127.0.0.1:1/h", Faults: WebhookFaults{Loss: 1.5}},
		{URL: "http://127.0.0.1:1/h", Faults: WebhookFaults{Reorder: -0.1}},
		{URL: "http://127.0.0.1:1/h", Faults: WebhookFaults{Delay: -time.Second}},
		{URL: "http://127.0.0.1:1/h", Timestamps: TimestampForm(9)},
	} {
		if _, err := s.AddWebhook(opt); err == nil {
			t.Errorf("AddWebhook(%+v) accepted", opt)
		}
	}
}
