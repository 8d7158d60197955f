package bench

// MetricsPresets are metrics sections the bench can run with
// (BENCH_METRICS), appended to the bench's configuration.
var MetricsPresets = map[string]string{
	// The defaults of config.yaml.
	"": "",
	// Every histogram native only: what Prometheus 3 with native
	// histograms stores.
	"native": `metrics:
  duration: {histogram: native}
  queued_duration: {histogram: native}
  artifact_size: {histogram: native}
`,
	// Every family with every label, classic and native: the exporter's
	// shape before the families could be configured.
	"all-labels": `metrics:
  duration: {labels: [project, ref, stage, job_name, status]}
  queued_duration: {labels: [project, ref, stage, job_name]}
  artifact_size:
    labels: [project, ref, stage, job_name, file_type]
    buckets: [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824, 4294967296]
  failures: {labels: [project, ref, stage, job_name, failure_reason, allow_failure]}
  retries: {labels: [project, ref, stage, job_name]}
  last_job: {labels: [project, ref, stage, job_name]}
  jobs: {labels: [project, status]}
`,
	// Every pipeline family off: no pipeline is fetched. The exporter as
	// it was before pipelines, on the same workload.
	"no-pipelines": `metrics:
  pipeline_duration: {enabled: false}
  pipeline_wall_time: {enabled: false}
  pipeline_queued_duration: {enabled: false}
  pipelines_finished: {enabled: false}
  pipeline_reruns: {enabled: false}
  last_pipeline: {enabled: false}
  pipelines: {enabled: false}
`,
}
