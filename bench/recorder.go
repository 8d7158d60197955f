package bench

import (
	"sync"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
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
	inner scraper.Recorder
	now   func() time.Time

	mu       sync.Mutex
	finished idCounts
	started  idCounts
	total    int // JobFinished calls
	retried  int
	lag      [lagBuckets]int // simulated seconds from finished_at to counted
	maxLag   time.Duration
	unknown  int // finished jobs without finished_at (skipped): no lag

	// parked are the jobs ever followed as manual or scheduled; their lag
	// is kept apart, as the scraper rechecks them on a slower schedule.
	parked       idCounts
	parkedJobs   int
	parkedMaxLag time.Duration

	polls       map[int64]int // requests by project, this cycle
	pollErrors  int           // failed polls, all cycles
	stateErrors int           // failed state loads and saves
	follows     map[int64]follows
	lagFrom     time.Time // jobs counted before this are history: no lag
}

// follows says what a project's last poll left followed.
type follows struct {
	active  bool // unfinished jobs that move on by themselves (pending, running, ...)
	blocked bool // manual or scheduled jobs, rechecked every 10 minutes
	// recheck is what the parked recheck may cost: one scoped walk for
	// manual or scheduled jobs, one bridge list per pipeline with such bridges.
	recheck int
}

var _ scraper.Recorder = (*recorder)(nil)

func newRecorder(inner scraper.Recorder, now func() time.Time) *recorder {
	return &recorder{inner: inner, now: now, polls: map[int64]int{}, follows: map[int64]follows{}}
}

// idCounts counts events per job id in a byte per id from FirstJobID.
type idCounts []uint8

func (c *idCounts) add(id int64) {
	i := id - FirstJobID
	if i < 0 {
		return
	}
	for int64(len(*c)) <= i {
		*c = append(*c, make([]uint8, max(1024, len(*c)))...)
	}
	if (*c)[i] < 255 {
		(*c)[i]++
	}
}

func (c idCounts) get(id int64) uint8 {
	i := id - FirstJobID
	if i < 0 || i >= int64(len(c)) {
		return 0
	}
	return c[i]
}

func (r *recorder) JobStarted(p state.ProjectInfo, j *gitlabapi.Job) {
	r.inner.JobStarted(p, j)
	if j.QueuedDuration == nil {
		return // the collector observes nothing for it either
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started.add(j.ID)
}

func (r *recorder) JobFinished(p state.ProjectInfo, j *gitlabapi.Job) {
	r.inner.JobFinished(p, j)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished.add(j.ID)
	r.total++
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
		return
	}
	r.maxLag = max(r.maxLag, lag)
	r.lag[min(max(int(lag/time.Second), 0), lagBuckets-1)]++
}

func (r *recorder) JobRetried(p state.ProjectInfo, j *gitlabapi.Job) {
	r.inner.JobRetried(p, j)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retried++
}

func (r *recorder) ProjectActive(p state.ProjectInfo, jobs []state.FollowedJob) {
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
			if r.parked.get(j.ID) == 0 {
				r.parked.add(j.ID)
			}
		} else {
			f.active = true
		}
	}
	f.recheck = len(bridgePipelines)
	if blockedJobs {
		f.recheck++
	}
	r.follows[p.ID] = f
}

func (r *recorder) PollFinished(p state.ProjectInfo, res state.PollResult) {
	r.inner.PollFinished(p, res)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.polls[p.ID] += res.Requests
	if res.Err != nil {
		r.pollErrors++
	}
}

func (r *recorder) ProjectRemoved(path string) { r.inner.ProjectRemoved(path) }
func (r *recorder) ProjectsPolled(n int)       { r.inner.ProjectsPolled(n) }
func (r *recorder) StateFailed(op string) {
	r.inner.StateFailed(op)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stateErrors++
}

// takePolls returns this cycle's requests by project and starts the next.
func (r *recorder) takePolls() map[int64]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.polls
	r.polls = make(map[int64]int, len(p))
	return p
}

// followsNow copies what each project follows.
func (r *recorder) followsNow() map[int64]follows {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int64]follows, len(r.follows))
	for id, f := range r.follows {
		if f.active || f.blocked {
			out[id] = f
		}
	}
	return out
}

// lagQuantile returns the q-quantile of the counted jobs' lag, to the second.
func (r *recorder) lagQuantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0
	for _, n := range r.lag {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := int(q*float64(total-1)) + 1
	for s, n := range r.lag {
		if rank -= n; rank <= 0 {
			return time.Duration(s) * time.Second
		}
	}
	return time.Duration(lagBuckets-1) * time.Second
}
