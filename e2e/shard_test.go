//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// shardedGitLab is the fake GitLab with a user and token per shard, as the
// README advises (separate users, separate rate limits), so that its
// request log says which exporter process made each request. It can hold
// one user's requests, to stop that process between two polls.
type shardedGitLab struct {
	*gitlabtest.Server
	users map[string]string // token → user

	mu     sync.Mutex
	held   map[string]chan struct{} // user → closed on release
	counts map[string]map[int64]int // user → project → requests being held
}

// shardedPollInterval is the shards' poll.interval.
const shardedPollInterval = time.Second

func shardToken(k int) string { return fmt.Sprintf("glpat-e2e-shard-%d-token", k) }
func shardUser(k int) string  { return fmt.Sprintf("shard-%d", k) }

func newShardedGitLab(t *testing.T, maxShards int) *shardedGitLab {
	t.Helper()
	users := map[string]string{}
	for k := range maxShards {
		users[shardToken(k)] = shardUser(k)
	}
	g := &shardedGitLab{
		Server: gitlabtest.NewHandler(gitlabtest.Options{Token: newToken(t), Users: users}),
		users:  users, held: map[string]chan struct{}{}, counts: map[string]map[int64]int{},
	}
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	t.Cleanup(g.Close)
	g.SetBaseURL(ts.URL)
	return g
}

var projectInPath = regexp.MustCompile(`^/api/v4/projects/(\d+)/`)

func (g *shardedGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := g.users[r.Header.Get("PRIVATE-TOKEN")]
	g.mu.Lock()
	release := g.held[user]
	var project int64
	if release != nil {
		if m := projectInPath.FindStringSubmatch(r.URL.EscapedPath()); m != nil {
			project, _ = strconv.ParseInt(m[1], 10, 64)
			g.counts[user][project]++
		}
	}
	g.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		g.mu.Lock()
		if project != 0 {
			g.counts[user][project]--
		}
		g.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
	}
	g.Handler().ServeHTTP(w, r)
}

// hold makes the user's requests wait until release.
func (g *shardedGitLab) hold(user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held[user] = make(chan struct{})
	g.counts[user] = map[int64]int{}
}

func (g *shardedGitLab) release(user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.held[user]; c != nil {
		close(c)
		delete(g.held, user)
	}
}

// heldProjects returns the projects with a request of the user being held.
func (g *shardedGitLab) heldProjects(user string) map[int64]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[int64]bool{}
	for id, n := range g.counts[user] {
		if n > 0 {
			out[id] = true
		}
	}
	return out
}

// shardedSetup is one configuration for every shard: a group with projects
// in a subgroup too, a project listed by path and one by id, and a token
// file per shard.
type shardedSetup struct {
	t         *testing.T
	gl        *shardedGitLab
	cfgFile   string
	tokensDir string         // a token file per shard
	dirs      map[int]string // storage by shard index
	projects  map[int64]string
}

func newShardedSetup(t *testing.T, maxShards int) *shardedSetup {
	t.Helper()
	gl := newShardedGitLab(t, maxShards)
	s := &shardedSetup{t: t, gl: gl, dirs: map[int]string{}, projects: map[int64]string{}}
	for i := 1; i <= 12; i++ {
		path := fmt.Sprintf("acme/app-%d", i)
		if i > 9 {
			path = fmt.Sprintf("acme/platform/svc-%d", i)
		}
		s.projects[gl.CreateProject(path, gitlabtest.ProjectOptions{})] = path
	}
	byID := gl.CreateProject("solo/by-id", gitlabtest.ProjectOptions{})
	s.projects[byID] = "solo/by-id"
	s.projects[gl.CreateProject("solo/by-path", gitlabtest.ProjectOptions{})] = "solo/by-path"

	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	s.tokensDir = tokens
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	for k := range maxShards {
		writeFile(t, filepath.Join(tokens, shardUser(k)), shardToken(k)+"\n")
		s.dirs[k] = t.TempDir() // the pod's volume
	}
	s.cfgFile = filepath.Join(dir, "config.yml")
	// The traffic makes a pipeline every 50 ms; with a fetch for each
	// pipeline's result besides its bridge list, a shard would need more
	// than the client's default 10 requests a second. These tests count
	// jobs across reshards; the pipeline families are off here, so the
	// shards run at the pace they are tested at.
	writeFile(t, s.cfgFile, fmt.Sprintf(`gitlab:
  url: %s
  token_file: tokens/shard-{shard}
poll:
  interval: %s
discovery:
  interval: 5s
projects:
  - solo/by-path
  - "%d"
groups:
  - path: acme
metrics:
  pipeline_duration: {enabled: false}
  pipeline_wall_time: {enabled: false}
  pipeline_queued_duration: {enabled: false}
  pipelines_finished: {enabled: false}
  pipeline_reruns: {enabled: false}
  last_pipeline: {enabled: false}
  pipelines: {enabled: false}
`, gl.URL(), shardedPollInterval, byID))
	return s
}

func (s *shardedSetup) ids() []int64 { return slices.Sorted(maps.Keys(s.projects)) }

// owned returns the paths of the projects shard k of n owns.
func (s *shardedSetup) owned(k, n int) []string {
	var out []string
	for _, id := range s.ids() {
		if shard.Of(id, n) == k {
			out = append(out, s.projects[id])
		}
	}
	return out
}

// startShard runs shard k of n on its storage directory, with no
// GITLAB_TOKEN so that it reads its own token file, and waits until it is
// ready: every project it owns polled once.
func (s *shardedSetup) startShard(k, n int) *exporter {
	s.t.Helper()
	p := start(s.t, fmt.Sprintf("shard %d of %d", k, n), bins.exporter, []string{"GITLAB_TOKEN="},
		"--config.file="+s.cfgFile, "--web.listen-address=127.0.0.1:0", "--storage.path="+s.dirs[k],
		fmt.Sprintf("--shard=%d", k), fmt.Sprintf("--total-shards=%d", n))
	e := &exporter{process: p, base: "http://" + p.find(s.t, listeningOn, 30*time.Second)}
	waitHTTP200(s.t, e.base+"/-/ready", 30*time.Second, p)
	return e
}

// since reads when shard k took on its share, from its shard record.
func (s *shardedSetup) since(k int) time.Time {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dirs[k], "shard.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	var rec struct {
		Since time.Time `json:"since"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		s.t.Fatal(err)
	}
	return rec.Since
}

// stopBetweenPolls stops shard k while none of its polls can complete: its
// requests are held until every project it owns has one waiting, so the
// page it then serves counts everything it will ever have counted. It
// returns that page.
func (s *shardedSetup) stopBetweenPolls(e *exporter, k, n int) families {
	s.t.Helper()
	user := shardUser(k)
	s.gl.hold(user)
	defer s.gl.release(user)
	want := map[int64]bool{}
	for _, id := range s.ids() {
		if shard.Of(id, n) == k {
			want[id] = true
		}
	}
	waitFor(s.t, 30*time.Second, fmt.Sprintf("a request of every project of shard %d held", k), func() (bool, string) {
		held := s.gl.heldProjects(user)
		for id := range want {
			if !held[id] {
				return false, fmt.Sprintf("held %v of %v", slices.Sorted(maps.Keys(held)), slices.Sorted(maps.Keys(want)))
			}
		}
		return true, ""
	}, e.process)
	page := scrapeExporter(s.t, e)
	e.stop()
	return page
}

// tally is what /metrics pages say was counted, per project.
type tally struct {
	finished map[string]int // "project status"
	started  map[string]int
	retried  map[string]int
}

func newTally() tally {
	return tally{finished: map[string]int{}, started: map[string]int{}, retried: map[string]int{}}
}

func (t tally) add(f families) {
	for _, m := range f["gitlab_ci_job_duration_seconds"].GetMetric() {
		l := labelsOf(m)
		t.finished[l["project"]+" "+l["status"]] += int(m.GetHistogram().GetSampleCount())
	}
	for _, m := range f["gitlab_ci_job_queued_duration_seconds"].GetMetric() {
		t.started[labelsOf(m)["project"]] += int(m.GetHistogram().GetSampleCount())
	}
	for _, m := range f["gitlab_ci_job_retries_total"].GetMetric() {
		t.retried[labelsOf(m)["project"]] += int(value(m))
	}
}

// truthTally is GitLab's ground truth in the same form.
func truthTally(jobs []gitlabtest.JobRecord) tally {
	t := newTally()
	for _, j := range jobs {
		if gitlabapi.JobStatus(j.Status).Finished() {
			t.finished[j.ProjectPath+" "+j.Status]++
		}
		if j.StartedAt != nil && j.QueuedDuration != nil {
			t.started[j.ProjectPath]++
		}
		if j.Retried {
			t.retried[j.ProjectPath]++
		}
	}
	return t
}

// compare returns, per project, counted minus GitLab's events, and the
// differences by kind for messages.
func compare(got, want tally) (map[string]int, map[string]string) {
	out, detail := map[string]int{}, map[string]string{}
	for _, kind := range []struct {
		name      string
		got, want map[string]int
	}{{"finished", got.finished, want.finished}, {"started", got.started, want.started}, {"retried", got.retried, want.retried}} {
		keys := map[string]bool{}
		for k := range kind.want {
			keys[k] = true
		}
		for k := range kind.got {
			keys[k] = true
		}
		for k := range keys {
			project := strings.Fields(k)[0]
			d := kind.got[k] - kind.want[k]
			out[project] += d
			if d != 0 {
				detail[project] += fmt.Sprintf(" %s %s %+d;", kind.name, strings.TrimPrefix(k, project), d)
			}
		}
	}
	return out, detail
}

// TestShardedExportersSplitTheWork runs three exporter processes with
// --total-shards=3 over one configuration (a group with a subgroup, a
// project listed by path and one by id), each with its own token, while
// CI jobs run. From the fake's request log every project is polled by
// exactly one process, its owner; the union of the three /metrics pages is
// GitLab's ground truth exactly; and once GitLab is quiet, the three
// together make one request per project per poll.
func TestShardedExportersSplitTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three exporters for about 25 s")
	}
	t.Parallel()
	const n = 3
	s := newShardedSetup(t, n)
	shards := make([]*exporter, n)
	for k := range n {
		shards[k] = s.startShard(k, n)
	}
	work := startTraffic(t, s.gl.Server, s.ids(), 14)
	// Jobs run for a few polls, counted as they go.
	waitFullPoll(t, shards[0], s.owned(0, n)...)
	waitFullPoll(t, shards[0], s.owned(0, n)...)
	work.end()
	for k, e := range shards {
		waitFullPoll(t, e, s.owned(k, n)...)
	}

	t.Run("each project polled by its owner only", func(t *testing.T) {
		polledBy := map[int64]map[string]int{}
		for _, r := range s.gl.Requests() {
			if r.ProjectID == 0 || r.Endpoint == "/projects/:id" { // discovery's lookups are not polls
				continue
			}
			if polledBy[r.ProjectID] == nil {
				polledBy[r.ProjectID] = map[string]int{}
			}
			polledBy[r.ProjectID][r.User]++
		}
		for _, id := range s.ids() {
			owner := shardUser(shard.Of(id, n))
			if by := polledBy[id]; len(by) != 1 || by[owner] == 0 {
				t.Errorf("project %s (id %d) polled by %v, want by %s only", s.projects[id], id, by, owner)
			}
		}
	})

	var pages []families
	for _, e := range shards {
		pages = append(pages, scrapeExporter(t, e))
	}
	t.Run("the union of /metrics is GitLab's ground truth", func(t *testing.T) {
		got := newTally()
		for _, p := range pages {
			got.add(p)
		}
		want := truthTally(s.gl.Jobs())
		if len(want.finished) == 0 {
			t.Fatal("no job finished: the test shows nothing")
		}
		diff, detail := compare(got, want)
		for project, d := range diff {
			if d != 0 {
				t.Errorf("%s: counted %+d events against GitLab:%s", project, d, detail[project])
			}
		}
		var counted, finished int
		for _, v := range got.finished {
			counted += v
		}
		for _, v := range want.finished {
			finished += v
		}
		t.Logf("3 shards counted %d finished jobs; GitLab has %d", counted, finished)
	})

	t.Run("each shard's self-metrics: its share, its place, one project_up per project", func(t *testing.T) {
		up := map[string]int{}
		for k, p := range pages {
			owned := s.owned(k, n)
			if got := p.sumValues("gitlab_jobs_exporter_projects"); got != float64(len(owned)) {
				t.Errorf("shard %d: gitlab_jobs_exporter_projects %v, owns %d", k, got, len(owned))
			}
			info := p["gitlab_jobs_exporter_shard_info"].GetMetric()
			if len(info) != 1 || labelsOf(info[0])["shard"] != strconv.Itoa(k) || labelsOf(info[0])["total_shards"] != "3" || value(info[0]) != 1 {
				t.Errorf("shard %d: shard_info %v", k, info)
			}
			for project := range p.byLabel("gitlab_jobs_exporter_project_up", "project") {
				up[project]++
			}
			if got := p.sumValues("gitlab_jobs_exporter_group_up"); got != 1 {
				t.Errorf("shard %d: group_up %v, want 1: every shard lists the group", k, got)
			}
		}
		for _, id := range s.ids() {
			if up[s.projects[id]] != 1 {
				t.Errorf("%s has %d project_up series across the shards, want 1", s.projects[id], up[s.projects[id]])
			}
		}
		if len(up) != len(s.projects) {
			t.Errorf("project_up series for %d projects, there are %d", len(up), len(s.projects))
		}
	})

	t.Run("together one request per idle project per poll", func(t *testing.T) {
		before := len(s.gl.Requests())
		pollsBefore := unionPolls(t, shards)
		for k, e := range shards {
			waitFullPoll(t, e, s.owned(k, n)...)
			waitFullPoll(t, e, s.owned(k, n)...)
		}
		pollsAfter := unionPolls(t, shards)
		requests := map[string]int{}
		for _, r := range s.gl.Requests()[before:] {
			if r.ProjectID == 0 || r.Endpoint == "/projects/:id" {
				continue
			}
			// An idle poll reads the first page of the job list, and nothing
			// else: no second page (cursor), no scoped walk, no pipeline.
			if r.Endpoint != "/projects/:id/jobs" || r.Query.Has("cursor") || r.Query.Has("scope[]") {
				t.Errorf("an idle project's poll requested %s %s?%s", r.Endpoint, r.Path, r.Query.Encode())
			}
			requests[s.projects[r.ProjectID]]++
		}
		var sumRequests, sumPolls int
		for _, id := range s.ids() {
			path := s.projects[id]
			polls := int(pollsAfter[path] - pollsBefore[path])
			sumRequests += requests[path]
			sumPolls += polls
			// The log and the pages are read at slightly different moments,
			// before and after: at each end one poll may fall on either
			// side (a request logged before its poll is counted).
			if d := requests[path] - polls; d < -2 || d > 2 {
				t.Errorf("%s: %d requests for %d polls", path, requests[path], polls)
			}
		}
		t.Logf("idle: %d requests for %d polls of %d projects by 3 shards (%.3f per poll)", sumRequests, sumPolls, len(s.projects),
			float64(sumRequests)/float64(sumPolls))
	})
}

// unionPolls adds up polls_total per project over the shards' pages.
func unionPolls(t *testing.T, shards []*exporter) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, e := range shards {
		for p, v := range pollsTotal(t, e) {
			out[p] += v
		}
	}
	return out
}

// TestReshardThreeToFour changes three shards into four while CI jobs keep
// running, in the two orders Kubernetes can do it, and adds up every count
// of every process to compare it with GitLab. Projects that stay with
// their shard are exact; a moved project is off only by what happened
// between the new owner's start and the old owner's restart (the
// documented bound): counted twice when the new owner started first, lost
// when it started last.
//
//   - A rolling update: the new pod 3 starts with --total-shards=4, then
//     pods 2, 1 and 0 restart with it one at a time, each once the previous
//     one is ready: the window is the whole roll.
//   - All pods restarted together (the shipped StatefulSet: OnDelete and
//     Parallel, then every pod deleted at once): the window is the spread
//     of their starts.
func TestReshardThreeToFour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs seven exporter processes for about 50 s")
	}
	t.Parallel()
	for _, together := range []bool{false, true} {
		name := map[bool]string{false: "rolling update", true: "all pods restarted together"}[together]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reshardThreeToFour(t, together)
		})
	}
}

func reshardThreeToFour(t *testing.T, together bool) {
	s := newShardedSetup(t, 4)
	old := make([]*exporter, 3)
	for k := range 3 {
		old[k] = s.startShard(k, 3)
	}
	work := startTraffic(t, s.gl.Server, s.ids(), 34)
	waitFullPoll(t, old[0], s.owned(0, 3)...)

	got := newTally()
	shards := make([]*exporter, 4)
	if together {
		pages := make([]families, 3)
		each(t, 3, func(k int) { pages[k] = s.stopBetweenPolls(old[k], k, 3) })
		for _, p := range pages {
			got.add(p)
		}
		each(t, 4, func(k int) { shards[k] = s.startShard(k, 4) })
	} else {
		shards[3] = s.startShard(3, 4)
		for k := 2; k >= 0; k-- {
			waitFullPoll(t, old[k], s.owned(k, 3)...) // jobs keep finishing meanwhile
			got.add(s.stopBetweenPolls(old[k], k, 3))
			shards[k] = s.startShard(k, 4)
		}
	}
	work.end()
	for k, e := range shards {
		waitFullPoll(t, e, s.owned(k, 4)...)
	}
	for _, e := range shards {
		got.add(scrapeExporter(t, e))
	}

	jobs := s.gl.Jobs()
	want := truthTally(jobs)
	bound := map[string]int{}
	moved := 0
	for _, id := range s.ids() {
		from, to := shard.Of(id, 3), shard.Of(id, 4)
		if from == to {
			continue
		}
		if to != 3 {
			t.Errorf("project %d moved from shard %d to %d: growing the set may move projects only to the new shard", id, from, to)
		}
		moved++
		lo, hi := s.since(3), s.since(from)
		if hi.Before(lo) {
			lo, hi = hi, lo
		}
		bound[s.projects[id]] = windowEvents(jobs, id, lo, hi, work.skippedAt())
	}
	if moved == 0 {
		t.Fatal("no project moved: the test shows nothing")
	}
	var missing, double, limit, total int
	diff, detail := compare(got, want)
	for project, d := range diff {
		switch {
		case d < 0 && !together:
			// The old owner counts until it restarts, long after the new
			// owner started: nothing can fall between them.
			t.Errorf("%s: %d events not counted:%s", project, -d, detail[project])
		case d > bound[project] || -d > bound[project]:
			t.Errorf("%s: %+d events against GitLab, more than the %d between its two cut-offs:%s", project, d, bound[project], detail[project])
		}
		if d > 0 {
			double += d
		} else {
			missing -= d
		}
	}
	for _, b := range bound {
		limit += b
	}
	for _, v := range want.finished {
		total += v
	}
	var skew time.Duration
	for k := range 3 {
		skew = max(skew, s.since(k).Sub(s.since(3)).Abs())
	}
	t.Logf("3 → 4 shards while jobs finish, %s: %d of %d projects moved, cut-offs up to %s apart; GitLab has %d finished jobs; difference: %d events missing, %d counted twice; bound %d (events of moved projects between their two cut-offs)",
		map[bool]string{false: "rolling update", true: "all pods restarted together"}[together],
		moved, len(s.projects), skew.Round(time.Millisecond), total, missing, double, limit)
}

// each runs f(0) … f(n-1) at once and waits for all of them; if one
// failed the test, the test stops there.
func each(t *testing.T, n int, f func(k int)) {
	t.Helper()
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(k)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// windowEvents counts the events of a project between two cut-offs: jobs
// finished, jobs started and retries. A skipped job has no finished_at, so
// its skip falls to whichever shard saw it first: it counts if it happened
// up to two poll intervals after the later cut-off, by when both shards
// have polled the project.
func windowEvents(jobs []gitlabtest.JobRecord, project int64, from, to time.Time, skipped map[int64]time.Time) int {
	in := func(at time.Time, until time.Time) bool { return at.After(from) && !at.After(until) }
	n := 0
	latest := map[string]int64{} // pipeline and name → the newest attempt so far
	for _, j := range jobs {     // by id: a retry comes after what it retried
		if j.ProjectID != project {
			continue
		}
		key := fmt.Sprint(j.PipelineID, j.Name)
		if _, retry := latest[key]; retry && in(j.CreatedAt, to) {
			n++
		}
		latest[key] = j.ID
		if j.StartedAt != nil && in(*j.StartedAt, to) {
			n++
		}
		switch {
		case j.FinishedAt != nil && in(*j.FinishedAt, to):
			n++
		case j.FinishedAt == nil && j.Status == "skipped" && in(skipped[j.ID], to.Add(2*shardedPollInterval)):
			n++
		}
	}
	return n
}

// TestShardFlags: --help documents the shard flags, and a shard that is not
// one of the shards stops the start with a message naming both flags.
func TestShardFlags(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "config.yml")
	writeFile(t, file, "gitlab:\n  url: https://gitlab.example.com\nprojects: [group/app]\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "--total-shards=1"},
		{[]string{"--help"}, 0, "--shard=0"},
		{[]string{"--shard=3", "--total-shards=3"}, 1, "--shard=3 is not one of the 3 shards of --total-shards=3: it must be 0 to 2"},
		{[]string{"--shard=-1", "--total-shards=2"}, 1, "--shard=-1 is not one of the 2 shards"},
		{[]string{"--total-shards=0"}, 1, "--total-shards=0: there must be at least one shard"},
		{[]string{"--shard=1", "--total-shards=2", "--config.check"}, 0, "is valid"},
	} {
		cmd := exec.Command(bins.exporter, append([]string{"--config.file=" + file, "--web.listen-address=127.0.0.1:0"}, tc.args...)...)
		cmd.Env = append(os.Environ(), "GITLAB_TOKEN="+newToken(t))
		cmd.Dir = t.TempDir()
		setProcAttr(cmd)
		out, _ := runTimeout(t, cmd, 30*time.Second)
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit code %d, want %d, and output containing %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
}
