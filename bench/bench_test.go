package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(ChildEnv); spec != "" {
		if err := ServeChild(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hoursFromEnv lets BENCH_HOURS (all scenarios) or BENCH_<NAME>_HOURS
// override a scenario's simulated hours.
func hoursFromEnv(tb testing.TB, sc *Scenario) {
	for _, k := range []string{"BENCH_HOURS", "BENCH_" + strings.ToUpper(sc.Name) + "_HOURS"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		h, err := strconv.ParseFloat(v, 64)
		if err != nil || h <= 0 {
			tb.Fatalf("%s=%q: want a positive number of hours", k, v)
		}
		sc.Hours = h
	}
}

func benchScenario(b *testing.B, sc Scenario) {
	hoursFromEnv(b, &sc)
	opt := Options{Separate: os.Getenv("BENCH_IN_PROCESS") == "", Log: os.Stderr,
		HeapProfileDir: os.Getenv("BENCH_HEAPPROFILE_DIR"), Metrics: os.Getenv("BENCH_METRICS")}
	if os.Getenv("BENCH_WEBHOOKS") != "" {
		// A 10-minute reconciliation; 5 % of deliveries lost, 5 %
		// duplicated and 5 % reordered.
		opt.Webhooks = &WebhookRun{Reconcile: 10 * time.Minute, Step: 15 * time.Second, Loss: 0.05, Duplicate: 0.05, Reorder: 0.05}
		if v := os.Getenv("BENCH_HINT_STEP"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || sc.Interval%d != 0 {
				b.Fatalf("BENCH_HINT_STEP=%q: want a positive duration dividing the poll interval %s", v, sc.Interval)
			}
			opt.Webhooks.Step = d
		}
	}
	if v := os.Getenv("BENCH_PARKED_RECHECK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("BENCH_PARKED_RECHECK=%q: want a positive duration such as 1m", v)
		}
		opt.ParkedRecheck = d
	}
	var rep *Report
	for b.Loop() {
		if os.Getenv("BENCH_NO_STORE") == "" {
			opt.StateDir = b.TempDir() // fresh each run: saved state would be resumed
		}
		var err error
		rep, err = Run(context.Background(), sc, opt)
		if err != nil {
			b.Fatal(err)
		}
	}
	mean, _, _ := rep.CPUStats()
	b.ReportMetric(rep.RequestsPerCycle(), "req/cycle")
	b.ReportMetric(rep.Idle.PerPoll(), "req/idle-poll")
	b.ReportMetric(rep.Busy.Ratio(), "req/bound")
	b.ReportMetric(rep.RequestsPerNewJob(), "req/new-job")
	b.ReportMetric(float64(rep.Difference()), "diff")
	b.ReportMetric(mean.Seconds(), "cpu-s/cycle")
	b.ReportMetric(rep.MaxLag.Seconds(), "max-lag-s")
	if n := len(rep.Marks); n > 0 {
		last := rep.Marks[n-1]
		b.ReportMetric(mib(int64(last.Usage.HeapAlloc)), "live-heap-MiB")
		b.ReportMetric(mib(last.Usage.RSS), "rss-MiB")
		b.ReportMetric(float64(last.Exposition.Series), "series")
		b.ReportMetric(last.Exposition.Text.Seconds(), "metrics-text-s")
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		b.Fatal(err)
	}
	if missed := rep.Missed(); len(missed) > 0 {
		b.Logf("targets missed:\n  %s", strings.Join(missed, "\n  "))
	}
}

// BenchmarkLargeSharded runs the large scenario as each of four shards in
// turn, each against the same simulated GitLab, and prints their figures
// side by side: what each shard of a set of four costs.
func BenchmarkLargeSharded(b *testing.B) { benchSharded(b, Large(), 4) }

func benchSharded(b *testing.B, sc Scenario, shards int) {
	hoursFromEnv(b, &sc)
	var reps []*Report
	for b.Loop() {
		reps = reps[:0]
		for k := range shards {
			opt := Options{Separate: os.Getenv("BENCH_IN_PROCESS") == "", Log: os.Stderr, StateDir: b.TempDir(),
				Shard: shard.Shard{Index: k, Total: shards}}
			rep, err := Run(context.Background(), sc, opt)
			if err != nil {
				b.Fatal(err)
			}
			if missed := rep.Missed(); len(missed) > 0 {
				b.Logf("shard %d: targets missed:\n  %s", k, strings.Join(missed, "\n  "))
			}
			reps = append(reps, rep)
			releaseMemory() // the next shard's figures are its own
		}
	}
	if err := WriteShardTable(os.Stdout, reps); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSmall(b *testing.B) { benchScenario(b, Small()) }
func BenchmarkLarge(b *testing.B) { benchScenario(b, Large()) }
func BenchmarkIdle(b *testing.B)  { benchScenario(b, Idle()) }

// TestBenchSmoke runs small scenarios in CI and checks what must hold on
// any machine: every finished job counted exactly once, and polls within
// the request bounds of the cost model. It checks no time.
func TestBenchSmoke(t *testing.T) {
	for _, sc := range []Scenario{Smoke(), IdleSmoke()} {
		t.Run(sc.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			rep, err := Run(ctx, sc, Options{StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				_ = rep.WriteTable(os.Stdout)
			}
			if rep.Truth == 0 || rep.Cycles != sc.cycles() {
				t.Fatalf("nothing to check: %d finished jobs in GitLab, %d cycles", rep.Truth, rep.Cycles)
			}
			if d := rep.Difference(); d != 0 || rep.Counted != rep.Truth {
				t.Errorf("counted %d finished jobs, GitLab has %d: %d missing, %d not finished or too old, %d counted twice",
					rep.Counted, rep.Truth, rep.Missing, rep.Extra, rep.Double)
			}
			if rep.StartDiff != 0 {
				t.Errorf("%d jobs' starts observed a wrong number of times (GitLab %d, observed %d)", rep.StartDiff, rep.TruthStarted, rep.StartsObserved)
			}
			if p := rep.Pipelines; p.Truth != p.Counted || p.Missing+p.Extra+p.Double != 0 {
				t.Errorf("counted %d pipelines, GitLab finished %d: %d missing, %d not GitLab's to count, %d counted twice",
					p.Counted, p.Truth, p.Missing, p.Extra, p.Double)
			}
			// GitLab keeps no history of a pipeline's statuses: one retried
			// before a poll saw its first result is counted with the next.
			// The seeds have none; then every first result, its duration
			// and every later result must be GitLab's.
			if p := rep.Pipelines; p.FirstDiffs == 0 {
				for k, g := range p.ByGroup {
					if g.Truth != g.Counted || g.TruthSeconds != g.CountedSeconds {
						t.Errorf("pipelines %s: GitLab %d (%.0fs), counted %d (%.0fs)", k, g.Truth, g.TruthSeconds, g.Counted, g.CountedSeconds)
					}
				}
				if p.Reruns != p.RerunsTruth {
					t.Errorf("later pipeline results: counted %d, GitLab %d", p.Reruns, p.RerunsTruth)
				}
			} else {
				t.Logf("%d pipelines were retried before a poll saw their first result", p.FirstDiffs)
			}
			if n, results := rep.Endpoints[gitlabtest.EndpointPipeline], rep.Pipelines.Results; n > results {
				t.Errorf("%d pipeline requests for %d pipeline results", n, results)
			}
			if rep.PollErrors+rep.StateErrors != 0 {
				t.Errorf("%d polls failed, %d state loads or saves failed", rep.PollErrors, rep.StateErrors)
			}
			// Simulated time, so not a speed check: a job finishing between two
			// polls is counted by the next one.
			if rep.MaxLag > sc.Interval {
				t.Errorf("a job was counted %s after it finished, more than one poll interval (%s)", rep.MaxLag, sc.Interval)
			}
			if rep.Idle.Polls == 0 {
				t.Errorf("no idle poll to check")
			}
			if rep.Idle.Over != 0 {
				t.Errorf("%d of %d idle polls made more than 1 request (+1 for a parked recheck); max %d",
					rep.Idle.Over, rep.Idle.Polls, rep.Idle.MaxRequests)
			}
			if sc.Idle {
				if rep.ParkedRechecks == 0 {
					t.Errorf("no parked recheck: the idle scenario's manual jobs are not followed")
				}
				if rep.Busy.Polls != 0 || rep.Truth != rep.First.Counted {
					t.Errorf("idle scenario: %d busy polls, %d jobs counted after the first walk", rep.Busy.Polls, rep.Counted-rep.First.Counted)
				}
				return
			}
			if rep.Busy.Polls == 0 {
				t.Fatalf("no busy poll to check")
			}
			if r := rep.Busy.Ratio(); r > 1 {
				t.Errorf("busy polls made %d requests, %.2f times the bound of %d", rep.Busy.Requests, r, rep.Busy.Bound)
			}
		})
	}
}

func TestBoundStats(t *testing.T) {
	var b BoundStats
	for _, p := range []struct{ req, bound int }{{1, 1}, {3, 2}, {2, 4}} {
		b.add(p.req, p.bound, false)
	}
	if b.Polls != 3 || b.Requests != 6 || b.Bound != 7 || b.Over != 1 || b.MaxRequests != 3 || b.MaxRatio != 1.5 {
		t.Errorf("BoundStats = %+v", b)
	}
	if got := b.Ratio(); got != 6.0/7 {
		t.Errorf("Ratio = %v, want 6/7", got)
	}
}

func TestIDCountsAndLag(t *testing.T) {
	var c idCounts
	for _, id := range []int64{FirstJobID + 5, FirstJobID + 5, FirstJobID + 5000, FirstJobID - 1} {
		c.add(id)
	}
	for id, want := range map[int64]uint8{FirstJobID + 5: 2, FirstJobID + 5000: 1, FirstJobID: 0, FirstJobID - 1: 0, FirstJobID + 1<<20: 0} {
		if got := c.get(id); got != want {
			t.Errorf("count of %d = %d, want %d", id, got, want)
		}
	}

	r := newRecorder(nil, nil)
	for s, n := range map[int]int{1: 50, 10: 49, 100: 1} {
		r.lag[s] = n
		r.parkedLag[s*3] = n
	}
	for q, want := range map[float64]time.Duration{0.5: time.Second, 0.9: 10 * time.Second, 1: 100 * time.Second} {
		if got := r.lagQuantile(q, false); got != want {
			t.Errorf("lag quantile %v = %s, want %s", q, got, want)
		}
		if got := r.lagQuantile(q, true); got != 3*want {
			t.Errorf("parked lag quantile %v = %s, want %s", q, got, 3*want)
		}
	}
}

// TestShardedBenchSmoke runs the idle smoke scenario as each of two shards:
// together they poll every project once, each counts its own projects'
// jobs exactly once, and the shard table prints.
func TestShardedBenchSmoke(t *testing.T) {
	sc := IdleSmoke()
	var reps []*Report
	for k := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		rep, err := Run(ctx, sc, Options{StateDir: t.TempDir(), Shard: shard.Shard{Index: k, Total: 2}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Truth == 0 || rep.Difference() != 0 || rep.Counted != rep.Truth || rep.StartDiff != 0 {
			t.Errorf("shard %d: counted %d of %d finished jobs (difference %d), start difference %d", k, rep.Counted, rep.Truth, rep.Difference(), rep.StartDiff)
		}
		if rep.Idle.Over != 0 {
			t.Errorf("shard %d: %d idle polls above their bound", k, rep.Idle.Over)
		}
		reps = append(reps, rep)
	}
	if n := reps[0].ProjectsPolled + reps[1].ProjectsPolled; n != sc.Projects || reps[0].ProjectsPolled == 0 || reps[1].ProjectsPolled == 0 {
		t.Errorf("the shards polled %d and %d projects, want %d between them", reps[0].ProjectsPolled, reps[1].ProjectsPolled, sc.Projects)
	}
	var b strings.Builder
	if err := WriteShardTable(&b, reps); err != nil || !strings.Contains(b.String(), "job-list requests a minute") {
		t.Errorf("shard table: %v\n%s", err, b.String())
	}
	if testing.Verbose() {
		t.Log("\n" + b.String())
	}
}
