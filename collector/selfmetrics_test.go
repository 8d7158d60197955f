package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
)

func TestUnresolvedProjectsAndGroups(t *testing.T) {
	m := NewSelfMetrics()
	m.ProjectUnresolved("g/typo", "not_found")
	m.ProjectUnresolved("g/typo", "not_found")
	m.ProjectUnresolved("17", "forbidden")
	m.GroupListed("team", "not_found")
	m.GroupListed("ops", "")
	m.GroupListed("gone", "server_error")
	m.GroupRemoved("gone")
	m.ProjectRemoved("17")
	want := `
# HELP gitlab_jobs_exporter_project_up 1 if the last scheduled poll of the project succeeded, else 0.
# TYPE gitlab_jobs_exporter_project_up gauge
gitlab_jobs_exporter_project_up{project="g/typo"} 0
# HELP gitlab_jobs_exporter_poll_errors_total Failed scheduled polls by project and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).
# TYPE gitlab_jobs_exporter_poll_errors_total counter
gitlab_jobs_exporter_poll_errors_total{project="g/typo",reason="not_found"} 2
# HELP gitlab_jobs_exporter_group_up 1 if the last listing of the configured group's projects succeeded, else 0.
# TYPE gitlab_jobs_exporter_group_up gauge
gitlab_jobs_exporter_group_up{group="ops"} 1
gitlab_jobs_exporter_group_up{group="team"} 0
# HELP gitlab_jobs_exporter_group_errors_total Failed listings of a configured group's projects by group and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).
# TYPE gitlab_jobs_exporter_group_errors_total counter
gitlab_jobs_exporter_group_errors_total{group="team",reason="not_found"} 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitlab_jobs_exporter_project_up",
		"gitlab_jobs_exporter_poll_errors_total", "gitlab_jobs_exporter_group_up", "gitlab_jobs_exporter_group_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestPollMetrics(t *testing.T) {
	m := newMetrics(t, everyLabel())
	p := event.Project{Path: "g/app"}
	when := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m.PollFinished(p, event.PollResult{Requests: 3, Duration: time.Second, Time: when})
	m.PollFinished(p, event.PollResult{Requests: 2, Reason: event.ReasonServerError, Time: when.Add(time.Minute)})
	// Polls serving webhook deliveries say nothing of the project's health.
	m.PollFinished(p, event.PollResult{Hinted: true, Requests: 4, Time: when.Add(2 * time.Minute), HintLatencies: []time.Duration{time.Second}})
	m.PollFinished(p, event.PollResult{Hinted: true, Requests: 1, Reason: event.ReasonTimeout, Time: when.Add(3 * time.Minute)})
	m.ObserveRequest("/projects/:id/jobs", 200, time.Second)
	m.ObserveRequest("/projects/:id/jobs", 502, time.Second)
	m.ObserveRateLimitRemaining(1500)
	m.ProjectsPolled(1)
	want := `
# HELP gitlab_jobs_exporter_project_up 1 if the last scheduled poll of the project succeeded, else 0.
# TYPE gitlab_jobs_exporter_project_up gauge
gitlab_jobs_exporter_project_up{project="g/app"} 0
# HELP gitlab_jobs_exporter_project_last_success_timestamp_seconds Time of the last successful scheduled poll of the project.
# TYPE gitlab_jobs_exporter_project_last_success_timestamp_seconds gauge
gitlab_jobs_exporter_project_last_success_timestamp_seconds{project="g/app"} 1.7724420e+09
# HELP gitlab_jobs_exporter_poll_requests_total GitLab API requests made by the scheduled polls of each project, retries included.
# TYPE gitlab_jobs_exporter_poll_requests_total counter
gitlab_jobs_exporter_poll_requests_total{project="g/app"} 5
# HELP gitlab_jobs_exporter_poll_errors_total Failed scheduled polls by project and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).
# TYPE gitlab_jobs_exporter_poll_errors_total counter
gitlab_jobs_exporter_poll_errors_total{project="g/app",reason="server_error"} 1
# HELP gitlab_jobs_exporter_api_requests_total HTTP requests to the GitLab API by route template and status code (0: no response), retries included.
# TYPE gitlab_jobs_exporter_api_requests_total counter
gitlab_jobs_exporter_api_requests_total{code="200",endpoint="/projects/:id/jobs"} 1
gitlab_jobs_exporter_api_requests_total{code="502",endpoint="/projects/:id/jobs"} 1
# HELP gitlab_jobs_exporter_rate_limit_remaining Requests left in GitLab's rate-limit window, from the last RateLimit-Remaining header seen.
# TYPE gitlab_jobs_exporter_rate_limit_remaining gauge
gitlab_jobs_exporter_rate_limit_remaining 1500
# HELP gitlab_jobs_exporter_webhook_polls_total Polls that served webhook deliveries alone, without walking the job list (not in polls_total, which counts the scheduled polls).
# TYPE gitlab_jobs_exporter_webhook_polls_total counter
gitlab_jobs_exporter_webhook_polls_total 2
# HELP gitlab_jobs_exporter_webhook_poll_requests_total GitLab API requests made by the polls that served webhook deliveries, retries included.
# TYPE gitlab_jobs_exporter_webhook_poll_requests_total counter
gitlab_jobs_exporter_webhook_poll_requests_total 5
# HELP gitlab_jobs_exporter_webhook_poll_errors_total Failed polls that served webhook deliveries, by reason (as poll_errors_total); their hints are tried again 30s later and by the next scheduled poll.
# TYPE gitlab_jobs_exporter_webhook_poll_errors_total counter
gitlab_jobs_exporter_webhook_poll_errors_total{reason="timeout"} 1
# HELP gitlab_jobs_exporter_projects Projects being polled: those this shard owns (all of them unless sharded).
# TYPE gitlab_jobs_exporter_projects gauge
gitlab_jobs_exporter_projects 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gitlab_jobs_exporter_project_up",
		"gitlab_jobs_exporter_project_last_success_timestamp_seconds", "gitlab_jobs_exporter_poll_requests_total",
		"gitlab_jobs_exporter_poll_errors_total", "gitlab_jobs_exporter_api_requests_total",
		"gitlab_jobs_exporter_rate_limit_remaining", "gitlab_jobs_exporter_projects", "gitlab_jobs_exporter_webhook_polls_total",
		"gitlab_jobs_exporter_webhook_poll_requests_total", "gitlab_jobs_exporter_webhook_poll_errors_total"); err != nil {
		t.Error(err)
	}
}
