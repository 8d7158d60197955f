package collector

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// rule is a PoolRule anchored as the configuration anchors it.
func rule(match, pool string) PoolRule {
	return PoolRule{Match: regexp.MustCompile(`^(?:` + match + `)$`), Pool: pool}
}

func TestPoolLabels(t *testing.T) {
	free := pools{}
	mapped := pools{
		tags: []PoolRule{rule(`(.*,)?gpu(,.*)?`, "gpu"), rule(`(arm64|amd64),.*`, "$1"), rule(`docker(,linux)?`, "docker")},
		runners: []PoolRule{
			rule(`runner-[0-9a-z]+-([a-z]+)`, "runner-$1"),
			rule(`[0-9]+-[a-z]+\.(?P<pool>[^.]+)\.runners-manager\..*`, "${pool}"),
		},
	}
	for _, tc := range []struct {
		name   string
		p      pools
		tagSet string
		want   string
	}{
		{"untagged", free, "", ""},
		{"a tag set as it is", free, "docker,linux", "docker,linux"},
		{"untagged, whatever the rules", mapped, "", ""},
		{"first rule wins", mapped, "amd64,docker,gpu", "gpu"},
		{"a group in the pool name", mapped, "arm64,docker", "arm64"},
		{"a whole match only", mapped, "docker,linux", "docker"},
		{"anchored: no part matches", mapped, "docker,windows", OtherPool},
		{"no rule: other", mapped, "windows", OtherPool},
	} {
		if got := tc.p.tagsLabel(tc.tagSet); got != tc.want {
			t.Errorf("tags %s: tagsLabel(%q) = %q, want %q", tc.name, tc.tagSet, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		p      pools
		runner gitlabapi.Runner
		want   string
	}{
		{"its description", free, gitlabapi.Runner{ID: 1, Description: "runner-abc123-build"}, "runner-abc123-build"},
		{"no description: its id", free, gitlabapi.Runner{ID: 32}, "#32"},
		{"folded", mapped, gitlabapi.Runner{ID: 1, Description: "runner-abc123-build"}, "runner-build"},
		{"folded by a named group", mapped, gitlabapi.Runner{ID: 2, Description: "3-green.saas-linux-small-amd64.runners-manager.gitlab.com/default"}, "saas-linux-small-amd64"},
		{"no rule matches: kept", mapped, gitlabapi.Runner{ID: 3, Description: "group-runner-arm"}, "group-runner-arm"},
	} {
		if got := tc.p.runnerLabel(&tc.runner); got != tc.want {
			t.Errorf("runner %s: runnerLabel(%+v) = %q, want %q", tc.name, tc.runner, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		runner *gitlabapi.Runner
		want   string
	}{
		{"no runner (deleted since)", nil, UnknownRunnerType},
		{"as GitLab says", &gitlabapi.Runner{RunnerType: "project_type"}, "project_type"},
		{"only is_shared, shared", &gitlabapi.Runner{IsShared: true}, "instance_type"},
		{"only is_shared, not shared", &gitlabapi.Runner{}, UnknownRunnerType},
	} {
		if got := runnerTypeLabel(tc.runner); got != tc.want {
			t.Errorf("runner type %s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// poolJob is a started job of a runner pool.
func poolJob(id int64, tags []string, r *gitlabapi.Runner, queued float64, status gitlabapi.JobStatus) *gitlabapi.Job {
	return &gitlabapi.Job{ID: id, Name: "build", Stage: "build", Ref: "main", Status: status, TagList: tags, Runner: r,
		QueuedDuration: f64(queued), Duration: f64(100), StartedAt: at("2026-03-02T09:00:00Z")}
}

var (
	shared  = &gitlabapi.Runner{ID: 1, Description: "1-green.saas-linux-small-amd64.runners-manager.example.com/default", IsShared: true, RunnerType: "instance_type"}
	shared2 = &gitlabapi.Runner{ID: 2, Description: "2-green.saas-linux-small-amd64.runners-manager.example.com/default", IsShared: true, RunnerType: "instance_type"}
	arm     = &gitlabapi.Runner{ID: 40021, Description: "group-runner-arm", RunnerType: "group_type"}
	windows = &gitlabapi.Runner{ID: 51234, Description: "project-runner-windows", RunnerType: "project_type"}
)

// TestQueueByPool: queue times are summed over projects and jobs into one
// series per tag set and runner type; jobs without a queue time (never
// queued) and bridges are not observed, nor anything at finish.
func TestQueueByPool(t *testing.T) {
	m := newMetrics(t, everyLabel())
	other := event.Project{ID: 2, Path: "g/other", DefaultBranch: "main"}
	for _, e := range []struct {
		p   event.Project
		job *gitlabapi.Job
	}{
		{app, poolJob(1, []string{"docker", "linux"}, shared, 4, "running")},
		{other, poolJob(2, []string{"docker", "linux"}, shared2, 30, "success")},
		{other, poolJob(3, []string{"docker", "linux"}, arm, 70, "running")},
		{app, poolJob(4, []string{"windows"}, windows, 200, "running")},
		{app, poolJob(5, nil, shared, 1, "failed")},
		{app, poolJob(6, []string{"arm64"}, nil, 5, "canceled")}, // its runner was deleted since
	} {
		m.JobStarted(e.p, e.job)
	}
	never := poolJob(7, []string{"docker"}, nil, 0, "canceled")
	never.QueuedDuration, never.StartedAt = nil, nil
	m.JobStarted(app, never)
	bridge := poolJob(9, nil, nil, 0.1, "running") // waits for a downstream pipeline, not a runner
	bridge.Bridge = true
	m.JobStarted(app, bridge)
	m.JobFinished(app, poolJob(8, []string{"docker"}, shared, 9, "success"))

	want := `
# HELP gitlab_ci_runner_pool_queued_duration_seconds Time jobs waited for a runner, by the tags they asked for and the type of the runner that took them, observed once when each job starts.` + fromPolling + `
# TYPE gitlab_ci_runner_pool_queued_duration_seconds histogram
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="instance_type",tags="",le="10"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="instance_type",tags="",le="60"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="instance_type",tags="",le="+Inf"} 1
gitlab_ci_runner_pool_queued_duration_seconds_sum{runner_type="instance_type",tags=""} 1
gitlab_ci_runner_pool_queued_duration_seconds_count{runner_type="instance_type",tags=""} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="instance_type",tags="docker,linux",le="10"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="instance_type",tags="docker,linux",le="60"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="instance_type",tags="docker,linux",le="+Inf"} 2
gitlab_ci_runner_pool_queued_duration_seconds_sum{runner_type="instance_type",tags="docker,linux"} 34
gitlab_ci_runner_pool_queued_duration_seconds_count{runner_type="instance_type",tags="docker,linux"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="group_type",tags="docker,linux",le="10"} 0
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="group_type",tags="docker,linux",le="60"} 0
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="group_type",tags="docker,linux",le="+Inf"} 1
gitlab_ci_runner_pool_queued_duration_seconds_sum{runner_type="group_type",tags="docker,linux"} 70
gitlab_ci_runner_pool_queued_duration_seconds_count{runner_type="group_type",tags="docker,linux"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="project_type",tags="windows",le="10"} 0
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="project_type",tags="windows",le="60"} 0
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="project_type",tags="windows",le="+Inf"} 1
gitlab_ci_runner_pool_queued_duration_seconds_sum{runner_type="project_type",tags="windows"} 200
gitlab_ci_runner_pool_queued_duration_seconds_count{runner_type="project_type",tags="windows"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="unknown",tags="arm64",le="10"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="unknown",tags="arm64",le="60"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{runner_type="unknown",tags="arm64",le="+Inf"} 1
gitlab_ci_runner_pool_queued_duration_seconds_sum{runner_type="unknown",tags="arm64"} 5
gitlab_ci_runner_pool_queued_duration_seconds_count{runner_type="unknown",tags="arm64"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_runner_pool_queued_duration_seconds"); err != nil {
		t.Error(err)
	}
	// The same starts, and the bridge's, counted by project.
	want = `
# HELP gitlab_ci_job_queued_duration_seconds Time jobs waited for a runner, observed once when each job starts.` + fromPolling + `
# TYPE gitlab_ci_job_queued_duration_seconds histogram
gitlab_ci_job_queued_duration_seconds_bucket{job_name="build",project="g/app",ref="main",source="unknown",stage="build",le="10"} 4
gitlab_ci_job_queued_duration_seconds_bucket{job_name="build",project="g/app",ref="main",source="unknown",stage="build",le="60"} 4
gitlab_ci_job_queued_duration_seconds_bucket{job_name="build",project="g/app",ref="main",source="unknown",stage="build",le="+Inf"} 5
gitlab_ci_job_queued_duration_seconds_sum{job_name="build",project="g/app",ref="main",source="unknown",stage="build"} 210.1
gitlab_ci_job_queued_duration_seconds_count{job_name="build",project="g/app",ref="main",source="unknown",stage="build"} 5
gitlab_ci_job_queued_duration_seconds_bucket{job_name="build",project="g/other",ref="main",source="unknown",stage="build",le="10"} 0
gitlab_ci_job_queued_duration_seconds_bucket{job_name="build",project="g/other",ref="main",source="unknown",stage="build",le="60"} 1
gitlab_ci_job_queued_duration_seconds_bucket{job_name="build",project="g/other",ref="main",source="unknown",stage="build",le="+Inf"} 2
gitlab_ci_job_queued_duration_seconds_sum{job_name="build",project="g/other",ref="main",source="unknown",stage="build"} 100
gitlab_ci_job_queued_duration_seconds_count{job_name="build",project="g/other",ref="main",source="unknown",stage="build"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_job_queued_duration_seconds"); err != nil {
		t.Error(err)
	}

	// With pools: free-form tags fold into the configured pools or other.
	o := everyLabel()
	o.TagPools = []PoolRule{rule(`docker(,.*)?`, "docker")}
	o = with(o, family.QueueByPool, func(f *family.Options) { f.Labels = []string{family.LabelTags} })
	pooled := newMetrics(t, o)
	for i, tags := range [][]string{{"docker"}, {"docker", "linux"}, {"windows"}, {"gpu", "linux"}, nil} {
		pooled.JobStarted(app, poolJob(int64(i+1), tags, shared, 1, "running"))
	}
	want = `
# HELP gitlab_ci_runner_pool_queued_duration_seconds Time jobs waited for a runner, by the tags they asked for and the type of the runner that took them, observed once when each job starts.` + fromPolling + `
# TYPE gitlab_ci_runner_pool_queued_duration_seconds histogram
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="",le="10"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="",le="60"} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="",le="+Inf"} 1
gitlab_ci_runner_pool_queued_duration_seconds_sum{tags=""} 1
gitlab_ci_runner_pool_queued_duration_seconds_count{tags=""} 1
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="docker",le="10"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="docker",le="60"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="docker",le="+Inf"} 2
gitlab_ci_runner_pool_queued_duration_seconds_sum{tags="docker"} 2
gitlab_ci_runner_pool_queued_duration_seconds_count{tags="docker"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="other",le="10"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="other",le="60"} 2
gitlab_ci_runner_pool_queued_duration_seconds_bucket{tags="other",le="+Inf"} 2
gitlab_ci_runner_pool_queued_duration_seconds_sum{tags="other"} 2
gitlab_ci_runner_pool_queued_duration_seconds_count{tags="other"} 2
`
	if err := testutil.CollectAndCompare(pooled, strings.NewReader(want), "gitlab_ci_runner_pool_queued_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// waitingSince is a pending job of a pool, queued at the given minute
// past 08:00 and created an hour before.
func waitingSince(id int64, tags string, minute int) event.ActiveJob {
	queued := time.Date(2026, 3, 2, 8, minute, 0, 0, time.UTC)
	return event.ActiveJob{ID: id, Status: gitlabapi.StatusPending, Tags: tags, QueuedAt: queued, CreatedAt: queued.Add(-time.Hour)}
}

// TestPendingByPool: what waits now is counted per pool over every
// project, and the oldest wait is the earliest queueing (not creation). A
// pool whose queue empties shows 0 until the series TTL has passed, and a
// removed project's jobs go.
func TestPendingByPool(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	o := everyLabel()
	o.SeriesTTL, o.Now = time.Hour, c.now
	m := newMetrics(t, o)
	other := event.Project{ID: 2, Path: "g/other", DefaultBranch: "main"}
	m.ProjectActive(app, []event.ActiveJob{
		waitingSince(1, "docker,linux", 30), waitingSince(2, "docker,linux", 45), waitingSince(3, "", 50),
		{ID: 4, Status: gitlabapi.StatusRunning},
		{ID: 5, Status: gitlabapi.StatusManual, CreatedAt: *at("2026-03-01T00:00:00Z")},
		{ID: 6, Status: gitlabapi.StatusPending, Bridge: true, CreatedAt: *at("2026-03-01T00:00:00Z")},
		// Pending, but not refreshed since a restart from an older state.
		{ID: 7, Status: gitlabapi.StatusPending, CreatedAt: *at("2026-03-01T00:00:00Z")},
	})
	m.ProjectActive(other, []event.ActiveJob{waitingSince(8, "docker,linux", 20), waitingSince(9, "gpu", 5)})
	const (
		min05 = "1.7724387e+09"
		min20 = "1.7724396e+09"
		min30 = "1.7724402e+09"
		min50 = "1.7724414e+09"
	)
	head := `
# HELP gitlab_ci_runner_pool_pending_jobs Jobs now waiting for a runner, by the tags they ask for (0 for a pool that had some within the series TTL).` + fromPolling + `
# TYPE gitlab_ci_runner_pool_pending_jobs gauge
`
	oldestHead := `# HELP gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds When the job of each pool that has waited longest for a runner was queued (absent when none waits).` + fromPolling + `
# TYPE gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds gauge
`
	names := []string{"gitlab_ci_runner_pool_pending_jobs", "gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds"}
	want := head + `gitlab_ci_runner_pool_pending_jobs{tags=""} 1
gitlab_ci_runner_pool_pending_jobs{tags="docker,linux"} 3
gitlab_ci_runner_pool_pending_jobs{tags="gpu"} 1
` + oldestHead + `gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags=""} ` + min50 + `
gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags="docker,linux"} ` + min20 + `
gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags="gpu"} ` + min05 + `
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Errorf("two projects waiting: %v", err)
	}

	// g/other's jobs start: gpu drops to 0 with no oldest job, and
	// docker,linux's oldest is g/app's, queued at 08:30.
	c.advance(10 * time.Minute)
	m.ProjectActive(other, nil)
	want = head + `gitlab_ci_runner_pool_pending_jobs{tags=""} 1
gitlab_ci_runner_pool_pending_jobs{tags="docker,linux"} 2
gitlab_ci_runner_pool_pending_jobs{tags="gpu"} 0
` + oldestHead + `gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags=""} ` + min50 + `
gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags="docker,linux"} ` + min30 + `
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Errorf("g/other drained: %v", err)
	}

	// An hour after gpu last had a job waiting its zero expires; g/app,
	// still reporting its jobs, keeps its pools. Then g/app goes.
	c.advance(55 * time.Minute)
	m.ProjectActive(app, []event.ActiveJob{waitingSince(1, "docker,linux", 30), waitingSince(3, "", 50)})
	m.Jobs.Expire()
	want = head + `gitlab_ci_runner_pool_pending_jobs{tags=""} 1
gitlab_ci_runner_pool_pending_jobs{tags="docker,linux"} 1
` + oldestHead + `gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags=""} ` + min50 + `
gitlab_ci_runner_pool_oldest_pending_queued_timestamp_seconds{tags="docker,linux"} ` + min30 + `
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	m.ProjectRemoved(app.Path)
	want = head + `gitlab_ci_runner_pool_pending_jobs{tags=""} 0
gitlab_ci_runner_pool_pending_jobs{tags="docker,linux"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Errorf("after g/app was removed: %v", err)
	}
}

// TestRunners: finished jobs by the runner that ran them, folded into
// pools; jobs no runner ran are not counted.
func TestRunners(t *testing.T) {
	o := everyLabel()
	o.RunnerPools = []PoolRule{rule(`[0-9]+-[a-z]+\.([^.]+)\.runners-manager\..*`, "$1")}
	o = with(o, family.Runners, func(f *family.Options) { f.Labels = []string{family.LabelRunner, family.LabelRunnerType} })
	m := newMetrics(t, o)
	for _, job := range []*gitlabapi.Job{
		poolJob(1, []string{"docker"}, shared, 1, "success"),
		poolJob(2, []string{"docker"}, shared2, 1, "failed"),
		poolJob(3, []string{"arm64"}, arm, 1, "success"),
		poolJob(4, nil, nil, 0, "skipped"), // never ran
	} {
		m.JobFinished(app, job)
	}
	want := `
# HELP gitlab_ci_runner_job_duration_seconds Duration of finished jobs by the runner that ran them (its description, or the pool it is folded into) and its type.` + fromPolling + `
# TYPE gitlab_ci_runner_job_duration_seconds histogram
gitlab_ci_runner_job_duration_seconds_bucket{runner="group-runner-arm",runner_type="group_type",le="10"} 0
gitlab_ci_runner_job_duration_seconds_bucket{runner="group-runner-arm",runner_type="group_type",le="60"} 0
gitlab_ci_runner_job_duration_seconds_bucket{runner="group-runner-arm",runner_type="group_type",le="+Inf"} 1
gitlab_ci_runner_job_duration_seconds_sum{runner="group-runner-arm",runner_type="group_type"} 100
gitlab_ci_runner_job_duration_seconds_count{runner="group-runner-arm",runner_type="group_type"} 1
gitlab_ci_runner_job_duration_seconds_bucket{runner="saas-linux-small-amd64",runner_type="instance_type",le="10"} 0
gitlab_ci_runner_job_duration_seconds_bucket{runner="saas-linux-small-amd64",runner_type="instance_type",le="60"} 0
gitlab_ci_runner_job_duration_seconds_bucket{runner="saas-linux-small-amd64",runner_type="instance_type",le="+Inf"} 2
gitlab_ci_runner_job_duration_seconds_sum{runner="saas-linux-small-amd64",runner_type="instance_type"} 200
gitlab_ci_runner_job_duration_seconds_count{runner="saas-linux-small-amd64",runner_type="instance_type"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "gitlab_ci_runner_job_duration_seconds"); err != nil {
		t.Error(err)
	}
}
