package bench

import (
	"sync"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// lagBuckets is the resolution of the freshness histogram: one bucket per
// simulated second, the last one holding everything above.
const lagBuckets = 3601

// recorder passes every event on to the exporter's collector and keeps
// what the harness checks: how often each job was counted, when, and what
// each poll cost. Its per-job memory is a byte per job id, so that it
// does not inflate the heap figures it helps to measure.
type recorder struct {
	// inner is the exporter's collector; methods not overridden below go
	// straight to it.
	inner event.Recorder
	now   func() time.Time

	mu       sync.Mutex
	finished idCounts
	started  idCounts
	total    int // JobFinished calls
	retried  int
	lag      [lagBuckets]int // simulated seconds from finished_at to counted
	maxLag   time.Duration
	unknown  int // finished jobs without finished_at (skipped): no lag

	// parked are the jobs ever followed as manual or scheduled (everParked,
	// or blockedNow while the exporter's last view of them was that); the
	// lag of those is kept apart, as the scraper rechecks them on a slower
	// schedule.
	parked       idCounts
	parkedJobs   int
	parkedMaxLag time.Duration
	parkedLag    [lagBuckets]int

	polls       map[int64]int // requests by project, this cycle
	pollErrors  int           // failed polls, all cycles
	stateErrors int           // failed state loads and saves
	follows     map[int64]follows
	paths       map[int64]string // project paths, for the log
	lagFrom     time.Time        // jobs counted before this are history: no lag

	// pipelines are the first results counted, by pipeline id; reruns
	// the later results counted (PipelineRerun, repeat false).
	pipelines pipelineTable[countedPipeline]
	reruns    int

	// late are, by project, the pipelines of parked jobs whose change
	// (a play, a skip) a poll of this cycle was the first to see: the
	// workload made it in an earlier step, while the exporter waited for
	// the parked recheck.
	late map[int64]map[int64]bool
}

// follows says what a project's last poll left followed.
type follows struct {
	active  bool // unfinished jobs that move on by themselves (pending, running, ...)
	blocked bool // manual or scheduled jobs, rechecked every 10 minutes
	// recheck is what the parked recheck may cost: one scoped walk for
	// manual or scheduled jobs, one bridge list per pipeline with such
	// bridges, one fetch per pipeline GitLab showed unfinished while no
	// job of the project is active.
	recheck int
}

var _ event.Recorder = (*recorder)(nil)

func newRecorder(inner event.Recorder, now func() time.Time) *recorder {
	return &recorder{inner: inner, now: now, polls: map[int64]int{}, late: map[int64]map[int64]bool{}, follows: map[int64]follows{},
		paths: map[int64]string{}}
}

// idCounts counts events per job id in a byte per id from FirstJobID.
type idCounts []uint8

func (c *idCounts) add(id int64) {
	if p := c.at(id); p != nil && *p < 255 {
		*p++
	}
}

// set stores v for id, for bytes that hold a state rather than a count.
func (c *idCounts) set(id int64, v uint8) {
	if p := c.at(id); p != nil {
		*p = v
	}
}

func (c *idCounts) at(id int64) *uint8 {
	i := id - FirstJobID
	if i < 0 {
		return nil
	}
	for int64(len(*c)) <= i {
		*c = append(*c, make([]uint8, max(1024, len(*c)))...)
	}
	return &(*c)[i]
}

// States of a job in recorder.parked.
const (
	everParked = 1 // followed as manual or scheduled once, not at the last view
	blockedNow = 2 // manual or scheduled when the exporter last saw it
)

// seenMoved books a poll's first sight of a parked job in another status:
// the change happened in GitLab whenever the workload made it, but the
// exporter pays for it (a fetch of the job's final state) now.
func (r *recorder) seenMoved(project, id, pipeline int64) {
	if r.parked.get(id) != blockedNow {
		return
	}
	r.parked.set(id, everParked)
	if r.late[project] == nil {
		r.late[project] = map[int64]bool{}
	}
	r.late[project][pipeline] = true
}

func (c idCounts) get(id int64) uint8 {
	i := id - FirstJobID
	if i < 0 || i >= int64(len(c)) {
		return 0
	}
	return c[i]
}

func (r *recorder) JobStarted(p event.Project, j *gitlabapi.Job) {
	r.inner.JobStarted(p, j)
	if j.QueuedDuration == nil {
		return // the collector observes nothing for it either
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started.add(j.ID)
}

func (r *recorder) JobFinished(p event.Project, j *gitlabapi.Job) {
	r.inner.JobFinished(p, j)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished.add(j.ID)
	r.total++
	r.seenMoved(p.ID, j.ID, j.Pipeline.ID)
	if r.now().Before(r.lagFrom) {
		return
	}
	if j.FinishedAt == nil {
		r.unknown++
		return
	}
	lag := r.now().Sub(*j.FinishedAt)
	if r.parked.get(j.ID) > 0 {
		// Followed while manual or scheduled: its play is seen at the
		// parked recheck unless a walk page happens to show it.
		r.parkedJobs++
		r.parkedMaxLag = max(r.parkedMaxLag, lag)
		r.parkedLag[min(max(int(lag/time.Second), 0), lagBuckets-1)]++
		return
	}
	r.maxLag = max(r.maxLag, lag)
	r.lag[min(max(int(lag/time.Second), 0), lagBuckets-1)]++
}

func (r *recorder) JobRetried(p event.Project, j *gitlabapi.Job) {
	r.inner.JobRetried(p, j)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retried++
}

func (r *recorder) ProjectActive(p event.Project, jobs []event.ActiveJob) {
	r.inner.ProjectActive(p, jobs)
	var f follows
	blockedJobs, bridgePipelines := false, map[int64]bool{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		if gitlabapi.JobStatus(j.Status).Blocked() {
			f.blocked = true
			if j.Bridge {
				bridgePipelines[j.PipelineID] = true
			} else {
				blockedJobs = true
			}
			r.parked.set(j.ID, blockedNow)
		} else {
			f.active = true
			r.seenMoved(p.ID, j.ID, j.PipelineID)
		}
	}
	f.recheck = len(bridgePipelines)
	if blockedJobs {
		f.recheck++
	}
	r.follows[p.ID] = f
}

func (r *recorder) PollFinished(p event.Project, res event.PollResult) {
	r.inner.PollFinished(p, res)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.polls[p.ID] += res.Requests
	if r.paths[p.ID] != p.Path {
		r.paths[p.ID] = p.Path
	}
	if res.Reason != "" {
		r.pollErrors++
	}
}

func (r *recorder) PipelineFinished(p event.Project, pl *gitlabapi.Pipeline) {
	r.inner.PipelineFinished(p, pl)
	r.mu.Lock()
	defer r.mu.Unlock()
	var d *int64
	if pl.Duration != nil {
		n := int64(*pl.Duration)
		d = &n
	}
	c := r.pipelines.at(pl.ID)
	c.first = resultOf(pl.Status, pl.Source, d)
	c.times = min(c.times, 254) + 1
}

func (r *recorder) PipelineRerun(p event.Project, pl *gitlabapi.Pipeline, first string, repeat bool) {
	r.inner.PipelineRerun(p, pl, first, repeat)
	if !repeat {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.reruns++
	}
}

// ProjectPipelines books, for a project that follows no active job, the
// pipelines GitLab showed unfinished anyway: the scraper rechecks each
// every parked recheck interval (a job it has not seen, GitLab late to
// update the pipeline), which the idle bound allows like a parked recheck.
func (r *recorder) ProjectPipelines(p event.Project, unfinished map[string]int) {
	r.inner.ProjectPipelines(p, unfinished)
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.follows[p.ID]
	if f.active {
		return
	}
	for status, n := range unfinished {
		if !gitlabapi.JobStatus(status).Blocked() {
			f.recheck += n
		}
	}
	r.follows[p.ID] = f
}

func (r *recorder) ProjectRemoved(path string)    { r.inner.ProjectRemoved(path) }
func (r *recorder) ProjectsPolled(n int)          { r.inner.ProjectsPolled(n) }
func (r *recorder) ProjectHandedOver(path string) { r.inner.ProjectHandedOver(path) }
func (r *recorder) ProjectUnresolved(ref, reason string) {
	r.inner.ProjectUnresolved(ref, reason)
}
func (r *recorder) GroupListed(group, reason string) { r.inner.GroupListed(group, reason) }
func (r *recorder) GroupRemoved(group string)        { r.inner.GroupRemoved(group) }
func (r *recorder) StateFailed(op string) {
	r.inner.StateFailed(op)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stateErrors++
}

// takePolls returns this cycle's requests by project, and the pipelines of
// parked jobs first seen moved by its polls, and starts the next cycle.
func (r *recorder) takePolls() (polls map[int64]int, late map[int64]map[int64]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	polls, late = r.polls, r.late
	r.polls, r.late = make(map[int64]int, len(polls)), map[int64]map[int64]bool{}
	return polls, late
}

// followsNow copies what each project follows.
func (r *recorder) followsNow() map[int64]follows {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int64]follows, len(r.follows))
	for id, f := range r.follows {
		if f.active || f.blocked || f.recheck > 0 {
			out[id] = f
		}
	}
	return out
}

// followsOf returns what a project's last poll left followed.
func (r *recorder) followsOf(project int64) follows {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.follows[project]
}

func (r *recorder) path(project int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paths[project]
}

// parkedWord says whether a job was ever followed as manual or scheduled.
func (r *recorder) parkedWord(id int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parked.get(id) > 0 {
		return "followed as manual or scheduled"
	}
	return "never followed as manual or scheduled"
}

// lagQuantile returns the q-quantile of the counted jobs' lag, to the
// second: of jobs never manual or scheduled, or of those (parked).
func (r *recorder) lagQuantile(q float64, parked bool) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	lags := &r.lag
	if parked {
		lags = &r.parkedLag
	}
	total := 0
	for _, n := range lags {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int(q*float64(total-1)) + 1
	for s, n := range lags {
		if rank -= n; rank <= 0 {
			return time.Duration(s) * time.Second
		}
	}
	return time.Duration(lagBuckets-1) * time.Second
}
