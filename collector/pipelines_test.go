package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

func pipeline(id int64, ref, source, status string, duration float64, created, finished string) *gitlabapi.Pipeline {
	pl := &gitlabapi.Pipeline{
		PipelineBasic: gitlabapi.PipelineBasic{ID: id, Ref: ref, Source: source, Status: status, CreatedAt: at(created)},
		FinishedAt:    at(finished), Duration: &duration,
	}
	return pl
}

func recordPipelines(m *Metrics) {
	queued, coverage := 4.0, gitlabapi.Percent(87.5)
	main := pipeline(10, "main", "push", "success", 50, "2026-03-02T08:00:00Z", "2026-03-02T08:02:00Z")
	main.QueuedDuration, main.Coverage = &queued, &coverage
	m.PipelineFinished(app, main)
	m.PipelineFinished(app, pipeline(11, "main", "parent_pipeline", "success", 30, "2026-03-02T08:00:30Z", "2026-03-02T08:01:00Z"))
	mr := pipeline(12, "refs/merge-requests/7/head", "merge_request_event", "failed", 20, "2026-03-02T08:00:00Z", "2026-03-02T08:00:40Z")
	m.PipelineFinished(app, mr)
	// Retried twice, green both times: counted as a rerun once.
	green := *mr
	green.Status = "success"
	m.PipelineRerun(app, &green, "failed", false)
	m.PipelineRerun(app, &green, "failed", true)
	// A later result of the latest main pipeline moves its last status.
	again := *main
	again.Status, again.Coverage = "failed", nil
	m.PipelineRerun(app, &again, "success", false)
	m.ProjectPipelines(app, map[string]int{"pending": 2, "manual": 1})
	m.ProjectPipelines(event.Project{ID: 2, Path: "g/idle", DefaultBranch: "main"}, map[string]int{})
}

func TestPipelineMetricsOutput(t *testing.T) {
	m := newMetrics(t, everyLabel())
	recordPipelines(m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	want := `
# HELP gitlab_ci_pipeline_duration_seconds GitLab's duration of finished pipelines (the union of their latest jobs' running periods: no queueing, no retried attempts; 0 for pipelines that never started), observed once per pipeline at its first result.` + fromPolling + `
# TYPE gitlab_ci_pipeline_duration_seconds histogram
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="main",source="parent_pipeline",status="success",le="10"} 0
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="main",source="parent_pipeline",status="success",le="60"} 1
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="main",source="parent_pipeline",status="success",le="+Inf"} 1
gitlab_ci_pipeline_duration_seconds_sum{project="g/app",ref="main",source="parent_pipeline",status="success"} 30
gitlab_ci_pipeline_duration_seconds_count{project="g/app",ref="main",source="parent_pipeline",status="success"} 1
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="main",source="push",status="success",le="10"} 0
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="main",source="push",status="success",le="60"} 1
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="main",source="push",status="success",le="+Inf"} 1
gitlab_ci_pipeline_duration_seconds_sum{project="g/app",ref="main",source="push",status="success"} 50
gitlab_ci_pipeline_duration_seconds_count{project="g/app",ref="main",source="push",status="success"} 1
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="merge_request",source="merge_request_event",status="failed",le="10"} 0
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="merge_request",source="merge_request_event",status="failed",le="60"} 1
gitlab_ci_pipeline_duration_seconds_bucket{project="g/app",ref="merge_request",source="merge_request_event",status="failed",le="+Inf"} 1
gitlab_ci_pipeline_duration_seconds_sum{project="g/app",ref="merge_request",source="merge_request_event",status="failed"} 20
gitlab_ci_pipeline_duration_seconds_count{project="g/app",ref="merge_request",source="merge_request_event",status="failed"} 1
# HELP gitlab_ci_pipelines_finished_total Finished pipelines by their first result, each counted once.` + fromPolling + `
# TYPE gitlab_ci_pipelines_finished_total counter
gitlab_ci_pipelines_finished_total{project="g/app",ref="main",source="parent_pipeline",status="success"} 1
gitlab_ci_pipelines_finished_total{project="g/app",ref="main",source="push",status="success"} 1
gitlab_ci_pipelines_finished_total{project="g/app",ref="merge_request",source="merge_request_event",status="failed"} 1
# HELP gitlab_ci_pipeline_reruns_total Finished pipelines that ran again (a job retried or played) and finished again, once per pipeline and later result (status), by first result (first_status).` + fromPolling + `
# TYPE gitlab_ci_pipeline_reruns_total counter
gitlab_ci_pipeline_reruns_total{first_status="failed",project="g/app",ref="merge_request",source="merge_request_event",status="success"} 1
gitlab_ci_pipeline_reruns_total{first_status="success",project="g/app",ref="main",source="push",status="failed"} 1
# HELP gitlab_ci_pipeline_last_status Latest result of the latest finished pipeline on tracked refs (value 1), by its labels.` + fromPolling + `
# TYPE gitlab_ci_pipeline_last_status gauge
gitlab_ci_pipeline_last_status{project="g/app",ref="main",source="parent_pipeline",status="success"} 1
gitlab_ci_pipeline_last_status{project="g/app",ref="main",source="push",status="failed"} 1
# HELP gitlab_ci_pipeline_last_coverage_ratio Test coverage of the latest finished pipeline on tracked refs (GitLab's percentage / 100; absent when it has none).` + fromPolling + `
# TYPE gitlab_ci_pipeline_last_coverage_ratio gauge
# HELP gitlab_ci_pipeline_last_finished_timestamp_seconds Finish time of the latest finished pipeline on tracked refs.` + fromPolling + `
# TYPE gitlab_ci_pipeline_last_finished_timestamp_seconds gauge
gitlab_ci_pipeline_last_finished_timestamp_seconds{project="g/app",ref="main",source="parent_pipeline"} 1.77243846e+09
gitlab_ci_pipeline_last_finished_timestamp_seconds{project="g/app",ref="main",source="push"} 1.77243852e+09
# HELP gitlab_ci_pipelines Pipelines now in each unfinished status.` + fromPolling + `
# TYPE gitlab_ci_pipelines gauge
gitlab_ci_pipelines{project="g/app",status="manual"} 1
gitlab_ci_pipelines{project="g/app",status="pending"} 2
gitlab_ci_pipelines{project="g/app",status="running"} 0
gitlab_ci_pipelines{project="g/idle",status="running"} 0
# HELP gitlab_jobs_exporter_pipelines_observed_total Pipelines counted into the pipeline metrics at their first result.
# TYPE gitlab_jobs_exporter_pipelines_observed_total counter
gitlab_jobs_exporter_pipelines_observed_total 3
`
	names := []string{"gitlab_ci_pipeline_duration_seconds", "gitlab_ci_pipelines_finished_total",
		"gitlab_ci_pipeline_reruns_total", "gitlab_ci_pipeline_last_status", "gitlab_ci_pipeline_last_coverage_ratio",
		"gitlab_ci_pipeline_last_finished_timestamp_seconds", "gitlab_ci_pipelines", "gitlab_jobs_exporter_pipelines_observed_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Wall time: 120 s for main, 30 s for the child, 40 s for the MR.
	if got := histogramSum(t, reg, "gitlab_ci_pipeline_wall_time_seconds"); got != 190 {
		t.Errorf("wall time sum %v, want 190", got)
	}
	if got := testutil.CollectAndCount(m, "gitlab_ci_pipeline_queued_duration_seconds"); got != 1 {
		t.Errorf("queued duration series %d, want 1 (only main's pipeline has one)", got)
	}
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// histogramSum adds the sums of every series of a histogram.
func histogramSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return sum
}

func TestLastPipelineCoverage(t *testing.T) {
	m := newMetrics(t, everyLabel())
	coverage := gitlabapi.Percent(87.5)
	pl := pipeline(10, "main", "push", "success", 50, "2026-03-02T08:00:00Z", "2026-03-02T08:02:00Z")
	pl.Coverage = &coverage
	m.PipelineFinished(app, pl)
	want := `
# HELP gitlab_ci_pipeline_last_coverage_ratio Test coverage of the latest finished pipeline on tracked refs (GitLab's percentage / 100; absent when it has none).` + fromPolling + `
# TYPE gitlab_ci_pipeline_last_coverage_ratio gauge
gitlab_ci_pipeline_last_coverage_ratio{project="g/app",ref="main",source="push"} 0.875
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_pipeline_last_coverage_ratio"); err != nil {
		t.Error(err)
	}
	// An older pipeline finishing later does not replace the latest.
	m.PipelineFinished(app, pipeline(9, "main", "push", "failed", 50, "2026-03-02T07:00:00Z", "2026-03-02T08:05:00Z"))
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_pipeline_last_coverage_ratio"); err != nil {
		t.Error(err)
	}
}

// Dropping every label aggregates: the default pipeline histograms carry
// no project, and a project's removal leaves them alone.
func TestPipelineFamiliesWithoutProject(t *testing.T) {
	o := with(everyLabel(), family.PipelineDuration, func(f *family.Options) {
		f.Labels = []string{family.LabelSource, family.LabelStatus}
	})
	m := newMetrics(t, o)
	recordPipelines(m)
	m.ProjectRemoved("g/app")
	if got := testutil.CollectAndCount(m, "gitlab_ci_pipeline_duration_seconds"); got != 3 {
		t.Errorf("duration series %d, want 3 (push, parent_pipeline, merge_request_event)", got)
	}
	for _, name := range []string{"gitlab_ci_pipelines_finished_total", "gitlab_ci_pipeline_last_status"} {
		if got := testutil.CollectAndCount(m, name); got != 0 {
			t.Errorf("%s: %d series of the removed project", name, got)
		}
	}
	if got := testutil.CollectAndCount(m, "gitlab_ci_pipelines"); got != 1 {
		t.Errorf("unfinished pipelines: %d series, want only the other project's", got)
	}
}

func TestHandOverDropsPipelineGauges(t *testing.T) {
	m := newMetrics(t, everyLabel())
	recordPipelines(m)
	m.ProjectHandedOver("g/app")
	for name, want := range map[string]int{
		"gitlab_ci_pipeline_last_status": 0, "gitlab_ci_pipelines": 1, // g/idle's
		"gitlab_ci_pipelines_finished_total": 3, // counters stay: this shard's counts
	} {
		if got := testutil.CollectAndCount(m, name); got != want {
			t.Errorf("%s: %d series after the hand-over, want %d", name, got, want)
		}
	}
}
