package gitlabtest

import (
	"fmt"
	"testing"
	"time"
)

// makeEvents creates n jobs a second apart: n Job Hooks ("created").
func makeEvents(t *testing.T, f fixture, n int) {
	t.Helper()
	for i := range n {
		f.clock.Advance(time.Second)
		if f.s.CreateJob(f.pipeline, JobSpec{Name: fmt.Sprint("job-", i)}) == 0 {
			t.Fatal("CreateJob failed")
		}
	}
}

// checkAgainstRecord compares what the receiver got with the webhook's
// record: every sent event arrived once per attempt with its keys and the
// right token, nothing else arrived, and the counters add up.
func checkAgainstRecord(t *testing.T, hook *Webhook, rc *receiver, secret string) {
	t.Helper()
	recs := hook.Deliveries()
	st := hook.Stats()
	got := map[string][]received{}
	seqOf := map[string]uint64{}
	for _, r := range rc.requests() {
		got[r.eventUUID()] = append(got[r.eventUUID()], r)
	}
	var lost, sent, dup, wrong, held, reordered, requests int
	for _, rec := range recs {
		seqOf[rec.EventUUID] = rec.Seq
		reqs := got[rec.EventUUID]
		delete(got, rec.EventUUID)
		for _, fault := range []struct {
			on bool
			n  *int
		}{{rec.Duplicated, &dup}, {rec.WrongToken, &wrong}, {rec.Held, &held}} {
			if fault.on {
				*fault.n++
			}
		}
		if rec.State != DeliverySent {
			if len(reqs) != 0 {
				t.Errorf("event %d (%s) arrived %d times", rec.Seq, rec.State, len(reqs))
			}
			if rec.State == DeliveryLost {
				lost++
			}
			continue
		}
		sent++
		requests += len(rec.Attempts)
		want := 1
		if rec.Duplicated {
			want = 2
		}
		if len(reqs) != want || len(rec.Attempts) != want {
			t.Errorf("event %d: %d requests arrived, %d attempts recorded, want %d", rec.Seq, len(reqs), len(rec.Attempts), want)
		}
		wantToken := secret
		if rec.WrongToken {
			wantToken = wrongToken
		}
		for _, r := range reqs {
			if r.header.Get("Idempotency-Key") != rec.IdempotencyKey || r.header.Get("X-Gitlab-Token") != wantToken {
				t.Errorf("event %d: key %q token ok %v", rec.Seq, r.header.Get("Idempotency-Key"), r.header.Get("X-Gitlab-Token") == wantToken)
			}
		}
		if rec.Reordered {
			reordered++
		}
	}
	for uuid := range got {
		t.Errorf("the receiver got event %s, which the record does not have", uuid)
	}
	// Reordered in the record = overtaken at the receiver.
	var maxSeen uint64
	seen := map[uint64]bool{}
	for _, r := range rc.requests() {
		seq := seqOf[r.eventUUID()]
		if seen[seq] {
			continue
		}
		seen[seq] = true
		overtaken := seq < maxSeen
		maxSeen = max(maxSeen, seq)
		for _, rec := range recs {
			if rec.Seq == seq && rec.Reordered != overtaken {
				t.Errorf("event %d: Reordered %v, the receiver saw it overtaken: %v", seq, rec.Reordered, overtaken)
			}
		}
	}
	if st.Events != len(recs) || st.Lost != lost || st.Sent != sent || st.Duplicated != dup || st.WrongToken != wrong ||
		st.Held != held || st.Reordered != reordered || st.Requests != requests || st.Succeeded != requests {
		t.Errorf("stats %+v; the record counts lost %d sent %d dup %d wrong %d held %d reordered %d requests %d",
			st, lost, sent, dup, wrong, held, reordered, requests)
	}
}

func TestWebhookFaults(t *testing.T) {
	const n = 40
	cases := []struct {
		name   string
		faults WebhookFaults
		secret string
		check  func(t *testing.T, st WebhookStats)
	}{
		{"none", WebhookFaults{}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Sent != n || st.Requests != n {
				t.Errorf("sent %d in %d requests, want %d", st.Sent, st.Requests, n)
			}
		}},
		{"all lost", WebhookFaults{Loss: 1}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Lost != n || st.Requests != 0 {
				t.Errorf("lost %d, requests %d", st.Lost, st.Requests)
			}
		}},
		{"some lost", WebhookFaults{Loss: 0.3}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Lost == 0 || st.Lost == n || st.Sent != n-st.Lost {
				t.Errorf("lost %d, sent %d of %d", st.Lost, st.Sent, n)
			}
		}},
		{"all duplicated", WebhookFaults{Duplicate: 1}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Duplicated != n || st.Requests != 2*n {
				t.Errorf("duplicated %d, requests %d", st.Duplicated, st.Requests)
			}
		}},
		{"some duplicated", WebhookFaults{Duplicate: 0.5}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Duplicated == 0 || st.Duplicated == n || st.Requests != n+st.Duplicated {
				t.Errorf("duplicated %d, requests %d", st.Duplicated, st.Requests)
			}
		}},
		{"wrong token always", WebhookFaults{WrongToken: 1}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.WrongToken != n {
				t.Errorf("wrong token %d", st.WrongToken)
			}
		}},
		{"wrong token sometimes", WebhookFaults{WrongToken: 0.5}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.WrongToken == 0 || st.WrongToken == n {
				t.Errorf("wrong token %d of %d", st.WrongToken, n)
			}
		}},
		{"wrong token without a secret", WebhookFaults{WrongToken: 1}, "", func(t *testing.T, st WebhookStats) {
			if st.WrongToken != n {
				t.Errorf("wrong token %d", st.WrongToken)
			}
		}},
		{"reordered", WebhookFaults{Reorder: 0.3}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Held == 0 || st.Reordered == 0 || st.Sent != n {
				t.Errorf("held %d, reordered %d, sent %d", st.Held, st.Reordered, st.Sent)
			}
		}},
		{"everything", WebhookFaults{Loss: 0.2, Duplicate: 0.2, WrongToken: 0.2, Reorder: 0.2}, "s3cret", func(t *testing.T, st WebhookStats) {
			if st.Lost == 0 || st.Duplicated == 0 || st.WrongToken == 0 || st.Reordered == 0 {
				t.Errorf("stats %+v: every fault should show", st)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true, SecretToken: c.secret, Faults: c.faults, Seed: 7})
			makeEvents(t, f, n)
			flush(t, hook)
			f.clock.Advance(defaultMaxHold) // a held last event has nothing to overtake it
			flush(t, hook)
			if st := hook.Stats(); st.Queued != 0 || st.Events != n {
				t.Fatalf("stats %+v after a flush of %d events", st, n)
			}
			checkAgainstRecord(t, hook, rc, c.secret)
			c.check(t, hook.Stats())
		})
	}
}

// TestWebhookDelay: deliveries wait their delay on the fake's clock.
func TestWebhookDelay(t *testing.T) {
	cases := []struct {
		name          string
		delay, jitter time.Duration
	}{
		{"fixed", 30 * time.Second, 0},
		{"random", 0, 30 * time.Second},
		{"both", 10 * time.Second, 20 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true, Faults: WebhookFaults{Delay: c.delay, Jitter: c.jitter}, Seed: 3})
			makeEvents(t, f, 10)
			for range 40 {
				flush(t, hook)
				f.clock.Advance(time.Second)
			}
			checkAgainstRecord(t, hook, rc, "")
			var delays []time.Duration
			for _, rec := range hook.Deliveries() {
				if inRange := rec.Delay >= c.delay && rec.Delay < c.delay+c.jitter; !inRange && !(c.jitter == 0 && rec.Delay == c.delay) {
					t.Errorf("event %d: delay %v outside [%v, %v+%v)", rec.Seq, rec.Delay, c.delay, c.delay, c.jitter)
				}
				// Flushes come each second: a delivery goes out in the
				// first one at or after its time + delay.
				sent := rec.Attempts[0].SentAt
				if sent.Before(rec.Time.Add(rec.Delay)) || !sent.Before(rec.Time.Add(rec.Delay+time.Second)) {
					t.Errorf("event %d at %v with delay %v sent at %v", rec.Seq, rec.Time, rec.Delay, sent)
				}
				delays = append(delays, rec.Delay)
			}
			if st := hook.Stats(); st.Delayed != 10 || st.Sent != 10 {
				t.Errorf("stats %+v", st)
			}
			if c.jitter > 0 && delays[0] == delays[1] && delays[1] == delays[2] {
				t.Errorf("jittered delays all equal: %v", delays)
			}
		})
	}
}

// TestWebhookHoldEnds: held deliveries nothing overtakes go out after
// MaxHold, in their order.
func TestWebhookHoldEnds(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true, Faults: WebhookFaults{Reorder: 1, MaxHold: time.Minute}})
	makeEvents(t, f, 3)
	if n := flush(t, hook); n != 0 {
		t.Fatalf("%d held deliveries went out before MaxHold", n)
	}
	f.clock.Advance(time.Minute)
	if n := flush(t, hook); n != 3 {
		t.Fatalf("%d deliveries after MaxHold, want 3", n)
	}
	checkAgainstRecord(t, hook, rc, "")
	if st := hook.Stats(); st.Held != 3 || st.Reordered != 0 {
		t.Errorf("stats %+v: all held, none overtaken", st)
	}
}

// TestWebhookQueueFull: beyond QueueSize events are dropped and counted.
func TestWebhookQueueFull(t *testing.T) {
	f, hook, rc := manualHook(t, WebhookOptions{JobEvents: true, QueueSize: 3})
	makeEvents(t, f, 5)
	flush(t, hook)
	checkAgainstRecord(t, hook, rc, "")
	recs := hook.Deliveries()
	if st := hook.Stats(); st.Dropped != 2 || st.Sent != 3 || recs[3].State != DeliveryDropped || recs[4].State != DeliveryDropped {
		t.Errorf("stats %+v, states %v %v: the last two should be dropped", st, recs[3].State, recs[4].State)
	}
}
