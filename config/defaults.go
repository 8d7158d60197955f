package config

import (
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// defaultDurationBuckets suit CI jobs of ten seconds to an hour (GitLab's
// default job timeout); nine of them keep the one family that has every
// label within the sizing budget (README, "Sizing"). The native histogram
// is finer, and longer jobs still count in +Inf.
func defaultDurationBuckets() []float64 {
	return []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600}
}

func defaultQueuedDurationBuckets() []float64 {
	return []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
}

// defaultPipelineDurationBuckets suit pipelines of a minute to two hours.
func defaultPipelineDurationBuckets() []float64 {
	return []float64{60, 120, 300, 600, 900, 1200, 1800, 3600, 7200}
}

// defaultArtifactSizeBuckets are powers of 16 from 1 KiB to 1 GiB: artifact
// sizes span many orders of magnitude, so linear buckets would be useless,
// and six buckets per project and file type keep the family within the
// sizing budget (README, "Sizing"); the native histogram is finer.
func defaultArtifactSizeBuckets() []float64 {
	var b []float64
	for v := float64(1 << 10); v <= 1<<30; v *= 16 {
		b = append(b, v)
	}
	return b
}

// defaultRunnerPools fold gitlab.com's numbered runner managers
// ("3-green.saas-linux-small-amd64.runners-manager.gitlab.com/default")
// into their machine type, which is what the shared runners differ by.
func defaultRunnerPools() []PoolRule {
	re, err := NewRegexp(`[0-9]+-[a-z]+\.([^./]+)\.runners-manager\..+`)
	if err != nil {
		panic(err) // a constant
	}
	return []PoolRule{{Match: re, Pool: "$1"}}
}

// DefaultMetrics is the metrics section when config.yaml leaves it out,
// sized for thousands of projects (README, "Sizing"): durations keep every
// label, so p95 per job works; queue times are per project (the runner
// pools have their own family); artifact sizes per project and file type;
// "what is pending now" per project and status. The runner-pool families
// cost series per tag set, not per project, and are on; finished jobs by
// runner cost a histogram per runner and are off. Pipelines are counted per
// project (a counter, one series per ref class, source and result) with
// their latest result per tracked ref, and their durations are histograms
// across projects: per project they would cost more than all the job
// families (README, "Sizing").
func DefaultMetrics() Metrics {
	const (
		project, ref, stage, jobName = family.LabelProject, family.LabelRef, family.LabelStage, family.LabelJobName
		source                       = family.LabelSource
	)
	both := string(family.Both)
	return Metrics{
		// Series of a job that ran last week still exist when it runs
		// again this week, so weekly jobs keep continuous counters; a
		// deleted or renamed job stops costing after a week.
		SeriesTTL: Duration(7 * 24 * time.Hour),
		Families: map[string]FamilyConfig{
			family.Duration: {Enabled: true, Histogram: both, Buckets: defaultDurationBuckets(),
				Labels: []string{project, ref, stage, jobName, family.LabelStatus}},
			family.QueuedDuration: {Enabled: true, Histogram: both, Buckets: defaultQueuedDurationBuckets(),
				Labels: []string{project}},
			family.ArtifactSize: {Enabled: true, Histogram: both, Buckets: defaultArtifactSizeBuckets(),
				Labels: []string{project, family.LabelFileType}},
			family.Failures: {Enabled: true,
				Labels: []string{project, ref, stage, jobName, family.LabelFailureReason, family.LabelAllowFailure}},
			family.Retries: {Enabled: true, Labels: []string{project, ref, stage, jobName}},
			family.LastJob: {Enabled: true, Labels: []string{project, ref, stage, jobName}},
			family.Jobs:    {Enabled: true, Labels: []string{project, family.LabelStatus}},
			family.QueueByPool: {Enabled: true, Histogram: both, Buckets: defaultQueuedDurationBuckets(),
				Labels: []string{family.LabelTags, family.LabelRunnerType}},
			family.PendingByPool: {Enabled: true, Labels: []string{family.LabelTags}},
			family.Runners: {Enabled: false, Histogram: both, Buckets: defaultDurationBuckets(),
				Labels: []string{family.LabelRunner, family.LabelRunnerType}},
			family.PipelineDuration: {Enabled: true, Histogram: both, Buckets: defaultPipelineDurationBuckets(),
				Labels: []string{ref, source, family.LabelStatus}},
			family.PipelineWallTime: {Enabled: true, Histogram: both, Buckets: defaultPipelineDurationBuckets(),
				Labels: []string{ref, source, family.LabelStatus}},
			family.PipelineQueuedDuration: {Enabled: true, Histogram: both, Buckets: defaultQueuedDurationBuckets(),
				Labels: []string{ref, source}},
			family.PipelinesFinished: {Enabled: true, Labels: []string{project, ref, source, family.LabelStatus}},
			family.PipelineReruns: {Enabled: true,
				Labels: []string{project, ref, source, family.LabelFirstStatus, family.LabelStatus}},
			family.LastPipeline: {Enabled: true, Labels: []string{project, ref, source}},
			family.Pipelines:    {Enabled: true, Labels: []string{project, family.LabelStatus}},
		},
		RunnerPools: defaultRunnerPools(),
	}
}

// defaultConfig is the starting point that decoding overwrites, so every
// key left out of the file keeps its default (config.yaml shows them).
func defaultConfig() *Config {
	return &Config{
		GitLab: GitLab{
			AuthMode:              AuthPrivateToken,
			RequestsPerSecond:     10,
			Burst:                 20,
			MaxConcurrentRequests: 8,
			Timeout:               Duration(30 * time.Second),
			MaxRetries:            4,
		},
		Poll: Poll{
			Interval:              Duration(30 * time.Second),
			InitialLookback:       Duration(time.Hour),
			ParkedRecheckInterval: Duration(10 * time.Minute),
			ParkedMaxAge:          Duration(14 * 24 * time.Hour),
			RetryWindow:           Duration(time.Hour),
		},
		Discovery: Discovery{Interval: Duration(5 * time.Minute)},
		Metrics:   DefaultMetrics(),
	}
}

// applyDefaults fills the defaults yaml.v3 does not keep: in list items,
// in the families it decodes afresh, and where a null (which means "keep
// the default") made a list nil.
func (d *decoder) applyDefaults(c *Config) {
	for i := range c.Groups {
		if c.Groups[i].IncludeSubgroups == nil {
			c.Groups[i].IncludeSubgroups = boolPtr(true)
		}
	}
	m, def := &c.Metrics, DefaultMetrics()
	if m.RunnerPools == nil && !d.given("metrics.runner_pools") {
		m.RunnerPools = def.RunnerPools
	}
	for key, df := range def.Families {
		f, k := m.Families[key], "metrics."+key+"."
		f.Enabled = f.Enabled || df.Enabled && !d.given(k+"enabled")
		if f.Labels == nil && !d.given(k+"labels") {
			f.Labels = df.Labels
		}
		if f.Histogram == "" && !d.given(k+"histogram") {
			f.Histogram = df.Histogram
		}
		if f.Buckets == nil && !d.given(k+"buckets") {
			f.Buckets = df.Buckets
		}
		m.Families[key] = f
	}
}

func boolPtr(b bool) *bool { return &b }
