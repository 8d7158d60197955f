package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// Environment overrides for a longer manual run, e.g.
//
//	GJE_LOAD_DURATION=30s GJE_LOAD_CLIENTS=100 go test -race -run TestMetricsUnderLoad ./app/
const (
	envLoadDuration = "GJE_LOAD_DURATION" // default defaultLoadSeconds
	envLoadClients  = "GJE_LOAD_CLIENTS"  // default 50 (test), 10 (benchmark)
	envLoadSeries   = "GJE_LOAD_SERIES"   // default defaultLoadSeries (test), 100000 (benchmark)
)

// syntheticPrefix marks the projects populated straight through the
// Recorder; the polled projects come from the fake GitLab's workload.
const syntheticPrefix = "load/"

// loadEnv is the whole exporter serving /metrics over HTTP, with about
// `series` synthetic series, while it polls a fake GitLab under a steady
// workload and a mutator keeps recording into the synthetic series.
type loadEnv struct {
	metricsURL string
	synthetic  int // series of synthetic projects, constant during the run
	mutations  atomic.Int64
	stop       func()

	mu          sync.Mutex
	recordTimes []time.Duration // how long each JobFinished took: scrapes can hold it up
}

func newLoadEnv(tb testing.TB, series int) *loadEnv {
	tb.Helper()
	clock := gitlabtest.NewManualClock(time.Now())
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: "tok", Clock: clock, RequestLogLimit: 1000})
	w := gitlabtest.NewWorkload(gl, clock, gitlabtest.WorkloadOptions{
		Projects: 5, JobsPerHour: 36000, FailureRate: 0.1, ManualRate: 0.1, RetryRate: 0.3,
		ChildPipelineRate: 0.2, DurationMedian: 5 * time.Second, QueueMedian: time.Second, Seed: 1,
	})
	var polled []string
	for i := range 5 {
		polled = append(polled, fmt.Sprintf("group/project-%d", i+1))
	}
	configFile := filepath.Join(tb.TempDir(), "config.yaml")
	writeTestConfig(tb, configFile, testConfig{url: gl.URL(), projects: polled})
	a, err := New(configFile, envWith("tok"), log.NewNopLogger())
	noErr(tb, err)
	handler, err := a.Handler("/metrics", false)
	noErr(tb, err)

	e := &loadEnv{}
	labelSets := populate(a.metrics, series)
	e.synthetic = countSynthetic(tb, a)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx, 50*time.Millisecond) })
	wg.Go(func() { a.Run(ctx) })
	wg.Go(func() { e.mutate(ctx, a.metrics, labelSets) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(tb, err)
	srv := NewHTTPServer(handler)
	wg.Go(func() { _ = srv.Serve(l) })
	e.metricsURL = "http://" + l.Addr().String() + "/metrics"
	e.stop = func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		wg.Wait()
		gl.Close()
	}
	return e
}

// syntheticJob is one label set of the synthetic projects.
type syntheticJob struct {
	info event.Project
	job  gitlabapi.Job
}

// populate records finished jobs for synthetic projects until about
// series series exist. Each project has 20 job names on its default
// branch, each making about 50 series (duration, queue time, artifact
// histograms, retries, the last-job gauges and, for one name in four, a
// failed variant with its failure counter): 100k series are 100 projects.
func populate(m *collector.Metrics, series int) []syntheticJob {
	const names, perProject = 20, 20 * 50
	projects := max(1, series/perProject)
	stages := []string{"build", "test", "deploy", "lint"}
	now := time.Now()
	var out []syntheticJob
	id := int64(1 << 40)
	for p := range projects {
		info := event.Project{ID: int64(100000 + p), Path: fmt.Sprintf("%sproject-%03d", syntheticPrefix, p), DefaultBranch: "main"}
		var followed []event.ActiveJob
		for n := range names {
			id++
			started, finished := now.Add(-time.Minute), now
			j := gitlabapi.Job{
				ID: id, Name: fmt.Sprintf("job-%02d %d/3", n, 1+n%3), Stage: stages[n%len(stages)], Ref: "main",
				Status: gitlabapi.StatusSuccess, Duration: ptr(float64(30 + n)), QueuedDuration: ptr(float64(n % 7)),
				CreatedAt: &started, StartedAt: &started, FinishedAt: &finished,
				Artifacts: []gitlabapi.Artifact{{FileType: "archive", Size: int64(1024 * (n + 1))}},
			}
			m.JobStarted(info, &j)
			m.JobFinished(info, &j)
			m.JobRetried(info, &j)
			out = append(out, syntheticJob{info, j})
			if n%4 == 0 {
				f := j
				f.ID, f.Status, f.FailureReason, f.Artifacts = id+1<<30, gitlabapi.StatusFailed, "script_failure", nil
				m.JobFinished(info, &f)
				out = append(out, syntheticJob{info, f})
			}
			if n < 3 {
				followed = append(followed, event.ActiveJob{ID: id + 1<<31, Status: "running", CreatedAt: now})
			}
		}
		m.ProjectActive(info, followed)
		m.PollFinished(info, event.PollResult{Requests: 1, Duration: 100 * time.Millisecond, Time: now})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// mutate keeps recording into existing synthetic series, as polls do, so
// that scrapes race with writers; it never adds a series.
func (e *loadEnv) mutate(ctx context.Context, m *collector.Metrics, jobs []syntheticJob) {
	r := rand.New(rand.NewPCG(1, 2))
	for ctx.Err() == nil {
		sj := jobs[r.IntN(len(jobs))]
		j := sj.job
		j.ID += int64(r.IntN(1 << 20))
		start := time.Now()
		m.JobFinished(sj.info, &j)
		d := time.Since(start)
		e.mu.Lock()
		e.recordTimes = append(e.recordTimes, d)
		e.mu.Unlock()
		if j.Status == gitlabapi.StatusSuccess {
			m.JobStarted(sj.info, &j)
			m.JobRetried(sj.info, &j)
		}
		m.PollFinished(sj.info, event.PollResult{Requests: 2, Time: time.Now()})
		// About a thousand recordings a second: far more than polls make,
		// without turning the mutator into a CPU hog that slows every scrape.
		e.mutations.Add(1)
		time.Sleep(time.Millisecond)
	}
}

// countSynthetic counts the samples of synthetic projects in the text
// exposition, the way a scrape sees them.
func countSynthetic(tb testing.TB, a *App) int {
	tb.Helper()
	mfs, err := a.Registry.Gather()
	noErr(tb, err)
	fams := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		fams[mf.GetName()] = mf
	}
	return syntheticSamples(fams)
}

func syntheticSamples(fams map[string]*dto.MetricFamily) int {
	n := 0
	for _, mf := range fams {
		for _, m := range mf.GetMetric() {
			if !strings.HasPrefix(labelValue(m, "project"), syntheticPrefix) {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				n += len(h.GetBucket()) + 2 // buckets (with +Inf), _sum, _count
				if !slices.ContainsFunc(h.GetBucket(), func(b *dto.Bucket) bool { return math.IsInf(b.GetUpperBound(), 1) }) {
					n++ // the +Inf bucket, implicit in a gathered histogram
				}
				continue
			}
			n++
		}
	}
	return n
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// scrapeStats is what the clients saw.
type scrapeStats struct {
	mu        sync.Mutex
	ok, shed  int
	failures  []string
	latencies []time.Duration
	bytes     int64
}

func (s *scrapeStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// inFlightLimit is promhttp's answer when MaxRequestsInFlight scrapes are
// already being served.
const inFlightLimit = "Limit of concurrent requests reached"

// scrape fetches /metrics once. With parse, the body must be a valid text
// exposition holding exactly wantSynthetic synthetic samples.
func scrape(client *http.Client, url string, parse bool, wantSynthetic int, st *scrapeStats) {
	start := time.Now()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		st.fail("request: %v", err)
		return
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		st.fail("GET /metrics: %v", err)
		return
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), inFlightLimit) {
			st.fail("503: %.200s", body)
			return
		}
		st.mu.Lock()
		st.shed++
		st.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		return
	default:
		body, _ := io.ReadAll(resp.Body)
		st.fail("status %d: %.200s", resp.StatusCode, body)
		return
	}
	counter := &countingReader{r: resp.Body}
	if parse {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(counter)
		if err != nil {
			st.fail("parsing /metrics: %v", err)
			return
		}
		if got := syntheticSamples(fams); got != wantSynthetic {
			st.fail("scrape holds %d synthetic samples, want %d", got, wantSynthetic)
			return
		}
	} else if _, err := io.Copy(io.Discard, counter); err != nil {
		st.fail("reading /metrics: %v", err)
		return
	}
	d := time.Since(start)
	st.mu.Lock()
	st.ok++
	st.latencies = append(st.latencies, d)
	st.bytes += counter.n
	st.mu.Unlock()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// loadClient returns a client for concurrent scrapes. gzip, which
// Prometheus asks for, costs most of a scrape's CPU; the test turns it off
// to spend its time budget on concurrency rather than compression.
func loadClient(clients int, gzip bool) *http.Client {
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: clients, MaxIdleConns: clients, DisableCompression: !gzip,
	}}
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestMetricsUnderLoad scrapes /metrics from many clients at once while
// the exporter polls and records: run with -race, it checks that scrapes
// and recording do not race, that every answer is complete and parses,
// and that only the in-flight limit turns scrapes away. It asserts no
// latency; it logs what it measured.
func TestMetricsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	duration := defaultLoadSeconds * time.Second
	if v := os.Getenv(envLoadDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration", envLoadDuration, v)
		}
		duration = d
	}
	clients := envInt(t, envLoadClients, 50)
	series := envInt(t, envLoadSeries, defaultLoadSeries)
	e := newLoadEnv(t, series)
	defer e.stop()

	st := &scrapeStats{}
	client := loadClient(clients, false)
	defer client.CloseIdleConnections()
	end := time.Now().Add(duration)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				scrape(client, e.metricsURL, true, e.synthetic, st)
			}
		})
	}
	wg.Wait()

	for _, f := range st.failures {
		t.Error(f)
	}
	if st.ok == 0 {
		t.Fatalf("no scrape succeeded in %s", duration)
	}
	if e.mutations.Load() == 0 {
		t.Errorf("the mutator recorded nothing during the run")
	}
	if series < 100000 {
		t.Logf("%d series (race detector: %v); GJE_LOAD_SERIES=100000 for the full size", series, raceEnabled)
	}
	slices.Sort(st.latencies)
	rec := e.recordLatencies()
	t.Logf("%d clients, %s: %d scrapes of %d synthetic samples (%.1f MB each), %d turned away by the in-flight limit; scrape latency p50 %s p95 %s p99 %s; %d JobFinished calls meanwhile, p50 %s p99 %s max %s",
		clients, duration, st.ok, e.synthetic, float64(st.bytes)/float64(st.ok)/1e6, st.shed,
		percentile(st.latencies, 0.50), percentile(st.latencies, 0.95), percentile(st.latencies, 0.99),
		len(rec), percentile(rec, 0.5), percentile(rec, 0.99), percentile(rec, 1))
}

// recordLatencies returns the sorted durations of the mutator's
// JobFinished calls.
func (e *loadEnv) recordLatencies() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.recordTimes)
	slices.Sort(out)
	return out
}

// BenchmarkMetricsScrape measures /metrics latency with about 100k series
// (GJE_LOAD_SERIES) under concurrent scrapes (GJE_LOAD_CLIENTS, default
// 10: promhttp's in-flight limit) while polls run, and reports percentiles.
func BenchmarkMetricsScrape(b *testing.B) {
	clients := envInt(b, envLoadClients, 10)
	e := newLoadEnv(b, envInt(b, envLoadSeries, 100000))
	defer e.stop()
	st := &scrapeStats{}
	client := loadClient(clients, true)
	defer client.CloseIdleConnections()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				scrape(client, e.metricsURL, false, 0, st)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if len(st.failures) > 0 {
		b.Fatal(errors.New(strings.Join(st.failures, "\n")))
	}
	slices.Sort(st.latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(st.latencies, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(st.latencies, 0.95)), "p95-ms")
	b.ReportMetric(ms(percentile(st.latencies, 0.99)), "p99-ms")
	b.ReportMetric(float64(st.shed)/float64(b.N), "shed/op")
	if st.ok > 0 {
		b.ReportMetric(float64(st.bytes)/float64(st.ok), "bytes/scrape")
	}
	b.ReportMetric(float64(e.synthetic), "series")
	rec := e.recordLatencies()
	b.ReportMetric(ms(percentile(rec, 0.99)), "record-p99-ms")
	b.ReportMetric(ms(percentile(rec, 1)), "record-max-ms")
}
