package bench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// Report is what a run measured. Steady-state figures leave out the first
// cycle (discovery and the first walk over the lookback), which First has.
type Report struct {
	Scenario  Scenario
	Shard     shard.Shard // the zero Shard: every project
	Separate  bool        // CPU, heap and RSS are the exporter's alone
	Persisted bool        // the scraper saved its state after each poll
	Metrics   string      // the metrics preset; "" is the defaults
	// Webhooks is how the run used webhooks; nil: polling alone.
	Webhooks   *WebhookRun
	Deliveries int // webhook requests the fake made
	// ParkedRecheck is poll.parked_recheck_interval.
	ParkedRecheck time.Duration
	GOMAXPROCS    int

	start          time.Time
	Setup, Elapsed time.Duration // real time: building the fake; the run

	First struct {
		Requests     int
		CPU, FakeCPU time.Duration
		Wall         time.Duration
		Counted      int
	}

	Cycles, Polls     int
	Requests          int // every request of the steady-state cycles
	PollRequests      int // made by project polls
	DiscoveryRequests int
	MaxCycleRequests  int
	NewJobs           int            // jobs and bridges GitLab created meanwhile
	Endpoints         map[string]int // requests by endpoint
	Idle, Busy        BoundStats

	CPU, Wall []time.Duration // per cycle: the exporter's CPU time, real time
	FakeCPU   time.Duration   // the fake's CPU over all cycles (Separate only)

	Marks []Mark // at the end of each simulated hour

	Truth, Counted, Missing, Extra, Double   int // finished jobs
	TruthStarted, StartsObserved, StartDiff  int
	ParkedRechecks                           int // idle polls of projects with parked jobs that made more than 1 request
	LateSeen                                 int // polls that first saw a parked job played or skipped in an earlier step (booked busy)
	CyclesBehind                             int // cycles after which a finished job was not counted yet (a played manual job, see ParkedMaxLag)
	InFlight                                 int // finished in GitLab but not counted yet when the workload stopped
	Retried, PollErrors, StateErrors         int
	MaxLag, LagP50, LagP99                   time.Duration // jobs never manual or scheduled
	UnknownLag                               int           // finished without finished_at (skipped)
	ParkedCounted                            int           // finished jobs that were followed as manual or scheduled
	ParkedMaxLag, ParkedLagP50, ParkedLagP99 time.Duration

	ProjectsPolled int
	StateBytes     int64 // the saved state on disk at the end

	Pipelines PipelineReport
}

// PipelineReport compares the pipelines the exporter counted with GitLab's
// (history before the lookback left out).
type PipelineReport struct {
	Off                                    bool // no pipeline family exported: nothing counted
	Truth, Counted, Missing, Extra, Double int
	// FirstDiffs were counted with another first result (status, source
	// or duration) than GitLab showed at their first finish: retried
	// before any poll saw that finish.
	FirstDiffs int
	// Results are the pipelines' finishes in GitLab during the
	// steady-state cycles, later ones included: what the pipeline
	// requests of those cycles pay for.
	Results int
	// Reruns are the later results counted, RerunsTruth GitLab's
	// distinct later results per pipeline.
	Reruns, RerunsTruth int
	// ByGroup are the first results by "source/status".
	ByGroup map[string]*PipelineGroup
}

// PipelineGroup is the count and duration sum of first results of one
// source and status, in GitLab and as counted.
type PipelineGroup struct {
	Truth, Counted               int
	TruthSeconds, CountedSeconds float64
}

// BoundStats compares polls with the cost model: an idle poll (nothing
// changed in the project, no unfinished job to check, and no manual or
// scheduled job seen moved on since an earlier step) may make 1 request;
// a busy one 2 + ceil(new jobs/100) + pipelines whose jobs changed (those
// of parked jobs seen moved on included); either may add the parked
// recheck, due every 10 minutes when the project follows manual or
// scheduled jobs: a scoped walk for jobs, a bridge list per pipeline for
// bridges.
type BoundStats struct {
	Polls, Requests, Bound int
	Over                   int // polls above their bound
	Parked                 int // polls that may make a parked recheck
	MaxRequests            int
	MaxRatio               float64
}

func (b *BoundStats) add(req, bound int, parked bool) {
	if parked {
		b.Parked++
	}
	b.Polls++
	b.Requests += req
	b.Bound += bound
	b.MaxRequests = max(b.MaxRequests, req)
	if req > bound {
		b.Over++
	}
	b.MaxRatio = max(b.MaxRatio, float64(req)/float64(bound))
}

// Ratio is requests over the sum of the bounds.
func (b BoundStats) Ratio() float64 { return ratio(b.Requests, b.Bound) }

// PerPoll is the mean number of requests of a poll.
func (b BoundStats) PerPoll() float64 { return ratio(b.Requests, b.Polls) }

// Mark is the state at the end of a simulated hour.
type Mark struct {
	Hour           float64
	Usage          Usage // the exporter's process, after GC
	Fake           Usage // the fake's process (Separate only)
	Exposition     Exposition
	Counted, Truth int
}

// Difference is how far the exporter's count is from GitLab's: jobs not
// counted, counted but not finished (or older than the lookback), and
// counted twice. It must be 0.
func (r *Report) Difference() int { return r.Missing + r.Extra + r.Double }

// RequestsPerCycle is the mean of the steady-state cycles.
func (r *Report) RequestsPerCycle() float64 { return ratio(r.Requests, r.Cycles) }

// RequestsPerNewJob is poll requests per job GitLab created.
func (r *Report) RequestsPerNewJob() float64 { return ratio(r.PollRequests, r.NewJobs) }

// MarginalPerNewJob is poll requests beyond one per poll per job created:
// what activity costs on top of the idle walk.
func (r *Report) MarginalPerNewJob() float64 { return ratio(r.PollRequests-r.Polls, r.NewJobs) }

// CPUStats returns the mean, median and maximum CPU time of a cycle.
func (r *Report) CPUStats() (mean, p50, maxCPU time.Duration) { return durationStats(r.CPU) }

// CPUShare is the mean cycle's CPU time as a share of one core over the
// poll interval.
func (r *Report) CPUShare() float64 {
	mean, _, _ := r.CPUStats()
	return float64(mean) / float64(r.Scenario.Interval)
}

func durationStats(ds []time.Duration) (mean, p50, maxD time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s)), s[len(s)/2], s[len(s)-1]
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// Targets from the performance issue.
const (
	TargetRSS         = 256 << 20
	TargetCPUShare    = 0.10
	TargetEncode      = time.Second
	TargetFreshExtra  = 5 * time.Second
	TargetHeapGrowth  = 0.10 // hour 1 to the last hour, as a share
	targetIdlePerPoll = 1

	// With webhooks and a 10-minute reconciliation, one token's budget on
	// gitlab.com (600 job-list requests a minute per user) and half its
	// budget of all requests.
	TargetJobListPerMinute  = 600
	TargetRequestsPerMinute = 1300

	// The pipeline issue: a request per pipeline result at most, and the
	// pipeline families' defaults within 60,000 text lines (large
	// scenario, hour 6).
	TargetPipelineRequestsPerResult = 1
	TargetPipelineLines             = 60_000
)

// row is one line of the table: figure, value, target, verdict.
type row struct{ figure, value, target, verdict string }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// table is the report's rows, in order.
type table []row

func (t *table) add(figure, value, target, v string) { *t = append(*t, row{figure, value, target, v}) }

// rows returns the report as a table of figures: the run, the requests,
// exactness and freshness, memory and /metrics, CPU and time.
func (r *Report) rows() []row {
	var t table
	r.runRows(&t)
	r.requestRows(&t)
	r.exactRows(&t)
	r.pipelineRows(&t)
	r.memoryRows(&t)
	r.cpuRows(&t)
	return t
}

// runRows say what ran, and how it was measured.
func (r *Report) runRows(t *table) {
	sc := r.Scenario
	where := "exporter only (fake in a child process)"
	if !r.Separate {
		where = "exporter + fake in one process"
	}
	t.add("scenario", fmt.Sprintf("%d projects, %s poll, %.0f jobs/h, %.1f h simulated, %d cycles", sc.Projects, sc.Interval,
		sc.jobsPerHour(), sc.Hours, r.Cycles), "", "")
	if r.Persisted {
		where += ", state saved after each poll"
	} else {
		where += ", state in memory only"
	}
	if r.Metrics != "" {
		where += ", metrics preset " + r.Metrics
	}
	if w := r.Webhooks; w != nil {
		where += fmt.Sprintf(", webhooks (%s steps, %.0f%% lost, %.0f%% duplicated, %.0f%% reordered) with a %s reconciliation",
			w.Step, 100*w.Loss, 100*w.Duplicate, 100*w.Reorder, w.Reconcile)
	}
	where += fmt.Sprintf(", parked recheck every %s", r.ParkedRecheck)
	t.add("measured", where+fmt.Sprintf(", GOMAXPROCS %d", r.GOMAXPROCS), "", "")
}

// requestRows are what the exporter asked of GitLab, against the cost model.
func (r *Report) requestRows(t *table) {
	sc := r.Scenario
	t.add("first cycle: requests (discovery + walk over 1 h lookback)", fmt.Sprint(r.First.Requests), "", "")
	t.add("first cycle: jobs counted / CPU / wall", fmt.Sprintf("%d / %.2fs / %.2fs", r.First.Counted,
		r.First.CPU.Seconds(), r.First.Wall.Seconds()), "", "")
	t.add("requests per cycle: mean / max", fmt.Sprintf("%.1f / %d", r.RequestsPerCycle(), r.MaxCycleRequests), "", "")
	perMinute := func(n int) float64 { return ratio(n, r.Cycles) * float64(time.Minute) / float64(sc.Interval) }
	if r.Webhooks != nil {
		jobList, all := perMinute(r.Endpoints[gitlabtest.EndpointProjectJobs]), perMinute(r.Requests)
		t.add("webhooks: deliveries per minute", fmt.Sprintf("%.0f", perMinute(r.Deliveries)), "", "")
		t.add("job-list requests per minute", fmt.Sprintf("%.0f", jobList), fmt.Sprintf("≤ %d", TargetJobListPerMinute),
			verdict(jobList <= TargetJobListPerMinute))
		t.add("all requests per minute", fmt.Sprintf("%.0f", all), fmt.Sprintf("≤ %d", TargetRequestsPerMinute), verdict(all <= TargetRequestsPerMinute))
	}
	t.add("discovery requests per cycle (groups every 5m)", fmt.Sprintf("%.2f", ratio(r.DiscoveryRequests, r.Cycles)), "", "")
	if r.Webhooks == nil { // polls against the cost model of polling alone
		t.add("idle polls: requests per poll (mean / max)", fmt.Sprintf("%.3f / %d  (%d polls)", r.Idle.PerPoll(), r.Idle.MaxRequests, r.Idle.Polls),
			"≤ 1 + parked recheck", verdict(r.Idle.Over == 0))
		t.add("idle polls above 1 + parked", fmt.Sprint(r.Idle.Over), "0", verdict(r.Idle.Over == 0))
		t.add("idle polls with parked jobs / of which rechecked them", fmt.Sprintf("%d / %d", r.Idle.Parked, r.ParkedRechecks), "", "")
		t.add("polls that first saw a parked job played or skipped in an earlier step (busy)", fmt.Sprint(r.LateSeen), "", "")
		if r.Busy.Polls > 0 {
			t.add("busy polls: requests per poll (mean / max)", fmt.Sprintf("%.2f / %d  (%d polls)", r.Busy.PerPoll(), r.Busy.MaxRequests, r.Busy.Polls), "", "")
			t.add("busy polls: requests / bound (all / worst poll)", fmt.Sprintf("%.3f / %.2f", r.Busy.Ratio(), r.Busy.MaxRatio),
				"≤ 1 (bound 2+⌈new/100⌉+changed pipelines+pipeline results)", verdict(r.Busy.Ratio() <= 1))
			t.add("busy polls above their bound", fmt.Sprintf("%d (%.2f%%)", r.Busy.Over, 100*ratio(r.Busy.Over, r.Busy.Polls)), "", "")
		}
	}
	if r.NewJobs > 0 {
		t.add("jobs created per cycle", fmt.Sprintf("%.1f", ratio(r.NewJobs, r.Cycles)), "", "")
		t.add("requests per new job: all polls / beyond 1 per poll", fmt.Sprintf("%.3f / %.3f", r.RequestsPerNewJob(), r.MarginalPerNewJob()), "", "")
	}
	for _, e := range endpoints {
		if n := r.Endpoints[e]; n > 0 {
			t.add("  requests per cycle: "+e, fmt.Sprintf("%.2f", ratio(n, r.Cycles)), "", "")
		}
	}
}

// exactRows compare what was counted with GitLab, and say how soon.
func (r *Report) exactRows(t *table) {
	sc := r.Scenario
	t.add("finished jobs: GitLab / counted", fmt.Sprintf("%d / %d", r.Truth, r.Counted), "equal", verdict(r.Truth == r.Counted))
	t.add("difference: missing + extra + double", fmt.Sprintf("%d (%d + %d + %d)", r.Difference(), r.Missing, r.Extra, r.Double),
		"0", verdict(r.Difference() == 0))
	t.add("starts: GitLab / observed, difference", fmt.Sprintf("%d / %d, %d", r.TruthStarted, r.StartsObserved, r.StartDiff), "0", verdict(r.StartDiff == 0))
	t.add("cycles ending with a finished job not counted yet", fmt.Sprint(r.CyclesBehind), "", "")
	t.add("finished but not counted yet when the workload stopped", fmt.Sprintf("%d (compared after a %s drain)", r.InFlight, Drain), "", "")
	t.add("poll errors / state errors", fmt.Sprintf("%d / %d", r.PollErrors, r.StateErrors), "0", verdict(r.PollErrors+r.StateErrors == 0))
	// With webhooks a job whose finishing delivery was lost waits for the
	// reconciliation: the figures are reported, the polling target is not.
	fresh, freshTarget := sc.Interval+TargetFreshExtra, func(ok bool) (string, string) { return "", "" }
	if r.Webhooks == nil {
		freshTarget = func(ok bool) (string, string) { return "≤ " + fresh.String(), verdict(ok) }
	}
	target, v := freshTarget(r.MaxLag <= fresh)
	t.add("freshness, finish → counted (p50 / p99 / max, simulated)", fmt.Sprintf("%s / %s / %s", r.LagP50, r.LagP99, r.MaxLag), target, v)
	if r.ParkedCounted > 0 {
		target, v := freshTarget(r.ParkedMaxLag <= fresh)
		t.add("freshness of played manual jobs (p50 / p99 / max; count)", fmt.Sprintf("%s / %s / %s; %d jobs",
			r.ParkedLagP50, r.ParkedLagP99, r.ParkedMaxLag.Round(time.Second), r.ParkedCounted), target, v)
	}
}

// pipelineRows compare the pipelines counted with GitLab's, and what they
// cost.
func (r *Report) pipelineRows(t *table) {
	p := r.Pipelines
	if p.Off || (p.Truth == 0 && p.Counted == 0) {
		return
	}
	diff := p.Missing + p.Extra + p.Double
	t.add("pipelines finished: GitLab / counted", fmt.Sprintf("%d / %d", p.Truth, p.Counted), "equal", verdict(p.Truth == p.Counted))
	t.add("pipelines: missing + extra + double", fmt.Sprintf("%d (%d + %d + %d)", diff, p.Missing, p.Extra, p.Double), "0", verdict(diff == 0))
	groupsEqual := true
	for _, k := range slices.Sorted(maps.Keys(p.ByGroup)) {
		g := p.ByGroup[k]
		equal := g.Truth == g.Counted && math.Abs(g.TruthSeconds-g.CountedSeconds) < 0.5
		groupsEqual = groupsEqual && equal
		t.add("  pipelines "+k+": GitLab / counted (count, Σ duration)", fmt.Sprintf("%d / %d, %.0fs / %.0fs",
			g.Truth, g.Counted, g.TruthSeconds, g.CountedSeconds), "", "")
	}
	t.add("pipelines: first results by source and status (count and Σ duration)", fmt.Sprintf("%d groups", len(p.ByGroup)),
		"equal", verdict(groupsEqual))
	t.add("pipelines counted with another first result (retried before a poll saw it)", fmt.Sprint(p.FirstDiffs), "", "")
	t.add("later results: GitLab / counted (once per pipeline and result)", fmt.Sprintf("%d / %d", p.RerunsTruth, p.Reruns),
		"equal", verdict(p.RerunsTruth == p.Reruns))
	perResult := ratio(r.Endpoints[gitlabtest.EndpointPipeline], p.Results)
	t.add("pipeline requests per pipeline result (first and later)", fmt.Sprintf("%.3f (%d requests, %d results)",
		perResult, r.Endpoints[gitlabtest.EndpointPipeline], p.Results),
		fmt.Sprintf("≤ %d", TargetPipelineRequestsPerResult), verdict(perResult <= TargetPipelineRequestsPerResult))
}

// memoryRows are the heap and RSS at the first and last hour marks, and
// what /metrics served at the last.
func (r *Report) memoryRows(t *table) {
	if len(r.Marks) == 0 {
		return
	}
	first, last := r.Marks[0], r.Marks[len(r.Marks)-1]
	ends := []Mark{first, last}
	if len(r.Marks) == 1 {
		ends = ends[:1]
	}
	for _, m := range ends {
		t.add(fmt.Sprintf("hour %.1f: heap in use / live / RSS", m.Hour), fmt.Sprintf("%.1f / %.1f / %.1f MiB",
			mib(int64(m.Usage.HeapInuse)), mib(int64(m.Usage.HeapAlloc)), mib(m.Usage.RSS)),
			"RSS ≤ 256 MiB", verdict(m.Usage.RSS <= TargetRSS))
		t.add(fmt.Sprintf("hour %.1f: followed jobs / finished counted", m.Hour), fmt.Sprintf("%.0f / %.0f", m.Exposition.Followed, m.Exposition.Observed), "", "")
	}
	if len(r.Marks) > 1 {
		g := r.HeapGrowth()
		t.add(fmt.Sprintf("live heap growth, hour %.1f → %.1f", first.Hour, last.Hour),
			fmt.Sprintf("%+.1f MiB (%+.1f%%)", mib(int64(last.Usage.HeapAlloc)-int64(first.Usage.HeapAlloc)), 100*g),
			fmt.Sprintf("flat (≤ %+.0f%%)", 100*TargetHeapGrowth), verdict(g <= TargetHeapGrowth))
	}
	t.add("peak RSS (VmHWM)", fmt.Sprintf("%.1f MiB", mib(last.Usage.PeakRSS)), "", "")
	if r.Separate {
		t.add("fake GitLab process: RSS at the end", fmt.Sprintf("%.1f MiB", mib(last.Fake.RSS)), "", "")
	}
	e := last.Exposition
	t.add("/metrics: series / families", fmt.Sprintf("%d / %d", e.Series, e.Families), "", "")
	t.add("/metrics: series Prometheus stores from protobuf (a native histogram is one)", fmt.Sprint(e.ProtoSeries), "", "")
	t.add("/metrics: largest families (series)", e.topFamilies(4), "", "")
	t.add("/metrics: job families (series)", e.familiesWithPrefix("gitlab_ci_job"), "", "")
	t.add("/metrics: runner-pool families (series)", e.familiesWithPrefix("gitlab_ci_runner_"), "", "")
	lines := e.linesWithPrefix("gitlab_ci_pipeline")
	t.add("/metrics: pipeline families (series)", e.familiesWithPrefix("gitlab_ci_pipeline"),
		fmt.Sprintf("≤ %d", TargetPipelineLines), verdict(lines <= TargetPipelineLines))
	t.add("/metrics: text / gzip / protobuf size", fmt.Sprintf("%.2f / %.2f / %.2f MiB", mib(int64(e.TextBytes)), mib(int64(e.GzipBytes)), mib(int64(e.ProtoSize))), "", "")
	t.add("/metrics: text / OpenMetrics / protobuf (gather+encode)", fmt.Sprintf("%s / %s / %s", e.Text.Round(time.Millisecond),
		e.OpenMet.Round(time.Millisecond), e.Proto.Round(time.Millisecond)), "≤ 1s", verdict(max(e.Text, e.OpenMet, e.Proto) <= TargetEncode))
}

// cpuRows are the CPU and real time a cycle took.
func (r *Report) cpuRows(t *table) {
	mean, p50, maxCPU := r.CPUStats()
	t.add("CPU per cycle: mean / p50 / max", fmt.Sprintf("%.3fs / %.3fs / %.3fs", mean.Seconds(), p50.Seconds(), maxCPU.Seconds()), "", "")
	t.add("CPU per cycle as share of one core of the interval", fmt.Sprintf("%.2f%%", 100*r.CPUShare()),
		fmt.Sprintf("≤ %.0f%%", 100*TargetCPUShare), verdict(r.CPUShare() <= TargetCPUShare))
	if r.Separate {
		t.add("fake GitLab CPU per cycle (not included above)", fmt.Sprintf("%.3fs", ratio64(r.FakeCPU, r.Cycles)), "", "")
	}
	wmean, _, wmax := durationStats(r.Wall)
	t.add("wall per cycle: mean / max", fmt.Sprintf("%.3fs / %.3fs", wmean.Seconds(), wmax.Seconds()), "", "")
	t.add("real time: building the fake / the run", fmt.Sprintf("%s / %s", r.Setup.Round(time.Second), r.Elapsed.Round(time.Second)), "", "")
}

func ratio64(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return d.Seconds() / float64(n)
}

// HeapGrowth is the live heap's growth from the first hour mark to the
// last, as a share of the first.
func (r *Report) HeapGrowth() float64 {
	if len(r.Marks) < 2 {
		return 0
	}
	a, b := r.Marks[0].Usage.HeapAlloc, r.Marks[len(r.Marks)-1].Usage.HeapAlloc
	return (float64(b) - float64(a)) / float64(a)
}

// WriteTable prints the report as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "== %s\nfigure\tvalue\ttarget\t\n", r.Scenario.Name)
	for _, row := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.figure, row.value, row.target, row.verdict)
	}
	return tw.Flush()
}

// Missed lists the figures that missed their target.
func (r *Report) Missed() []string {
	var out []string
	for _, row := range r.rows() {
		if row.verdict == "MISSED" {
			out = append(out, strings.TrimSpace(row.figure)+": "+row.value)
		}
	}
	return out
}

func (sc Scenario) jobsPerHour() float64 {
	if sc.Idle {
		return 0
	}
	return sc.Workload.JobsPerHour
}
