package gitlabtest

import (
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// WorkloadOptions shapes the synthetic traffic. Zero values take the
// defaults noted; rates are shares in [0, 1].
type WorkloadOptions struct {
	Projects      int    // default 1
	ProjectPrefix string // default "group/project-"; projects are PREFIX1, PREFIX2, ...
	// Groups > 1 spreads projects over that many subgroups of the prefix's
	// namespace ("group/team-2/project-7"), for include_subgroups.
	Groups int

	JobsPerHour     float64 // across all projects; default 600
	JobsPerPipeline int     // default 5: build/test/deploy, matrix and parallel names

	FailureRate       float64 // share of jobs failing (failure_reason mostly script_failure)
	ManualRate        float64 // share of deploy jobs that are manual; some get played later
	RetryRate         float64 // share of failed jobs retried (see Workload)
	ChildPipelineRate float64 // share of pipelines with a bridge to a child pipeline

	DurationMedian time.Duration // log-normal; default 2m
	QueueMedian    time.Duration // log-normal; default 10s
	Refs           []string      // branches; default: main plus feature branches (see Workload)
	Seed           int64

	// RetryReopens retries by hand the way GitLab reopens what a failure
	// closed: the failure's stage ends without waiting for the retry, the
	// later stages are skipped and the pipeline fails; the retry makes
	// those skipped jobs created again (the same jobs, back from a finished
	// status) and the pipeline run again. Failures in child pipelines are
	// retried by hand too: the failed bridge above goes back to pending and
	// runs again. Off, no job or bridge ever leaves a finished status: a
	// failed job holds its stage until its retry, so only a failure in a
	// pipeline's last stage lets it fail before it runs again, and child
	// pipelines' failures are only retried automatically.
	RetryReopens bool
}

// cancelRate is the share of jobs canceled by someone pushing again.
const cancelRate = 0.01

// jobTimeout is the default job timeout: longer runs fail with
// job_execution_timeout.
const jobTimeout = time.Hour

// Workload drives a Server with realistic CI traffic on a ManualClock. The
// same Seed, options and start time give the same history.
//
// The first of the Refs gets half the pipelines: pushes, schedules and web
// runs. On the other branches 40 % of the pipelines are merge request
// pipelines (source merge_request_event) on refs/merge-requests/<iid>/head
// (most), /merge (merged results) or /train (merge trains), the iid fixed
// per project and branch; the rest are pushes. Child pipelines have source
// parent_pipeline and their parent's ref. Test jobs but lint report a
// coverage when they run to the end.
//
// Of the failed jobs, a share RetryRate is retried: a runner_system_failure
// by GitLab itself (retry: when: runner_system_failure) in the same
// transition, so that the pipeline never shows failed; other failures by
// someone about 5 minutes later, which makes a finished pipeline run again
// (see RetryReopens).
type Workload struct {
	mu       sync.Mutex
	s        *Server
	clock    *ManualClock
	opt      WorkloadOptions
	rng      *rand.Rand
	cov      *rand.Rand // coverage values: a stream of their own
	projects []int64
	cumW     []float64 // cumulative project weights: a few projects are busy
	shape    [][]jobTemplate
	events   eventQueue
	seq      uint64
	perHour  float64 // pipelines per hour
	errs     int     // transitions the model refused; stays 0 unless there is a bug
}

// wpipe is a pipeline the workload still drives; it is dropped when done.
type wpipe struct {
	id        int64
	project   int64
	jobs      [][]*wjob
	remaining int // jobs of the current stage whose result is still to come
	cur       int
	bad       int   // jobs of the current stage that failed or were canceled (some to be retried)
	stopped   bool  // the current stage ended badly: later stages are skipped until a retry
	parent    *wjob // bridge of a child pipeline
}

type wjob struct {
	id       int64
	pipe     *wpipe
	t        *jobTemplate
	outcome  string // planned: "" success, "canceled", else a failure reason
	child    *wpipe
	stage    uint8
	attempts uint8
	started  bool // the current attempt has started
	manual   bool
	bridge   bool
}

// NewWorkload creates the projects on s. clock must be the Server's clock
// (Options.Clock); nil uses it when it is a *ManualClock.
func NewWorkload(s *Server, clock *ManualClock, opt WorkloadOptions) *Workload {
	if opt.RetryReopens {
		s.SetRetryReopens(true)
	}
	if clock == nil {
		if c, ok := s.clock.(*ManualClock); ok {
			clock = c
		} else {
			clock = NewManualClock(s.clock.Now())
		}
	}
	opt = withWorkloadDefaults(opt)
	w := &Workload{
		s: s, clock: clock, opt: opt,
		rng:   rand.New(rand.NewPCG(uint64(opt.Seed), uint64(opt.Seed)^0x9e3779b97f4a7c15)),
		cov:   rand.New(rand.NewPCG(uint64(opt.Seed)^0xc2b2ae3d27d4eb4f, uint64(opt.Seed))),
		shape: pipelineShape(opt.JobsPerPipeline),
	}
	total := 0.0
	for i := range opt.Projects {
		if id := s.CreateProject(projectPath(opt, i), ProjectOptions{}); id != 0 {
			w.projects = append(w.projects, id)
			total += 1 / math.Pow(float64(len(w.projects)), 0.8) // Zipf-like activity
			w.cumW = append(w.cumW, total)
		}
	}
	jobs := 0
	for _, st := range w.shape {
		jobs += len(st)
	}
	perPipeline := float64(jobs) + opt.ChildPipelineRate*float64(1+len(childShape))
	w.perHour = opt.JobsPerHour / perPipeline
	if len(w.projects) > 0 && w.perHour > 0 {
		w.scheduleArrival()
	}
	return w
}

func withWorkloadDefaults(o WorkloadOptions) WorkloadOptions {
	if o.Projects <= 0 {
		o.Projects = 1
	}
	if o.ProjectPrefix == "" {
		o.ProjectPrefix = "group/project-"
	}
	if o.JobsPerHour <= 0 {
		o.JobsPerHour = 600
	}
	if o.JobsPerPipeline <= 0 {
		o.JobsPerPipeline = 5
	}
	if o.DurationMedian <= 0 {
		o.DurationMedian = 2 * time.Minute
	}
	if o.QueueMedian <= 0 {
		o.QueueMedian = 10 * time.Second
	}
	if len(o.Refs) == 0 {
		o.Refs = []string{"main", "feature/login", "feature/cache", "fix/flaky-spec"}
	}
	clamp := func(f float64) float64 { return min(max(f, 0), 1) }
	o.FailureRate, o.ManualRate = clamp(o.FailureRate), clamp(o.ManualRate)
	o.RetryRate, o.ChildPipelineRate = clamp(o.RetryRate), clamp(o.ChildPipelineRate)
	return o
}

func projectPath(o WorkloadOptions, i int) string {
	if o.Groups <= 1 {
		return fmt.Sprintf("%s%d", o.ProjectPrefix, i+1)
	}
	ns, name := "group", o.ProjectPrefix
	if k := strings.LastIndexByte(o.ProjectPrefix, '/'); k >= 0 {
		ns, name = o.ProjectPrefix[:k], o.ProjectPrefix[k+1:]
	}
	return fmt.Sprintf("%s/team-%d/%s%d", ns, i%o.Groups+1, name, i+1)
}

// ProjectIDs returns the ids of the workload's projects.
func (w *Workload) ProjectIDs() []int64 { return append([]int64(nil), w.projects...) }

// Step advances the simulated time by d, event by event: the clock is set
// to each event's time before it happens, so timestamps are exact. It
// creates pipelines at the configured rate and moves jobs through
// created → pending → running → success/failed/canceled, plays some manual
// jobs, retries some failed ones and finishes child pipelines.
func (w *Workload) Step(d time.Duration) {
	if d <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.clock.Now().Add(d).UnixNano()
	for len(w.events) > 0 && w.events[0].at <= target {
		ev := heap.Pop(&w.events).(*event)
		w.clock.Set(time.Unix(0, ev.at).UTC())
		w.handle(ev)
	}
	w.clock.Set(time.Unix(0, target).UTC())
}

// Run steps the workload in real time every tick until ctx ends, for the
// simulator: the clock follows time.Now().
func (w *Workload) Run(ctx context.Context, tick time.Duration) {
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Step(time.Since(w.clock.Now()))
		}
	}
}

func (w *Workload) now() int64 { return w.clock.Now().UnixNano() }

func (w *Workload) after(d time.Duration) int64 { return w.now() + int64(max(d, time.Millisecond)) }

func (w *Workload) handle(ev *event) {
	switch ev.kind {
	case evArrival:
		w.newPipeline()
		w.scheduleArrival()
	case evStage:
		w.enqueueStage(ev.pipe)
	case evStart:
		w.start(ev.job)
	case evFinish:
		w.finish(ev.job)
	case evPlay:
		if w.check(w.s.Play(ev.job.id)) {
			w.queued(ev.job)
		}
	case evRetry:
		id, err := w.s.Retry(ev.job.id)
		if w.check(err) {
			ev.job.id = id
			if w.opt.RetryReopens {
				w.reopen(ev.job)
			}
			w.queued(ev.job)
		}
	}
}

func (w *Workload) check(err error) bool {
	if err != nil {
		w.errs++
		return false
	}
	return true
}

func (w *Workload) scheduleArrival() {
	hours := w.rng.ExpFloat64() / w.perHour
	w.schedule(w.after(time.Duration(hours*float64(time.Hour))), evArrival, nil, nil)
}

func (w *Workload) pickProject() int64 {
	x := w.rng.Float64() * w.cumW[len(w.cumW)-1]
	return w.projects[sort.SearchFloat64s(w.cumW, x)]
}

// pickRef picks a pipeline's branch and source, and for a merge request
// pipeline the kind of its ref: on the other branches 28 % of the
// pipelines are detached merge request pipelines, 8 % merged results and
// 4 % merge train pipelines.
func (w *Workload) pickRef() (branch, source, mrKind string) {
	refs := w.opt.Refs
	if len(refs) == 1 || w.rng.Float64() < 0.5 {
		branch = refs[0]
	} else {
		branch = refs[1+w.rng.IntN(len(refs)-1)]
	}
	x := w.rng.Float64()
	switch {
	case branch == refs[0] && x < 0.1:
		return branch, "schedule", ""
	case branch == refs[0] && x < 0.15:
		return branch, "web", ""
	case branch != refs[0] && x < 0.28:
		return branch, "merge_request_event", MergeRequestHead
	case branch != refs[0] && x < 0.36:
		return branch, "merge_request_event", MergeRequestMerge
	case branch != refs[0] && x < 0.4:
		return branch, "merge_request_event", MergeRequestTrain
	}
	return branch, "push", ""
}

// mergeRequestIID is the iid of the merge request of branch in project:
// fixed, and spread over 1..500.
func mergeRequestIID(project int64, branch string) int64 {
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%d/%s", project, branch)
	return 1 + int64(h.Sum32()%500)
}

func (w *Workload) newPipeline() {
	branch, source, mrKind := w.pickRef()
	project := w.pickProject()
	ref := branch
	if mrKind != "" {
		ref = MergeRequestRef(mergeRequestIID(project, branch), mrKind)
	}
	id := w.s.CreatePipeline(project, ref, PipelineOptions{Source: source, SourceBranch: branch})
	if id == 0 {
		w.errs++
		return
	}
	p := w.buildPipeline(id, project, w.shape, w.rng.Float64() < w.opt.ChildPipelineRate)
	w.schedule(w.after(time.Duration(500+w.rng.IntN(1500))*time.Millisecond), evStage, nil, p)
}

// buildPipeline creates every job of the shape up front, as GitLab does;
// a bridge goes into the test stage (or the last one).
func (w *Workload) buildPipeline(id, project int64, shape [][]jobTemplate, withBridge bool) *wpipe {
	p := &wpipe{id: id, project: project, jobs: make([][]*wjob, len(shape))}
	bridgeStage := min(1, len(shape)-1)
	for si := range shape {
		for ti := range shape[si] {
			t := &shape[si][ti]
			j := &wjob{pipe: p, t: t, stage: uint8(si)}
			spec := JobSpec{Name: t.name, Stage: t.stage, Tags: t.tags, Environment: t.environment}
			if t.deploy && w.rng.Float64() < w.opt.ManualRate {
				j.manual = true
				spec.When, spec.AllowFailure = "manual", true
			}
			if j.id = w.s.CreateJob(id, spec); j.id == 0 {
				w.errs++
				continue
			}
			p.jobs[si] = append(p.jobs[si], j)
		}
		if withBridge && si == bridgeStage {
			b := &wjob{pipe: p, t: &bridgeTemplate, stage: uint8(si), bridge: true}
			var child int64
			b.id, child = w.s.CreateBridge(id, JobSpec{Name: bridgeTemplate.name, Stage: shape[si][0].stage})
			if b.id == 0 {
				w.errs++
				continue
			}
			b.child = &wpipe{id: child, project: project, parent: b}
			p.jobs[si] = append(p.jobs[si], b)
		}
	}
	return p
}

var bridgeTemplate = jobTemplate{name: "trigger: docs", stage: "test"}

// enqueueStage starts the current stage: normal jobs are queued, manual
// ones wait for a person (some are played later), bridges trigger their
// child pipeline.
func (w *Workload) enqueueStage(p *wpipe) {
	jobs := p.jobs[p.cur]
	p.remaining = 0
	for _, j := range jobs {
		switch {
		case j.manual:
			if w.rng.Float64() < 0.6 {
				w.schedule(w.after(w.lognormal(10*time.Minute, 1)), evPlay, j, nil)
			}
		case j.bridge:
			p.remaining++
			if !w.check(w.s.Enqueue(j.id)) {
				p.remaining--
				continue
			}
			c := j.child
			c.jobs = make([][]*wjob, len(childShape))
			for si := range childShape {
				for ti := range childShape[si] {
					t := &childShape[si][ti]
					cj := &wjob{pipe: c, t: t, stage: uint8(si)}
					if cj.id = w.s.CreateJob(c.id, JobSpec{Name: t.name, Stage: t.stage, Tags: t.tags}); cj.id == 0 {
						w.errs++
						continue
					}
					c.jobs[si] = append(c.jobs[si], cj)
				}
			}
			w.schedule(w.after(time.Second), evStage, nil, c)
		default:
			p.remaining++
			if w.check(w.s.Enqueue(j.id)) {
				w.queued(j)
			} else {
				p.remaining--
			}
		}
	}
	if p.remaining == 0 {
		w.stageDone(p)
	}
}

// queued plans a pending job's fate: most are picked up by a runner after
// a log-normal wait; stuck ones fail without ever starting.
func (w *Workload) queued(j *wjob) {
	wait := w.lognormal(w.opt.QueueMedian, 1)
	j.outcome, j.started = "", false
	switch x := w.rng.Float64(); {
	case x < w.opt.FailureRate:
		j.outcome = w.failureReason()
		if j.outcome == "stuck_or_timeout_failure" {
			w.schedule(w.after(wait*3), evFinish, j, nil)
			return
		}
	case x < w.opt.FailureRate+cancelRate:
		j.outcome = "canceled"
	}
	w.schedule(w.after(wait), evStart, j, nil)
}

func (w *Workload) start(j *wjob) {
	if !w.check(w.s.Start(j.id)) {
		return
	}
	j.started = true
	d := time.Duration(float64(w.lognormal(w.opt.DurationMedian, 0.6)) * j.t.scale)
	switch {
	case j.outcome == "canceled":
		d = time.Duration(w.rng.Float64() * float64(d))
	case d > jobTimeout:
		d, j.outcome = jobTimeout, "job_execution_timeout"
	case j.outcome == "job_execution_timeout":
		d = jobTimeout
	}
	w.schedule(w.after(d), evFinish, j, nil)
}

func (w *Workload) finish(j *wjob) {
	status, reason := "success", ""
	switch j.outcome {
	case "":
	case "canceled":
		status = "canceled"
	default:
		status, reason = "failed", j.outcome
	}
	opt := FinishOptions{FailureReason: reason, Artifacts: w.artifactsFor(j.t, j.started)}
	// A test run prints its coverage when it ran to the end, passed or
	// failed; not when it was canceled, timed out or lost its runner.
	if j.t.coverage && j.started && (status == "success" || reason == "script_failure") {
		opt.Coverage = w.coverageOf(j)
	}
	// Optional (manual) jobs are never retried. GitLab retries a
	// runner_system_failure itself (retry: when: runner_system_failure),
	// before the pipeline's status follows, so the job still holds its
	// stage. A person retries other failures minutes later (see
	// RetryReopens for what happens meanwhile).
	retry := !j.manual && status == "failed" && j.attempts < 2 && w.rng.Float64() < w.opt.RetryRate
	opt.AutoRetry = retry && reason == "runner_system_failure"
	if !opt.AutoRetry && j.pipe.parent != nil && !w.opt.RetryReopens {
		retry = false // it would reopen the finished bridge
	}
	if !w.check(w.s.Finish(j.id, status, opt)) {
		return
	}
	if j.manual {
		return // optional jobs do not hold their stage
	}
	if opt.AutoRetry {
		j.attempts++
		j.id = w.s.LatestAttempt(j.id)
		w.queued(j)
		return
	}
	if retry {
		j.attempts++
		w.schedule(w.after(w.lognormal(5*time.Minute, 1)), evRetry, j, nil)
		if !w.opt.RetryReopens {
			return // the job holds its stage until its retry
		}
	}
	w.jobDone(j, status != "success")
}

// coverageOf is the coverage a test job reports: each project's job has
// its level between 60 and 95 %, and runs vary by tenths; two decimals,
// as coverage tools print it.
func (w *Workload) coverageOf(j *wjob) *float64 {
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%d/%s", j.pipe.project, j.t.name)
	c := 60 + 35*float64(h.Sum32()%1000)/1000 + 0.4*w.cov.NormFloat64()
	c = math.Round(min(max(c, 0), 100)*100) / 100
	return &c
}

// jobDone records a job's result for its stage (a failed job may still be
// retried by hand: reopen).
func (w *Workload) jobDone(j *wjob, bad bool) {
	p := j.pipe
	if bad {
		p.bad++ // only manual jobs allow failure here, and they never get here
	}
	p.remaining--
	if p.remaining == 0 {
		w.stageDone(p)
	}
}

// stageDone moves on to the next stage, or ends the pipeline. After a
// failure GitLab skips every job of later stages and the pipeline fails; a
// child pipeline's end is its bridge's.
func (w *Workload) stageDone(p *wpipe) {
	if p.bad > 0 {
		p.stopped = true
		for _, st := range p.jobs[p.cur+1:] {
			for _, j := range st {
				w.check(w.s.Skip(j.id))
			}
		}
	} else if p.cur++; p.cur < len(p.jobs) {
		w.schedule(w.after(time.Duration(200+w.rng.IntN(800))*time.Millisecond), evStage, nil, p)
		return
	}
	if p.parent != nil {
		w.jobDone(p.parent, p.bad > 0)
	}
}

// reopen takes back the failure of j, retried by hand, from its stage. If
// the stage had ended, it runs again: GitLab's retry made the skipped jobs
// after it runnable and a child pipeline's bridge wait for it again.
func (w *Workload) reopen(j *wjob) {
	p := j.pipe
	p.bad--
	p.remaining++
	if p.stopped {
		p.stopped = false
		if p.parent != nil {
			w.reopen(p.parent)
		}
	}
}
