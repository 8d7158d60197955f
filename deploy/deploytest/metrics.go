package deploytest

import "sort"

// Family is one metric family as the exporter exposes it on /metrics.
type Family struct {
	Name   string
	Type   string // "counter", "gauge" or "histogram"
	Labels []string
}

// ExportedMetricNames is THE list of metric families the exporter exports;
// dashboards and alert rules may use only these (plus what Prometheus itself
// adds, see TargetSeries).
//
// app's TestExportedFamiliesMatchTheDeclaredList drives the real exporter
// and fails when this list and what it exports differ (names, types, labels),
// so the dashboards and rules are checked against what the code exports.
//
// Job families are listed with their default labels (config.yaml, metrics);
// one that is off by default (runners), with the labels it has when on.
func ExportedMetricNames() []Family {
	jobLabels := []string{"project", "ref", "stage", "job_name"}
	with := func(extra ...string) []string {
		return append(append([]string{}, jobLabels...), extra...)
	}
	return []Family{
		// Job metrics.
		{"gitlab_ci_job_duration_seconds", "histogram", with("status")},
		{"gitlab_ci_job_queued_duration_seconds", "histogram", []string{"project"}},
		{"gitlab_ci_job_failures_total", "counter", with("failure_reason", "allow_failure")},
		{"gitlab_ci_job_retries_total", "counter", with()},
		{"gitlab_ci_job_artifacts_size_bytes", "histogram", []string{"project", "file_type"}},
		{"gitlab_ci_jobs", "gauge", []string{"project", "status"}},
		{"gitlab_ci_job_oldest_pending_created_timestamp_seconds", "gauge", []string{"project"}},
		{"gitlab_ci_job_last_status", "gauge", with("status")},
		{"gitlab_ci_job_last_duration_seconds", "gauge", with()},
		{"gitlab_ci_job_last_finished_timestamp_seconds", "gauge", with()},
		{"gitlab_ci_runner_pool_queued_duration_seconds", "histogram", []string{"tags", "runner_type"}},
		{"gitlab_ci_runner_pool_pending_jobs", "gauge", []string{"tags"}},
		{"gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds", "gauge", []string{"tags"}},
		{"gitlab_ci_runner_job_duration_seconds", "histogram", []string{"runner", "runner_type"}}, // metrics.runners, off by default

		// Pipeline metrics: the histograms are across projects by default.
		{"gitlab_ci_pipeline_duration_seconds", "histogram", []string{"ref", "source", "status"}},
		{"gitlab_ci_pipeline_wall_time_seconds", "histogram", []string{"ref", "source", "status"}},
		{"gitlab_ci_pipeline_queued_duration_seconds", "histogram", []string{"ref", "source"}},
		{"gitlab_ci_pipelines_finished_total", "counter", []string{"project", "ref", "source", "status"}},
		{"gitlab_ci_pipeline_reruns_total", "counter", []string{"project", "ref", "source", "first_status", "status"}},
		{"gitlab_ci_pipeline_last_status", "gauge", []string{"project", "ref", "source", "status"}},
		{"gitlab_ci_pipeline_last_duration_seconds", "gauge", []string{"project", "ref", "source"}},
		{"gitlab_ci_pipeline_last_finished_timestamp_seconds", "gauge", []string{"project", "ref", "source"}},
		{"gitlab_ci_pipeline_last_coverage_ratio", "gauge", []string{"project", "ref", "source"}},
		{"gitlab_ci_pipelines", "gauge", []string{"project", "status"}},

		// Self-metrics.
		{"gitlab_jobs_exporter_build_info", "gauge", []string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags"}},
		{"gitlab_jobs_exporter_api_requests_total", "counter", []string{"endpoint", "code"}},
		{"gitlab_jobs_exporter_api_request_duration_seconds", "histogram", []string{"endpoint"}},
		{"gitlab_jobs_exporter_rate_limit_remaining", "gauge", nil},
		{"gitlab_jobs_exporter_project_up", "gauge", []string{"project"}},
		{"gitlab_jobs_exporter_project_last_success_timestamp_seconds", "gauge", []string{"project"}},
		{"gitlab_jobs_exporter_poll_duration_seconds", "histogram", nil},
		{"gitlab_jobs_exporter_polls_total", "counter", []string{"project"}},
		{"gitlab_jobs_exporter_poll_requests_total", "counter", []string{"project"}},
		{"gitlab_jobs_exporter_poll_errors_total", "counter", []string{"project", "reason"}},
		{"gitlab_jobs_exporter_projects", "gauge", nil},
		{"gitlab_jobs_exporter_shard_info", "gauge", []string{"shard", "total_shards"}},
		{"gitlab_jobs_exporter_group_up", "gauge", []string{"group"}},
		{"gitlab_jobs_exporter_group_errors_total", "counter", []string{"group", "reason"}},
		{"gitlab_jobs_exporter_followed_jobs", "gauge", nil},
		{"gitlab_jobs_exporter_jobs_observed_total", "counter", nil},
		{"gitlab_jobs_exporter_pipelines_observed_total", "counter", nil},
		{"gitlab_jobs_exporter_series", "gauge", []string{"family"}},
		{"gitlab_jobs_exporter_webhook_deliveries_total", "counter", []string{"event", "result"}},
		{"gitlab_jobs_exporter_webhook_polls_total", "counter", nil},
		{"gitlab_jobs_exporter_webhook_poll_requests_total", "counter", nil},
		{"gitlab_jobs_exporter_webhook_poll_errors_total", "counter", []string{"reason"}},
		{"gitlab_jobs_exporter_webhook_forwards_total", "counter", []string{"owner_shard", "result"}},
		{"gitlab_jobs_exporter_webhook_delivery_to_count_seconds", "histogram", nil},
		{"gitlab_jobs_exporter_state_errors_total", "counter", []string{"op"}},
		{"gitlab_jobs_exporter_config_last_reload_successful", "gauge", nil},
		{"gitlab_jobs_exporter_config_last_reload_success_timestamp_seconds", "gauge", nil},

		// The standard Go and process collectors (only the families the
		// dashboards use are listed).
		{"go_goroutines", "gauge", nil},
		{"process_resident_memory_bytes", "gauge", nil},
		{"process_cpu_seconds_total", "counter", nil},
	}
}

// targetLabels are attached by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// TargetSeries are series Prometheus creates itself for every scrape target;
// `up` is the only one the dashboards and rules use.
var TargetSeries = map[string][]string{"up": nil}

// Series maps every series name a query may select (a histogram's _bucket,
// _sum and _count, and its native form under the bare name) to the label
// names that series carries.
func Series(families []Family) map[string][]string {
	out := map[string][]string{}
	add := func(name string, labels []string) {
		l := append(append([]string{}, labels...), targetLabels...)
		sort.Strings(l)
		out[name] = l
	}
	for _, f := range families {
		if f.Type == "histogram" {
			// Classic series, and the one series of a native histogram (or
			// of a classic one Prometheus 3 stores as NHCB).
			add(f.Name+"_bucket", append(append([]string{}, f.Labels...), "le"))
			add(f.Name+"_sum", f.Labels)
			add(f.Name+"_count", f.Labels)
			add(f.Name, f.Labels)
			continue
		}
		add(f.Name, f.Labels)
	}
	for name, labels := range TargetSeries {
		add(name, labels)
	}
	return out
}
