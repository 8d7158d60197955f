package collector

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
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
	tracker := NewRefTracker(regexp.MustCompile(`^(?:release/.*)$`))
	for _, tc := range []struct{ ref, def, want string }{
		{"main", "main", "main"},
		{"master", "main", OtherRef},
		{"release/1.2", "main", "release/1.2"},
		{"feature/x", "main", OtherRef},
		{"develop", "develop", "develop"},
	} {
		if got := tracker.Label(tc.ref, tc.def); got != tc.want {
			t.Errorf("Label(%q, default %q) = %q, want %q", tc.ref, tc.def, got, tc.want)
		}
	}
	if got := NewRefTracker(nil).Label("release/1.2", "main"); got != OtherRef {
		t.Errorf("without a tracked regex, release/1.2 = %q, want other", got)
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

var testBuckets = Buckets{
	Duration:       []float64{10, 60},
	QueuedDuration: []float64{5, 60},
	ArtifactSize:   []float64{1024, 1 << 20},
}

func TestJobMetricsOutput(t *testing.T) {
	m := New(testBuckets, NewRefTracker(nil))
	p := state.ProjectInfo{ID: 1, Path: "g/app", DefaultBranch: "main"}
	ok := &gitlabapi.Job{ID: 10, Name: "rspec 1/2", Stage: "test", Ref: "main", Status: "success",
		Duration: f64(42), QueuedDuration: f64(3), StartedAt: at("2026-03-02T09:00:00Z"), FinishedAt: at("2026-03-02T09:00:42Z"),
		Artifacts: []gitlabapi.Artifact{{FileType: "archive", Size: 2048}, {FileType: "trace", Size: 100}}}
	failed := &gitlabapi.Job{ID: 11, Name: "rspec 2/2", Stage: "test", Ref: "feature/x", Status: "failed",
		FailureReason: "script_failure", Duration: f64(70), QueuedDuration: f64(90), StartedAt: at("2026-03-02T09:00:00Z")}
	skipped := &gitlabapi.Job{ID: 12, Name: "deploy: [eu, prod]", Stage: "deploy", Ref: "main", Status: "skipped"}
	m.JobStarted(p, ok)
	m.JobFinished(p, ok)
	m.JobStarted(p, failed)
	m.JobFinished(p, failed)
	m.JobRetried(p, failed)
	m.JobFinished(p, skipped)
	m.ProjectActive(p, []state.FollowedJob{
		{ID: 20, Status: "pending", CreatedAt: *at("2026-03-02T08:00:00Z")},
		{ID: 21, Status: "pending", CreatedAt: *at("2026-03-02T08:30:00Z")},
		{ID: 22, Status: "running"},
		{ID: 23, Status: "waiting_for_callback2"},
	})

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	want := `
# HELP gitlab_ci_job_duration_seconds Duration of finished jobs (success, failed, canceled, skipped; 0 for jobs that never ran).` + fromPolling + `
# TYPE gitlab_ci_job_duration_seconds histogram
gitlab_ci_job_duration_seconds_bucket{job="deploy",project="g/app",ref="main",stage="deploy",status="skipped",le="10"} 1
gitlab_ci_job_duration_seconds_bucket{job="deploy",project="g/app",ref="main",stage="deploy",status="skipped",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{job="deploy",project="g/app",ref="main",stage="deploy",status="skipped",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job="deploy",project="g/app",ref="main",stage="deploy",status="skipped"} 0
gitlab_ci_job_duration_seconds_count{job="deploy",project="g/app",ref="main",stage="deploy",status="skipped"} 1
gitlab_ci_job_duration_seconds_bucket{job="rspec",project="g/app",ref="main",stage="test",status="success",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{job="rspec",project="g/app",ref="main",stage="test",status="success",le="60"} 1
gitlab_ci_job_duration_seconds_bucket{job="rspec",project="g/app",ref="main",stage="test",status="success",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job="rspec",project="g/app",ref="main",stage="test",status="success"} 42
gitlab_ci_job_duration_seconds_count{job="rspec",project="g/app",ref="main",stage="test",status="success"} 1
gitlab_ci_job_duration_seconds_bucket{job="rspec",project="g/app",ref="other",stage="test",status="failed",le="10"} 0
gitlab_ci_job_duration_seconds_bucket{job="rspec",project="g/app",ref="other",stage="test",status="failed",le="60"} 0
gitlab_ci_job_duration_seconds_bucket{job="rspec",project="g/app",ref="other",stage="test",status="failed",le="+Inf"} 1
gitlab_ci_job_duration_seconds_sum{job="rspec",project="g/app",ref="other",stage="test",status="failed"} 70
gitlab_ci_job_duration_seconds_count{job="rspec",project="g/app",ref="other",stage="test",status="failed"} 1
# HELP gitlab_ci_job_failures_total Failed jobs by failure reason.` + fromPolling + `
# TYPE gitlab_ci_job_failures_total counter
gitlab_ci_job_failures_total{allow_failure="false",failure_reason="script_failure",job="rspec",project="g/app",ref="other",stage="test"} 1
# HELP gitlab_ci_job_retries_total Job attempts that were retried (a retry is a new job).` + fromPolling + `
# TYPE gitlab_ci_job_retries_total counter
gitlab_ci_job_retries_total{job="rspec",project="g/app",ref="other",stage="test"} 1
# HELP gitlab_ci_jobs Jobs currently in each not-finished status.` + fromPolling + `
# TYPE gitlab_ci_jobs gauge
gitlab_ci_jobs{project="g/app",status="canceling"} 0
gitlab_ci_jobs{project="g/app",status="created"} 0
gitlab_ci_jobs{project="g/app",status="manual"} 0
gitlab_ci_jobs{project="g/app",status="pending"} 2
gitlab_ci_jobs{project="g/app",status="preparing"} 0
gitlab_ci_jobs{project="g/app",status="running"} 1
gitlab_ci_jobs{project="g/app",status="scheduled"} 0
gitlab_ci_jobs{project="g/app",status="waiting_for_callback"} 0
gitlab_ci_jobs{project="g/app",status="waiting_for_callback2"} 1
gitlab_ci_jobs{project="g/app",status="waiting_for_resource"} 0
# HELP gitlab_ci_job_oldest_pending_created_timestamp_seconds Creation time of the oldest job now pending.` + fromPolling + `
# TYPE gitlab_ci_job_oldest_pending_created_timestamp_seconds gauge
gitlab_ci_job_oldest_pending_created_timestamp_seconds{project="g/app"} 1.7724384e+09
# HELP gitlab_ci_job_last_status Status of the latest finished job of each name on tracked refs (value 1).` + fromPolling + `
# TYPE gitlab_ci_job_last_status gauge
gitlab_ci_job_last_status{job="deploy",project="g/app",ref="main",stage="deploy",status="skipped"} 1
gitlab_ci_job_last_status{job="rspec",project="g/app",ref="main",stage="test",status="success"} 1
# HELP gitlab_ci_job_last_finished_timestamp_seconds Finish time of the latest finished job of each name on tracked refs.` + fromPolling + `
# TYPE gitlab_ci_job_last_finished_timestamp_seconds gauge
gitlab_ci_job_last_finished_timestamp_seconds{job="rspec",project="g/app",ref="main",stage="test"} 1.772442042e+09
# HELP gitlab_jobs_exporter_jobs_observed_total Finished jobs and bridges counted into the job metrics.
# TYPE gitlab_jobs_exporter_jobs_observed_total counter
gitlab_jobs_exporter_jobs_observed_total 3
# HELP gitlab_jobs_exporter_followed_jobs Unfinished jobs and bridges the scraper follows until they finish.
# TYPE gitlab_jobs_exporter_followed_jobs gauge
gitlab_jobs_exporter_followed_jobs 4
`
	names := []string{"gitlab_ci_job_duration_seconds", "gitlab_ci_job_failures_total", "gitlab_ci_job_retries_total",
		"gitlab_ci_jobs", "gitlab_ci_job_oldest_pending_created_timestamp_seconds", "gitlab_ci_job_last_status",
		"gitlab_ci_job_last_finished_timestamp_seconds", "gitlab_jobs_exporter_jobs_observed_total",
		"gitlab_jobs_exporter_followed_jobs"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(m, "gitlab_ci_job_artifacts_size_bytes"); got != 2 {
		t.Errorf("artifact series = %d, want 2 (archive, trace)", got)
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

func TestLastStatusKeepsNewestJob(t *testing.T) {
	m := New(testBuckets, NewRefTracker(nil))
	p := state.ProjectInfo{Path: "g/app", DefaultBranch: "main"}
	m.JobFinished(p, &gitlabapi.Job{ID: 20, Name: "build", Stage: "b", Ref: "main", Status: "failed", Duration: f64(5)})
	m.JobFinished(p, &gitlabapi.Job{ID: 19, Name: "build", Stage: "b", Ref: "main", Status: "success", Duration: f64(9)})
	want := `
# HELP gitlab_ci_job_last_duration_seconds Duration of the latest finished job of each name on tracked refs.` + fromPolling + `
# TYPE gitlab_ci_job_last_duration_seconds gauge
gitlab_ci_job_last_duration_seconds{job="build",project="g/app",ref="main",stage="b"} 5
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_job_last_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestProjectRemovedDropsItsSeries(t *testing.T) {
	m := New(testBuckets, NewRefTracker(nil))
	for _, path := range []string{"g/a", "g/b"} {
		p := state.ProjectInfo{Path: path, DefaultBranch: "main"}
		j := &gitlabapi.Job{ID: 1, Name: "x", Stage: "s", Ref: "main", Status: "failed", Duration: f64(1), QueuedDuration: f64(1), StartedAt: at("2026-03-02T09:00:00Z")}
		m.JobStarted(p, j)
		m.JobFinished(p, j)
		m.JobRetried(p, j)
		m.ProjectActive(p, []state.FollowedJob{{ID: 2, Status: "pending"}})
		m.PollFinished(p, scraper.PollResult{Requests: 1, Time: time.Now()})
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
}

func TestPollMetrics(t *testing.T) {
	m := New(testBuckets, NewRefTracker(nil))
	p := state.ProjectInfo{Path: "g/app"}
	when := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m.PollFinished(p, scraper.PollResult{Requests: 3, Duration: time.Second, Time: when})
	m.PollFinished(p, scraper.PollResult{Requests: 2, Reason: scraper.ReasonServerError, Time: when.Add(time.Minute)})
	m.ObserveRequest("/projects/:id/jobs", 200, time.Second)
	m.ObserveRequest("/projects/:id/jobs", 502, time.Second)
	m.ObserveRateLimitRemaining(1500)
	m.ProjectsPolled(1)
	want := `
# HELP gitlab_jobs_exporter_project_up 1 if the last poll of the project succeeded, else 0.
# TYPE gitlab_jobs_exporter_project_up gauge
gitlab_jobs_exporter_project_up{project="g/app"} 0
# HELP gitlab_jobs_exporter_project_last_success_timestamp_seconds Time of the last successful poll of the project.
# TYPE gitlab_jobs_exporter_project_last_success_timestamp_seconds gauge
gitlab_jobs_exporter_project_last_success_timestamp_seconds{project="g/app"} 1.7724420e+09
# HELP gitlab_jobs_exporter_poll_requests_total GitLab API requests made by the polls of each project, retries included.
# TYPE gitlab_jobs_exporter_poll_requests_total counter
gitlab_jobs_exporter_poll_requests_total{project="g/app"} 5
# HELP gitlab_jobs_exporter_poll_errors_total Failed polls by project and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).
# TYPE gitlab_jobs_exporter_poll_errors_total counter
gitlab_jobs_exporter_poll_errors_total{project="g/app",reason="server_error"} 1
# HELP gitlab_jobs_exporter_api_requests_total HTTP requests to the GitLab API by route template and status code (0: no response), retries included.
# TYPE gitlab_jobs_exporter_api_requests_total counter
gitlab_jobs_exporter_api_requests_total{code="200",endpoint="/projects/:id/jobs"} 1
gitlab_jobs_exporter_api_requests_total{code="502",endpoint="/projects/:id/jobs"} 1
# HELP gitlab_jobs_exporter_rate_limit_remaining Requests left in GitLab's rate-limit window, from the last RateLimit-Remaining header seen.
# TYPE gitlab_jobs_exporter_rate_limit_remaining gauge
gitlab_jobs_exporter_rate_limit_remaining 1500
# HELP gitlab_jobs_exporter_projects Projects being polled.
# TYPE gitlab_jobs_exporter_projects gauge
gitlab_jobs_exporter_projects 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitlab_jobs_exporter_project_up",
		"gitlab_jobs_exporter_project_last_success_timestamp_seconds", "gitlab_jobs_exporter_poll_requests_total",
		"gitlab_jobs_exporter_poll_errors_total", "gitlab_jobs_exporter_api_requests_total",
		"gitlab_jobs_exporter_rate_limit_remaining", "gitlab_jobs_exporter_projects"); err != nil {
		t.Error(err)
	}
}
