package collector

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// A project handed to another shard keeps the counters and histograms of
// this shard's last poll (nobody else has those counts) and loses every
// series its new owner exports now.
func TestProjectHandedOverKeepsOnlyCounts(t *testing.T) {
	m := newMetrics(t, everyLabel())
	for _, path := range []string{"g/moved", "g/stays"} {
		p := event.Project{Path: path, DefaultBranch: "main"}
		j := &gitlabapi.Job{ID: 1, Name: "x", Stage: "s", Ref: "main", Status: "failed", Duration: f64(1), QueuedDuration: f64(1),
			StartedAt: at("2026-03-02T09:00:00Z"), FinishedAt: at("2026-03-02T09:00:01Z"), Artifacts: []gitlabapi.Artifact{{FileType: "trace", Size: 1}}}
		m.JobStarted(p, j)
		m.JobFinished(p, j)
		m.JobRetried(p, j)
		m.ProjectActive(p, []event.ActiveJob{{ID: 2, Status: "pending", CreatedAt: time.Now()}})
		m.PollFinished(p, event.PollResult{Requests: 1, Time: time.Now()})
	}
	m.ProjectHandedOver("g/moved")

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "project" && l.GetValue() == "g/moved" {
					kept[mf.GetName()] = true
				}
			}
		}
	}
	want := []string{
		"gitlab_ci_job_artifacts_size_bytes", "gitlab_ci_job_duration_seconds", "gitlab_ci_job_failures_total",
		"gitlab_ci_job_queued_duration_seconds", "gitlab_ci_job_retries_total",
	}
	if got := slices.Sorted(maps.Keys(kept)); !slices.Equal(got, want) {
		t.Errorf("families with a series of the handed-over project: %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(m.Jobs.followedGauge()); got != 1 {
		t.Errorf("followed jobs = %v, want 1 (g/stays')", got)
	}
}
