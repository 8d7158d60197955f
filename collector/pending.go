package collector

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// pendingPools are the jobs waiting for a runner now, by runner pool
// (family pending_by_pool): how many, and since when the one that has
// waited longest waits, from the scraper's last report per project. A job
// of a later stage is created with its pipeline but queued only when the
// stages before it are done, so its wait counts from its queueing.
type pendingPools struct {
	*configured
	pools      pools
	now        func() time.Time
	jobsDesc   *prometheus.Desc
	oldestDesc *prometheus.Desc

	mu        sync.Mutex
	byProject map[string]map[string]poolWait // by project path, then pool key
	// seen holds when each pool last had a job waiting (unix seconds): it
	// shows 0 rather than vanishing when its queue empties, until expiry.
	seen map[string]int64
}

type poolWait struct {
	jobs   int
	oldest time.Time // the earliest queueing
}

func newPendingPools(f *configured, p pools, now func() time.Time) *pendingPools {
	return &pendingPools{configured: f, pools: p, now: now,
		jobsDesc:   prometheus.NewDesc(f.Metrics[0].Name, f.Metrics[0].Help+fromPolling, f.labelNames(), nil),
		oldestDesc: prometheus.NewDesc(f.Metrics[1].Name, f.Metrics[1].Help+fromPolling, f.labelNames(), nil),
		byProject:  map[string]map[string]poolWait{}, seen: map[string]int64{},
	}
}

// set replaces what waits in the project's pools. A pending job without a
// queue time has not been brought up to date since a restart from a state
// that did not keep it; its pool is known at the project's next poll.
func (p *pendingPools) set(path string, jobs []event.ActiveJob) {
	var byPool map[string]poolWait
	for _, j := range jobs {
		if j.Status != gitlabapi.StatusPending || j.Bridge || j.QueuedAt.IsZero() {
			continue
		}
		var v labelValues
		v[tags] = p.pools.tagsLabel(j.Tags)
		key := p.key(&v)
		if byPool == nil {
			byPool = map[string]poolWait{}
		}
		w := byPool[key]
		if w.jobs == 0 || j.QueuedAt.Before(w.oldest) {
			w.oldest = j.QueuedAt
		}
		w.jobs++
		byPool[key] = w
	}
	now := p.now().Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	if byPool == nil {
		delete(p.byProject, path)
		return
	}
	p.byProject[path] = byPool
	for key := range byPool {
		p.seen[key] = now
	}
}

func (p *pendingPools) deleteProject(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byProject, path)
}

// expire drops the zeros of pools that have had nothing waiting since
// before cutoff.
func (p *pendingPools) expire(cutoff time.Time) {
	before := cutoff.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, last := range p.seen {
		if last < before {
			delete(p.seen, key)
		}
	}
}

func (p *pendingPools) describe(ch chan<- *prometheus.Desc) {
	ch <- p.jobsDesc
	ch <- p.oldestDesc
}

func (p *pendingPools) collect(ch chan<- prometheus.Metric) {
	counts, oldest := p.tally()
	for key, n := range counts {
		ch <- gauge(p.jobsDesc, float64(n), splitKey(key, len(p.labels))...)
	}
	for key, t := range oldest {
		ch <- gauge(p.oldestDesc, float64(t.UnixMilli())/1000, splitKey(key, len(p.labels))...)
	}
}

func (p *pendingPools) len() int {
	counts, oldest := p.tally()
	return len(counts) + len(oldest)
}

// tally sums the projects' pools.
func (p *pendingPools) tally() (map[string]int, map[string]time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts, oldest := make(map[string]int, len(p.seen)), map[string]time.Time{}
	for key := range p.seen {
		counts[key] = 0
	}
	for _, byPool := range p.byProject {
		for key, w := range byPool {
			counts[key] += w.jobs
			if t, ok := oldest[key]; !ok || w.oldest.Before(t) {
				oldest[key] = w.oldest
			}
		}
	}
	return counts, oldest
}
