package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// GitLab.com's per-user limits (BENCHMARKS.md, "GitLab's limits"): a shard
// with a token of its own has its own.
const (
	JobListLimitPerMinute = 600
	RequestLimitPerMinute = 2000
	jobListEndpoint       = "/projects/:id/jobs"
)

// WriteShardTable prints the figures of the shards of one sharded set,
// each measured in a run of its own, side by side, with their sum.
func WriteShardTable(w io.Writer, reps []*Report) error {
	if len(reps) == 0 {
		return nil
	}
	sc := reps[0].Scenario
	perMinute := float64(time.Minute) / float64(sc.Interval)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "== %s over %d shards: %d projects, %s poll, %.0f jobs/h, %.1f h simulated\t\n",
		sc.Name, len(reps), sc.Projects, sc.Interval, sc.jobsPerHour(), sc.Hours)
	header := []string{"figure"}
	for _, r := range reps {
		header = append(header, "shard "+fmt.Sprint(r.Shard.Index))
	}
	fmt.Fprintln(tw, strings.Join(append(header, "all", "limit"), "\t")+"\t")
	row := func(figure, limit string, all string, value func(r *Report) string) {
		cells := []string{figure}
		for _, r := range reps {
			cells = append(cells, value(r))
		}
		fmt.Fprintln(tw, strings.Join(append(cells, all, limit), "\t")+"\t")
	}
	sum := func(f func(r *Report) float64) float64 {
		t := 0.0
		for _, r := range reps {
			t += f(r)
		}
		return t
	}
	maxOf := func(f func(r *Report) float64) float64 {
		m := 0.0
		for _, r := range reps {
			m = max(m, f(r))
		}
		return m
	}
	projects := func(r *Report) float64 { return float64(r.ProjectsPolled) }
	requests := func(r *Report) float64 { return r.RequestsPerCycle() * perMinute }
	jobList := func(r *Report) float64 { return ratio(r.Endpoints[jobListEndpoint], r.Cycles) * perMinute }
	last := func(r *Report) Mark { return r.Marks[len(r.Marks)-1] }
	f0 := func(f func(r *Report) float64) func(r *Report) string {
		return func(r *Report) string { return fmt.Sprintf("%.0f", f(r)) }
	}
	row("projects polled", "", fmt.Sprintf("%.0f", sum(projects)), f0(projects))
	row("job-list requests a minute", fmt.Sprint(JobListLimitPerMinute), fmt.Sprintf("%.0f", sum(jobList)), f0(jobList))
	row("requests a minute, all", fmt.Sprint(RequestLimitPerMinute), fmt.Sprintf("%.0f", sum(requests)), f0(requests))
	row("finished jobs: GitLab / counted", "", fmt.Sprintf("%.0f / %.0f", sum(func(r *Report) float64 { return float64(r.Truth) }),
		sum(func(r *Report) float64 { return float64(r.Counted) })), func(r *Report) string { return fmt.Sprintf("%d / %d", r.Truth, r.Counted) })
	row("difference: missing + extra + double", "0", fmt.Sprintf("%.0f", sum(func(r *Report) float64 { return float64(r.Difference()) })),
		func(r *Report) string { return fmt.Sprint(r.Difference()) })
	cpu := func(r *Report) float64 { return 100 * r.CPUShare() }
	row("CPU, % of one core", "", fmt.Sprintf("%.1f", sum(cpu)), func(r *Report) string { return fmt.Sprintf("%.1f", cpu(r)) })
	live := func(r *Report) float64 { return mib(int64(last(r).Usage.HeapAlloc)) }
	rss := func(r *Report) float64 { return mib(last(r).Usage.RSS) }
	peak := func(r *Report) float64 { return mib(last(r).Usage.PeakRSS) }
	row("live heap at the end, MiB", "", fmt.Sprintf("%.1f", sum(live)), func(r *Report) string { return fmt.Sprintf("%.1f", live(r)) })
	row("RSS at the end / peak, MiB", "256", fmt.Sprintf("max %.0f / %.0f", maxOf(rss), maxOf(peak)),
		func(r *Report) string { return fmt.Sprintf("%.0f / %.0f", rss(r), peak(r)) })
	series := func(r *Report) float64 { return float64(last(r).Exposition.Series) }
	text := func(r *Report) float64 { return mib(int64(last(r).Exposition.TextBytes)) }
	proto := func(r *Report) float64 { return mib(int64(last(r).Exposition.ProtoSize)) }
	write := func(r *Report) float64 { return last(r).Exposition.Text.Seconds() }
	row("/metrics series", "", fmt.Sprintf("%.0f", sum(series)), f0(series))
	row("/metrics text / protobuf, MiB", "", fmt.Sprintf("%.1f / %.1f", sum(text), sum(proto)),
		func(r *Report) string { return fmt.Sprintf("%.1f / %.1f", text(r), proto(r)) })
	row("/metrics written (text), s", "1", fmt.Sprintf("max %.2f", maxOf(write)), func(r *Report) string { return fmt.Sprintf("%.2f", write(r)) })
	state := func(r *Report) float64 { return mib(r.StateBytes) }
	row("state on disk, MiB", "", fmt.Sprintf("%.1f", sum(state)), func(r *Report) string { return fmt.Sprintf("%.1f", state(r)) })
	row("first cycle: requests", "", fmt.Sprintf("%.0f", sum(func(r *Report) float64 { return float64(r.First.Requests) })),
		func(r *Report) string { return fmt.Sprint(r.First.Requests) })
	return tw.Flush()
}
