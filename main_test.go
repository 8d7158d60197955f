//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// TestReloadsWhilePolling reloads the configuration many times, by SIGHUP
// and by POST /-/reload, alternating between two configurations that differ
// in every poll option, while the exporter polls projects whose jobs keep
// finishing. Under -race a reload that races a poll fails the test; in any
// case every finished job must be counted exactly once.
func TestReloadsWhilePolling(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the exporter for several seconds")
	}
	// Our own registration keeps SIGHUP and SIGTERM from ever taking the
	// default action (ending the test binary), whatever run has registered.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	defer signal.Stop(sigs)

	const token = "reload-test-token"
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: token})
	defer gl.Close()
	var projects []string
	var ids []int64
	for i := range 6 {
		path := fmt.Sprintf("g/p%d", i)
		projects = append(projects, path)
		ids = append(ids, gl.CreateProject(path, gitlabtest.ProjectOptions{}))
	}
	t.Setenv("GITLAB_TOKEN", token)

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yaml")
	configs := [2]string{
		reloadConfig(gl.URL(), projects, "1s", "1h", "1m", "1h"),
		reloadConfig(gl.URL(), projects, "2s", "2h", "2m", "30m"),
	}
	writeAtomically(t, cfgFile, configs[0])

	addr := freeAddress(t)
	base := "http://" + addr
	var stderr lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"--config.file=" + cfgFile, "--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--log.level=info"}, io.Discard, &stderr)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				t.Error("the exporter did not stop on SIGTERM")
			}
		}
	}
	defer stop()

	jobs := startJobs(gl, ids)
	waitUntil(t, 30*time.Second, "the exporter to be ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	pollsBefore := sumOf(scrape(t, base), "gitlab_jobs_exporter_polls_total")
	const reloads = 60
	for i := range reloads {
		writeAtomically(t, cfgFile, configs[(i+1)%2])
		if i%2 == 0 {
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		} else {
			resp, err := http.Post(base+"/-/reload", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST /-/reload: %d %s", resp.StatusCode, body)
			}
		}
		time.Sleep(50 * time.Millisecond) // paces the reloads over several poll intervals
	}
	waitUntil(t, 10*time.Second, fmt.Sprintf("%d reloads to be logged", reloads), func() bool {
		return strings.Count(stderr.String(), "configuration reloaded") == reloads
	})
	jobs.stop()

	// The reloads raced polls only if polls happened meanwhile.
	if polls := sumOf(scrape(t, base), "gitlab_jobs_exporter_polls_total") - pollsBefore; polls < float64(2*len(projects)) {
		t.Fatalf("only %v polls during the reloads; they did not overlap", polls)
	}
	want := finishedByProjectAndJob(gl)
	var got map[string]float64
	if !tryUntil(30*time.Second, func() bool {
		got = countedByProjectAndJob(scrape(t, base))
		return equalCounts(got, want)
	}) {
		t.Errorf("counted jobs differ from GitLab's finished jobs:\n got %v\nwant %v", got, want)
	}
	if n := strings.Count(stderr.String(), "reload failed"); n != 0 {
		t.Errorf("%d reloads failed:\n%s", n, stderr.String())
	}
	stop()
}

func reloadConfig(url string, projects []string, interval, lookback, recheck, retryWindow string) string {
	return fmt.Sprintf("gitlab:\n  url: %s\n  requests_per_second: 1000\n  burst: 1000\n"+
		"poll:\n  interval: %s\n  initial_lookback: %s\n  parked_recheck_interval: %s\n  retry_window: %s\n"+
		"discovery:\n  interval: 1s\nprojects: [%s]\n",
		url, interval, lookback, recheck, retryWindow, strings.Join(projects, ", "))
}

// jobRunner finishes a job in one of the projects every few milliseconds
// until stopped.
type jobRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startJobs(gl *gitlabtest.Server, projects []int64) *jobRunner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &jobRunner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for i := 0; ctx.Err() == nil; i++ {
			pipeline := gl.CreatePipeline(projects[i%len(projects)], "main", gitlabtest.PipelineOptions{})
			for _, name := range []string{"build", "test", "deploy"} {
				id := gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: name, Stage: name})
				_ = gl.Enqueue(id)
				_ = gl.Start(id)
				status := "success"
				if i%5 == 0 && name == "test" {
					status = "failed"
				}
				_ = gl.Finish(id, status, gitlabtest.FinishOptions{})
			}
			select {
			case <-ctx.Done():
			case <-time.After(15 * time.Millisecond):
			}
		}
	}()
	return r
}

func (r *jobRunner) stop() {
	r.cancel()
	<-r.done
}

func finishedByProjectAndJob(gl *gitlabtest.Server) map[string]float64 {
	out := map[string]float64{}
	for _, j := range gl.Jobs() {
		if j.FinishedAt != nil {
			out[j.ProjectPath+" "+j.Name+" "+j.Status]++
		}
	}
	return out
}

func countedByProjectAndJob(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	mf := fams["gitlab_ci_job_duration_seconds"]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		out[labels["project"]+" "+labels["job_name"]+" "+labels["status"]] += float64(m.GetHistogram().GetSampleCount())
	}
	return out
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func sumOf(fams map[string]*dto.MetricFamily, name string) float64 {
	var v float64
	if mf := fams[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue()
		}
	}
	return v
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !tryUntil(limit, cond) {
		t.Fatalf("timed out after %s waiting for %s", limit, what)
	}
}

func tryUntil(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
