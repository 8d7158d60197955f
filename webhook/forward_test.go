package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// shardCounts counts deliveries and forwards of one shard; forwards also
// go to done, so that a test waits for them instead of sleeping.
type shardCounts struct {
	mu         sync.Mutex
	deliveries map[string]int // "event result"
	forwards   map[string]int // "owner result"
	done       chan string
}

func newShardCounts() *shardCounts {
	return &shardCounts{deliveries: map[string]int{}, forwards: map[string]int{}, done: make(chan string, 100)}
}

func (c *shardCounts) WebhookDelivery(event, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliveries[event+" "+result]++
}

func (c *shardCounts) WebhookForward(owner int, result string) {
	c.mu.Lock()
	key := fmt.Sprint(owner, " ", result)
	c.forwards[key]++
	c.mu.Unlock()
	c.done <- key
}

func (c *shardCounts) delivered() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.deliveries {
		out[k] = v
	}
	return out
}

// shardSet is n shards' handlers, each with a sink that polls the projects
// its shard owns, reaching one another at http://shard-K.test/webhook
// through a transport that calls the handlers directly.
type shardSet struct {
	handlers []*Handler
	sinks    []*sink
	counts   []*shardCounts
	fwds     []*Forwarder
	// reached counts the requests to each shard's URL; a shard in down
	// answers 503.
	mu      sync.Mutex
	reached map[string]int
	down    map[string]bool
}

func (s *shardSet) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.reached[r.URL.Host]++
	down := s.down[r.URL.Host]
	s.mu.Unlock()
	rec := httptest.NewRecorder()
	if down {
		rec.WriteHeader(http.StatusServiceUnavailable)
		return rec.Result(), nil
	}
	k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Host, "shard-"), ".test"))
	if err != nil || k >= len(s.handlers) {
		return nil, fmt.Errorf("dial %s: no such host", r.URL.Host)
	}
	s.handlers[k].ServeHTTP(rec, r)
	return rec.Result(), nil
}

func newShardSet(t *testing.T, n int, projects []int64) *shardSet {
	t.Helper()
	s := &shardSet{reached: map[string]int{}, down: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for k := range n {
		self := shard.Shard{Index: k, Total: n}
		polled := map[int64]bool{}
		for _, id := range projects {
			polled[id] = self.Owns(id)
		}
		c := newShardCounts()
		h := NewHandler(&sink{polled: polled}, c)
		h.SetSecret(secret)
		f := NewForwarder(self, &http.Client{Transport: s}, c, log.NewNopLogger())
		f.SetURL(func(owner int) string { return fmt.Sprintf("http://shard-%d.test/webhook", owner) })
		h.SetForwarder(f)
		wg.Go(func() { f.Run(ctx) })
		s.handlers, s.sinks, s.counts, s.fwds = append(s.handlers, h), append(s.sinks, h.sink.(*sink)), append(s.counts, c), append(s.fwds, f)
	}
	return s
}

// projectsOfShards returns, for each of n shards, a project id it owns.
func projectsOfShards(n int) []int64 {
	out := make([]int64, n)
	found := 0
	for id := int64(1); found < n; id++ {
		if k := shard.Of(id, n); out[k] == 0 {
			out[k] = id
			found++
		}
	}
	return out
}

func jobHook(project, job int64) string {
	return fmt.Sprintf(`{"object_kind":"build","build_id":%d,"build_status":"success","pipeline_id":7,"project_id":%d}`, job, project)
}

func post(h http.Handler, body string, header map[string]string) int {
	r := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
	r.Header.Set("X-Gitlab-Event", "Job Hook")
	r.Header.Set("X-Gitlab-Token", secret)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func TestDeliveriesReachTheirShard(t *testing.T) {
	const n = 3
	owned := projectsOfShards(n)
	s := newShardSet(t, n, owned)

	// A delivery reaching shard 0 about shard 2's project: answered at
	// once, passed on once, hinted on shard 2 alone.
	if code := post(s.handlers[0], jobHook(owned[2], 42), map[string]string{"Authorization": "Basic Z2l0bGFiOnB3"}); code != 202 {
		t.Fatalf("status %d, want 202", code)
	}
	if got := <-s.counts[0].done; got != "2 ok" {
		t.Fatalf("forward %q, want 2 ok", got)
	}
	if got := s.counts[0].delivered(); len(got) != 1 || got["job forwarded"] != 1 {
		t.Errorf("shard 0 counted %v, want one job forwarded", got)
	}
	if got := s.counts[2].delivered(); len(got) != 1 || got["job accepted"] != 1 {
		t.Errorf("shard 2 counted %v, want one job accepted", got)
	}
	want := []scraper.Hint{{ProjectID: owned[2], JobID: 42, PipelineID: 7, JobStatus: "success"}}
	if got := s.sinks[2].hints; len(got) != 1 || got[0] != want[0] {
		t.Errorf("shard 2 got hints %+v, want %+v", got, want)
	}
	if len(s.sinks[0].hints)+len(s.sinks[1].hints) != 0 {
		t.Errorf("shards 0 and 1 took hints %+v %+v, want none", s.sinks[0].hints, s.sinks[1].hints)
	}
	if s.reached["shard-2.test"] != 1 || len(s.reached) != 1 {
		t.Errorf("requests %v, want one to shard 2", s.reached)
	}

	// An owner that fails is tried once; its scheduled poll repairs.
	s.mu.Lock()
	s.down["shard-1.test"] = true
	s.mu.Unlock()
	if code := post(s.handlers[0], jobHook(owned[1], 46), nil); code != 202 {
		t.Fatalf("status %d, want 202", code)
	}
	if got := <-s.counts[0].done; got != "1 failed" {
		t.Fatalf("forward %q, want 1 failed", got)
	}
	// For a while after, its deliveries fail without holding a worker;
	// the other owners' pass as before.
	post(s.handlers[0], jobHook(owned[1], 47), nil)
	if got := <-s.counts[0].done; got != "1 failed" {
		t.Fatalf("forward %q, want 1 failed", got)
	}
	post(s.handlers[0], jobHook(owned[2], 48), nil)
	if got := <-s.counts[0].done; got != "2 ok" {
		t.Fatalf("forward %q, want 2 ok", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reached["shard-1.test"] != 1 {
		t.Errorf("the failing owner was asked %d times, want once", s.reached["shard-1.test"])
	}
}

// TestDeliveriesNotPassedOn: what a shard keeps, and what it refuses, is
// never queued. The forwarder does not run, so anything queued stays.
func TestDeliveriesNotPassedOn(t *testing.T) {
	owned := projectsOfShards(3)
	newShard := func(k int) (*Handler, *Forwarder, *shardCounts) {
		c := newShardCounts()
		self := shard.Shard{Index: k, Total: 3}
		polled := map[int64]bool{}
		for i, id := range owned {
			polled[id] = i == k
		}
		h := NewHandler(&sink{polled: polled}, c)
		h.SetSecret(secret)
		f := NewForwarder(self, nil, c, log.NewNopLogger())
		f.SetURL(func(owner int) string { return fmt.Sprintf("http://shard-%d.test/webhook", owner) })
		h.SetForwarder(f)
		return h, f, c
	}
	for _, tc := range []struct {
		name    string
		project int64
		header  map[string]string
		off     bool // no forward URL
		code    int
		result  string
		queued  int
	}{
		{"another shard's project (the control)", owned[2], nil, false, 202, "job forwarded", 1},
		{"its own project", owned[0], nil, false, 202, "job accepted", 0},
		{"passed on already, by a shard counting differently", owned[2], map[string]string{ForwardedHeader: "1"}, false, 202, "job ignored", 0},
		{"a wrong token", owned[2], map[string]string{"X-Gitlab-Token": "guess"}, false, 401, "job unauthorized", 0},
		{"no forward URL", owned[2], nil, true, 202, "job ignored", 0},
		{"a project no shard polls", 1 << 40, nil, false, 202, "job ignored", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, f, c := newShard(0)
			if tc.off {
				f.SetURL(nil)
			}
			if code := post(h, jobHook(tc.project, 1), tc.header); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if got := c.delivered(); len(got) != 1 || got[tc.result] != 1 {
				t.Errorf("counted %v, want %q", got, tc.result)
			}
			if len(f.queue) != tc.queued {
				t.Errorf("%d deliveries queued to be passed on, want %d", len(f.queue), tc.queued)
			}
		})
	}
}

// TestForwardedDeliveryKeepsItsCredentials: the owner checks the token and
// a web config's basic auth as GitLab sent them.
func TestForwardedDeliveryKeepsItsCredentials(t *testing.T) {
	owned := projectsOfShards(2)
	got := make(chan http.Header, 1)
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer owner.Close()
	c := newShardCounts()
	f := NewForwarder(shard.Shard{Index: 0, Total: 2}, nil, c, log.NewNopLogger())
	f.SetURL(func(int) string { return owner.URL + "/webhook" })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	h := NewHandler(&sink{polled: map[int64]bool{owned[1]: false}}, c)
	h.SetSecret(secret)
	h.SetForwarder(f)
	post(h, jobHook(owned[1], 1), map[string]string{"Authorization": "Basic Z2l0bGFiOnB3", "X-Gitlab-Event-UUID": "u-1"})
	header := <-got
	for k, v := range map[string]string{"X-Gitlab-Token": secret, "Authorization": "Basic Z2l0bGFiOnB3",
		"X-Gitlab-Event": "Job Hook", "X-Gitlab-Event-Uuid": "u-1", ForwardedHeader: "0"} {
		if header.Get(k) != v {
			t.Errorf("the owner got %s %q, want %q", k, header.Get(k), v)
		}
	}
	if r := <-c.done; r != "1 ok" {
		t.Errorf("forward %q, want 1 ok", r)
	}
}

// TestForwardQueueIsBounded: with the owner unreachable for good, what
// waits to be passed on stays within its bound; the rest is dropped and
// counted.
func TestForwardQueueIsBounded(t *testing.T) {
	owned := projectsOfShards(2)
	c := newShardCounts()
	c.done = make(chan string, 10_000)
	f := NewForwarder(shard.Shard{Index: 0, Total: 2}, nil, c, log.NewNopLogger()) // not running: nothing leaves the queue
	f.SetURL(func(int) string { return "http://shard-1.test/webhook" })
	f.maxBytes = 10 * 1024
	h := NewHandler(&sink{polled: map[int64]bool{owned[1]: false}}, c)
	h.SetSecret(secret)
	h.SetForwarder(f)
	body := jobHook(owned[1], 1)
	for range 1000 {
		if code := post(h, body, nil); code != 202 {
			t.Fatalf("status %d, want 202", code)
		}
	}
	fits := int(f.maxBytes) / len(body)
	if len(f.queue) != fits || f.queued.Load() > f.maxBytes {
		t.Errorf("%d deliveries (%d bytes) waiting, want %d within %d bytes", len(f.queue), f.queued.Load(), fits, f.maxBytes)
	}
	if c.forwards["1 dropped"] != 1000-fits {
		t.Errorf("dropped %d, want %d", c.forwards["1 dropped"], 1000-fits)
	}
}
