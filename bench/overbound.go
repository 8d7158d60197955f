package bench

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// RequestDetail is one request of a poll as the fake logged it: what the
// bench prints to explain a poll above its bound.
type RequestDetail struct {
	Method   string `json:"method"`
	Endpoint string `json:"endpoint"`
	Path     string `json:"path"`
	Query    string `json:"query,omitempty"`
	Status   int    `json:"status"`
	// Job is the fake's current record of the job a /jobs/:job_id path
	// names.
	Job *JobTruth `json:"job,omitempty"`
}

// JobTruth is the little of a job's ground truth a request line shows.
type JobTruth struct {
	ID         int64      `json:"id"`
	PipelineID int64      `json:"pipeline_id"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// requestLogLimit is how many requests the fake keeps in its log: a
// steady-state cycle's worth at least (about 1.5 per project at most), so
// that a poll of the cycle just run can be looked up. The first cycle,
// which walks the whole lookback, is never looked up.
func requestLogLimit(sc Scenario) int { return max(1024, 4*sc.Projects) }

// pollRequests returns the requests for project among the last `last` the
// fake answered, and whether the log still held all of those.
func (g *localGitLab) pollRequests(project int64, last int) ([]RequestDetail, bool) {
	recs := g.srv.Requests()
	complete := last <= len(recs)
	recs = recs[len(recs)-min(last, len(recs)):]
	var out []RequestDetail
	for _, r := range recs {
		if r.ProjectID != project {
			continue
		}
		d := RequestDetail{Method: r.Method, Endpoint: r.Endpoint, Path: strings.TrimPrefix(r.Path, "/api/v4"),
			Query: compactQuery(r.Query), Status: r.Status}
		if r.Endpoint == gitlabtest.EndpointProjectJob {
			id, err := strconv.ParseInt(r.Path[strings.LastIndexByte(r.Path, '/')+1:], 10, 64)
			if j, ok := g.srv.Job(id); err == nil && ok {
				d.Job = &JobTruth{ID: j.ID, PipelineID: j.PipelineID, Name: j.Name, Status: j.Status,
					CreatedAt: j.CreatedAt, FinishedAt: j.FinishedAt}
			}
		}
		out = append(out, d)
	}
	return out, complete
}

// compactQuery writes a query as key=v1,v2 pairs in key order, unescaped,
// without the keyset parameters every job list has: the line is long
// enough with the scope list of a scoped walk.
func compactQuery(q url.Values) string {
	keys := slices.Sorted(maps.Keys(q))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		switch k {
		case "order_by", "pagination", "sort":
			continue
		}
		parts = append(parts, k+"="+strings.Join(q[k], ","))
	}
	return strings.Join(parts, "&")
}

// maxExplained caps the polls above their bound that a run explains in its
// log, idle and busy apart; the report counts them all.
var maxExplained = map[bool]int{true: 2, false: 3} // by idle

// overPoll is a poll above its bound, with the harness's view of it.
type overPoll struct {
	cycle    int
	project  int64
	idle     bool
	requests int
	bound    int
	before   follows // what the previous poll left followed
	after    follows
	change   *projectChange // nil: the workload changed nothing in the project
	late     []int64        // pipelines of parked jobs this poll first saw moved on in an earlier step
	// lastChange is the cycle before this one in which the workload last
	// changed the project (0: none since the first).
	lastChange int
}

// explain logs a poll above its bound, one line: the project, the
// harness's view, and each request the fake logged for it in the cycle
// just run (cycleRequests of them in all projects).
func (h *harness) explain(o overPoll, cycleRequests int) {
	if h.explained[o.idle] >= maxExplained[o.idle] || h.opt.Log == nil {
		return
	}
	h.explained[o.idle]++
	kind := "busy"
	if o.idle {
		kind = "idle"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: cycle %d: %s poll above its bound: project %d %s, %d requests, bound %d; followed before: %s, after: %s; changes: ",
		h.sc.Name, o.cycle, kind, o.project, h.rec.path(o.project), o.requests, o.bound, o.before, o.after)
	if o.change == nil {
		b.WriteString("none")
		if o.lastChange > 0 {
			fmt.Fprintf(&b, " (last in cycle %d)", o.lastChange)
		}
	} else {
		ids := sortedIDs(o.change.pipelines)
		fmt.Fprintf(&b, "%d new jobs, pipelines %v", o.change.newJobs, ids)
	}
	if len(o.late) > 0 {
		fmt.Fprintf(&b, "; parked jobs seen moved on earlier in pipelines %v", slices.Sorted(slices.Values(o.late)))
	}
	reqs, complete, err := h.gl.PollRequests(o.project, cycleRequests)
	switch {
	case err != nil:
		fmt.Fprintf(&b, "; requests unknown: %v", err)
	case !complete:
		b.WriteString("; the fake's log did not hold the whole cycle")
	}
	const maxShown = 12
	for i, r := range reqs {
		if i == maxShown {
			fmt.Fprintf(&b, " | … %d more", len(reqs)-maxShown)
			break
		}
		fmt.Fprintf(&b, " | %s %s", r.Method, r.Path)
		if r.Query != "" {
			b.WriteString("?" + r.Query)
		}
		fmt.Fprintf(&b, " %d", r.Status)
		if j := r.Job; j != nil {
			fmt.Fprintf(&b, " (%s %q, pipeline %d, %s, created %s ago", j.Status, j.Name, j.PipelineID,
				h.rec.parkedWord(j.ID), h.clock.Now().Sub(j.CreatedAt).Round(time.Second))
			if j.FinishedAt != nil {
				fmt.Fprintf(&b, ", finished %s ago", h.clock.Now().Sub(*j.FinishedAt).Round(time.Second))
			}
			b.WriteString(")")
		}
	}
	h.logf("%s", b.String())
}

func sortedIDs(set map[int64]bool) []int64 {
	return slices.Sorted(maps.Keys(set))
}

func (f follows) String() string {
	var s []string
	if f.active {
		s = append(s, "active")
	}
	if f.blocked {
		s = append(s, fmt.Sprintf("blocked (recheck allowance %d)", f.recheck))
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
