package scraper_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// sleepClock is the client's clock: Sleep returns at once and moves time
// to the end of the wait, so backoff and Retry-After cost nothing while
// every wait is still recorded (a copy of gitlabapi's test fakeClock).
type sleepClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *sleepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *sleepClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *sleepClock) longestSleep() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for _, d := range c.sleeps {
		m = max(m, d)
	}
	return m
}

// teeRecorder hands every event to the counting test recorder and to the
// real metrics, so one run checks both exactly-once and what is exported.
type teeRecorder struct{ a, b event.Recorder }

func (t teeRecorder) JobStarted(p event.Project, j *gitlabapi.Job) {
	t.a.JobStarted(p, j)
	t.b.JobStarted(p, j)
}

func (t teeRecorder) JobFinished(p event.Project, j *gitlabapi.Job) {
	t.a.JobFinished(p, j)
	t.b.JobFinished(p, j)
}

func (t teeRecorder) JobRetried(p event.Project, j *gitlabapi.Job) {
	t.a.JobRetried(p, j)
	t.b.JobRetried(p, j)
}

func (t teeRecorder) ProjectActive(p event.Project, jobs []event.ActiveJob) {
	t.a.ProjectActive(p, jobs)
	t.b.ProjectActive(p, jobs)
}

func (t teeRecorder) PipelineFinished(p event.Project, pl *gitlabapi.Pipeline) {
	t.a.PipelineFinished(p, pl)
	t.b.PipelineFinished(p, pl)
}

func (t teeRecorder) PipelineRerun(p event.Project, pl *gitlabapi.Pipeline, first string, repeat bool) {
	t.a.PipelineRerun(p, pl, first, repeat)
	t.b.PipelineRerun(p, pl, first, repeat)
}

func (t teeRecorder) ProjectPipelines(p event.Project, unfinished map[string]int) {
	t.a.ProjectPipelines(p, unfinished)
	t.b.ProjectPipelines(p, unfinished)
}

func (t teeRecorder) PollFinished(p event.Project, r event.PollResult) {
	t.a.PollFinished(p, r)
	t.b.PollFinished(p, r)
}

func (t teeRecorder) ProjectRemoved(path string) {
	t.a.ProjectRemoved(path)
	t.b.ProjectRemoved(path)
}

func (t teeRecorder) ProjectUnresolved(ref, reason string) {
	t.a.ProjectUnresolved(ref, reason)
	t.b.ProjectUnresolved(ref, reason)
}

func (t teeRecorder) GroupListed(group, reason string) {
	t.a.GroupListed(group, reason)
	t.b.GroupListed(group, reason)
}

func (t teeRecorder) GroupRemoved(group string) {
	t.a.GroupRemoved(group)
	t.b.GroupRemoved(group)
}

func (t teeRecorder) ProjectHandedOver(path string) {
	t.a.ProjectHandedOver(path)
	t.b.ProjectHandedOver(path)
}

func (t teeRecorder) ProjectsPolled(n int) {
	t.a.ProjectsPolled(n)
	t.b.ProjectsPolled(n)
}

func (t teeRecorder) StateFailed(op string) {
	t.a.StateFailed(op)
	t.b.StateFailed(op)
}

// faultEnv is env with a production-like client: retries, a per-attempt
// timeout, the real metrics as observer and recorder, and a transport the
// test can close so that leaked goroutines are visible.
type faultEnv struct {
	*env
	metrics     *collector.Metrics
	reg         *prometheus.Registry
	clientClock *sleepClock
	transport   *http.Transport
	ids         map[string]int64 // jobs a case creates, for its checks
}

const faultToken = "glpat-fault-matrix-token"

func newFaultEnv(t *testing.T, projects []string, timeout time.Duration) *faultEnv {
	t.Helper()
	clock := gitlabtest.NewManualClock(epoch)
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: faultToken, Clock: clock})
	for _, p := range projects {
		if gl.CreateProject(p, gitlabtest.ProjectOptions{}) == 0 {
			t.Fatalf("fake refused project %s", p)
		}
	}
	// Every label of every family, so that checks can find one job's series.
	defaults := config.DefaultMetrics()
	families := defaults.CollectorOptions()
	for key, o := range families {
		spec, _ := family.ByKey(key)
		o.Labels = spec.Labels
		families[key] = o
	}
	metrics, err := collector.New(collector.Options{Families: families})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 8,
	}
	cc := &sleepClock{now: epoch}
	client, err := gitlabapi.New(gitlabapi.Options{
		BaseURL: gl.URL(), Token: faultToken, RequestsPerSecond: 1e6, Burst: 1e6,
		MaxConcurrent: 8, Timeout: timeout, MaxRetries: 2, HTTPClient: &http.Client{Transport: tr},
		Observer: metrics, Clock: cc,
	})
	if err != nil {
		gl.Close()
		t.Fatal(err)
	}
	rec := newRecorder()
	// Discovery would notice a deleted project and stop polling it; the
	// matrix wants the polls themselves to meet each fault.
	opts := scraper.Options{Projects: projects, Now: clock.Now, Interval: 30 * time.Second, DiscoveryInterval: 24 * time.Hour}
	withTestDefaults(&opts)
	e := &env{t: t, gl: gl, clock: clock, rec: rec, start: epoch, client: client, opts: opts}
	e.s = e.newScraper(client, teeRecorder{rec, metrics})
	return &faultEnv{env: e, metrics: metrics, reg: reg, clientClock: cc, transport: tr, ids: map[string]int64{}}
}

func (f *faultEnv) close() {
	f.gl.Close()
	f.transport.CloseIdleConnections()
}

// finishedJobs creates n jobs in a new pipeline of the project and runs
// each to success.
func (f *faultEnv) finishedJobs(projectID int64, n int, prefix string) []int64 {
	f.t.Helper()
	pid := f.gl.CreatePipeline(projectID, "main", gitlabtest.PipelineOptions{})
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = f.gl.CreateJob(pid, gitlabtest.JobSpec{Name: prefix + string(rune('a'+i%26)), Stage: "test"})
		f.run(ids[i], "success")
	}
	return ids
}

// gather returns the exported families by name; the pedantic registry also
// checks that what is exported stays consistent under faults.
func (f *faultEnv) gather() map[string]*dto.MetricFamily {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatalf("gathering metrics: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value returns the value of the series of name whose labels include
// match; histograms give their sample count. ok is false without a series.
func (f *faultEnv) value(name string, match map[string]string) (v float64, ok bool) {
	f.t.Helper()
	mf := f.gather()[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, match) {
			continue
		}
		ok = true
		switch {
		case m.GetCounter() != nil:
			v += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			v += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v, ok
}

func hasLabels(m *dto.Metric, match map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if want, ok := match[l.GetName()]; ok {
			if l.GetValue() != want {
				return false
			}
			found++
		}
	}
	return found == len(match)
}

// checkGoroutines fails when more goroutines run than before, once idle
// connections had time to wind down.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
