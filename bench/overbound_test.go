package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// parkedScenario is one quiet project with 200 finished jobs and a manual
// job off the first page of its jobs, so that the exporter follows it
// and leaves it to the parked recheck.
func parkedScenario() Scenario {
	return Scenario{Name: "parked", Projects: 1, Interval: time.Minute, Hours: 0.25,
		Idle: true, HistoryJobs: 200, ParkedEvery: 1, Seed: 1}
}

// The poll of cycle 100 of the 6-hour large run: a manual job deep below
// a quiet project's first page is played and finishes between two parked
// rechecks; the recheck's scoped walk no longer lists it, so the poll
// fetches its final state, and its pipeline's new result. 4 requests where
// nothing changed in GitLab during the step: the harness must book it
// busy, with the job's pipeline changed, not as an idle poll above its
// bound.
func TestParkedJobPlayedBetweenRechecksIsBusy(t *testing.T) {
	tests := []struct {
		name string
		// playBefore is the cycle before whose step the manual job is
		// played, started and finished; the recheck is due in cycle 10.
		playBefore int
		// Busy polls: the cycle of the play (GitLab changed, 1 request),
		// and the recheck unless it is the same. Bounds 2 + 1 for the
		// recheck + 1 changed pipeline + 1 pipeline result each.
		wantLate, wantBusy, wantBusyBound, wantIdle int
	}{
		{"played between rechecks", 3, 1, 2, 2 * 5, 10},
		{"played in the recheck's own step", 10, 0, 1, 5, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sc := parkedScenario()
			gl, err := newLocalGitLab(sc)
			if err != nil {
				t.Fatal(err)
			}
			defer gl.Close()
			var log strings.Builder
			h, err := newHarness(sc, gl, Options{Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.first(ctx); err != nil {
				t.Fatal(err)
			}
			var manual gitlabtest.JobRecord
			for _, j := range gl.srv.Jobs() {
				if j.Status == "manual" {
					manual = j
				}
			}
			if manual.ID == 0 || h.rec.parked.get(manual.ID) != blockedNow {
				t.Fatalf("manual job %d not followed as manual after the first walk", manual.ID)
			}

			requests := map[int]int{} // by cycle, the project's poll
			var seenCycle, seenTotal int
			for i := 1; i <= 12; i++ {
				if i == tc.playBefore {
					for _, do := range []func(int64) error{gl.srv.Play, gl.srv.Start} {
						if err := do(manual.ID); err != nil {
							t.Fatal(err)
						}
					}
					if err := gl.srv.Finish(manual.ID, "success", gitlabtest.FinishOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				idle, busy := h.rep.Idle.Requests, h.rep.Busy.Requests
				sample, err := h.cycle(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				requests[i] = h.rep.Idle.Requests - idle + h.rep.Busy.Requests - busy
				if h.rec.finished.get(manual.ID) > 0 && seenCycle == 0 {
					seenCycle, seenTotal = i, sample.requests
				}
			}

			if seenCycle != 10 || requests[10] != 4 {
				t.Fatalf("the played job was counted in cycle %d, whose poll made %d requests; want the recheck of cycle 10 with 4 (polls: %v)",
					seenCycle, requests[seenCycle], requests)
			}
			if n := h.rec.finished.get(manual.ID); n != 1 {
				t.Errorf("played job counted %d times, want 1", n)
			}
			r := h.rep
			if r.Idle.Over != 0 || r.Busy.Over != 0 {
				t.Errorf("polls above their bound: %d idle (max %d requests), %d busy", r.Idle.Over, r.Idle.MaxRequests, r.Busy.Over)
			}
			if r.LateSeen != tc.wantLate || r.Busy.Polls != tc.wantBusy || r.Busy.MaxRequests != 4 || r.Busy.Bound != tc.wantBusyBound {
				t.Errorf("late seen %d, busy polls %d (max %d requests, bounds %d); want %d, %d (4, %d)",
					r.LateSeen, r.Busy.Polls, r.Busy.MaxRequests, r.Busy.Bound, tc.wantLate, tc.wantBusy, tc.wantBusyBound)
			}
			if r.Idle.Polls != tc.wantIdle || r.Idle.Requests != tc.wantIdle {
				t.Errorf("idle polls %d with %d requests, want %d with 1 each", r.Idle.Polls, r.Idle.Requests, tc.wantIdle)
			}
			if strings.Contains(log.String(), "above its bound") {
				t.Errorf("a poll was explained as above its bound:\n%s", log.String())
			}

			// What the log says of such a poll, were it above its bound: the
			// recheck's requests as the fake logged them, and the job's truth.
			log.Reset()
			h.explain(overPoll{cycle: seenCycle, project: manual.ProjectID, idle: true, requests: 3, bound: 2}, seenTotal)
			line := log.String()
			for _, want := range []string{
				"parked: cycle 10: idle poll above its bound: project 1 group/project-1, 3 requests, bound 2;",
				"| GET /projects/1/jobs?per_page=20 200 |",
				"scope[]=created,waiting_for_resource,preparing,waiting_for_callback,pending,running,canceling,manual,scheduled 200",
				fmt.Sprintf("| GET /projects/1/jobs/%d 200 (success %q, pipeline %d, followed as manual or scheduled", manual.ID, manual.Name, manual.PipelineID),
			} {
				if !strings.Contains(line, want) {
					t.Errorf("log line lacks %q:\n%s", want, line)
				}
			}
			if n := strings.Count(line, "\n"); n != 1 {
				t.Errorf("explained in %d lines, want 1", n)
			}
		})
	}
}

// The fake in a child process answers which requests a poll made as the
// one in this process does.
func TestPollRequestsLocalAndRemote(t *testing.T) {
	sc := IdleSmoke()
	for _, where := range []string{"local", "remote"} {
		t.Run(where, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var (
				gl  GitLab
				err error
			)
			if where == "local" {
				gl, err = newLocalGitLab(sc)
			} else {
				gl, err = startRemoteGitLab(sc)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer gl.Close()
			h, err := newHarness(sc, gl, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.first(ctx); err != nil {
				t.Fatal(err)
			}
			var sample cycleSample
			for i := 1; i <= 2; i++ {
				if sample, err = h.cycle(ctx, i); err != nil {
					t.Fatal(err)
				}
			}
			reqs, complete, err := gl.PollRequests(2, sample.requests)
			if err != nil || !complete {
				t.Fatalf("PollRequests: complete %v, %v", complete, err)
			}
			// An idle poll, the second after the first walk: one small first
			// page.
			want := []RequestDetail{{Method: "GET", Endpoint: gitlabtest.EndpointProjectJobs, Path: "/projects/2/jobs", Query: "per_page=20", Status: 200}}
			if !slices.Equal(reqs, want) {
				t.Errorf("requests of project 2 in cycle 2: %+v, want %+v", reqs, want)
			}
		})
	}
}
