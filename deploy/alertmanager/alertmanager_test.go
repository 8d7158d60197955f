// Package alertmanager_test checks deploy/alertmanager/alertmanager.yml with
// amtool and by running Alertmanager on loopback.
package alertmanager_test

import (
	"strings"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

func TestCheckConfig(t *testing.T) {
	amtool := deploytest.RequireTool(t, "amtool", deploytest.HintAmtool)
	if out, err := deploytest.Run(t, ".", amtool, "check-config", "alertmanager.yml"); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
}

func TestRoutes(t *testing.T) {
	amtool := deploytest.RequireTool(t, "amtool", deploytest.HintAmtool)
	tests := []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=GitLabJobsExporterDown", "severity=critical"}, "pager"},
		{[]string{"alertname=GitLabCIJobsStuckPending", "severity=warning", "project=group/app"}, "chat"},
		{[]string{"alertname=GitLabCIPipelineFailingOnTrackedRef", "severity=warning", "project=group/app", "ref=main", "source=push"}, "chat"},
		// Anything unclassified must still reach a person.
		{[]string{"alertname=Unknown"}, "chat"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.labels, ","), func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=alertmanager.yml", "--verify.receivers=" + tc.want}, tc.labels...)
			if out, err := deploytest.Run(t, ".", amtool, args...); err != nil {
				t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
