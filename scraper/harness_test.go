package scraper_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// recorder counts every event per job id, so tests can assert exactly-once.
type recorder struct {
	mu       sync.Mutex
	started  map[int64]int
	finished map[int64]int
	status   map[int64]gitlabapi.JobStatus
	retried  map[int64]int // by the id of the attempt being handled when the retry showed
	// retriedIn counts retries by "pipeline/name": what the metrics see,
	// whichever of two attempts a poll happened to handle first.
	retriedIn  map[string]int
	active     map[string][]event.ActiveJob
	polls      map[string][]event.PollResult
	removed    []string
	handedOver []string
	projects   int
	stateErr   map[string]int
	unresolved []string // "ref reason", in order
	groups     []string // "group reason", in order
	// pipelines are the pipeline events by pipeline id, in order: its
	// first result ("success"), then "first->later" for each rerun
	// ("failed->success", with "again" when repeated).
	pipelines  map[int64][]string
	pipelineOf map[int64]*gitlabapi.Pipeline // as last reported
	unfinished map[string]map[string]int
}

func newRecorder() *recorder {
	return &recorder{
		started: map[int64]int{}, finished: map[int64]int{}, status: map[int64]gitlabapi.JobStatus{},
		retried: map[int64]int{}, retriedIn: map[string]int{}, stateErr: map[string]int{}, active: map[string][]event.ActiveJob{}, polls: map[string][]event.PollResult{},
		pipelines: map[int64][]string{}, pipelineOf: map[int64]*gitlabapi.Pipeline{}, unfinished: map[string]map[string]int{},
	}
}

func (r *recorder) JobStarted(_ event.Project, j *gitlabapi.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started[j.ID]++
}

func (r *recorder) JobFinished(_ event.Project, j *gitlabapi.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished[j.ID]++
	r.status[j.ID] = j.Status
}

func (r *recorder) JobRetried(_ event.Project, j *gitlabapi.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retried[j.ID]++
	r.retriedIn[fmt.Sprint(j.Pipeline.ID, "/", j.Name)]++
}

func (r *recorder) ProjectActive(p event.Project, jobs []event.ActiveJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active[p.Path] = jobs
}

func (r *recorder) PipelineFinished(_ event.Project, pl *gitlabapi.Pipeline) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pipelines[pl.ID] = append(r.pipelines[pl.ID], pl.Status)
	r.pipelineOf[pl.ID] = pl
}

func (r *recorder) PipelineRerun(_ event.Project, pl *gitlabapi.Pipeline, first string, repeat bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := first + "->" + pl.Status
	if repeat {
		e += " again"
	}
	r.pipelines[pl.ID] = append(r.pipelines[pl.ID], e)
	r.pipelineOf[pl.ID] = pl
}

func (r *recorder) ProjectPipelines(p event.Project, unfinished map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unfinished[p.Path] = unfinished
}

// pipelineEvents returns the pipeline events of pipeline id.
func (r *recorder) pipelineEvents(id int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.pipelines[id]...)
}

func (r *recorder) PollFinished(p event.Project, res event.PollResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.polls[p.Path] = append(r.polls[p.Path], res)
}

func (r *recorder) ProjectRemoved(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, path)
}

func (r *recorder) ProjectUnresolved(ref, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unresolved = append(r.unresolved, ref+" "+reason)
}

func (r *recorder) GroupListed(group, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, strings.TrimSpace(group+" "+reason))
}

func (r *recorder) GroupRemoved(group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, group+" removed")
}

func (r *recorder) ProjectHandedOver(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handedOver = append(r.handedOver, path)
}

func (r *recorder) ProjectsPolled(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projects = n
}

func (r *recorder) StateFailed(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stateErr[op]++
}

func (r *recorder) lastPoll(t *testing.T, path string) event.PollResult {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.polls[path]
	if len(ps) == 0 {
		t.Fatalf("project %s was never polled", path)
	}
	return ps[len(ps)-1]
}

// env is a fake GitLab, a real client and a scraper on a manual clock.
type env struct {
	t      *testing.T
	gl     *gitlabtest.Server
	clock  *gitlabtest.ManualClock
	rec    *recorder
	s      *scraper.Scraper
	start  time.Time
	client *gitlabapi.Client
	opts   scraper.Options
}

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, projects []string, opts scraper.Options) *env {
	t.Helper()
	return newEnvServedBy(t, projects, opts, func(gl *gitlabtest.Server) *http.Client {
		ts := httptest.NewServer(gl.Handler())
		t.Cleanup(ts.Close)
		gl.SetBaseURL(ts.URL)
		return nil
	})
}

// newInProcessEnv is newEnv without a listener: the client's requests are
// served by the fake's handler in the calling goroutine. Inside a synctest
// bubble every goroutine of a poll then blocks only on the bubble's
// channels, never on a socket, so synctest.Wait can tell when all of them
// are stuck.
func newInProcessEnv(t *testing.T, projects []string, opts scraper.Options) *env {
	t.Helper()
	return newEnvServedBy(t, projects, opts, func(gl *gitlabtest.Server) *http.Client {
		gl.SetBaseURL("http://gitlab.test")
		return &http.Client{Transport: handlerTransport{gl.Handler()}}
	})
}

// handlerTransport answers a request by calling a handler directly.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// newEnvServedBy builds the env; serve makes the fake reachable, sets its
// base URL and returns the HTTP client to reach it with (nil: the default).
func newEnvServedBy(t *testing.T, projects []string, opts scraper.Options, serve func(*gitlabtest.Server) *http.Client) *env {
	t.Helper()
	clock := gitlabtest.NewManualClock(epoch)
	gl := gitlabtest.NewHandler(gitlabtest.Options{Token: "secret-token", Clock: clock})
	hc := serve(gl)
	t.Cleanup(gl.Close) // before the listener closes: releases requests held by a FaultSlow
	for _, p := range projects {
		gl.CreateProject(p, gitlabtest.ProjectOptions{})
	}
	client, err := gitlabapi.New(gitlabapi.Options{
		BaseURL: gl.URL(), Token: "secret-token", RequestsPerSecond: 10000, Burst: 10000,
		MaxConcurrent: 8, Timeout: 30 * time.Second, MaxRetries: 0, HTTPClient: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if opts.Projects == nil && opts.Groups == nil {
		opts.Projects = projects
	}
	opts.Now = clock.Now
	withTestDefaults(&opts)
	e := &env{t: t, gl: gl, clock: clock, rec: rec, start: epoch, client: client, opts: opts}
	e.s = e.newScraper(client, rec)
	return e
}

// withTestDefaults gives the options a test leaves out the values the
// shipped configuration has, so that each test names only what it is about.
func withTestDefaults(o *scraper.Options) {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&o.Interval, 30*time.Second)
	set(&o.InitialLookback, time.Hour)
	set(&o.ParkedRecheckInterval, 10*time.Minute)
	set(&o.ParkedMaxAge, 14*24*time.Hour)
	set(&o.PipelineTTL, time.Hour)
	set(&o.DiscoveryInterval, 5*time.Minute)
	if o.MaxConcurrentPolls == 0 {
		o.MaxConcurrentPolls = 32
	}
}

// newScraper builds a scraper with the env's options.
func (e *env) newScraper(client scraper.GitLab, rec event.Recorder) *scraper.Scraper {
	e.t.Helper()
	s, err := scraper.New(client, rec, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// restart replaces the scraper by a new one with the same options, as a
// new process would start; the recorder stays, so its counts add up the
// two lifetimes.
func (e *env) restart() {
	e.s = e.newScraper(e.client, e.rec)
}

// cycle advances the clock by d and polls every project once.
func (e *env) cycle(d time.Duration) {
	e.t.Helper()
	e.clock.Advance(d)
	e.s.Cycle(context.Background())
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// run moves a job from created to a finished status, advancing the clock
// between steps as a runner would.
func (e *env) run(id int64, status string) {
	e.t.Helper()
	e.must(e.gl.Enqueue(id))
	e.clock.Advance(3 * time.Second)
	e.must(e.gl.Start(id))
	e.clock.Advance(20 * time.Second)
	e.must(e.gl.Finish(id, status, gitlabtest.FinishOptions{}))
}

// assertExactlyOnce checks the recorder against the fake's ground truth:
// every finished job created after since was counted exactly once, every
// started one had its start observed exactly once, nothing else was counted.
func (e *env) assertExactlyOnce(since time.Time) {
	e.t.Helper()
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	want := map[int64]bool{}
	for _, j := range e.gl.Jobs() {
		if j.CreatedAt.Before(since) {
			continue
		}
		if gitlabapi.JobStatus(j.Status).Finished() {
			want[j.ID] = true
			if n := e.rec.finished[j.ID]; n != 1 {
				e.t.Errorf("job %d (%s, %s, bridge=%v) finished: counted %d times, want 1", j.ID, j.Name, j.Status, j.IsBridge, n)
			}
		}
		if j.StartedAt != nil && j.QueuedDuration != nil {
			if n := e.rec.started[j.ID]; n != 1 {
				e.t.Errorf("job %d (%s, %s) started: observed %d times, want 1", j.ID, j.Name, j.Status, n)
			}
		}
	}
	var extra []int64
	for id := range e.rec.finished {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	sort.Slice(extra, func(i, k int) bool { return extra[i] < extra[k] })
	if len(extra) > 0 {
		e.t.Errorf("jobs counted as finished that are not finished in GitLab (or are older than the lookback): %v", extra)
	}
}

func (e *env) totalFinished() int {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	n := 0
	for _, c := range e.rec.finished {
		n += c
	}
	return n
}
