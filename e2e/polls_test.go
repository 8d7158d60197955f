//go:build unix

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// waitFullPoll waits until each of projects has finished a poll that
// started after the call, so that whatever that poll would change is on
// /metrics. Its polls_total must advance by two: the first poll to finish
// may have been under way already.
func waitFullPoll(t *testing.T, e *exporter, projects ...string) {
	t.Helper()
	before := pollsTotal(t, e)
	waitFor(t, 30*time.Second, fmt.Sprintf("a full poll of %v", projects), func() (bool, string) {
		now := pollsTotal(t, e)
		for _, p := range projects {
			if now[p] < before[p]+2 {
				return false, fmt.Sprintf("polls_total %v, was %v", now, before)
			}
		}
		return true, ""
	}, e.process)
}

// pollsTotal is gitlab_jobs_exporter_polls_total by project.
func pollsTotal(t *testing.T, e *exporter) map[string]float64 {
	t.Helper()
	return scrapeExporter(t, e).byLabel("gitlab_jobs_exporter_polls_total", "project")
}
