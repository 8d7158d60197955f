package scraper_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

const (
	outageProjects = 50
	outageInterval = 30 * time.Second
	outageLength   = 3 * outageInterval
)

// TestGitLabOutage takes every GitLab endpoint down for three poll
// intervals while 50 projects are polled on their own schedules (Run, as
// in production) with the shipped client limits, and jobs keep starting and
// finishing. During the outage nothing crashes, goroutines and memory stay
// bounded, every project is down and its failures counted by reason, and no
// project is dropped although discovery runs. After it, the retries are
// not one synchronized burst, every project is up again within two
// intervals, and every job is counted exactly once.
//
// It runs in a synctest bubble with the fake served in-process, so the
// intervals, backoffs and job durations are the bubble's clock, not wall time.
func TestGitLabOutage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  gitlabtest.Fault
		reason string
	}{
		{"502 with an HTML body", gitlabtest.Fault{Kind: gitlabtest.FaultServerError, Status: 502}, event.ReasonServerError},
		{"503 with an HTML body", gitlabtest.Fault{Kind: gitlabtest.FaultServerError, Status: 503}, event.ReasonServerError},
		{"connections reset", gitlabtest.Fault{Kind: gitlabtest.FaultConnectionReset}, event.ReasonOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runOutage(t, tc.fault, tc.reason) })
		})
	}
}

func runOutage(t *testing.T, fault gitlabtest.Fault, reason string) {
	const token = "outage-token"
	gl := gitlabtest.NewHandler(gitlabtest.Options{Token: token})
	gl.SetBaseURL("http://gitlab.test")
	var ids []int64
	var paths []string
	for i := range outageProjects {
		path := fmt.Sprintf("g/p%02d", i)
		ids = append(ids, gl.CreateProject(path, gitlabtest.ProjectOptions{}))
		paths = append(paths, path)
	}
	defaults := config.DefaultMetrics()
	metrics, err := collector.New(collector.Options{Families: defaults.CollectorOptions()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics)
	// The shipped client limits (config's defaults).
	client, err := gitlabapi.New(gitlabapi.Options{
		BaseURL: gl.URL(), Token: token, RequestsPerSecond: 10, Burst: 20, MaxConcurrent: 8,
		Timeout: 30 * time.Second, MaxRetries: 4, HTTPClient: &http.Client{Transport: gl.Transport()}, Observer: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	// Discovery every minute, so that it also runs during the outage.
	opts := scraper.Options{Projects: paths, Interval: outageInterval, DiscoveryInterval: time.Minute}
	withTestDefaults(&opts)
	s, err := scraper.New(client, teeRecorder{rec, metrics}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs := startOutageWorkload(ctx, gl, ids)
	polling := make(chan struct{})
	go func() {
		defer close(polling)
		s.Run(ctx)
	}()

	time.Sleep(2 * outageInterval)
	if down := projectsWithUp(t, reg, 0); len(down) != 0 || len(projectsWithUp(t, reg, 1)) != outageProjects {
		t.Fatalf("before the outage: projects down %v, want all %d up", down, outageProjects)
	}
	runtime.GC()
	goroutinesBefore, heapBefore := runtime.NumGoroutine(), liveHeap()
	errorsBefore := sumValues(t, reg, "gitlab_jobs_exporter_poll_errors_total", nil)

	outageStart := time.Now()
	faultID := gl.InjectFault(fault)
	maxGoroutines := 0
	for range int(outageLength / time.Second) {
		time.Sleep(time.Second)
		maxGoroutines = max(maxGoroutines, runtime.NumGoroutine())
	}
	heapDuring := liveHeap()
	if up := projectsWithUp(t, reg, 1); len(up) != 0 {
		t.Errorf("at the end of the outage, projects still up: %v", up)
	}
	failures := sumValues(t, reg, "gitlab_jobs_exporter_poll_errors_total", map[string]string{"reason": reason}) - errorsBefore
	if failures < 2*outageProjects {
		t.Errorf("poll_errors_total{reason=%s} grew by %v during the outage, want at least 2 failed polls per project (%d)", reason, failures, 2*outageProjects)
	}
	if maxGoroutines > goroutinesBefore+10 {
		t.Errorf("goroutines: %d before the outage, up to %d during it", goroutinesBefore, maxGoroutines)
	}
	if heapDuring > heapBefore+4<<20 {
		t.Errorf("live heap: %d bytes before the outage, %d at its end", heapBefore, heapDuring)
	}
	rec.mu.Lock()
	removed, unresolved := slices.Clone(rec.removed), slices.Clone(rec.unresolved)
	rec.mu.Unlock()
	if n := sumValues(t, reg, "gitlab_jobs_exporter_projects", nil); n != outageProjects || len(removed) != 0 || len(unresolved) != 0 {
		t.Errorf("during the outage: %v projects polled, removed %v, reported unresolved %v; want all %d kept and polled",
			n, removed, unresolved, outageProjects)
	}

	gl.RemoveFault(faultID)
	outageEnd := time.Now()
	time.Sleep(2 * outageInterval)
	if down := projectsWithUp(t, reg, 0); len(down) != 0 {
		t.Errorf("two intervals after the outage, projects still down: %v", down)
	}
	recovered := recoveryTimes(rec, outageEnd)
	if len(recovered) != outageProjects || slices.Max(recovered) > 2*outageInterval {
		t.Errorf("%d of %d projects polled successfully within two intervals after the outage (latest after %v)",
			len(recovered), outageProjects, slices.Max(append(recovered, 0)))
	}
	// A project's poll may make several requests at once (a recovering one
	// catches up on the pipelines of the outage), so the measure is how many
	// projects GitLab hears from in one second: polls keep the phases their
	// loops started with, so as many as before the outage. A synchronized
	// burst would bring all 50 into the same second (as many as the
	// client's burst of 20 and its 10 a second let through).
	//
	// Discovery is left out: it resolves the configured projects one after
	// the other, as fast as that rate limit lets it, in every discovery.
	polls := func(r gitlabtest.RequestRecord) bool { return r.Endpoint != gitlabtest.EndpointProject }
	before := busiestSecond(gl.Requests(), polls, outageStart.Add(-outageInterval), outageStart)
	after := busiestSecond(gl.Requests(), polls, outageEnd, outageEnd.Add(2*outageInterval))
	t.Logf("projects polled in the busiest second: %d in the interval before the outage, %d in the two after it; goroutines %d, at most %d during it; live heap %d KiB, %d KiB at its end",
		before, after, goroutinesBefore, maxGoroutines, heapBefore>>10, heapDuring>>10)
	if after > max(2*before, 6) {
		t.Errorf("after the outage, %d projects polled in one second (at most %d in any second before it): the retries come in a burst", after, before)
	}

	jobs.stop()
	time.Sleep(2 * outageInterval)
	cancel()
	<-polling
	assertCountedOnce(t, gl, rec)
}

// outageWorkload starts a pipeline every 2 s, in turn in each project: a
// job that finishes at once and one that runs for 45 s, so that jobs are
// running across every phase of the outage.
type outageWorkload struct {
	stopped chan struct{}
	done    chan struct{}
}

func startOutageWorkload(ctx context.Context, gl *gitlabtest.Server, projects []int64) *outageWorkload {
	w := &outageWorkload{stopped: make(chan struct{}), done: make(chan struct{})}
	type running struct {
		id  int64
		end time.Time
	}
	go func() {
		defer close(w.done)
		var queue []running
		finishDue := func(all bool) {
			for len(queue) > 0 && (all || !queue[0].end.After(time.Now())) {
				_ = gl.Finish(queue[0].id, "success", gitlabtest.FinishOptions{})
				queue = queue[1:]
			}
		}
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-w.stopped:
				finishDue(true)
				return
			case <-time.After(2 * time.Second):
			}
			pipeline := gl.CreatePipeline(projects[i%len(projects)], "main", gitlabtest.PipelineOptions{})
			quick := gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: "lint", Stage: "test"})
			long := gl.CreateJob(pipeline, gitlabtest.JobSpec{Name: "rspec", Stage: "test"})
			for _, id := range []int64{quick, long} {
				_ = gl.Enqueue(id)
				_ = gl.Start(id)
			}
			status := "success"
			if i%7 == 0 {
				status = "failed"
			}
			_ = gl.Finish(quick, status, gitlabtest.FinishOptions{})
			queue = append(queue, running{long, time.Now().Add(45 * time.Second)})
			finishDue(false)
		}
	}()
	return w
}

// stop finishes every running job and stops creating new ones.
func (w *outageWorkload) stop() {
	close(w.stopped)
	<-w.done
}

// projectsWithUp returns the projects whose project_up is v.
func projectsWithUp(t *testing.T, reg *prometheus.Registry, v float64) []string {
	t.Helper()
	var out []string
	for _, m := range gatherFamily(t, reg, "gitlab_jobs_exporter_project_up") {
		if m.GetGauge().GetValue() == v {
			for _, l := range m.GetLabel() {
				if l.GetName() == "project" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}

// recoveryTimes returns, per project, how long after since its first
// successful poll came.
func recoveryTimes(rec *recorder, since time.Time) []time.Duration {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []time.Duration
	for _, polls := range rec.polls {
		for _, p := range polls {
			if p.Reason == "" && p.Time.After(since) {
				out = append(out, p.Time.Sub(since))
				break
			}
		}
	}
	return out
}

// busiestSecond returns the most projects the fake heard from in any
// second (a sliding window) between from and to, in the requests that count.
func busiestSecond(recs []gitlabtest.RequestRecord, counts func(gitlabtest.RequestRecord) bool, from, to time.Time) int {
	var in []gitlabtest.RequestRecord
	for _, r := range recs {
		if counts(r) && !r.Time.Before(from) && r.Time.Before(to) {
			in = append(in, r)
		}
	}
	slices.SortFunc(in, func(a, b gitlabtest.RequestRecord) int { return a.Time.Compare(b.Time) })
	most, lo := 0, 0
	window := map[int64]int{} // requests per project in [lo, hi]
	for hi := range in {
		window[in[hi].ProjectID]++
		for in[hi].Time.Sub(in[lo].Time) >= time.Second {
			if window[in[lo].ProjectID]--; window[in[lo].ProjectID] == 0 {
				delete(window, in[lo].ProjectID)
			}
			lo++
		}
		most = max(most, len(window))
	}
	return most
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// assertCountedOnce checks the recorder against every job the fake has.
func assertCountedOnce(t *testing.T, gl *gitlabtest.Server, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	finished := 0
	for _, j := range gl.Jobs() {
		want := 0
		if j.FinishedAt != nil {
			want = 1
			finished++
		}
		if n := rec.finished[j.ID]; n != want {
			t.Errorf("job %d (%s, %s) counted %d times, want %d", j.ID, j.Name, j.Status, n, want)
		}
	}
	if len(rec.finished) != finished {
		t.Errorf("%d jobs counted, GitLab finished %d", len(rec.finished), finished)
	}
}

func gatherFamily(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// sumValues adds up the counters or gauges of name whose labels include match.
func sumValues(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	var v float64
	for _, m := range gatherFamily(t, reg, name) {
		if hasLabels(m, match) {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}
