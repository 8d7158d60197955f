package collector

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Family is a set of job metrics configured together, under
// metrics.<Key> in config.yaml: whether they are exported and with which
// of the labels they support. Dropping a label aggregates over it, so
// totals stay exact.
type Family struct {
	Key       string
	Metrics   []Metric
	Labels    []string // the labels it supports, in the order they are exported
	Histogram bool     // a histogram family also has a form and buckets
	// Expires: a series that received nothing for Options.SeriesTTL is
	// dropped. Families that show the present (what is pending now) are
	// rebuilt from the scraper's state instead.
	Expires bool
}

// Metric is one metric of a family.
type Metric struct{ Name, Help string }

// Keys of the job families.
const (
	FamilyDuration       = "duration"
	FamilyQueuedDuration = "queued_duration"
	FamilyArtifactSize   = "artifact_size"
	FamilyFailures       = "failures"
	FamilyRetries        = "retries"
	FamilyLastJob        = "last_job"
	FamilyJobs           = "jobs"
	FamilyQueueByPool    = "queue_by_pool"
	FamilyPendingByPool  = "pending_by_pool"
	FamilyRunners        = "runners"
)

const fromPolling = " Gathered by background polling of the GitLab API, not at scrape time."

var jobLabels = []string{LabelProject, LabelRef, LabelStage, LabelJobName}

func withJobLabels(extra ...string) []string { return append(slices.Clone(jobLabels), extra...) }

// Families lists every job family. It is the one place where a family's
// metrics and labels are declared; the configuration is checked against it.
var Families = []Family{
	{
		Key: FamilyDuration, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_duration_seconds",
			"Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran)."}},
		Labels: withJobLabels(LabelStatus),
	},
	{
		Key: FamilyQueuedDuration, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_queued_duration_seconds",
			"Time jobs waited for a runner, observed once when each job starts."}},
		Labels: withJobLabels(),
	},
	{
		Key: FamilyArtifactSize, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_artifacts_size_bytes",
			"Size of each artifact of finished jobs, by artifact type."}},
		Labels: withJobLabels(LabelFileType),
	},
	{
		Key: FamilyFailures, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_failures_total", "Failed jobs by failure reason."}},
		Labels:  withJobLabels(LabelFailureReason, LabelAllowFailure),
	},
	{
		Key: FamilyRetries, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_retries_total", "Job attempts that were retried (a retry is a new job)."}},
		Labels:  withJobLabels(),
	},
	{
		Key: FamilyLastJob, Expires: true,
		Metrics: []Metric{
			{"gitlab_ci_job_last_status", "Status of the latest finished job on tracked refs (value 1), by its labels."},
			{"gitlab_ci_job_last_duration_seconds", "Duration of the latest finished job on tracked refs, by its labels."},
			{"gitlab_ci_job_last_finished_timestamp_seconds", "Finish time of the latest finished job on tracked refs, by its labels."},
		},
		Labels: withJobLabels(), // last_status adds status, its value
	},
	{
		Key: FamilyJobs,
		Metrics: []Metric{
			{"gitlab_ci_jobs", "Jobs and bridges now in each unfinished status (pending and running are 0 when none, for each project)."},
			{"gitlab_ci_job_oldest_pending_created_timestamp_seconds", "Creation time of the oldest job now pending."},
		},
		// Unfinished jobs keep no name, stage or ref in the scraper's state
		// (manual jobs can wait for weeks), so these gauges have none.
		Labels: []string{LabelProject, LabelStatus}, // oldest pending has all but status
	},
	// The runner-pool families sum over projects and jobs: their series are
	// the tag sets (and runner types, and runners), which do not grow with
	// the projects polled.
	{
		Key: FamilyQueueByPool, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_runner_pool_queued_duration_seconds",
			"Time jobs waited for a runner, by the tags they asked for and the type of the runner that took them, observed once when each job starts."}},
		Labels: []string{LabelTags, LabelRunnerType},
	},
	{
		// Expires: a pool with nothing pending shows 0 until it has had
		// nothing pending for the series TTL.
		Key: FamilyPendingByPool, Expires: true,
		Metrics: []Metric{
			{"gitlab_ci_runner_pool_pending_jobs", "Jobs now waiting for a runner, by the tags they ask for (0 for a pool that had some within the series TTL)."},
			{"gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds", "When the job of each pool that has waited longest for a runner was queued (absent when none waits)."},
		},
		Labels: []string{LabelTags},
	},
	{
		Key: FamilyRunners, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_runner_job_duration_seconds",
			"Duration of finished jobs by the runner that ran them (its description, or the pool it is folded into) and its type."}},
		Labels: []string{LabelRunner, LabelRunnerType, LabelStatus},
	},
}

// FamilyByKey returns the family with this key.
func FamilyByKey(key string) (Family, bool) {
	for _, f := range Families {
		if f.Key == key {
			return f, true
		}
	}
	return Family{}, false
}

// Supports reports whether the family can carry the label.
func (f Family) Supports(label string) bool { return slices.Contains(f.Labels, label) }

// HistogramForm is how a histogram family is exposed.
type HistogramForm string

const (
	// Classic: cumulative buckets with the configured bounds, in every
	// exposition format.
	Classic HistogramForm = "classic"
	// Native: one native histogram per series (factor 1.1), protobuf only;
	// the bounds only choose which exemplars are kept (one per bucket).
	Native HistogramForm = "native"
	// Both: classic buckets and the native histogram in the same series.
	Both HistogramForm = "both"
)

// HistogramForms lists the valid forms.
var HistogramForms = []HistogramForm{Classic, Native, Both}

// FamilyOptions configure one family.
type FamilyOptions struct {
	Enabled bool
	Labels  []string      // a subset of the family's Labels, any order
	Form    HistogramForm // histogram families only
	Buckets []float64     // classic upper bounds; histogram families only
}

// Options configure the job metrics.
type Options struct {
	// Families by Family.Key; every family must be present.
	Families map[string]FamilyOptions
	Refs     RefTracker
	// TagPools map a job's tag set (sorted, comma-joined) to the tags
	// label of the runner-pool families: the first rule that matches names
	// it, else OtherPool. None: the tag set itself. Untagged jobs stay "".
	TagPools []PoolRule
	// RunnerPools fold runner descriptions for the runner label: the first
	// rule that matches names it, else the description stays.
	RunnerPools []PoolRule
	// SeriesTTL: a series of an expiring family that has received nothing
	// for this long is dropped by Expire. 0 keeps series forever.
	SeriesTTL time.Duration
	// Now is the clock of created timestamps, exemplars and expiry; nil is
	// time.Now.
	Now func() time.Time
}

// check reports options the family cannot take: they are a programming
// error, since the configuration is validated against Families.
func (f Family) check(o FamilyOptions) error {
	for _, l := range o.Labels {
		if !f.Supports(l) {
			return fmt.Errorf("family %s has no label %q (it supports %s)", f.Key, l, strings.Join(f.Labels, ", "))
		}
	}
	if f.Histogram && o.Enabled && !slices.Contains(HistogramForms, o.Form) {
		return fmt.Errorf("family %s: unknown histogram form %q", f.Key, o.Form)
	}
	return nil
}

// family is a configured family: the labels it exports, by index, in the
// family's declared order.
type family struct {
	Family
	FamilyOptions
	labels []labelIndex
}

func newFamily(f Family, o FamilyOptions) (*family, error) {
	if err := f.check(o); err != nil {
		return nil, err
	}
	fam := &family{Family: f, FamilyOptions: o}
	for _, name := range f.Labels {
		if slices.Contains(o.Labels, name) {
			i, _ := labelByName(name) // declared labels are known ones
			fam.labels = append(fam.labels, i)
		}
	}
	return fam, nil
}

// labelNames are the exported label names, plus extra ones.
func (f *family) labelNames(extra ...string) []string {
	out := make([]string, 0, len(f.labels)+len(extra))
	for _, i := range f.labels {
		out = append(out, labelNames[i])
	}
	return append(out, extra...)
}

// has reports whether the family exports label i.
func (f *family) has(i labelIndex) bool { return slices.Contains(f.labels, i) }

// key joins the values of the exported labels: the series' identity.
func (f *family) key(v *labelValues) string {
	switch len(f.labels) {
	case 0:
		return ""
	case 1:
		return v[f.labels[0]]
	}
	n := len(f.labels) - 1
	for _, i := range f.labels {
		n += len(v[i])
	}
	var b strings.Builder
	b.Grow(n)
	for k, i := range f.labels {
		if k > 0 {
			b.WriteString(labelSep)
		}
		b.WriteString(v[i])
	}
	return b.String()
}

// position is where label i sits in a key's values, or -1.
func (f *family) position(i labelIndex) int { return slices.Index(f.labels, i) }

const labelSep = "\xff" // cannot occur in UTF-8 label values

// splitKey returns a key's values. They point into the key, which series
// never change.
func splitKey(key string, n int) []string {
	if n == 0 {
		return nil
	}
	return strings.SplitN(key, labelSep, n)
}
