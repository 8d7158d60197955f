//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// TestShardedWebhooksReachTheirOwners: GitLab delivers every event to shard
// 0 of three, which passes those about the other shards' projects on to
// them by the name webhook.forward_url gives each. With a 10-minute
// reconciliation, only the deliveries can make the union of the shards'
// /metrics equal GitLab's within seconds of the traffic's end; nothing is
// counted twice.
func TestShardedWebhooksReachTheirOwners(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three exporters for about 40 s")
	}
	t.Parallel()
	const n = 3
	s := newShardedSetup(t, n)
	// Each shard on a loopback address of its own, on one port:
	// 127.0.0.1{shard} is 127.0.0.10, .11, .12 (Linux routes 127/8 to lo).
	addr := func(k, port int) string { return fmt.Sprintf("127.0.0.1%d:%d", k, port) }
	port := freePortOnEvery(t, n, addr)
	addrOf := func(k int) string { return addr(k, port) }
	secretFile := filepath.Join(t.TempDir(), "webhook-secret")
	writeFile(t, secretFile, webhookSecret+"\n")
	s.cfgFile = filepath.Join(t.TempDir(), "config.yml")
	writeFile(t, s.cfgFile, fmt.Sprintf(`gitlab:
  url: %s
  token_file: %s/shard-{shard}
poll:
  interval: 10m
projects:
  - solo/by-path
groups:
  - path: acme
webhook:
  enabled: true
  secret_token_file: %s
  forward_url: http://127.0.0.1{shard}:%d/webhook
`, s.gl.URL(), s.tokensDir, secretFile, port))

	shards := make([]*exporter, n)
	procs := make([]*process, n)
	for k := range n {
		procs[k] = start(t, fmt.Sprintf("shard %d of %d", k, n), bins.exporter, []string{"GITLAB_TOKEN="},
			"--config.file="+s.cfgFile, "--web.listen-address="+addrOf(k), "--storage.path="+s.dirs[k],
			fmt.Sprintf("--shard=%d", k), fmt.Sprintf("--total-shards=%d", n))
	}
	for k, p := range procs {
		shards[k] = &exporter{process: p, base: "http://" + addrOf(k)}
		waitHTTP200(t, shards[k].base+"/-/ready", 60*time.Second, p)
	}
	var projects []int64
	for _, id := range s.ids() {
		if s.projects[id] != "solo/by-id" { // not configured here
			projects = append(projects, id)
		}
	}
	hook, err := s.gl.AddWebhook(gitlabtest.WebhookOptions{URL: shards[0].base + "/webhook", SecretToken: webhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	work := startTraffic(t, s.gl.Server, projects, 21)
	waitFor(t, 30*time.Second, "60 jobs finished in GitLab", func() (bool, string) {
		n := finishedJobs(s.gl.Server)
		return n >= 60, fmt.Sprintf("%d finished", n)
	}, procs...)
	work.end()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hook.Wait(ctx, func(st gitlabtest.WebhookStats) bool { return st.Queued == 0 }); err != nil {
		t.Fatal(err)
	}

	want := truthTally(s.gl.Jobs())
	if len(want.finished) == 0 {
		t.Fatal("no job finished: the test shows nothing")
	}
	var diff map[string]int
	var detail map[string]string
	waitFor(t, 20*time.Second, "the union of the shards' /metrics to equal GitLab (10-minute reconciliation: by deliveries alone)", func() (bool, string) {
		got := newTally()
		for _, e := range shards {
			got.add(scrapeExporter(t, e))
		}
		diff, detail = compare(got, want)
		for project, d := range diff {
			if d != 0 {
				return false, fmt.Sprintf("%s: %+d events:%s", project, d, detail[project])
			}
		}
		return true, ""
	}, procs...)

	first := scrapeExporter(t, shards[0])
	forwards := first.byLabel("gitlab_jobs_exporter_webhook_forwards_total", "owner_shard")
	results := first.byLabel("gitlab_jobs_exporter_webhook_forwards_total", "result")
	t.Logf("shard 0 passed on %v deliveries by owner, %v by result; GitLab: %+v", forwards, results, hook.Stats())
	for k := 1; k < n; k++ {
		page := scrapeExporter(t, shards[k])
		accepted := page.byLabel("gitlab_jobs_exporter_webhook_deliveries_total", "result")["accepted"]
		if forwards[strconv.Itoa(k)] == 0 || accepted == 0 || page.sumValues("gitlab_jobs_exporter_webhook_polls_total") == 0 {
			t.Errorf("shard %d: %v deliveries passed on to it, %v accepted, %v webhook polls; want some of each",
				k, forwards[strconv.Itoa(k)], accepted, page.sumValues("gitlab_jobs_exporter_webhook_polls_total"))
		}
	}
	if results["failed"]+results["dropped"] != 0 {
		t.Errorf("forwards %v, want every one ok", results)
	}
}

// freePortOnEvery finds a port free on each of the n addresses addr gives.
func freePortOnEvery(t *testing.T, n int, addr func(k, port int) string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", addr(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		for k := 1; k < n; k++ {
			if l, err := net.Listen("tcp", addr(k, port)); err == nil {
				ls = append(ls, l)
			}
		}
		for _, l := range ls {
			l.Close()
		}
		if len(ls) == n {
			return port
		}
	}
	t.Fatal("no port free on every shard's address")
	return 0
}
