package collector

import (
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector/internal/promdto"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

func TestJobName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rspec", "rspec"},
		{"rspec 2/5", "rspec"},
		{"rspec 12/40", "rspec"},
		{"deploy: [eu, prod]", "deploy"},
		{"deploy: [eu, prod] 1/2", "deploy"},
		{"build [linux]", "build"},
		{"test:unit", "test:unit"},
		{"v1/2 migration", "v1/2 migration"},
		{"step 1/2 of 3", "step 1/2 of 3"},
	} {
		if got := JobName(tc.in); got != tc.want {
			t.Errorf("JobName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRefLabel(t *testing.T) {
	// The tracked regex matches merge request refs too: their iid must
	// still never become a label value.
	tracker := NewRefTracker(regexp.MustCompile(`^(?:release/.*|refs/.*)$`))
	for _, tc := range []struct{ ref, def, want string }{
		{"main", "main", "main"},
		{"master", "main", OtherRef},
		{"release/1.2", "main", "release/1.2"},
		{"feature/x", "main", OtherRef},
		{"develop", "develop", "develop"},
		{"refs/merge-requests/17/head", "main", MergeRequestRef},
		{"refs/merge-requests/17/merge", "main", MergedResultRef},
		{"refs/merge-requests/9999/train", "main", MergeTrainRef},
		{"refs/merge-requests/17/other", "main", "refs/merge-requests/17/other"},
		{"refs/merge-requests/x/head", "main", "refs/merge-requests/x/head"},
	} {
		if got := tracker.Label(tc.ref, tc.def); got != tc.want {
			t.Errorf("Label(%q, default %q) = %q, want %q", tc.ref, tc.def, got, tc.want)
		}
	}
	if got := NewRefTracker(nil).Label("release/1.2", "main"); got != OtherRef {
		t.Errorf("without a tracked regex, release/1.2 = %q, want other", got)
	}
	if tracker.Tracked("refs/merge-requests/17/head", "refs/merge-requests/17/head") {
		t.Errorf("a merge request ref is tracked")
	}
}

func TestSourceLabel(t *testing.T) {
	for in, want := range map[string]string{
		"push": "push", "merge_request_event": "merge_request_event", "parent_pipeline": "parent_pipeline",
		"schedule": "schedule", "": "unknown", "something_new": "unknown",
	} {
		if got := SourceLabel(in); got != want {
			t.Errorf("SourceLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func f64(v float64) *float64 { return &v }

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// everyLabel enables every family with every label it supports, classic
// histograms with two buckets each.
func everyLabel() Options {
	o := Options{Families: map[string]family.Options{}}
	for _, f := range family.All {
		fo := family.Options{Enabled: true, Labels: slices.Clone(f.Labels)}
		if f.Histogram {
			fo.Form, fo.Buckets = family.Classic, []float64{10, 60}
			if f.Key == family.ArtifactSize {
				fo.Buckets = []float64{1024, 1 << 20}
			}
		}
		o.Families[f.Key] = fo
	}
	return o
}

// with returns o with family key changed by change.
func with(o Options, key string, change func(*family.Options)) Options {
	fams := map[string]family.Options{}
	for k, v := range o.Families {
		fams[k] = v
	}
	fo := fams[key]
	change(&fo)
	fams[key] = fo
	o.Families = fams
	return o
}

func newMetrics(t testing.TB, o Options) *Metrics {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	app   = event.Project{ID: 1, Path: "g/app", DefaultBranch: "main"}
	okJob = &gitlabapi.Job{ID: 10, Name: "rspec 1/2", Stage: "test", Ref: "main", Status: "success", Pipeline: gitlabapi.PipelineBasic{Source: "push"},
		Duration: f64(42), QueuedDuration: f64(3), StartedAt: at("2026-03-02T09:00:00Z"), FinishedAt: at("2026-03-02T09:00:42Z"),
		Artifacts: []gitlabapi.Artifact{{FileType: "archive", Size: 2048}, {FileType: "trace", Size: 100}},
		TagList:   []string{"docker", "linux"},
		Runner:    &gitlabapi.Runner{ID: 7, Description: "shared-1", IsShared: true, RunnerType: "instance_type"}}
	failedJob = &gitlabapi.Job{ID: 11, Name: "rspec 2/2", Stage: "test", Ref: "feature/x", Status: "failed", Pipeline: gitlabapi.PipelineBasic{Source: "push"},
		FailureReason: "script_failure", Duration: f64(70), QueuedDuration: f64(90), StartedAt: at("2026-03-02T09:00:00Z"),
		Artifacts: []gitlabapi.Artifact{{FileType: "trace", Size: 5000}},
		Runner:    &gitlabapi.Runner{ID: 8, RunnerType: "group_type"}} // untagged, on a runner without description
	skippedJob = &gitlabapi.Job{ID: 12, Name: "deploy: [eu, prod]", Stage: "deploy", Ref: "main", Status: "skipped", Pipeline: gitlabapi.PipelineBasic{Source: "schedule"}}
)

// record feeds the three jobs above, a retry and four unfinished jobs.
func record(m *Metrics) {
	m.JobStarted(app, okJob)
	m.JobFinished(app, okJob)
	m.JobStarted(app, failedJob)
	m.JobFinished(app, failedJob)
	m.JobRetried(app, failedJob)
	m.JobFinished(app, skippedJob)
	m.ProjectActive(app, []event.ActiveJob{
		{ID: 20, Status: "pending", CreatedAt: *at("2026-03-02T08:00:00Z"), Tags: "docker", QueuedAt: *at("2026-03-02T08:10:00Z")},
		{ID: 21, Status: "pending", CreatedAt: *at("2026-03-02T08:30:00Z"), Tags: "docker", QueuedAt: *at("2026-03-02T08:30:00Z")},
		{ID: 22, Status: "running"},
		{ID: 23, Status: "waiting_for_callback2"},
	})
}

func TestJobMetricsOutput(t *testing.T) {
	m := newMetrics(t, everyLabel())
	record(m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	want := `
# HELP gitlab_ci_job_duration_seconds Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran).` + fromPolling + `
# TYPE gitlab_ci_job_duration_seconds histogram
gitlab_ci_job_duration_seconds_bucket{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped",le="10"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped"} 0
gitlab_ci_job_duration_seconds_count{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="main",source="push",stage="test",status="success",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="main",source="push",stage="test",status="success",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="main",source="push",stage="test",status="success",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job_name="rspec",project="g/app",ref="main",source="push",stage="test",status="success"} 42
gitlab_ci_job_duration_seconds_count{job_name="rspec",project="g/app",ref="main",source="push",stage="test",status="success"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="other",source="push",stage="test",status="failed",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="other",source="push",stage="test",status="failed",le="60"} 0
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="other",source="push",stage="test",status="failed",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job_name="rspec",project="g/app",ref="other",source="push",stage="test",status="failed"} 70
gitlab_ci_job_duration_seconds_count{job_name="rspec",project="g/app",ref="other",source="push",stage="test",status="failed"} 1
# HELP gitlab_ci_job_failures_total Failed jobs by failure reason.` + fromPolling + `
# TYPE gitlab_ci_job_failures_total counter
gitlab_ci_job_failures_total{allow_failure="false",failure_reason="script_failure",job_name="rspec",project="g/app",ref="other",source="push",stage="test"} 1
# HELP gitlab_ci_job_retries_total Job attempts that were retried (a retry is a new job).` + fromPolling + `
# TYPE gitlab_ci_job_retries_total counter
gitlab_ci_job_retries_total{job_name="rspec",project="g/app",ref="other",source="push",stage="test"} 1
# HELP gitlab_ci_jobs Jobs and bridges now in each unfinished status (pending and running are 0 when none, for each project).` + fromPolling + `
# TYPE gitlab_ci_jobs gauge
gitlab_ci_jobs{project="g/app",status="pending"} 2
gitlab_ci_jobs{project="g/app",status="running"} 1
gitlab_ci_jobs{project="g/app",status="waiting_for_callback2"} 1
# HELP gitlab_ci_job_oldest_pending_created_timestamp_seconds Creation time of the oldest job now pending.` + fromPolling + `
# TYPE gitlab_ci_job_oldest_pending_created_timestamp_seconds gauge
gitlab_ci_job_oldest_pending_created_timestamp_seconds{project="g/app"} 1.7724384e+09
# HELP gitlab_ci_job_last_status Status of the latest finished job on tracked refs (value 1), by its labels.` + fromPolling + `
# TYPE gitlab_ci_job_last_status gauge
gitlab_ci_job_last_status{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped"} 1
gitlab_ci_job_last_status{job_name="rspec",project="g/app",ref="main",source="push",stage="test",status="success"} 1
# HELP gitlab_ci_job_last_finished_timestamp_seconds Finish time of the latest finished job on tracked refs, by its labels.` + fromPolling + `
# TYPE gitlab_ci_job_last_finished_timestamp_seconds gauge
gitlab_ci_job_last_finished_timestamp_seconds{job_name="rspec",project="g/app",ref="main",source="push",stage="test"} 1.772442042e+09
# HELP gitlab_jobs_exporter_jobs_observed_total Finished jobs and bridges counted into the job metrics.
# TYPE gitlab_jobs_exporter_jobs_observed_total counter
gitlab_jobs_exporter_jobs_observed_total 3
# HELP gitlab_jobs_exporter_followed_jobs Unfinished jobs and bridges the scraper follows until they finish.
# TYPE gitlab_jobs_exporter_followed_jobs gauge
gitlab_jobs_exporter_followed_jobs 4
# HELP gitlab_jobs_exporter_series Label sets each job family exports now (a histogram label set is one native series, or buckets + 3 classic ones).
# TYPE gitlab_jobs_exporter_series gauge
gitlab_jobs_exporter_series{family="artifact_size"} 3
gitlab_jobs_exporter_series{family="duration"} 3
gitlab_jobs_exporter_series{family="failures"} 1
gitlab_jobs_exporter_series{family="jobs"} 4
gitlab_jobs_exporter_series{family="last_job"} 2
gitlab_jobs_exporter_series{family="last_pipeline"} 0
gitlab_jobs_exporter_series{family="pending_by_pool"} 2
gitlab_jobs_exporter_series{family="pipeline_duration"} 0
gitlab_jobs_exporter_series{family="pipeline_queued_duration"} 0
gitlab_jobs_exporter_series{family="pipeline_reruns"} 0
gitlab_jobs_exporter_series{family="pipeline_wall_time"} 0
gitlab_jobs_exporter_series{family="pipelines"} 0
gitlab_jobs_exporter_series{family="pipelines_finished"} 0
gitlab_jobs_exporter_series{family="queue_by_pool"} 2
gitlab_jobs_exporter_series{family="queued_duration"} 2
gitlab_jobs_exporter_series{family="retries"} 1
gitlab_jobs_exporter_series{family="runners"} 2
`
	names := []string{"gitlab_ci_job_duration_seconds", "gitlab_ci_job_failures_total", "gitlab_ci_job_retries_total",
		"gitlab_ci_jobs", "gitlab_ci_job_oldest_pending_created_timestamp_seconds", "gitlab_ci_job_last_status",
		"gitlab_ci_job_last_finished_timestamp_seconds", "gitlab_jobs_exporter_jobs_observed_total",
		"gitlab_jobs_exporter_followed_jobs", "gitlab_jobs_exporter_series"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(m, "gitlab_ci_job_artifacts_size_bytes"); got != 3 {
		t.Errorf("artifact series = %d, want 3 (archive and trace of rspec on main, trace on other)", got)
	}
	if got := testutil.CollectAndCount(m, "gitlab_ci_job_queued_duration_seconds"); got != 2 {
		t.Errorf("queued series = %d, want 2", got)
	}
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestFewerLabelsAggregate: dropping labels sums over them, so the counts
// stay those of every job.
func TestFewerLabelsAggregate(t *testing.T) {
	o := everyLabel()
	for _, key := range []string{family.Duration, family.Failures, family.Retries, family.LastJob} {
		o = with(o, key, func(f *family.Options) { f.Labels = []string{family.LabelProject} })
	}
	o = with(o, family.QueuedDuration, func(f *family.Options) { f.Labels = nil })
	o = with(o, family.ArtifactSize, func(f *family.Options) { f.Labels = []string{family.LabelFileType} })
	m := newMetrics(t, o)
	record(m)
	// Another project with the same jobs: the projectless queue histogram
	// and the artifacts by type sum over both.
	other := event.Project{ID: 2, Path: "g/other", DefaultBranch: "main"}
	m.JobStarted(other, okJob)
	m.JobFinished(other, okJob)
	want := `
# HELP gitlab_ci_job_duration_seconds Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran).` + fromPolling + `
# TYPE gitlab_ci_job_duration_seconds histogram
gitlab_ci_job_duration_seconds_bucket{project="g/app",le="10"} 1
gitlab_ci_job_duration_seconds_bucket{project="g/app",le="60"} 2
gitlab_ci_job_duration_seconds_bucket{project="g/app",le="+Inf"} 3
gitlab_ci_job_duration_seconds_sum{project="g/app"} 112
gitlab_ci_job_duration_seconds_count{project="g/app"} 3
gitlab_ci_job_duration_seconds_bucket{project="g/other",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{project="g/other",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{project="g/other",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{project="g/other"} 42
gitlab_ci_job_duration_seconds_count{project="g/other"} 1
# HELP gitlab_ci_job_queued_duration_seconds Time jobs waited for a runner, observed once when each job starts.` + fromPolling + `
# TYPE gitlab_ci_job_queued_duration_seconds histogram
gitlab_ci_job_queued_duration_seconds_bucket{le="10"} 2
gitlab_ci_job_queued_duration_seconds_bucket{le="60"} 2
gitlab_ci_job_queued_duration_seconds_bucket{le="+Inf"} 3
gitlab_ci_job_queued_duration_seconds_sum 96
gitlab_ci_job_queued_duration_seconds_count 3
# HELP gitlab_ci_job_artifacts_size_bytes Size of each artifact of finished jobs, by artifact type.` + fromPolling + `
# TYPE gitlab_ci_job_artifacts_size_bytes histogram
gitlab_ci_job_artifacts_size_bytes_bucket{file_type="archive",le="1024"} 0
gitlab_ci_job_artifacts_size_bytes_bucket{file_type="archive",le="1.048576e+06"} 2
gitlab_ci_job_artifacts_size_bytes_bucket{file_type="archive",le="+Inf"} 2
gitlab_ci_job_artifacts_size_bytes_sum{file_type="archive"} 4096
gitlab_ci_job_artifacts_size_bytes_count{file_type="archive"} 2
gitlab_ci_job_artifacts_size_bytes_bucket{file_type="trace",le="1024"} 2
gitlab_ci_job_artifacts_size_bytes_bucket{file_type="trace",le="1.048576e+06"} 3
gitlab_ci_job_artifacts_size_bytes_bucket{file_type="trace",le="+Inf"} 3
gitlab_ci_job_artifacts_size_bytes_sum{file_type="trace"} 5200
gitlab_ci_job_artifacts_size_bytes_count{file_type="trace"} 3
# HELP gitlab_ci_job_failures_total Failed jobs by failure reason.` + fromPolling + `
# TYPE gitlab_ci_job_failures_total counter
gitlab_ci_job_failures_total{project="g/app"} 1
# HELP gitlab_ci_jobs Jobs and bridges now in each unfinished status (pending and running are 0 when none, for each project).` + fromPolling + `
# TYPE gitlab_ci_jobs gauge
gitlab_ci_jobs{project="g/app",status="pending"} 2
gitlab_ci_jobs{project="g/app",status="running"} 1
gitlab_ci_jobs{project="g/app",status="waiting_for_callback2"} 1
# HELP gitlab_ci_job_oldest_pending_created_timestamp_seconds Creation time of the oldest job now pending.` + fromPolling + `
# TYPE gitlab_ci_job_oldest_pending_created_timestamp_seconds gauge
gitlab_ci_job_oldest_pending_created_timestamp_seconds{project="g/app"} 1.7724384e+09
# HELP gitlab_ci_job_last_status Status of the latest finished job on tracked refs (value 1), by its labels.` + fromPolling + `
# TYPE gitlab_ci_job_last_status gauge
gitlab_ci_job_last_status{project="g/app",status="skipped"} 1
gitlab_ci_job_last_status{project="g/other",status="success"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_job_duration_seconds",
		"gitlab_ci_job_queued_duration_seconds", "gitlab_ci_job_artifacts_size_bytes", "gitlab_ci_job_failures_total",
		"gitlab_ci_jobs", "gitlab_ci_job_oldest_pending_created_timestamp_seconds", "gitlab_ci_job_last_status"); err != nil {
		t.Error(err)
	}
}

func TestZeroForIdleProjects(t *testing.T) {
	m := newMetrics(t, everyLabel())
	m.ProjectActive(app, nil)
	m.ProjectActive(event.Project{Path: "g/busy"}, []event.ActiveJob{{ID: 1, Status: "manual"}})
	want := `
# HELP gitlab_ci_jobs Jobs and bridges now in each unfinished status (pending and running are 0 when none, for each project).` + fromPolling + `
# TYPE gitlab_ci_jobs gauge
gitlab_ci_jobs{project="g/app",status="pending"} 0
gitlab_ci_jobs{project="g/app",status="running"} 0
gitlab_ci_jobs{project="g/busy",status="manual"} 1
gitlab_ci_jobs{project="g/busy",status="pending"} 0
gitlab_ci_jobs{project="g/busy",status="running"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_jobs"); err != nil {
		t.Error(err)
	}
}

func TestDisabledFamiliesAreNotExported(t *testing.T) {
	o := everyLabel()
	for _, f := range family.All {
		o = with(o, f.Key, func(f *family.Options) { f.Enabled = false })
	}
	m := newMetrics(t, o)
	record(m)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Jobs)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{"gitlab_jobs_exporter_followed_jobs", "gitlab_jobs_exporter_jobs_observed_total",
		"gitlab_jobs_exporter_pipelines_observed_total"}
	if !slices.Equal(names, want) {
		t.Errorf("with every family off the job metrics are %v, want %v", names, want)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unsupported label", with(everyLabel(), family.QueuedDuration, func(f *family.Options) { f.Labels = []string{"status"} }),
			`family queued_duration has no label "status"`},
		{"jobs by name", with(everyLabel(), family.Jobs, func(f *family.Options) { f.Labels = []string{"job_name"} }),
			`family jobs has no label "job_name"`},
		{"unknown form", with(everyLabel(), family.Duration, func(f *family.Options) { f.Form = "sparse" }),
			`family duration: unknown histogram form "sparse"`},
		{"family missing", Options{Families: map[string]family.Options{}}, "no options for family duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLastStatusKeepsNewestJob(t *testing.T) {
	m := newMetrics(t, everyLabel())
	p := event.Project{Path: "g/app", DefaultBranch: "main"}
	m.JobFinished(p, &gitlabapi.Job{ID: 20, Name: "build", Stage: "b", Ref: "main", Status: "failed", Duration: f64(5)})
	m.JobFinished(p, &gitlabapi.Job{ID: 19, Name: "build", Stage: "b", Ref: "main", Status: "success", Duration: f64(9)})
	want := `
# HELP gitlab_ci_job_last_duration_seconds Duration of the latest finished job on tracked refs, by its labels.` + fromPolling + `
# TYPE gitlab_ci_job_last_duration_seconds gauge
gitlab_ci_job_last_duration_seconds{job_name="build",project="g/app",ref="main",source="unknown",stage="b"} 5
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_job_last_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestProjectRemovedDropsItsSeries(t *testing.T) {
	m := newMetrics(t, everyLabel())
	for _, path := range []string{"g/a", "g/b"} {
		p := event.Project{Path: path, DefaultBranch: "main"}
		j := &gitlabapi.Job{ID: 1, Name: "x", Stage: "s", Ref: "main", Status: "failed", Duration: f64(1), QueuedDuration: f64(1),
			StartedAt: at("2026-03-02T09:00:00Z"), Artifacts: []gitlabapi.Artifact{{FileType: "trace", Size: 1}}}
		m.JobStarted(p, j)
		m.JobFinished(p, j)
		m.JobRetried(p, j)
		m.ProjectActive(p, []event.ActiveJob{{ID: 2, Status: "pending"}})
		m.PollFinished(p, event.PollResult{Requests: 1, Time: time.Now()})
	}
	m.ProjectRemoved("g/a")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "project" && l.GetValue() == "g/a" {
					t.Errorf("%s still has a series for the removed project", mf.GetName())
				}
			}
		}
	}
	if got := testutil.CollectAndCount(m, "gitlab_ci_job_duration_seconds"); got != 1 {
		t.Errorf("duration series = %d, want 1 (g/b)", got)
	}
	if got := testutil.ToFloat64(m.Jobs.followedGauge()); got != 1 {
		t.Errorf("followed jobs = %v, want 1 (g/b's)", got)
	}
}

// followedGauge is gitlab_jobs_exporter_followed_jobs alone, for ToFloat64.
func (j *Jobs) followedGauge() prometheus.Collector {
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		all := make(chan prometheus.Metric, 1000)
		j.Collect(all)
		close(all)
		for m := range all {
			if m.Desc() == j.followedDesc {
				ch <- m
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// TestHistogramForms: the classic form has only buckets, the native form
// only the native histogram (its exemplars beside it), both has both, and
// the counts agree.
func TestHistogramForms(t *testing.T) {
	for _, form := range family.Forms {
		t.Run(string(form), func(t *testing.T) {
			m := newMetrics(t, with(everyLabel(), family.Duration, func(f *family.Options) { f.Form = form }))
			record(m)
			h := gatherOne(t, m, "gitlab_ci_job_duration_seconds", "job_name", "rspec", "status", "success").GetHistogram()
			classic, native := len(h.GetBucket()) > 0, h.Schema != nil
			if classic != (form != family.Native) || native != (form != family.Classic) {
				t.Errorf("classic buckets %v, native histogram %v", classic, native)
			}
			if h.GetSampleCount() != 1 || h.GetSampleSum() != 42 || h.GetCreatedTimestamp() == nil {
				t.Errorf("count %d, sum %v, created %v", h.GetSampleCount(), h.GetSampleSum(), h.GetCreatedTimestamp())
			}
			// Exemplars are written once: on the classic buckets when there
			// are some (Prometheus reads them for the native histogram too),
			// else beside the native histogram.
			wantNativeExemplars := 0
			if form == family.Native {
				wantNativeExemplars = 1
			}
			if native && (h.GetSchema() != promdto.Schema || len(h.GetPositiveDelta()) != 1 || len(h.GetExemplars()) != wantNativeExemplars) {
				t.Errorf("native part: schema %d, deltas %v, exemplars %v", h.GetSchema(), h.GetPositiveDelta(), h.GetExemplars())
			}
			if classic {
				if e := h.GetBucket()[1].GetExemplar(); e.GetValue() != 42 || e.GetLabel()[0].GetValue() != "10" {
					t.Errorf("exemplar of the 60 s bucket: %v", e)
				}
			}
		})
	}
}

// gatherOne gathers the one series of family name with these label values.
func gatherOne(t *testing.T, c prometheus.Collector, name string, labels ...string) *dto.Metric {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
					return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}) {
					continue metrics
				}
			}
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, labels, len(found))
	}
	return found[0]
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSeriesExpire(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	o := everyLabel()
	o.SeriesTTL, o.Now = time.Hour, c.now
	m := newMetrics(t, o)
	record(m) // okJob, failedJob, skippedJob and four unfinished jobs of g/app
	c.advance(50 * time.Minute)
	b := event.Project{ID: 2, Path: "g/b", DefaultBranch: "main"}
	m.JobFinished(b, okJob)
	m.JobFinished(app, skippedJob) // the skipped series of g/app is fresh again
	seriesBefore := testutil.CollectAndCount(m, "gitlab_ci_job_duration_seconds")

	c.advance(11 * time.Minute) // g/app's other series are 61 minutes old
	m.Jobs.Expire()
	want := `
# HELP gitlab_ci_job_duration_seconds Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran).` + fromPolling + `
# TYPE gitlab_ci_job_duration_seconds histogram
gitlab_ci_job_duration_seconds_bucket{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped",le="10"} 2
gitlab_ci_job_duration_seconds_bucket{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped",le="60"} 2
gitlab_ci_job_duration_seconds_bucket{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped",le="+Inf"} 2
gitlab_ci_job_duration_seconds_sum{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped"} 0
gitlab_ci_job_duration_seconds_count{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped"} 2
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/b",ref="main",source="push",stage="test",status="success",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/b",ref="main",source="push",stage="test",status="success",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/b",ref="main",source="push",stage="test",status="success",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job_name="rspec",project="g/b",ref="main",source="push",stage="test",status="success"} 42
gitlab_ci_job_duration_seconds_count{job_name="rspec",project="g/b",ref="main",source="push",stage="test",status="success"} 1
# HELP gitlab_ci_job_last_status Status of the latest finished job on tracked refs (value 1), by its labels.` + fromPolling + `
# TYPE gitlab_ci_job_last_status gauge
gitlab_ci_job_last_status{job_name="deploy",project="g/app",ref="main",source="schedule",stage="deploy",status="skipped"} 1
gitlab_ci_job_last_status{job_name="rspec",project="g/b",ref="main",source="push",stage="test",status="success"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_job_duration_seconds", "gitlab_ci_job_last_status"); err != nil {
		t.Error(err)
	}
	if seriesBefore != 4 {
		t.Errorf("before expiry: %d duration series, want 4", seriesBefore)
	}
	for _, name := range []string{"gitlab_ci_job_failures_total", "gitlab_ci_job_retries_total", "gitlab_ci_job_queued_duration_seconds"} {
		if n := testutil.CollectAndCount(m, name); n != 0 {
			t.Errorf("%s: %d series left, want 0 (all older than the TTL)", name, n)
		}
	}
	// What is unfinished now does not expire: it is the scraper's latest report.
	if n := testutil.CollectAndCount(m, "gitlab_ci_jobs"); n != 3 {
		t.Errorf("gitlab_ci_jobs: %d series, want 3", n)
	}

	// A job that comes back starts its series again, from now.
	m.JobFinished(app, failedJob)
	h := gatherOne(t, m, "gitlab_ci_job_duration_seconds", "status", "failed").GetHistogram()
	if h.GetSampleCount() != 1 || !h.GetCreatedTimestamp().AsTime().Equal(c.t) {
		t.Errorf("the returning series: count %d, created %v; want 1, %v", h.GetSampleCount(), h.GetCreatedTimestamp().AsTime(), c.t)
	}
}

// TestExpiredSeriesFreeTheirMemory: 20,000 idle series are dropped and the
// heap they held is given back.
func TestExpiredSeriesFreeTheirMemory(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	o := everyLabel()
	o.SeriesTTL, o.Now = time.Hour, c.now
	o = with(o, family.Duration, func(f *family.Options) { f.Form, f.Buckets = family.Both, []float64{5, 10, 30, 60, 120, 300, 600} })
	m := newMetrics(t, o)
	base := heapInUse()
	const n = 20_000
	for i := range n {
		job := *okJob
		job.ID, job.Name = int64(i+1), "job-"+strings.Repeat("x", i%7)+time.Duration(i).String()
		m.JobFinished(app, &job)
	}
	filled := heapInUse()
	c.advance(2 * time.Hour)
	m.Jobs.Expire()
	emptied := heapInUse()
	if got := testutil.CollectAndCount(m, "gitlab_ci_job_duration_seconds"); got != 0 {
		t.Fatalf("%d duration series left after expiry", got)
	}
	held, left := int64(filled)-int64(base), int64(emptied)-int64(base)
	t.Logf("heap: %d bytes for %d series (%d a series), %d bytes left after expiry", held, n, held/n, left)
	if held < n*200 || left > held/10 {
		t.Errorf("heap held %d bytes for %d series and still holds %d after they expired", held, n, left)
	}
	runtime.KeepAlive(m)
}

// TestMergeRequestPipelines: a merge request pipeline's job is counted
// under the kind of its ref, never its iid, with its pipeline's source,
// and keeps no latest-job series (its ref is not tracked).
func TestMergeRequestPipelines(t *testing.T) {
	m := newMetrics(t, everyLabel())
	job := &gitlabapi.Job{ID: 30, Name: "rspec", Stage: "test", Ref: "refs/merge-requests/42/train", Status: "success",
		Duration: f64(30), FinishedAt: at("2026-03-02T09:00:00Z"), Pipeline: gitlabapi.PipelineBasic{ID: 7, Source: "merge_request_event"}}
	m.JobFinished(app, job)
	want := `
# HELP gitlab_ci_job_duration_seconds Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran).` + fromPolling + `
# TYPE gitlab_ci_job_duration_seconds histogram
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="merge_train",source="merge_request_event",stage="test",status="success",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="merge_train",source="merge_request_event",stage="test",status="success",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="merge_train",source="merge_request_event",stage="test",status="success",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job_name="rspec",project="g/app",ref="merge_train",source="merge_request_event",stage="test",status="success"} 30
gitlab_ci_job_duration_seconds_count{job_name="rspec",project="g/app",ref="merge_train",source="merge_request_event",stage="test",status="success"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_job_duration_seconds", "gitlab_ci_job_last_status"); err != nil {
		t.Error(err)
	}
}
