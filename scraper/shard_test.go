package scraper_test

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// shardSet is a fake GitLab with CI traffic and the scrapers of a sharded
// exporter polling it on one manual clock. Each shard index has its own
// storage directory, as each pod of the StatefulSet has its volume, and
// each process its own recorder; every recorder is kept, so that counts
// add up over all processes that ever ran.
type shardSet struct {
	t       *testing.T
	gl      *gitlabtest.Server
	clock   *gitlabtest.ManualClock
	w       *gitlabtest.Workload
	client  *gitlabapi.Client
	opts    scraper.Options // every shard's, but Shard, ShardSince and Store
	dirs    map[int]string  // storage directory by shard index
	running map[int]*shardProcess
	lives   []*recorder
}

type shardProcess struct {
	sh    shard.Shard
	since time.Time
	s     *scraper.Scraper
	rec   *recorder
}

const (
	shardGroup    = "acme"
	shardProjects = 16
	shardInterval = 30 * time.Second
)

// newShardSet creates the group's projects and their traffic. Nothing
// happened before, so every job is within any lookback.
func newShardSet(t *testing.T, jobsPerHour float64) *shardSet {
	t.Helper()
	clock := gitlabtest.NewManualClock(epoch)
	gl := gitlabtest.NewHandler(gitlabtest.Options{Token: "secret-token", Clock: clock})
	ts := httptest.NewServer(gl.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(gl.Close)
	gl.SetBaseURL(ts.URL)
	w := gitlabtest.NewWorkload(gl, clock, gitlabtest.WorkloadOptions{
		Projects: shardProjects, ProjectPrefix: shardGroup + "/app-", JobsPerHour: jobsPerHour,
		FailureRate: 0.2, ManualRate: 0.5, RetryRate: 0.5, ChildPipelineRate: 0.3, Seed: 14,
	})
	client, err := gitlabapi.New(gitlabapi.Options{
		BaseURL: gl.URL(), Token: "secret-token", RequestsPerSecond: 10000, Burst: 10000,
		MaxConcurrent: 8, Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := scraper.Options{Groups: []scraper.Group{{Path: shardGroup, IncludeSubgroups: true}}, Interval: shardInterval, Now: clock.Now}
	withTestDefaults(&opts)
	return &shardSet{t: t, gl: gl, clock: clock, w: w, client: client, opts: opts,
		dirs: map[int]string{}, running: map[int]*shardProcess{}}
}

// start starts shard index of total, as its pod would: on its volume, with
// the cut-off its shard record gives.
func (ss *shardSet) start(index, total int) *shardProcess {
	ss.t.Helper()
	if ss.running[index] != nil {
		ss.t.Fatalf("shard %d is running already", index)
	}
	if ss.dirs[index] == "" {
		ss.dirs[index] = ss.t.TempDir()
	}
	store := newStore(ss.t, ss.dirs[index], ss.gl.URL())
	sh, err := shard.New(index, total)
	if err != nil {
		ss.t.Fatal(err)
	}
	since, err := store.ShardSince(index, total, ss.clock.Now())
	if err != nil {
		ss.t.Fatal(err)
	}
	opts := ss.opts
	opts.Store, opts.Shard, opts.ShardSince = store, sh, since
	p := &shardProcess{sh: sh, since: since, rec: newRecorder()}
	if p.s, err = scraper.New(ss.client, p.rec, opts); err != nil {
		ss.t.Fatal(err)
	}
	ss.running[index] = p
	ss.lives = append(ss.lives, p.rec)
	return p
}

func (ss *shardSet) stop(index int) { delete(ss.running, index) }

// restart stops the shard and starts it again with another total, as a
// rolling update of the StatefulSet does.
func (ss *shardSet) restart(index, total int) *shardProcess {
	ss.stop(index)
	return ss.start(index, total)
}

// cycles lets CI traffic run for n intervals, each followed by one poll of
// every project by every running shard; frozen, nothing happens in GitLab.
func (ss *shardSet) cycles(n int, frozen bool) {
	ss.t.Helper()
	for range n {
		if frozen {
			ss.clock.Advance(shardInterval)
		} else {
			ss.w.Step(shardInterval)
		}
		ss.poll()
	}
}

// poll makes every running shard poll once, without time passing.
func (ss *shardSet) poll() {
	for _, k := range slices.Sorted(maps.Keys(ss.running)) {
		ss.running[k].s.Cycle(context.Background())
	}
}

// events is what was counted, or what should be: finished jobs and
// observed starts by job id, retries by the retry's id.
type events struct{ finished, started, retried map[int64]int }

func newEvents() events {
	return events{finished: map[int64]int{}, started: map[int64]int{}, retried: map[int64]int{}}
}

// counted adds up what every process that ever ran counted.
func (ss *shardSet) counted() events {
	e := newEvents()
	for _, r := range ss.lives {
		r.mu.Lock()
		for id, n := range r.finished {
			e.finished[id] += n
		}
		for id, n := range r.started {
			e.started[id] += n
		}
		for id, n := range r.retried {
			e.retried[id] += n
		}
		r.mu.Unlock()
	}
	return e
}

// truth is what GitLab has: each event once.
func truth(jobs []gitlabtest.JobRecord) events {
	e := newEvents()
	for id := range happened(jobs).finished {
		e.finished[id] = 1
	}
	for id := range happened(jobs).started {
		e.started[id] = 1
	}
	for id := range happened(jobs).retried {
		e.retried[id] = 1
	}
	return e
}

// happened is the set of events in a snapshot of GitLab: jobs finished,
// jobs started, and attempts that retried an earlier one (same pipeline
// and name, lower id).
func happened(jobs []gitlabtest.JobRecord) events {
	e := newEvents()
	type attempt struct {
		pipeline int64
		name     string
	}
	seen := map[attempt]bool{}
	for _, j := range jobs { // sorted by id
		if gitlabapi.JobStatus(j.Status).Finished() {
			e.finished[j.ID] = 1
		}
		if j.StartedAt != nil {
			e.started[j.ID] = 1
		}
		a := attempt{j.PipelineID, j.Name}
		if seen[a] {
			e.retried[j.ID] = 1
		}
		seen[a] = true
	}
	return e
}

// between is what happened in moved projects after snapshot a and up to
// snapshot b: the events a skew between two shards' cut-offs counts twice
// or loses.
func between(a, b []gitlabtest.JobRecord, moved map[int64]bool) events {
	inMoved := func(js []gitlabtest.JobRecord) []gitlabtest.JobRecord {
		return slices.DeleteFunc(slices.Clone(js), func(j gitlabtest.JobRecord) bool { return !moved[j.ProjectID] })
	}
	before, after := happened(inMoved(a)), happened(inMoved(b))
	e := newEvents()
	for _, kind := range []struct{ before, after, out map[int64]int }{
		{before.finished, after.finished, e.finished}, {before.started, after.started, e.started}, {before.retried, after.retried, e.retried},
	} {
		for id := range kind.after {
			if kind.before[id] == 0 {
				kind.out[id] = 1
			}
		}
	}
	return e
}

// diff compares counted events with the truth plus extra (events expected
// once more: counted twice by design) and reports every difference.
func (ss *shardSet) diff(want, extra events) (missing, double int) {
	ss.t.Helper()
	got := ss.counted()
	for _, kind := range []struct {
		name             string
		got, want, extra map[int64]int
	}{
		{"finished", got.finished, want.finished, extra.finished},
		{"started", got.started, want.started, extra.started},
		{"retried", got.retried, want.retried, extra.retried},
	} {
		ids := slices.Sorted(maps.Keys(kind.want))
		for id := range kind.got {
			if kind.want[id] == 0 {
				ids = append(ids, id)
			}
		}
		for _, id := range ids {
			g, w := kind.got[id], kind.want[id]+kind.extra[id]
			if g < kind.want[id] {
				missing += kind.want[id] - g
			}
			if g > kind.want[id] {
				double += g - kind.want[id]
			}
			if g != w {
				ss.t.Errorf("job %d %s: counted %d times, want %d", id, kind.name, g, w)
			}
		}
	}
	return missing, double
}

// owners maps each project to the shard that owns it among total.
func (ss *shardSet) owners(total int) map[int64]int {
	out := map[int64]int{}
	for _, id := range ss.w.ProjectIDs() {
		out[id] = shard.Of(id, total)
	}
	return out
}

func movedProjects(from, to map[int64]int) map[int64]bool {
	out := map[int64]bool{}
	for id, k := range from {
		if to[id] != k {
			out[id] = true
		}
	}
	return out
}

// drain lets parked and running jobs settle: GitLab frozen for longer than
// a parked recheck.
func (ss *shardSet) drain() { ss.cycles(int(12*time.Minute/shardInterval), true) }

// TestShardsSplitTheProjects runs three shards over listed projects (by
// path and by id, one of each unresolvable) and a group: each project is
// polled by exactly its owner, an unresolvable one is shown by exactly one
// shard, a numeric reference is looked up by its owner only, and together
// the shards count every job exactly once.
func TestShardsSplitTheProjects(t *testing.T) {
	ss := newShardSet(t, 3000)
	byPath := ss.gl.CreateProject("other/listed", gitlabtest.ProjectOptions{})
	byID := ss.gl.CreateProject("other/by-id", gitlabtest.ProjectOptions{})
	for _, id := range []int64{byPath, byID} {
		p := ss.gl.CreatePipeline(id, "main", gitlabtest.PipelineOptions{})
		job := ss.gl.CreateJob(p, gitlabtest.JobSpec{Name: "build", Stage: "build"})
		if err := ss.gl.Enqueue(job); err != nil {
			t.Fatal(err)
		}
	}
	ss.opts.Projects = []string{"other/listed", strconv.FormatInt(byID, 10), "other/typo", "999999"}
	const total = 3
	for k := range total {
		ss.start(k, total)
	}
	ss.gl.ResetRequests()
	ss.cycles(10, false)
	ss.drain()

	lookups := map[string]int{}
	for _, r := range ss.gl.Requests() {
		if r.Endpoint == "/projects/:id" {
			lookups[r.Path]++
		}
	}
	all := append(ss.w.ProjectIDs(), byPath, byID)
	for _, id := range all {
		owner, path := shard.Of(id, total), ss.path(id)
		for k, p := range ss.running {
			polls := len(p.rec.polls[path])
			if (k == owner) != (polls > 0) {
				t.Errorf("project %s (id %d, owner %d): shard %d polled it %d times", path, id, owner, k, polls)
			}
		}
	}
	for k, p := range ss.running {
		owned := 0
		for _, id := range all {
			if p.sh.Owns(id) {
				owned++
			}
		}
		if p.rec.projects != owned {
			t.Errorf("shard %d reports %d projects polled, owns %d", k, p.rec.projects, owned)
		}
		if owned == 0 {
			t.Errorf("shard %d owns none of %d projects: the test shows nothing", k, len(all))
		}
	}
	for _, ref := range []string{"other/typo", "999999"} {
		var shownBy []int
		for k, p := range ss.running {
			for _, u := range p.rec.unresolved {
				if u == ref+" not_found" {
					shownBy = append(shownBy, k)
					break
				}
			}
		}
		if len(shownBy) != 1 {
			t.Errorf("unresolvable %q shown as down by shards %v, want exactly one", ref, shownBy)
		}
	}
	// A path is resolved by every shard, an id by its owner only, at each
	// discovery (every 5 minutes).
	const discoveries = 2 + int(12*time.Minute/(5*time.Minute))
	for path, want := range map[string]int{
		"/api/v4/projects/other%2Flisted":                 total * discoveries,
		"/api/v4/projects/" + strconv.FormatInt(byID, 10): discoveries,
		"/api/v4/projects/999999":                         discoveries,
	} {
		if lookups[path] != want {
			t.Errorf("%s requested %d times, want %d (all lookups: %v)", path, lookups[path], want, lookups)
		}
	}
	if missing, double := ss.diff(truth(ss.gl.Jobs()), newEvents()); missing+double != 0 {
		t.Errorf("the shards together missed %d events and counted %d twice", missing, double)
	}
}

// TestReshardCountsEveryEventOnce scales three shards to four with every
// shard starting with the new total at the same moment, while jobs keep
// running: the old owners' last polls and the new owner's first ones meet
// at one cut-off, and every event is counted exactly once.
func TestReshardCountsEveryEventOnce(t *testing.T) {
	ss := newShardSet(t, 4000)
	for k := range 3 {
		ss.start(k, 3)
	}
	ss.cycles(20, false)
	// Mid-traffic, between two steps: jobs run, manual ones wait.
	for k := range 3 {
		ss.restart(k, 4)
	}
	ss.start(3, 4)
	ss.poll()
	moved := movedProjects(ss.owners(3), ss.owners(4))
	if len(moved) == 0 {
		t.Fatal("no project moves from 3 to 4 shards: the test shows nothing")
	}
	ss.cycles(20, false)
	ss.drain()
	missing, double := ss.diff(truth(ss.gl.Jobs()), newEvents())
	t.Logf("3 → 4 shards, %d of %d projects moved: %d events missing, %d counted twice", len(moved), shardProjects, missing, double)
	ss.checkHandedOver(moved, 4)
}

// checkHandedOver checks that each moved project's state went from its old
// owner's volume to its new owner's, and that only the new owner exports
// its gauges. (The volume of a pod scaled away is deleted with it.)
func (ss *shardSet) checkHandedOver(moved map[int64]bool, total int) {
	ss.t.Helper()
	for id := range moved {
		owner := shard.Of(id, total)
		for k := range ss.running {
			_, err := os.Stat(filepath.Join(ss.dirs[k], "projects", fmt.Sprintf("%d.json", id)))
			if has := err == nil; has != (k == owner) {
				ss.t.Errorf("moved project %d (owner %d of %d): shard %d has a state file: %v", id, owner, total, k, has)
			}
		}
	}
	for k, p := range ss.running {
		for path := range p.rec.active {
			id := ss.projectID(path)
			if !p.sh.Owns(id) && !slices.Contains(p.rec.handedOver, path) {
				ss.t.Errorf("shard %d shows unfinished jobs of %s, owned by shard %d, and never handed it over", k, path, shard.Of(id, total))
			}
		}
	}
}

func (ss *shardSet) projectID(path string) int64 {
	ss.t.Helper()
	p, err := ss.client.Project(context.Background(), path)
	if err != nil {
		ss.t.Fatalf("looking up %s: %v", path, err)
	}
	return p.ID
}

func (ss *shardSet) path(id int64) string {
	ss.t.Helper()
	p, err := ss.client.Project(context.Background(), strconv.FormatInt(id, 10))
	if err != nil {
		ss.t.Fatalf("looking up project %d: %v", id, err)
	}
	return p.PathWithNamespace
}

// TestReshardSkew replays the two orders in which a StatefulSet changes
// the number of shards, one pod after the other, and checks that the
// difference from GitLab is exactly the documented bound: the events of
// moved projects between the two shards' starts with the new total.
func TestReshardSkew(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to int
		// first happens at t1 and last at t2, skew cycles later.
		first, last func(ss *shardSet)
		// Whether the window's events are counted twice (else lost).
		twice bool
	}{
		{
			// The new pod starts first; the old ones restart one by one.
			name: "scale up: the new owner starts first", from: 3, to: 4, twice: true,
			first: func(ss *shardSet) { ss.start(3, 4) },
			last: func(ss *shardSet) {
				for k := 2; k >= 0; k-- {
					ss.restart(k, 4)
				}
			},
		},
		{
			// The last pod goes first; the others restart one by one.
			name: "scale down: the old owner stops first", from: 4, to: 3, twice: false,
			first: func(ss *shardSet) { ss.stop(3) },
			last: func(ss *shardSet) {
				for k := 2; k >= 0; k-- {
					ss.restart(k, 3)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := newShardSet(t, 4000)
			for k := range tc.from {
				ss.start(k, tc.from)
			}
			ss.cycles(20, false)
			const skew = 4
			moved := movedProjects(ss.owners(tc.from), ss.owners(tc.to))
			t1 := ss.gl.Jobs()
			tc.first(ss)
			ss.poll()
			ss.cycles(skew, false)
			t2 := ss.gl.Jobs()
			tc.last(ss)
			ss.poll()
			ss.cycles(20, false)
			ss.drain()

			window := between(t1, t2, moved)
			want, extra := truth(ss.gl.Jobs()), newEvents()
			if tc.twice {
				extra = window
			} else {
				for _, kind := range []struct{ want, window map[int64]int }{
					{want.finished, window.finished}, {want.started, window.started}, {want.retried, window.retried},
				} {
					for id := range kind.window {
						delete(kind.want, id)
					}
				}
			}
			n := len(window.finished) + len(window.started) + len(window.retried)
			if n == 0 {
				t.Fatal("nothing happened in moved projects during the skew: the test shows nothing")
			}
			ss.diff(want, extra)
			missing, double := 0, 0
			if tc.twice {
				double = n
			} else {
				missing = n
			}
			t.Logf("%d → %d shards, %d of %d projects moved, %s between the two cut-offs: %d events missing, %d counted twice (%d finished, %d starts, %d retries in the window)",
				tc.from, tc.to, len(moved), shardProjects, time.Duration(skew)*shardInterval, missing, double,
				len(window.finished), len(window.started), len(window.retried))
			ss.checkHandedOver(moved, tc.to)
		})
	}
}

// TestHandOverCutOffOnAFirstWalk checks that a zero ShardSince (never
// sharded) or one older than the lookback walks back the lookback as
// always, and one within it counts only what finished after it.
func TestHandOverCutOffOnAFirstWalk(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sinceAgo  time.Duration // 0: zero ShardSince
		wantCount int
	}{
		{"never sharded: the whole lookback", 0, 3},
		{"cut-off older than the lookback: the whole lookback", 3 * time.Hour, 3},
		{"cut-off within the lookback: what finished after it", 10 * time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, []string{"g/a"}, scraper.Options{})
			ids := e.pipelineOfJobs(1, 3)
			for _, id := range ids {
				e.clock.Advance(10 * time.Minute)
				e.run(id, "success")
			}
			// Now 36 minutes in; they finished 26, 15 and 5 minutes ago.
			e.clock.Advance(5 * time.Minute)
			if tc.sinceAgo > 0 {
				e.opts.ShardSince = e.clock.Now().Add(-tc.sinceAgo)
			}
			e.opts.Store = newStore(t, t.TempDir(), e.gl.URL())
			e.restart()
			e.cycle(time.Second)
			if got := e.totalFinished(); got != tc.wantCount {
				t.Errorf("counted %d finished jobs, want %d", got, tc.wantCount)
			}
		})
	}
}

// TestReshardKeepsTheCutOffOfAProjectThatStays: a project that stays with
// its shard when the total changes is resumed from its saved state, even
// one saved before the project had any job; what happened while the shard
// restarted is counted, not taken for the old owner's.
func TestReshardKeepsTheCutOffOfAProjectThatStays(t *testing.T) {
	e := newEnv(t, []string{"g/a"}, scraper.Options{})
	const id = 1 // shard 2 of 3, and of 4
	if shard.Of(id, 3) != 2 || shard.Of(id, 4) != 2 {
		t.Fatalf("project %d is owned by shard %d of 3 and %d of 4; the test needs one that stays", id, shard.Of(id, 3), shard.Of(id, 4))
	}
	store := newStore(t, t.TempDir(), e.gl.URL())
	startAs := func(index, total int) {
		t.Helper()
		since, err := store.ShardSince(index, total, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.opts.Store, e.opts.Shard, e.opts.ShardSince = store, shard.Shard{Index: index, Total: total}, since
		e.restart()
	}
	startAs(2, 3)
	e.cycle(time.Second) // no job yet: a state without a high-water mark
	// Down for a while: the project's first jobs run and finish.
	e.clock.Advance(5 * time.Minute)
	for _, j := range e.pipelineOfJobs(id, 3) {
		e.run(j, "success")
	}
	e.clock.Advance(5 * time.Minute)
	startAs(2, 4)
	e.cycle(time.Second)
	e.cycle(30 * time.Second)
	if n := e.totalFinished(); n != 3 {
		t.Errorf("counted %d finished jobs, want the 3 that finished while the shard restarted", n)
	}
	e.assertExactlyOnce(epoch)
}
