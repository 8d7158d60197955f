package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

func TestPollMetrics(t *testing.T) {
	m := newMetrics(t, everyLabel())
	p := scraper.ProjectInfo{Path: "g/app"}
	when := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m.PollFinished(p, state.PollResult{Requests: 3, Duration: time.Second, Time: when})
	m.PollFinished(p, state.PollResult{Requests: 2, Err: &gitlabapi.APIError{StatusCode: 502}, Time: when.Add(time.Minute)})
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

func TestErrorReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&gitlabapi.APIError{StatusCode: 404}, "not_found"},
		{&gitlabapi.APIError{StatusCode: 401}, "unauthorized"},
		{&gitlabapi.APIError{StatusCode: 403}, "forbidden"},
		{&gitlabapi.APIError{StatusCode: 429}, "rate_limited"},
		{fmt.Errorf("walking: %w", &gitlabapi.APIError{StatusCode: 503}), "server_error"},
		{&gitlabapi.DecodeError{Err: errors.New("unexpected EOF")}, "decode"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("boom"), "other"},
	} {
		if got := ErrorReason(tc.err); got != tc.want {
			t.Errorf("ErrorReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
