package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// Token is what the fake GitLab accepts; it is not a secret.
const Token = "bench-token"

// Epoch is when every simulation starts.
var Epoch = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// FirstJobID is above 2^32, as on gitlab.com, so that ids stay int64 all
// the way through.
const FirstJobID = 5_000_000_000

// endpoints are the fake's route templates, in report order.
var endpoints = []string{
	gitlabtest.EndpointProjectJobs, gitlabtest.EndpointProjectJob, gitlabtest.EndpointPipelineJobs,
	gitlabtest.EndpointBridges, gitlabtest.EndpointGroupProjects, gitlabtest.EndpointProject,
	gitlabtest.EndpointPipelines, gitlabtest.EndpointPipeline, gitlabtest.EndpointProjects,
}

// JobChange is a job or bridge that appeared, or changed status, in the
// fake during a step: the ground truth the harness checks the exporter
// against.
type JobChange struct {
	ID         int64      `json:"id"`
	ProjectID  int64      `json:"project_id"`
	PipelineID int64      `json:"pipeline_id"`
	Status     string     `json:"status"`
	New        bool       `json:"new,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Queued is set when GitLab reports a queued duration, i.e. when the
	// exporter is expected to observe the job's start.
	Queued bool `json:"queued,omitempty"`
}

// PipelineChange is a pipeline that reached a finished status (success,
// failed, canceled or skipped) in the fake during a step, as it was at that
// moment: the ground truth of the pipeline metrics. A pipeline that
// finishes, runs again (a retry, a manual job played) and finishes again is
// one change per finish.
type PipelineChange struct {
	ID        int64  `json:"id"`
	ProjectID int64  `json:"project_id"`
	Ref       string `json:"ref"`    // as the API shows it: refs/merge-requests/<iid>/head for a merge request pipeline
	Source    string `json:"source"` // push, merge_request_event, parent_pipeline, ...
	Status    string `json:"status"`
	// Duration and QueuedDuration are GitLab's, in whole seconds, as the
	// single-pipeline endpoint renders them at the finish; nil for null
	// (a pipeline that never started).
	Duration       *int64     `json:"duration,omitempty"`
	QueuedDuration *int64     `json:"queued_duration,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"` // nil for skipped: GitLab sets none
	// Coverage is the pipeline's coverage, the value of the string the
	// endpoint renders ("87.50"); nil for null (no job reported one).
	Coverage *float64 `json:"coverage,omitempty"`
}

// StepResult is what happened in the fake during one step.
type StepResult struct {
	Now     time.Time   `json:"now"`
	Changes []JobChange `json:"changes"`
	// Pipelines are the pipeline finishes of the step, in order; nil when
	// none.
	Pipelines []PipelineChange `json:"pipelines,omitempty"`
}

// Counts are the fake's cumulative request counts, and the CPU time and
// memory of the process it runs in.
type Counts struct {
	Total     int            `json:"total"`
	Endpoints map[string]int `json:"endpoints"`
	Usage     Usage          `json:"usage"`
}

// GitLab is the simulated GitLab the exporter polls: in this process
// (localGitLab) or in a child process (remoteGitLab), so that the
// exporter's CPU and memory can be measured without the fake's.
type GitLab interface {
	URL() string
	// Step advances the simulated time by d and reports what changed.
	// frozen advances the clock only: nothing happens in GitLab.
	Step(d time.Duration, frozen bool) (StepResult, error)
	Counts() (Counts, error)
	// PollRequests returns the requests for project among the last `last`
	// the fake answered, and whether its log still held all of those.
	PollRequests(project int64, last int) ([]RequestDetail, bool, error)
	// Separate reports whether the fake runs in another process.
	Separate() bool
	// AddWebhook makes the fake send its Job and Pipeline Hooks to the
	// exporter, on FlushWebhooks: deliveries wait for the simulated time.
	AddWebhook(w WebhookSpec) error
	// FlushWebhooks sends the deliveries due and returns how many
	// requests that took.
	FlushWebhooks() (int, error)
	Close() error
}

// WebhookSpec is the fake's webhook: where to, with which secret, and the
// share of deliveries lost, duplicated and reordered.
type WebhookSpec struct {
	URL       string  `json:"url"`
	Secret    string  `json:"secret"`
	Loss      float64 `json:"loss,omitempty"`
	Duplicate float64 `json:"duplicate,omitempty"`
	Reorder   float64 `json:"reorder,omitempty"`
	Seed      int64   `json:"seed"`
}

// localGitLab is the fake and its workload in this process.
type localGitLab struct {
	srv   *gitlabtest.Server
	clock *gitlabtest.ManualClock
	wl    *gitlabtest.Workload // nil when idle
	hook  *gitlabtest.Webhook  // nil without webhooks

	next int64            // the lowest job id not reported yet
	open map[int64]string // unfinished jobs already reported, by id
}

func newLocalGitLab(sc Scenario) (*localGitLab, error) {
	clock := gitlabtest.NewManualClock(Epoch)
	srv := gitlabtest.NewServer(gitlabtest.Options{
		Token: Token, Clock: clock, FirstJobID: FirstJobID,
		// Counts are kept without the log; the log, bounded, holds the
		// last cycle so that a poll above its bound can be explained.
		RequestLogLimit: requestLogLimit(sc),
	})
	srv.TrackPipelineFinishes(true)
	g := &localGitLab{srv: srv, clock: clock, next: FirstJobID, open: map[int64]string{}}
	if sc.Idle {
		if err := g.buildHistory(sc); err != nil {
			srv.Close()
			return nil, err
		}
		return g, nil
	}
	opt := sc.Workload
	opt.Projects, opt.Seed = sc.Projects, sc.Seed
	g.wl = gitlabtest.NewWorkload(srv, clock, opt)
	if n := len(g.wl.ProjectIDs()); n != sc.Projects {
		srv.Close()
		return nil, fmt.Errorf("workload created %d projects, want %d", n, sc.Projects)
	}
	return g, nil
}

// buildHistory gives every project HistoryJobs finished jobs spread over
// the warm-up, pipeline by pipeline, all projects in step. It
// puts the clock back at Epoch, so that the harness's warm-up step, the
// same for every scenario, ends at the end of the lookback.
func (g *localGitLab) buildHistory(sc Scenario) error {
	ids := make([]int64, sc.Projects)
	for i := range ids {
		if ids[i] = g.srv.CreateProject(fmt.Sprintf("group/project-%d", i+1), gitlabtest.ProjectOptions{}); ids[i] == 0 {
			return fmt.Errorf("creating project %d", i+1)
		}
	}
	const perPipeline = 5
	pipelines := max(1, sc.HistoryJobs/perPipeline)
	start := Epoch.Add(time.Minute)
	spacing := (WarmUp - 3*time.Minute) / time.Duration(pipelines)
	// The manual job goes into the newest pipeline that is not on the first
	// page of 100 jobs: inside the lookback (so it is followed) when there
	// are enough pipelines, and seen only by the parked recheck.
	parkedIn := max(0, pipelines-100/perPipeline-1)
	names := []string{"build", "lint", "rspec 1/2", "rspec 2/2", "deploy: [eu, prod]"}
	stages := []string{"build", "test", "test", "test", "deploy"}
	for k := range pipelines {
		at := start.Add(time.Duration(k) * spacing)
		g.clock.Set(at)
		var jobs []int64
		for i, pid := range ids {
			pl := g.srv.CreatePipeline(pid, "main", gitlabtest.PipelineOptions{})
			for n := range perPipeline {
				jobs = append(jobs, g.srv.CreateJob(pl, gitlabtest.JobSpec{Name: names[n], Stage: stages[n]}))
			}
			if k == parkedIn && sc.ParkedEvery > 0 && i%sc.ParkedEvery == 0 {
				g.srv.CreateJob(pl, gitlabtest.JobSpec{Name: "deploy: [us, prod]", Stage: "deploy", When: "manual", AllowFailure: true})
			}
		}
		steps := []struct {
			after time.Duration
			do    func(id int64) error
		}{
			{0, g.srv.Enqueue},
			{5 * time.Second, g.srv.Start},
			{70 * time.Second, func(id int64) error {
				status := "success"
				if id%17 == 0 {
					status = "failed"
				}
				return g.srv.Finish(id, status, gitlabtest.FinishOptions{})
			}},
		}
		for _, st := range steps {
			g.clock.Set(at.Add(st.after))
			for _, id := range jobs {
				if err := st.do(id); err != nil {
					return err
				}
			}
		}
	}
	g.clock.Set(Epoch)
	return nil
}

func (g *localGitLab) AddWebhook(w WebhookSpec) error {
	hook, err := g.srv.AddWebhook(gitlabtest.WebhookOptions{URL: w.URL, SecretToken: w.Secret, Manual: true, Seed: w.Seed,
		Timestamps: gitlabtest.TimestampsMixed, RecordLimit: 1,
		Faults: gitlabtest.WebhookFaults{Loss: w.Loss, Duplicate: w.Duplicate, Reorder: w.Reorder}})
	g.hook = hook
	return err
}

func (g *localGitLab) FlushWebhooks() (int, error) {
	if g.hook == nil {
		return 0, nil
	}
	return g.hook.Flush(context.Background())
}

func (g *localGitLab) URL() string    { return g.srv.URL() }
func (g *localGitLab) Separate() bool { return false }
func (g *localGitLab) Close() error   { g.srv.Close(); return nil }

func (g *localGitLab) Step(d time.Duration, frozen bool) (StepResult, error) {
	if g.wl != nil && !frozen {
		g.wl.Step(d)
	} else {
		g.clock.Advance(d)
	}
	return StepResult{Now: g.clock.Now(), Changes: g.changes(), Pipelines: g.pipelineChanges()}, nil
}

// pipelineChanges reports the pipeline finishes since the last call, the
// idle scenario's history included in the first.
func (g *localGitLab) pipelineChanges() []PipelineChange {
	recs := g.srv.PipelineFinishes()
	if len(recs) == 0 {
		return nil
	}
	out := make([]PipelineChange, len(recs))
	for i, r := range recs {
		out[i] = PipelineChange{
			ID: r.ID, ProjectID: r.ProjectID, Ref: r.Ref, Source: r.Source, Status: r.Status,
			Duration: r.Duration, QueuedDuration: r.QueuedDuration, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt,
		}
		if r.Coverage != nil {
			c, err := strconv.ParseFloat(*r.Coverage, 64)
			if err != nil {
				panic(fmt.Sprintf("bench: pipeline %d: coverage %q: %v", r.ID, *r.Coverage, err)) // the fake formats it
			}
			out[i].Coverage = &c
		}
	}
	return out
}

// changes reports the jobs created, and the reported unfinished jobs whose
// status changed, since the last call.
func (g *localGitLab) changes() []JobChange {
	var out []JobChange
	for id, status := range g.open {
		r, ok := g.srv.Job(id)
		if !ok || r.Status == status {
			continue
		}
		out = append(out, change(r, false))
		g.track(r)
	}
	for ; ; g.next++ {
		r, ok := g.srv.Job(g.next)
		if !ok {
			break
		}
		out = append(out, change(r, true))
		g.track(r)
	}
	return out
}

func (g *localGitLab) track(r gitlabtest.JobRecord) {
	if gitlabapi.JobStatus(r.Status).Finished() {
		delete(g.open, r.ID)
	} else {
		g.open[r.ID] = r.Status
	}
}

func change(r gitlabtest.JobRecord, isNew bool) JobChange {
	return JobChange{
		ID: r.ID, ProjectID: r.ProjectID, PipelineID: r.PipelineID, Status: r.Status, New: isNew,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Queued: r.StartedAt != nil && r.QueuedDuration != nil,
	}
}

func (g *localGitLab) PollRequests(project int64, last int) ([]RequestDetail, bool, error) {
	reqs, complete := g.pollRequests(project, last)
	return reqs, complete, nil
}

func (g *localGitLab) Counts() (Counts, error) {
	c := Counts{Total: g.srv.RequestCount(""), Endpoints: map[string]int{}, Usage: processUsage()}
	for _, e := range endpoints {
		if n := g.srv.RequestCount(e); n > 0 {
			c.Endpoints[e] = n
		}
	}
	return c, nil
}
