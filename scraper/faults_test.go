package scraper_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// Project ids in the fake, in creation order. The faults hit projA only
// (unless a case says otherwise); projB and projC must not notice.
const (
	projA int64 = 1
	projB int64 = 2
	projC int64 = 3
)

var faultProjects = []string{"g/a", "g/b", "g/c"}

// faultCase is one misbehaviour of GitLab. inject starts it after the
// baseline polls and returns what ends it (nil: it never ends).
type faultCase struct {
	name string
	// newJobsA finished jobs are created in projA before the faulted poll;
	// 150 make the walk need a second page.
	newJobsA int
	// timeout is the client's per-attempt timeout (default 2s).
	timeout time.Duration
	inject  func(f *faultEnv) (clear func())
	// reason is the Reason of projA's failed poll; "" means the
	// poll must succeed (data oddities, or a fault absorbed by a retry).
	reason string
	// attempts, when set, is how many HTTP attempts projA's faulted poll
	// made, as the poll reports them: retries are bounded. (The fake's own
	// log is no measure: it logs a slow request only once it answers, and
	// net/http replays a GET that fails on a reused connection.)
	attempts int
	// global faults (a revoked token) fail every project.
	global bool
	// permanent faults (a deleted project) never clear.
	permanent bool
	// check runs after the faulted poll, after runs once the fault cleared.
	check, after func(t *testing.T, f *faultEnv)
}

// fault injects flt on projA's job list until the case clears it.
func fault(flt gitlabtest.Fault) func(f *faultEnv) func() {
	return func(f *faultEnv) func() {
		flt.ProjectID = projA
		if flt.Endpoint == "" {
			flt.Endpoint = jobsEndpoint
		}
		id := f.gl.InjectFault(flt)
		return func() { f.gl.RemoveFault(id) }
	}
}

func TestFaultMatrix(t *testing.T) {
	cases := []faultCase{
		{
			name:   "429 once with Retry-After is absorbed by a retry",
			inject: fault(gitlabtest.Fault{Kind: gitlabtest.FaultRateLimit, RetryAfter: 7 * time.Second, Times: 1}),
			check: func(t *testing.T, f *faultEnv) {
				if got := f.clientClock.longestSleep(); got < 7*time.Second {
					t.Errorf("client waited at most %s after Retry-After: 7", got)
				}
				if v, _ := f.value("gitlab_jobs_exporter_api_requests_total", map[string]string{"code": "429"}); v != 1 {
					t.Errorf("api_requests_total{code=429} = %v, want 1", v)
				}
			},
		},
		{
			name:     "burst of 429 with Retry-After",
			inject:   fault(gitlabtest.Fault{Kind: gitlabtest.FaultRateLimit, RetryAfter: 7 * time.Second}),
			reason:   "rate_limited",
			attempts: 3,
			check: func(t *testing.T, f *faultEnv) {
				if got := f.clientClock.longestSleep(); got < 7*time.Second {
					t.Errorf("client waited at most %s after Retry-After: 7", got)
				}
			},
		},
		{
			name:     "burst of application-limit 429 without Retry-After",
			inject:   fault(gitlabtest.Fault{Kind: gitlabtest.FaultAppRateLimit}),
			reason:   "rate_limited",
			attempts: 3,
		},
		{name: "500 with an HTML body", inject: fault(gitlabtest.Fault{Kind: gitlabtest.FaultServerError, Status: 500}), reason: "server_error", attempts: 3},
		{name: "502 with an HTML body", inject: fault(gitlabtest.Fault{Kind: gitlabtest.FaultServerError, Status: 502}), reason: "server_error", attempts: 3},
		{name: "503 with an HTML body", inject: fault(gitlabtest.Fault{Kind: gitlabtest.FaultServerError, Status: 503}), reason: "server_error", attempts: 3},
		{
			name:     "slow answers past the client timeout",
			timeout:  300 * time.Millisecond,
			inject:   fault(gitlabtest.Fault{Kind: gitlabtest.FaultSlow, Delay: time.Minute}),
			reason:   "timeout",
			attempts: 3,
		},
		{
			name:     "connection reset",
			inject:   fault(gitlabtest.Fault{Kind: gitlabtest.FaultConnectionReset}),
			reason:   "other",
			attempts: 3,
		},
		{
			name:     "malformed JSON on page 2 of a walk",
			newJobsA: 150,
			inject:   fault(gitlabtest.Fault{Kind: gitlabtest.FaultMalformedJSON, After: 1}),
			reason:   "decode",
			attempts: 2, // a 200 with a broken body is not retried
		},
		{
			name:     "truncated JSON on page 2 of a walk",
			newJobsA: 150,
			inject:   fault(gitlabtest.Fault{Kind: gitlabtest.FaultTruncatedJSON, After: 1}),
			reason:   "decode",
			attempts: 2,
		},
		{
			name: "project deleted (404)",
			inject: func(f *faultEnv) func() {
				f.gl.DeleteProject(projA)
				return nil
			},
			reason:    "not_found",
			attempts:  1,
			permanent: true,
			after: func(t *testing.T, f *faultEnv) {
				f.cycle(25 * time.Hour) // discovery is due: the project goes
				if len(f.rec.removed) != 1 || f.rec.removed[0] != "g/a" {
					t.Errorf("removed projects = %v, want [g/a]", f.rec.removed)
				}
				if _, ok := f.value("gitlab_ci_job_duration_seconds", map[string]string{"project": "g/a"}); ok {
					t.Errorf("series of the deleted project are still exported")
				}
				if v, _ := f.value("gitlab_ci_job_duration_seconds", map[string]string{"project": "g/b"}); v != 6 {
					t.Errorf("g/b: %v jobs counted after g/a was dropped, want 6", v)
				}
			},
		},
		{
			name: "project forbidden (403)",
			inject: func(f *faultEnv) func() {
				f.gl.ForbidProject(projA, true)
				return func() { f.gl.ForbidProject(projA, false) }
			},
			reason:   "forbidden",
			attempts: 1,
		},
		{
			name: "token revoked (401)",
			inject: func(f *faultEnv) func() {
				f.gl.RevokeToken()
				return f.gl.RestoreToken
			},
			reason:   "unauthorized",
			attempts: 1,
			global:   true,
		},
		{
			name: "unknown status and unknown failure_reason",
			inject: func(f *faultEnv) func() {
				id := f.gl.CreateJob(f.gl.CreatePipeline(projA, "main", gitlabtest.PipelineOptions{}), gitlabtest.JobSpec{Name: "odd", Stage: "test"})
				f.must(f.gl.Enqueue(id))
				f.must(f.gl.Start(id))
				f.cycle(30 * time.Second) // seen running first
				f.gl.SetStatus(id, "waiting_for_callback2")
				f.ids["odd"] = id
				return func() {
					f.must(f.gl.Finish(id, "failed", gitlabtest.FinishOptions{FailureReason: "runner_time_travel"}))
				}
			},
			check: func(t *testing.T, f *faultEnv) {
				id := f.ids["odd"]
				if n := f.rec.finished[id]; n != 0 {
					t.Errorf("job in an unknown status counted %d times as finished", n)
				}
				if !followed(f, "g/a", id, "waiting_for_callback2") {
					t.Errorf("job in an unknown status is not followed with that status: %v", f.rec.active["g/a"])
				}
				if v, _ := f.value("gitlab_ci_jobs", map[string]string{"project": "g/a", "status": "waiting_for_callback2"}); v != 1 {
					t.Errorf("gitlab_ci_jobs{status=waiting_for_callback2} = %v, want 1", v)
				}
			},
			after: func(t *testing.T, f *faultEnv) {
				if got := f.rec.status[f.ids["odd"]]; got != gitlabapi.StatusFailed {
					t.Errorf("job counted with status %q, want failed", got)
				}
				if v, _ := f.value("gitlab_ci_job_failures_total", map[string]string{"project": "g/a", "failure_reason": "runner_time_travel"}); v != 1 {
					t.Errorf("failures_total{failure_reason=runner_time_travel} = %v, want 1", v)
				}
			},
		},
		{
			name: "null durations",
			inject: func(f *faultEnv) func() {
				pid := f.gl.CreatePipeline(projA, "main", gitlabtest.PipelineOptions{})
				done := f.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "nulldone", Stage: "test"})
				running := f.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "nullrunning", Stage: "test"})
				f.gl.SetNullDurations(done, true)
				f.gl.SetNullDurations(running, true)
				f.run(done, "success")
				f.must(f.gl.Enqueue(running))
				f.must(f.gl.Start(running))
				f.ids["done"], f.ids["running"] = done, running
				return func() { f.must(f.gl.Finish(running, "success", gitlabtest.FinishOptions{})) }
			},
			check: func(t *testing.T, f *faultEnv) {
				if n := f.rec.finished[f.ids["done"]]; n != 1 {
					t.Errorf("job with null durations counted %d times, want 1", n)
				}
				if n := f.rec.started[f.ids["running"]]; n != 1 {
					t.Errorf("start of a job with null durations seen %d times, want 1", n)
				}
				if v, _ := f.value("gitlab_ci_job_duration_seconds", map[string]string{"job_name": "nulldone"}); v != 1 {
					t.Errorf("duration histogram of the null-duration job holds %v samples, want 1", v)
				}
				if _, ok := f.value("gitlab_ci_job_queued_duration_seconds", map[string]string{"job_name": "nullrunning"}); ok {
					t.Errorf("a null queued_duration was observed as a value")
				}
			},
			after: func(t *testing.T, f *faultEnv) {
				if n := f.rec.finished[f.ids["running"]]; n != 1 {
					t.Errorf("running job with null durations counted %d times when it finished, want 1", n)
				}
			},
		},
		{
			name: "a page of 100 unfinished jobs, then all finish",
			inject: func(f *faultEnv) func() {
				pid := f.gl.CreatePipeline(projA, "main", gitlabtest.PipelineOptions{})
				var running, pending []int64
				for i := 0; i < 100; i++ {
					id := f.gl.CreateJob(pid, gitlabtest.JobSpec{Name: "wide", Stage: "test"})
					f.must(f.gl.Enqueue(id))
					if i%2 == 0 {
						f.must(f.gl.Start(id))
						running = append(running, id)
					} else {
						pending = append(pending, id)
					}
				}
				return func() {
					for _, id := range running {
						f.must(f.gl.Finish(id, "success", gitlabtest.FinishOptions{}))
					}
					for _, id := range pending {
						f.must(f.gl.Finish(id, "canceled", gitlabtest.FinishOptions{}))
					}
				}
			},
			check: func(t *testing.T, f *faultEnv) {
				if got := len(f.rec.active["g/a"]); got != 100 {
					t.Errorf("%d jobs followed, want 100", got)
				}
				for status, want := range map[string]float64{"running": 50, "pending": 50} {
					if v, _ := f.value("gitlab_ci_jobs", map[string]string{"project": "g/a", "status": status}); v != want {
						t.Errorf("gitlab_ci_jobs{status=%s} = %v, want %v", status, v, want)
					}
				}
			},
			after: func(t *testing.T, f *faultEnv) {
				if got := len(f.rec.active["g/a"]); got != 0 {
					t.Errorf("%d jobs still followed after all finished", got)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runFaultCase(t, tc)
		})
	}
}

func runFaultCase(t *testing.T, tc faultCase) {
	before := runtime.NumGoroutine()
	timeout := tc.timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	f := newFaultEnv(t, faultProjects, timeout)
	defer func() {
		f.close()
		checkGoroutines(t, before)
	}()

	// Baseline: every project has counted history.
	f.cycle(time.Second)
	for _, p := range []int64{projA, projB, projC} {
		f.finishedJobs(p, 3, "base")
	}
	f.cycle(30 * time.Second)
	countedA, _ := f.value("gitlab_ci_job_duration_seconds", map[string]string{"project": "g/a"})
	lastOKA, _ := f.value("gitlab_jobs_exporter_project_last_success_timestamp_seconds", map[string]string{"project": "g/a"})
	if countedA != 3 || lastOKA == 0 {
		t.Fatalf("baseline: g/a counted %v jobs (want 3), last success %v", countedA, lastOKA)
	}

	if tc.newJobsA > 0 {
		f.finishedJobs(projA, tc.newJobsA, "more")
	}
	others := map[string][]int64{
		"g/b": f.finishedJobs(projB, 3, "during"),
		"g/c": f.finishedJobs(projC, 3, "during"),
	}
	end := tc.inject(f)
	f.cycle(30 * time.Second)

	resA := f.rec.lastPoll(t, "g/a")
	if tc.reason == "" {
		if resA.Err != nil {
			t.Fatalf("poll of g/a failed: %v", resA.Err)
		}
	} else {
		checkFailedPoll(t, f, "g/a", resA, tc.reason)
		// The last good values stay: nothing counted is taken back, and
		// the last success keeps its time.
		if got, _ := f.value("gitlab_ci_job_duration_seconds", map[string]string{"project": "g/a"}); got < countedA {
			t.Errorf("g/a: %v jobs counted after the failed poll, %v before", got, countedA)
		}
		if got, _ := f.value("gitlab_jobs_exporter_project_last_success_timestamp_seconds", map[string]string{"project": "g/a"}); got != lastOKA {
			t.Errorf("g/a: last success moved from %v to %v on a failed poll", lastOKA, got)
		}
	}
	if tc.attempts > 0 && resA.Requests != tc.attempts {
		t.Errorf("g/a: the faulted poll made %d requests, want %d", resA.Requests, tc.attempts)
	}
	for path, ids := range others {
		res := f.rec.lastPoll(t, path)
		if tc.global {
			checkFailedPoll(t, f, path, res, tc.reason)
			continue
		}
		if res.Err != nil {
			t.Errorf("%s: poll failed while only g/a was faulty: %v", path, res.Err)
		}
		for _, id := range ids {
			if n := f.rec.finished[id]; n != 1 {
				t.Errorf("%s: job %d counted %d times during the fault, want 1", path, id, n)
			}
		}
		if v, _ := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": path}); v != 1 {
			t.Errorf("%s: project_up = %v during g/a's fault, want 1", path, v)
		}
	}
	if tc.check != nil {
		tc.check(t, f)
	}

	if end != nil {
		end()
	}
	f.cycle(30 * time.Second)
	f.cycle(30 * time.Second)
	for _, path := range faultProjects {
		if tc.permanent && path == "g/a" {
			continue
		}
		if err := f.rec.lastPoll(t, path).Err; err != nil {
			t.Errorf("%s: poll still failing after the fault cleared: %v", path, err)
		}
	}
	f.assertExactlyOnce(time.Time{})
	if tc.after != nil {
		tc.after(t, f)
	}
}

// checkFailedPoll checks that a poll failed for the expected reason, that
// the metrics say so, and that the error is fit for a log line.
func checkFailedPoll(t *testing.T, f *faultEnv, path string, res event.PollResult, reason string) {
	t.Helper()
	err := res.Err
	if err == nil {
		t.Errorf("%s: poll succeeded, want a %s failure", path, reason)
		return
	}
	if res.Reason != reason {
		t.Errorf("%s: error classified %q, want %q: %v", path, res.Reason, reason, err)
	}
	if v, _ := f.value("gitlab_jobs_exporter_poll_errors_total", map[string]string{"project": path, "reason": reason}); v != 1 {
		t.Errorf("%s: poll_errors_total{reason=%s} = %v, want 1", path, reason, v)
	}
	if v, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": path}); !ok || v != 0 {
		t.Errorf("%s: project_up = %v (present %v), want 0", path, v, ok)
	}
	msg := err.Error()
	if strings.Contains(msg, "<") || strings.Contains(msg, faultToken) {
		t.Errorf("%s: error message carries HTML or the token: %s", path, msg)
	}
}

func followed(f *faultEnv, path string, id int64, status string) bool {
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for _, j := range f.rec.active[path] {
		if j.ID == id {
			return string(j.Status) == status
		}
	}
	return false
}
