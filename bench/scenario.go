package bench

import (
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// Scenario is one simulated GitLab and how the exporter polls it.
type Scenario struct {
	Name     string
	Projects int
	Interval time.Duration // the exporter's poll interval
	Hours    float64       // simulated hours of polling after the first walk

	// Workload shapes the traffic; ignored when Idle is set. Projects and
	// Seed are filled in from the scenario.
	Workload gitlabtest.WorkloadOptions

	// Idle builds HistoryJobs finished jobs per project over the warm-up
	// and then lets nothing happen at all. ParkedEvery > 0 leaves a manual
	// job unplayed in every ParkedEvery-th project, off the first page of
	// its jobs, so that the scraper's parked recheck is part of the idle
	// cost.
	Idle        bool
	HistoryJobs int
	ParkedEvery int

	Seed int64
}

// InitialLookback is the exporter's default; the fake runs this long
// before the first poll, so the first walk counts a full lookback of
// history as it would after a restart.
const InitialLookback = time.Hour

// busyMix is the job mix of the busy scenarios: 5% of all jobs are manual
// (a quarter of the deploy jobs, which are a fifth of all jobs; the
// workload plays 60% of them later), 10% fail and 30% of those are
// retried (3% of all jobs), and 20% of pipelines trigger a child pipeline
// through a bridge.
func busyMix(jobsPerHour float64) gitlabtest.WorkloadOptions {
	return gitlabtest.WorkloadOptions{
		JobsPerHour:       jobsPerHour,
		JobsPerPipeline:   5,
		FailureRate:       0.10,
		ManualRate:        0.25,
		RetryRate:         0.30,
		ChildPipelineRate: 0.20,
	}
}

// Small is 50 projects, 2,000 jobs an hour, polled every 30 s.
func Small() Scenario {
	return Scenario{Name: "small", Projects: 50, Interval: 30 * time.Second, Hours: 6,
		Workload: busyMix(2000), Seed: 1}
}

// Large is 2,000 projects, 50,000 jobs an hour, polled every 60 s. One
// simulated hour takes about 6 minutes of real time on 2 cores, so it runs
// 1 hour by default; BENCH_LARGE_HOURS=6 runs the 6-hour version (about
// 40 minutes).
func Large() Scenario {
	return Scenario{Name: "large", Projects: 2000, Interval: 60 * time.Second, Hours: 1,
		Workload: busyMix(50000), Seed: 2}
}

// Idle is 2,000 projects with 200 finished jobs each and nothing
// happening; every 10th project has an unplayed manual job older than
// the first page of its jobs, so it is rechecked every 10 minutes.
func Idle() Scenario {
	return Scenario{Name: "idle", Projects: 2000, Interval: 60 * time.Second, Hours: 1,
		Idle: true, HistoryJobs: 200, ParkedEvery: 10, Seed: 3}
}

// Smoke is small enough for CI under the race detector: it checks
// exactness and the request bounds, never times. With 40 projects the
// quietest ones have had no job for longer than the initial lookback when
// the exporter starts, as real quiet projects do.
func Smoke() Scenario {
	return Scenario{Name: "smoke", Projects: 40, Interval: 30 * time.Second, Hours: 0.15,
		Workload: busyMix(1500), Seed: 4}
}

// IdleSmoke is Idle at CI size.
func IdleSmoke() Scenario {
	return Scenario{Name: "idle-smoke", Projects: 10, Interval: 60 * time.Second, Hours: 0.25,
		Idle: true, HistoryJobs: 200, ParkedEvery: 3, Seed: 5}
}

func (sc Scenario) cycles() int {
	return int(sc.Hours * float64(time.Hour) / float64(sc.Interval))
}
