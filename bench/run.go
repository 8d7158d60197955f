package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/app"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/webhook"
)

// WarmUp is how long the fake runs before the exporter's first poll: the
// initial lookback plus half an hour, so that the first walk both counts
// a full lookback and stops at jobs older than it.
const WarmUp = InitialLookback + 30*time.Minute

// Options control a run.
type Options struct {
	// Separate runs the fake GitLab in a child process (the test binary
	// started again with ChildEnv set), so that CPU, heap and RSS are the
	// exporter's alone. Otherwise they include the fake.
	Separate bool
	// Log, if set, gets progress: a line every 10 cycles and every simulated hour.
	Log io.Writer
	// StateDir, if set, is where the scraper saves its state after each
	// poll, as the exporter does by default (--storage.path); empty keeps
	// the state in memory only.
	StateDir string
	// HeapProfileDir, if set, gets a heap profile (after GC) at the end of
	// each simulated hour: heap-<scenario>-<hour>h.pprof.
	HeapProfileDir string
	// Metrics names a preset of the metrics section (MetricsPresets); ""
	// keeps the defaults.
	Metrics string
	// ParkedRecheck, if set, replaces poll.parked_recheck_interval, to
	// measure what a faster recheck of manual jobs costs and buys.
	ParkedRecheck time.Duration
	// Shard makes the exporter one shard of a sharded set: it polls, and is
	// compared with GitLab for, only the projects the shard owns. It starts
	// as a set's first deployment would if it walked back the lookback
	// (ShardSince zero), so that its figures are the steady state's.
	Shard shard.Shard
	// Webhooks, if set, has the fake send its Job and Pipeline Hooks to
	// the exporter's real handler, with these faults; poll.interval is
	// then the reconciliation, Webhooks.Reconcile.
	Webhooks *WebhookRun
}

// WebhookRun is how a run with webhooks goes.
type WebhookRun struct {
	// Reconcile is poll.interval: each cycle polls the projects due, a
	// share Scenario.Interval/Reconcile of them, as Run's timers would.
	Reconcile time.Duration
	// Step is how much simulated time one flush of deliveries and one
	// round of hinted polls cover; Run serves deliveries within 250 ms.
	Step time.Duration
	// Loss, Duplicate and Reorder are shares of deliveries.
	Loss, Duplicate, Reorder float64
}

// benchWebhookSecret is the webhook's secret token in a run; not a secret.
const benchWebhookSecret = "bench-webhook-secret"

// Run simulates the scenario: the fake runs for WarmUp, then the exporter's
// real scraper (gitlabapi client, collector as recorder) polls it once per
// interval, workload.Step(interval) then scraper.Cycle, for sc.Hours, on a
// manual clock shared with the fake.
func Run(ctx context.Context, sc Scenario, opt Options) (*Report, error) {
	var (
		gl  GitLab
		err error
	)
	setup := time.Now()
	if opt.Separate {
		gl, err = startRemoteGitLab(sc)
	} else {
		gl, err = newLocalGitLab(sc)
	}
	if err != nil {
		return nil, err
	}
	defer gl.Close()

	h, err := newHarness(sc, gl, opt)
	if err != nil {
		return nil, err
	}
	h.rep.Setup = time.Since(setup)
	return h.run(ctx)
}

type harness struct {
	sc    Scenario
	gl    GitLab
	opt   Options
	clock *gitlabtest.ManualClock
	rec   *recorder
	s     *scraper.Scraper
	reg   *prometheus.Registry
	rep   *Report

	metrics *collector.Metrics
	// hook serves the exporter's /webhook in a run with webhooks.
	hook *httptest.Server

	cutoff time.Time
	// explained counts the polls above their bound explained in the log,
	// by whether they were idle.
	explained map[bool]int
	// lastChange is the last cycle in which the workload changed each
	// project, for the log.
	lastChange map[int64]int
	// Ground truth, a byte per job id from FirstJobID: 1 when GitLab has
	// the job finished (started) and the exporter must count it.
	truthFinished, truthStarted idCounts
	nFinished, nStarted         int
	// pipelines are the pipelines GitLab finished, by id, with their first
	// result: what the pipeline metrics must count. Those created before
	// the lookback are history, as for jobs.
	pipelines pipelineTable[pipelineTruth]
	// steadyResults are the pipeline finishes during the steady-state
	// cycles, whose requests the report books.
	steadyResults int
	steady        bool
	// started is set once the exporter's first cycle is under way: a
	// pipeline that finished more than once before it shows the exporter
	// only its latest result, which is then its first.
	started bool
}

func newHarness(sc Scenario, gl GitLab, opt Options) (*harness, error) {
	preset, ok := MetricsPresets[opt.Metrics]
	if !ok {
		return nil, fmt.Errorf("unknown metrics preset %q", opt.Metrics)
	}
	cfg, _, err := config.Parse([]byte("gitlab:\n  url: "+gl.URL()+"\ngroups:\n  - path: group\n"+preset), "bench.yml",
		func(k string) string {
			if k == config.EnvToken {
				return Token
			}
			return ""
		})
	if err != nil {
		return nil, fmt.Errorf("default config: %w", err)
	}
	clock := gitlabtest.NewManualClock(Epoch)
	mo := app.MetricsOptions(cfg)
	mo.Now = clock.Now
	metrics, err := collector.New(mo)
	if err != nil {
		return nil, err
	}
	// As app.New registers them, so that /metrics has its real size.
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	client, err := gitlabapi.New(gitlabapi.Options{
		BaseURL: gl.URL(), Token: Token, Observer: metrics,
		// The client-side limit would pace the simulation in real time.
		RequestsPerSecond: 1e6, Burst: 1e6,
		MaxConcurrent: cfg.GitLab.MaxConcurrentRequests,
		MaxRetries:    cfg.GitLab.MaxRetries,
		Timeout:       time.Minute,
	})
	if err != nil {
		return nil, err
	}
	rec := newRecorder(metrics, clock.Now)
	if got := time.Duration(cfg.Poll.InitialLookback); got != InitialLookback {
		return nil, fmt.Errorf("the default poll.initial_lookback is %s; bench.InitialLookback says %s", got, InitialLookback)
	}
	so := app.ScraperOptions(cfg)
	so.SkipPipelines = !metrics.Jobs.CountsPipelines() // as app.New decides it
	so.Interval = sc.Interval
	so.ParkedRecheckInterval = cmp.Or(opt.ParkedRecheck, so.ParkedRecheckInterval)
	so.Now = clock.Now
	so.Shard = opt.Shard
	if opt.StateDir != "" {
		if so.Store, err = state.OpenStore(opt.StateDir, gl.URL()); err != nil {
			return nil, err
		}
	}
	if opt.Webhooks != nil {
		so.Interval = opt.Webhooks.Reconcile
	}
	s, err := scraper.New(client, rec, so)
	if err != nil {
		return nil, err
	}
	h := &harness{sc: sc, gl: gl, opt: opt, clock: clock, rec: rec, s: s, reg: reg, metrics: metrics, explained: map[bool]int{}, lastChange: map[int64]int{},

		rep: &Report{Scenario: sc, Shard: opt.Shard, Separate: gl.Separate(), Persisted: opt.StateDir != "", Metrics: opt.Metrics, ParkedRecheck: so.ParkedRecheckInterval,
			GOMAXPROCS: runtime.GOMAXPROCS(0), Endpoints: map[string]int{}, Webhooks: opt.Webhooks}}
	if w := opt.Webhooks; w != nil {
		handler := webhook.NewHandler(s, metrics.Self)
		handler.SetSecret(benchWebhookSecret)
		h.hook = httptest.NewServer(handler)
		if err := gl.AddWebhook(WebhookSpec{URL: h.hook.URL, Secret: benchWebhookSecret, Seed: sc.Seed,
			Loss: w.Loss, Duplicate: w.Duplicate, Reorder: w.Reorder}); err != nil {
			h.hook.Close()
			return nil, err
		}
	}
	return h, nil
}

// projectChange is what happened in one project during a step.
type projectChange struct {
	newJobs   int
	pipelines map[int64]bool // pipelines with a new job or a status change
	results   int            // pipeline finishes (a pipeline that reaches a result costs its fetch)
}

// step advances the fake and the exporter's clock, and books the changes
// as ground truth.
func (h *harness) step(d time.Duration, frozen bool) (map[int64]*projectChange, int, error) {
	res, err := h.gl.Step(d, frozen)
	if err != nil {
		return nil, 0, err
	}
	h.clock.Set(res.Now)
	if h.cutoff.IsZero() {
		h.cutoff = res.Now.Add(-InitialLookback)
	}
	byProject := map[int64]*projectChange{}
	newJobs := 0
	for _, c := range res.Changes {
		if !h.opt.Shard.Owns(c.ProjectID) {
			continue // another shard's
		}
		pc := byProject[c.ProjectID]
		if pc == nil {
			pc = &projectChange{pipelines: map[int64]bool{}}
			byProject[c.ProjectID] = pc
		}
		pc.pipelines[c.PipelineID] = true
		if c.New {
			pc.newJobs++
			newJobs++
		}
		if c.CreatedAt.Before(h.cutoff) {
			continue // history before the initial lookback: never counted
		}
		if gitlabapi.JobStatus(c.Status).Finished() && h.truthFinished.get(c.ID) == 0 {
			h.truthFinished.add(c.ID)
			h.nFinished++
		}
		if c.Queued && h.truthStarted.get(c.ID) == 0 {
			h.truthStarted.add(c.ID)
			h.nStarted++
		}
	}
	for _, pc := range res.Pipelines {
		if !h.opt.Shard.Owns(pc.ProjectID) {
			continue
		}
		if byProject[pc.ProjectID] == nil {
			byProject[pc.ProjectID] = &projectChange{pipelines: map[int64]bool{}}
		}
		byProject[pc.ProjectID].results++
		if h.steady {
			h.steadyResults++
		}
		h.pipelineFinished(pc)
	}
	if !h.started {
		for _, c := range res.Changes {
			// A job still active, or one that moved after the pipeline's
			// last finish (a played job keeps its creation time): the
			// pipeline runs again at the first cycle.
			active := !gitlabapi.JobStatus(c.Status).Finished() && !gitlabapi.JobStatus(c.Status).Blocked()
			if t := h.pipelines.at(c.PipelineID); t.known && t.last != 0 && (active || lastMove(c).UnixMilli() > t.last) {
				t.reopened = true
			}
		}
	}
	for _, c := range res.Changes {
		if !c.CreatedAt.Before(h.cutoff) {
			h.pipelines.at(c.PipelineID).seen = true
		}
	}
	return byProject, newJobs, nil
}

// pipelineTruth returns the truth of pipeline id, created at created.
func (h *harness) pipelineTruth(id int64, created time.Time) *pipelineTruth {
	t := h.pipelines.at(id)
	if !t.known {
		t.known, t.history = true, created.Before(h.cutoff)
	}
	return t
}

// savedPipeline describes what the scraper's saved state holds of a
// pipeline, to explain a pipeline it did not count.
func (h *harness) savedPipeline(project, id int64) string {
	if h.opt.StateDir == "" {
		return "no saved state"
	}
	store, err := state.OpenStore(h.opt.StateDir, h.gl.URL())
	if err != nil {
		return err.Error()
	}
	st, err := store.Load(project)
	if err != nil {
		return err.Error()
	}
	var followed []string
	for _, f := range st.Followed {
		if f.PipelineID == id {
			followed = append(followed, fmt.Sprintf("%d %s bridge=%v", f.ID, f.Status, f.Bridge))
		}
	}
	pl, err := json.Marshal(st.Pipelines[id])
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("state: pipeline %s, followed jobs %v, max pipeline %d, high water %d", pl, followed, st.MaxPipelineID, st.HighWater)
}

// lastMove is when a job last moved, as far as its change tells.
func lastMove(c JobChange) time.Time {
	t := c.CreatedAt
	for _, at := range []*time.Time{c.StartedAt, c.FinishedAt} {
		if at != nil && at.After(t) {
			t = *at
		}
	}
	return t
}

// pipelineFinished books a pipeline's finish as the exporter can see it.
func (h *harness) pipelineFinished(pc PipelineChange) {
	t := h.pipelineTruth(pc.ID, pc.CreatedAt)
	t.project = int32(pc.ProjectID)
	t.finals++
	t.last = pc.CreatedAt.UnixMilli()
	if pc.FinishedAt != nil {
		t.last = pc.FinishedAt.UnixMilli()
	}
	r := resultOf(pc.Status, pc.Source, pc.Duration)
	switch {
	case !h.started && !t.history:
		t.first, t.reopened = r, false // only the last shows at the first cycle
	case !h.started:
		t.later, t.reopened = 0, false
		t.later.add(r.status)
	case !t.history && (t.first.status == 0 || t.reopened):
		t.first, t.reopened = r, false
	case t.history && t.reopened:
		t.later, t.reopened = 0, false
		t.later.add(r.status)
	default:
		t.later.add(r.status)
	}
}

func (h *harness) logf(format string, args ...any) {
	if h.opt.Log != nil {
		fmt.Fprintf(h.opt.Log, format+"\n", args...)
	}
}

func (h *harness) run(ctx context.Context) (*Report, error) {
	rep := h.rep
	rep.start = time.Now()
	if err := h.first(ctx); err != nil {
		return nil, err
	}
	h.steady = true
	cycles := h.sc.cycles()
	perHour := int(time.Hour / h.sc.Interval)
	for i := 1; i <= cycles; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cycle := h.cycle
		if h.opt.Webhooks != nil {
			cycle = h.hookedCycle
		}
		sample, err := cycle(ctx, i)
		if err != nil {
			return nil, err
		}
		if i%10 == 0 {
			h.logf("%s: cycle %d: %d requests, cpu %.2fs, wall %.2fs", h.sc.Name, i, sample.requests, sample.cpu.Seconds(), sample.wall.Seconds())
		}
		if i%perHour == 0 || i == cycles {
			if err := h.mark(i); err != nil {
				return nil, err
			}
		}
	}
	h.steady = false
	if err := h.drain(ctx); err != nil {
		return nil, err
	}
	h.finish()
	return rep, nil
}

// first runs the warm-up and the first cycle: discovery and the first
// walk over the lookback.
func (h *harness) first(ctx context.Context) error {
	rep := h.rep
	if _, _, err := h.step(WarmUp, false); err != nil {
		return err
	}
	h.started = true
	before, err := h.gl.Counts()
	if err != nil {
		return err
	}
	h.rec.mu.Lock()
	h.rec.lagFrom = h.clock.Now().Add(time.Nanosecond) // the first walk counts history
	h.rec.mu.Unlock()
	cpu0, wall0 := cpuTime(), time.Now()
	h.s.Cycle(ctx)
	rep.First.CPU, rep.First.Wall = cpuTime()-cpu0, time.Since(wall0)
	after, err := h.gl.Counts()
	if err != nil {
		return err
	}
	rep.First.Requests = after.Total - before.Total
	rep.First.FakeCPU = after.Usage.CPU - before.Usage.CPU
	rep.First.Counted = h.countedSoFar()
	h.logf("%s: first cycle: %d requests, %d jobs counted, cpu %.2fs, wall %.2fs", h.sc.Name, rep.First.Requests, rep.First.Counted,
		rep.First.CPU.Seconds(), rep.First.Wall.Seconds())
	h.rec.takePolls()
	h.check()
	return nil
}

// cycle runs steady-state cycle i: a step of the workload, then one
// scraper cycle, booked against the ground truth.
func (h *harness) cycle(ctx context.Context, i int) (cycleSample, error) {
	follows := h.rec.followsNow()
	changes, newJobs, err := h.step(h.sc.Interval, false)
	if err != nil {
		return cycleSample{}, err
	}
	before, err := h.gl.Counts()
	if err != nil {
		return cycleSample{}, err
	}
	cpu0, wall0 := cpuTime(), time.Now()
	h.s.Cycle(ctx)
	h.metrics.Jobs.Expire() // as app does every minute
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	after, err := h.gl.Counts()
	if err != nil {
		return cycleSample{}, err
	}
	sample := cycleSample{
		requests: after.Total - before.Total, newJobs: newJobs,
		cpu: cpu, fakeCPU: after.Usage.CPU - before.Usage.CPU, wall: wall,
	}
	polls, late := h.rec.takePolls()
	h.book(i, sample, before, after, changes, late, follows, polls)
	h.check()
	return sample, nil
}

// hookedCycle is cycle i with webhooks: the interval in steps of
// Webhooks.Step, each followed by the deliveries it caused and the hinted
// polls they wake, then the scheduled polls of the projects due (a tenth
// of them each minute with a 10-minute reconciliation).
func (h *harness) hookedCycle(ctx context.Context, i int) (cycleSample, error) {
	w := h.opt.Webhooks
	before, err := h.gl.Counts()
	if err != nil {
		return cycleSample{}, err
	}
	sample := cycleSample{}
	for done := time.Duration(0); done < h.sc.Interval; done += w.Step {
		_, newJobs, err := h.step(w.Step, false)
		if err != nil {
			return cycleSample{}, err
		}
		sample.newJobs += newJobs
		cpu0, wall0 := cpuTime(), time.Now()
		deliveries, err := h.gl.FlushWebhooks()
		if err != nil {
			return cycleSample{}, err
		}
		h.rep.Deliveries += deliveries
		h.s.HintedCycle(ctx)
		sample.cpu += cpuTime() - cpu0
		sample.wall += time.Since(wall0)
	}
	every := int64(w.Reconcile / h.sc.Interval)
	cpu0, wall0 := cpuTime(), time.Now()
	h.s.CycleWhere(ctx, func(id int64) bool { return id%every == int64(i)%every })
	h.metrics.Jobs.Expire()
	sample.cpu += cpuTime() - cpu0
	sample.wall += time.Since(wall0)
	after, err := h.gl.Counts()
	if err != nil {
		return cycleSample{}, err
	}
	sample.requests = after.Total - before.Total
	sample.fakeCPU = after.Usage.CPU - before.Usage.CPU
	h.rec.takePolls()
	r := h.rep
	r.Cycles++
	r.Requests += sample.requests
	r.NewJobs += sample.newJobs
	r.MaxCycleRequests = max(r.MaxCycleRequests, sample.requests)
	r.CPU = append(r.CPU, sample.cpu)
	r.FakeCPU += sample.fakeCPU
	r.Wall = append(r.Wall, sample.wall)
	for e, n := range after.Endpoints {
		r.Endpoints[e] += n - before.Endpoints[e]
	}
	h.check()
	return sample, nil
}

// Drain is how long the exporter keeps polling a frozen GitLab after the
// run: long enough for a parked recheck, so that the final comparison
// finds played manual jobs counted rather than on their way.
const Drain = 10*time.Minute + 2*time.Minute

// drain freezes GitLab and polls until the exporter has caught up.
func (h *harness) drain(ctx context.Context) error {
	h.rec.mu.Lock()
	for i, want := range h.truthFinished {
		if want > 0 && h.rec.finished.get(FirstJobID+int64(i)) == 0 {
			h.rep.InFlight++
		}
	}
	h.rec.mu.Unlock()
	for elapsed := time.Duration(0); elapsed < Drain; elapsed += h.sc.Interval {
		if _, _, err := h.step(h.sc.Interval, true); err != nil {
			return err
		}
		if h.opt.Webhooks != nil {
			if _, err := h.gl.FlushWebhooks(); err != nil { // what reordering held back
				return err
			}
			h.s.HintedCycle(ctx)
		}
		h.s.Cycle(ctx)
		h.rec.takePolls()
	}
	if h.hook != nil {
		h.hook.Close()
	}
	return nil
}

// check compares how many jobs the exporter counted with GitLab after a
// cycle: every job that finished before the cycle should be counted by
// it, but played manual jobs wait for the parked recheck. (finish checks
// job by job, after the drain.)
func (h *harness) check() {
	if h.countedSoFar() != h.nFinished {
		h.rep.CyclesBehind++
	}
}

func (h *harness) countedSoFar() int {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	return h.rec.total
}

type cycleSample struct {
	requests, newJobs int
	cpu, fakeCPU      time.Duration
	wall              time.Duration
}

// book adds one steady-state cycle to the report and checks each poll's
// requests against the cost model's bound.
//
// A poll is idle when the workload changed nothing in the project during
// the step, the project followed no unfinished job but manual or
// scheduled ones, and the poll saw no parked job moved on. That last
// change (a play or a skip) may date from an earlier step: the exporter
// may leave parked jobs to the recheck, every 10 minutes, and the poll
// that finds one finished pays for its final state then, as for any job
// that finished. It is booked busy, with the job's pipeline among those
// changed.
func (h *harness) book(cycle int, c cycleSample, before, after Counts, changes map[int64]*projectChange,
	late map[int64]map[int64]bool, follows map[int64]follows, polls map[int64]int) {
	r := h.rep
	r.Cycles++
	r.Requests += c.requests
	r.NewJobs += c.newJobs
	r.MaxCycleRequests = max(r.MaxCycleRequests, c.requests)
	r.CPU = append(r.CPU, c.cpu)
	r.FakeCPU += c.fakeCPU
	r.Wall = append(r.Wall, c.wall)
	for e, n := range after.Endpoints {
		r.Endpoints[e] += n - before.Endpoints[e]
	}
	pollRequests := 0
	var over []overPoll
	for pid, req := range polls {
		pollRequests += req
		f := follows[pid]
		parked := f.recheck
		pc := changes[pid]
		// Parked jobs seen moved on whose pipeline the workload did not
		// change in this step: their play or skip is older.
		var seen []int64
		for id := range late[pid] {
			if pc == nil || !pc.pipelines[id] {
				seen = append(seen, id)
			}
		}
		if len(seen) > 0 {
			r.LateSeen++
		}
		idle := pc == nil && len(seen) == 0 && !f.active
		var bound int
		if idle {
			bound = 1 + parked
			r.Idle.add(req, bound, f.blocked)
			if f.blocked && req > 1 {
				r.ParkedRechecks++
			}
		} else {
			// Busy: something changed, or unfinished jobs had to be checked.
			bound = 2 + parked
			if pc != nil {
				bound += int(math.Ceil(float64(pc.newJobs)/100)) + len(pc.pipelines) + pc.results
			}
			// A parked job seen moved on costs its final state, and its
			// pipeline's new result.
			bound += 2 * len(seen)
			r.Busy.add(req, bound, f.blocked)
		}
		if req > bound && h.explained[idle] < maxExplained[idle] {
			over = append(over, overPoll{cycle: cycle, project: pid, idle: idle, requests: req, bound: bound,
				before: f, after: h.rec.followsOf(pid), change: pc, late: seen, lastChange: h.lastChange[pid]})
		}
	}
	for pid := range changes {
		h.lastChange[pid] = cycle
	}
	// In project order, so that the same run logs the same polls.
	slices.SortFunc(over, func(a, b overPoll) int { return cmp.Compare(a.project, b.project) })
	for _, o := range over {
		h.explain(o, c.requests)
	}
	r.PollRequests += pollRequests
	r.Polls += len(polls)
	if c.requests > pollRequests {
		r.DiscoveryRequests += c.requests - pollRequests
	}
}

// mark records memory and the cost of /metrics at the end of a simulated hour.
func (h *harness) mark(cycle int) error {
	u := settledUsage()
	if dir := h.opt.HeapProfileDir; dir != "" {
		name := filepath.Join(dir, fmt.Sprintf("heap-%s-%gh.pprof", h.sc.Name, float64(cycle)*h.sc.Interval.Hours()))
		if err := writeHeapProfile(name); err != nil {
			return err
		}
	}
	e, err := measureExposition(h.reg)
	if err != nil {
		return err
	}
	m := Mark{Hour: float64(cycle) * h.sc.Interval.Hours(), Usage: u, Exposition: e, Counted: h.countedSoFar(), Truth: h.nFinished}
	if h.gl.Separate() {
		if c, err := h.gl.Counts(); err == nil {
			m.Fake = c.Usage
		}
	}
	h.rep.Marks = append(h.rep.Marks, m)
	h.logf("%s: hour %.1f: heap %.1f MiB, rss %.1f MiB, counted %d of %d, %d series, wall %s",
		h.sc.Name, m.Hour, mib(int64(u.HeapInuse)), mib(u.RSS), m.Counted, m.Truth, e.Series, time.Since(h.rep.start).Round(time.Second))
	return nil
}

// finish compares the whole run with the ground truth.
func (h *harness) finish() {
	r := h.rep
	rec := h.rec
	r.LagP50, r.LagP99 = rec.lagQuantile(0.5, false), rec.lagQuantile(0.99, false)
	r.ParkedLagP50, r.ParkedLagP99 = rec.lagQuantile(0.5, true), rec.lagQuantile(0.99, true)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r.Truth, r.TruthStarted = h.nFinished, h.nStarted
	n := max(len(rec.finished), len(h.truthFinished))
	for i := range n {
		id := FirstJobID + int64(i)
		got, want := rec.finished.get(id), h.truthFinished.get(id)
		switch {
		case want == 1 && got == 0:
			r.Missing++

		case want == 0 && got > 0:
			r.Extra++

		case got > 1:
			r.Double++
		}
		if got > 0 {
			r.Counted += int(got)
		}
	}
	n = max(len(rec.started), len(h.truthStarted))
	for i := range n {
		id := FirstJobID + int64(i)
		got, want := rec.started.get(id), h.truthStarted.get(id)
		if got != want {
			r.StartDiff++
		}
		r.StartsObserved += int(got)
	}
	h.comparePipelines()
	r.Retried = rec.retried
	r.PollErrors = rec.pollErrors
	r.StateErrors = rec.stateErrors
	r.MaxLag = rec.maxLag
	r.UnknownLag = rec.unknown
	r.ParkedCounted, r.ParkedMaxLag = rec.parkedJobs, rec.parkedMaxLag
	r.Elapsed = time.Since(r.start)
	r.ProjectsPolled = len(rec.paths)
	if h.opt.StateDir != "" {
		r.StateBytes = dirSize(h.opt.StateDir)
	}
	maps.DeleteFunc(r.Endpoints, func(_ string, n int) bool { return n == 0 })
}

// comparePipelines books the pipelines the exporter counted against
// GitLab's; the caller holds rec.mu.
func (h *harness) comparePipelines() {
	r, rec := h.rep, h.rec
	p := &r.Pipelines
	if !h.metrics.Jobs.CountsPipelines() {
		p.Off = true
		return
	}
	p.ByGroup = map[string]*PipelineGroup{}
	group := func(r pipelineResult) *PipelineGroup {
		k := codes.name(r.source) + "/" + codes.name(r.status)
		if p.ByGroup[k] == nil {
			p.ByGroup[k] = &PipelineGroup{}
		}
		return p.ByGroup[k]
	}
	p.Results = h.steadyResults
	for i := range h.pipelines {
		id, t := int64(i), &h.pipelines[i]
		switch {
		case !t.known:
			continue
		case t.history:
			if t.seen {
				p.RerunsTruth += t.later.len()
			}
			continue
		case t.first.status == 0:
			continue // never finished
		}
		p.Truth++
		p.RerunsTruth += t.later.len()
		g := group(t.first)
		g.Truth++
		g.TruthSeconds += float64(max(t.first.duration, 0))
		c := rec.pipelines.at(id)
		switch {
		case c.times == 0:
			p.Missing++
			if p.Missing <= 10 {
				h.logf("%s: pipeline %d (%s) of project %d finished %s, %d finishes in all: not counted; %s", h.sc.Name, id,
					codes.name(t.first.source), t.project, codes.name(t.first.status), t.finals, h.savedPipeline(int64(t.project), id))
			}
			continue
		case c.times > 1:
			p.Double++
		}
		if c.first != t.first {
			p.FirstDiffs++
			if p.FirstDiffs <= 10 {
				h.logf("%s: pipeline %d (%s) first finished %s after %d s, counted %s after %d s; %d finishes in all", h.sc.Name, id,
					codes.name(t.first.source), codes.name(t.first.status), t.first.duration, codes.name(c.first.status), c.first.duration, t.finals)
			}
		}
	}
	for i := range rec.pipelines {
		id, c := int64(i), &rec.pipelines[i]
		if c.times == 0 {
			continue
		}
		p.Counted++
		if t := h.pipelines.at(id); !t.known || t.history || t.first.status == 0 {
			p.Extra++
			if p.Extra <= 10 {
				h.logf("%s: pipeline %d (%s) counted %s after %d s: GitLab has no first result of it to count", h.sc.Name, id,
					codes.name(c.first.source), codes.name(c.first.status), c.first.duration)
			}
		}
		g := group(c.first)
		g.Counted++
		g.CountedSeconds += float64(max(c.first.duration, 0))
	}
	p.Reruns = rec.reruns
}

// dirSize adds up the sizes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
