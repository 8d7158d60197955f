package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
# HELP gitlab_jobs_exporter_project_up 1 if the last poll of the project succeeded, else 0.
# TYPE gitlab_jobs_exporter_project_up gauge
gitlab_jobs_exporter_project_up{project="g/typo"} 0
# HELP gitlab_jobs_exporter_poll_errors_total Failed polls by project and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).
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
