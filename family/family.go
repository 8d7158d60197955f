// Package family declares the job and pipeline metric families: their metrics, the
// labels each supports and the forms of histograms. It is the one list the
// configuration is checked against and the collector builds from, and it
// imports nothing of the exporter's.
package family

import (
	"fmt"
	"slices"
	"strings"
)

// The labels job families can carry. Each family supports a subset (see
// All) and exports the subset configured for it.
const (
	LabelProject       = "project"        // path_with_namespace
	LabelRef           = "ref"            // tracked branch or tag, else the class of an untracked ref
	LabelSource        = "source"         // what made the job's pipeline: GitLab's pipeline source
	LabelStage         = "stage"          // the job's stage
	LabelJobName       = "job_name"       // the job's name without parallel or matrix suffix
	LabelStatus        = "status"         // the job's status
	LabelFailureReason = "failure_reason" // GitLab's failure_reason of a failed job
	LabelAllowFailure  = "allow_failure"  // "true" or "false"
	LabelFileType      = "file_type"      // an artifact's file_type
	LabelTags          = "tags"           // the runner tags a job asks for, sorted and comma-joined, or their pool
	LabelRunnerType    = "runner_type"    // instance_type, group_type, project_type or unknown
	LabelRunner        = "runner"         // the runner's description, or its pool
	LabelFirstStatus   = "first_status"   // a pipeline's first result, when it finished again
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
	// Pipeline: the family counts pipelines, not jobs.
	Pipeline bool
}

// Metric is one metric of a family.
type Metric struct{ Name, Help string }

// Keys of the job families, then of the pipeline families.
const (
	Duration       = "duration"
	QueuedDuration = "queued_duration"
	ArtifactSize   = "artifact_size"
	Failures       = "failures"
	Retries        = "retries"
	LastJob        = "last_job"
	Jobs           = "jobs"
	QueueByPool    = "queue_by_pool"
	PendingByPool  = "pending_by_pool"
	Runners        = "runners"

	PipelineDuration       = "pipeline_duration"
	PipelineWallTime       = "pipeline_wall_time"
	PipelineQueuedDuration = "pipeline_queued_duration"
	PipelinesFinished      = "pipelines_finished"
	PipelineReruns         = "pipeline_reruns"
	LastPipeline           = "last_pipeline"
	Pipelines              = "pipelines"
)

var (
	jobLabels      = []string{LabelProject, LabelRef, LabelSource, LabelStage, LabelJobName}
	pipelineLabels = []string{LabelProject, LabelRef, LabelSource}
)

func withPipelineLabels(extra ...string) []string {
	return append(slices.Clone(pipelineLabels), extra...)
}

func withJobLabels(extra ...string) []string { return append(slices.Clone(jobLabels), extra...) }

// All lists every job family. It is the one place where a family's
// metrics and labels are declared; the configuration is checked against it.
var All = []Family{
	{
		Key: Duration, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_duration_seconds",
			"Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran)."}},
		Labels: withJobLabels(LabelStatus),
	},
	{
		Key: QueuedDuration, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_queued_duration_seconds",
			"Time jobs waited for a runner, observed once when each job starts."}},
		Labels: withJobLabels(),
	},
	{
		Key: ArtifactSize, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_artifacts_size_bytes",
			"Size of each artifact of finished jobs, by artifact type."}},
		Labels: withJobLabels(LabelFileType),
	},
	{
		Key: Failures, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_failures_total", "Failed jobs by failure reason."}},
		Labels:  withJobLabels(LabelFailureReason, LabelAllowFailure),
	},
	{
		Key: Retries, Expires: true,
		Metrics: []Metric{{"gitlab_ci_job_retries_total", "Job attempts that were retried (a retry is a new job)."}},
		Labels:  withJobLabels(),
	},
	{
		Key: LastJob, Expires: true,
		Metrics: []Metric{
			{"gitlab_ci_job_last_status", "Status of the latest finished job on tracked refs (value 1), by its labels."},
			{"gitlab_ci_job_last_duration_seconds", "Duration of the latest finished job on tracked refs, by its labels."},
			{"gitlab_ci_job_last_finished_timestamp_seconds", "Finish time of the latest finished job on tracked refs, by its labels."},
		},
		Labels: withJobLabels(), // last_status adds status, its value
	},
	{
		Key: Jobs,
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
		Key: QueueByPool, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_runner_pool_queued_duration_seconds",
			"Time jobs waited for a runner, by the tags they asked for and the type of the runner that took them, observed once when each job starts."}},
		Labels: []string{LabelTags, LabelRunnerType},
	},
	{
		// Expires: a pool with nothing pending shows 0 until it has had
		// nothing pending for the series TTL.
		Key: PendingByPool, Expires: true,
		Metrics: []Metric{
			{"gitlab_ci_runner_pool_pending_jobs", "Jobs now waiting for a runner, by the tags they ask for (0 for a pool that had some within the series TTL)."},
			{"gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds", "When the job of each pool that has waited longest for a runner was queued (absent when none waits)."},
		},
		Labels: []string{LabelTags},
	},
	{
		Key: Runners, Histogram: true, Expires: true,
		Metrics: []Metric{{"gitlab_ci_runner_job_duration_seconds",
			"Duration of finished jobs by the runner that ran them (its description, or the pool it is folded into) and its type."}},
		Labels: []string{LabelRunner, LabelRunnerType, LabelStatus},
	},

	// Pipeline families. A pipeline is counted once, when the scraper
	// first finds it finished, with that first result as its status; a
	// pipeline that runs again (a job retried or played after it finished)
	// and finishes again is counted by pipeline_reruns, once per later
	// result, and moves the latest-pipeline gauges.
	{
		Key: PipelineDuration, Histogram: true, Expires: true, Pipeline: true,
		Metrics: []Metric{{"gitlab_ci_pipeline_duration_seconds",
			"GitLab's duration of finished pipelines (the union of their latest jobs' running periods: no queueing, no retried attempts; 0 for pipelines that never started), observed once per pipeline at its first result."}},
		Labels: withPipelineLabels(LabelStatus),
	},
	{
		Key: PipelineWallTime, Histogram: true, Expires: true, Pipeline: true,
		Metrics: []Metric{{"gitlab_ci_pipeline_wall_time_seconds",
			"Time from each pipeline's creation to its first result (what a developer waits: queueing and gaps included), observed once per pipeline."}},
		Labels: withPipelineLabels(LabelStatus),
	},
	{
		Key: PipelineQueuedDuration, Histogram: true, Expires: true, Pipeline: true,
		Metrics: []Metric{{"gitlab_ci_pipeline_queued_duration_seconds",
			"Time from each pipeline's creation to its start (GitLab's queued_duration), observed once per pipeline that started."}},
		Labels: withPipelineLabels(),
	},
	{
		Key: PipelinesFinished, Expires: true, Pipeline: true,
		Metrics: []Metric{{"gitlab_ci_pipelines_finished_total",
			"Finished pipelines by their first result, each counted once."}},
		Labels: withPipelineLabels(LabelStatus),
	},
	{
		Key: PipelineReruns, Expires: true, Pipeline: true,
		Metrics: []Metric{{"gitlab_ci_pipeline_reruns_total",
			"Finished pipelines that ran again (a job retried or played) and finished again, once per pipeline and later result (status), by first result (first_status)."}},
		Labels: withPipelineLabels(LabelFirstStatus, LabelStatus),
	},
	{
		Key: LastPipeline, Expires: true, Pipeline: true,
		Metrics: []Metric{
			{"gitlab_ci_pipeline_last_status", "Latest result of the latest finished pipeline on tracked refs (value 1), by its labels."},
			{"gitlab_ci_pipeline_last_duration_seconds", "GitLab's duration of the latest finished pipeline on tracked refs."},
			{"gitlab_ci_pipeline_last_finished_timestamp_seconds", "Finish time of the latest finished pipeline on tracked refs."},
			{"gitlab_ci_pipeline_last_coverage_ratio", "Test coverage of the latest finished pipeline on tracked refs (GitLab's percentage / 100; absent when it has none)."},
		},
		Labels: withPipelineLabels(), // last_status adds status, its value
	},
	{
		Key: Pipelines, Pipeline: true,
		Metrics: []Metric{{"gitlab_ci_pipelines", "Pipelines now in each unfinished status."}},
		Labels:  []string{LabelProject, LabelStatus},
	},
}

// ByKey returns the family with this key.
func ByKey(key string) (Family, bool) {
	for _, f := range All {
		if f.Key == key {
			return f, true
		}
	}
	return Family{}, false
}

// Supports reports whether the family can carry the label.
func (f Family) Supports(label string) bool { return slices.Contains(f.Labels, label) }

// Form is how a histogram family is exposed.
type Form string

const (
	// Classic: cumulative buckets with the configured bounds, in every
	// exposition format.
	Classic Form = "classic"
	// Native: one native histogram per series (factor 1.1), protobuf only;
	// the bounds only choose which exemplars are kept (one per bucket).
	Native Form = "native"
	// Both: classic buckets and the native histogram in the same series.
	Both Form = "both"
)

// Forms lists the valid forms.
var Forms = []Form{Classic, Native, Both}

// Options configure one family.
type Options struct {
	Enabled bool
	Labels  []string  // a subset of the family's Labels, any order
	Form    Form      // histogram families only
	Buckets []float64 // classic upper bounds; histogram families only
}

// Check reports options the family cannot take: they are a programming
// error, since the configuration is validated against All.
func (f Family) Check(o Options) error {
	for _, l := range o.Labels {
		if !f.Supports(l) {
			return fmt.Errorf("family %s has no label %q (it supports %s)", f.Key, l, strings.Join(f.Labels, ", "))
		}
	}
	if f.Histogram && o.Enabled && !slices.Contains(Forms, o.Form) {
		return fmt.Errorf("family %s: unknown histogram form %q", f.Key, o.Form)
	}
	return nil
}
