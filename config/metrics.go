package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// Metrics shapes the job metrics: which families are exported, with which
// labels, in which histogram form, and how long idle series are kept.
// Changes take effect at the next restart.
type Metrics struct {
	SeriesTTL      Duration        `yaml:"series_ttl"`
	Duration       HistogramFamily `yaml:"duration"`
	QueuedDuration HistogramFamily `yaml:"queued_duration"`
	ArtifactSize   HistogramFamily `yaml:"artifact_size"`
	Failures       Family          `yaml:"failures"`
	Retries        Family          `yaml:"retries"`
	LastJob        Family          `yaml:"last_job"`
	Jobs           Family          `yaml:"jobs"`
	QueueByPool    HistogramFamily `yaml:"queue_by_pool"`
	PendingByPool  Family          `yaml:"pending_by_pool"`
	Runners        HistogramFamily `yaml:"runners"`
	// TagPools bound the tags label of the runner-pool families; none: a
	// job's tag set is its own pool.
	TagPools []PoolRule `yaml:"tag_pools"`
	// RunnerPools fold runner descriptions for the runner label.
	RunnerPools []PoolRule `yaml:"runner_pools"`
}

// PoolRule names a runner pool: a value Match matches (anchored) becomes
// Pool, in which $1 or ${name} stand for Match's groups.
type PoolRule struct {
	Match *Regexp `yaml:"match"`
	Pool  string  `yaml:"pool"`
}

// Family configures a family of counters or gauges (see family.All).
type Family struct {
	Enabled bool     `yaml:"enabled"`
	Labels  []string `yaml:"labels,flow"`
}

// HistogramFamily configures a histogram family.
type HistogramFamily struct {
	Enabled bool     `yaml:"enabled"`
	Labels  []string `yaml:"labels,flow"`
	// Histogram is the form: "classic", "native" or "both".
	Histogram string    `yaml:"histogram"`
	Buckets   []float64 `yaml:"buckets,flow"`
}

// familyConfig is one family's settings, whichever its kind.
type familyConfig struct {
	key       string // under metrics
	enabled   bool
	labels    *[]string
	histogram *HistogramFamily // nil for counters and gauges
}

// families lists the configured families by collector key.
func (m *Metrics) families() []familyConfig {
	h := func(key string, f *HistogramFamily) familyConfig {
		return familyConfig{key: key, enabled: f.Enabled, labels: &f.Labels, histogram: f}
	}
	c := func(key string, f *Family) familyConfig {
		return familyConfig{key: key, enabled: f.Enabled, labels: &f.Labels}
	}
	return []familyConfig{
		h(family.Duration, &m.Duration),
		h(family.QueuedDuration, &m.QueuedDuration),
		h(family.ArtifactSize, &m.ArtifactSize),
		c(family.Failures, &m.Failures),
		c(family.Retries, &m.Retries),
		c(family.LastJob, &m.LastJob),
		c(family.Jobs, &m.Jobs),
		h(family.QueueByPool, &m.QueueByPool),
		c(family.PendingByPool, &m.PendingByPool),
		h(family.Runners, &m.Runners),
	}
}

// CollectorOptions maps the section onto the families' options, as the
// collector takes them.
func (m *Metrics) CollectorOptions() map[string]family.Options {
	out := map[string]family.Options{}
	for _, f := range m.families() {
		o := family.Options{Enabled: f.enabled, Labels: slices.Clone(*f.labels)}
		if f.histogram != nil {
			o.Form = family.Form(f.histogram.Histogram)
			o.Buckets = slices.Clone(f.histogram.Buckets)
		}
		out[f.key] = o
	}
	return out
}

// TTL is metrics.series_ttl as a time.Duration.
func (m *Metrics) TTL() time.Duration { return time.Duration(m.SeriesTTL) }

func (d *decoder) validateMetrics(m *Metrics) {
	d.minDuration("metrics.series_ttl", m.SeriesTTL, 0)
	for _, f := range m.families() {
		spec, _ := family.ByKey(f.key) // every key is one: TestEveryFamilyIsConfigurable
		prefix := "metrics." + f.key
		d.strict(prefix+".enabled", "!!bool", "true or false")
		d.validateLabels(prefix+".labels", spec, *f.labels)
		if f.histogram == nil {
			continue
		}
		if key := prefix + ".histogram"; !d.skip(key) && !slices.Contains(family.Forms, family.Form(f.histogram.Histogram)) {
			d.addAt(key, fmt.Sprintf("unknown histogram form %q: want %s", f.histogram.Histogram, quotedList(family.Forms)))
		}
		d.validateBuckets(prefix+".buckets", f.histogram.Buckets)
	}
	d.validatePools("metrics.tag_pools", m.TagPools)
	d.validatePools("metrics.runner_pools", m.RunnerPools)
}

func (d *decoder) validateLabels(key string, spec family.Family, labels []string) {
	d.items(key, len(labels), "want a label")
	if d.skip(key) {
		return
	}
	seen := map[string]int{}
	for i, l := range labels {
		ik := fmt.Sprintf("%s[%d]", key, i)
		switch first, dup := seen[l]; {
		case dup:
			d.addAt(ik, fmt.Sprintf("label %q is listed twice (first as item %d)", l, first))
		case !spec.Supports(l):
			msg := fmt.Sprintf("unknown label %q: %s supports %s", l, key[:len(key)-len(".labels")], strings.Join(spec.Labels, ", "))
			if l == "job" {
				msg += ` (the job name's label is "job_name")`
			}
			d.addAt(ik, msg)
		}
		seen[l] = i
	}
}

func quotedList[T ~string](items []T) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
