package gitlabtest

import (
	"slices"
	"time"
)

// JobRecord is the ground truth about one job or bridge, for exactly-once
// and correctness assertions. Times have the model's microsecond precision;
// Duration and QueuedDuration are what the API would render now.
type JobRecord struct {
	ID, ProjectID, PipelineID int64

	ProjectPath, Name, Stage, Ref, Status, FailureReason string

	IsBridge, Retried, AllowFailure bool

	CreatedAt             time.Time
	StartedAt, FinishedAt *time.Time

	Duration, QueuedDuration *float64
	Coverage                 *float64         // percent; nil when the job reported none
	ArtifactSizes            map[string]int64 // file_type → bytes; nil without artifacts

	// Tags are the runner tags the job asks for, sorted (nil: untagged).
	// RunnerDescription and RunnerType name the runner that took it; ""
	// until it started, and for bridges.
	Tags                          []string
	RunnerDescription, RunnerType string
}

// Jobs returns every job and bridge ever created, retried and deleted
// projects' ones included, sorted by id.
func (s *Server) Jobs() []JobRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	out := make([]JobRecord, 0, len(s.m.jobs))
	for _, j := range s.m.jobs {
		out = append(out, s.recordLocked(j, now))
	}
	return out
}

// Job returns the ground truth about one job or bridge.
func (s *Server) Job(id int64) (JobRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := s.m.job(id)
	if j == nil {
		return JobRecord{}, false
	}
	return s.recordLocked(j, s.now()), true
}

func (s *Server) recordLocked(j *job, now stamp) JobRecord {
	p := j.pipeline
	r := JobRecord{
		ID: j.id, ProjectID: p.project.id, PipelineID: p.id,
		ProjectPath: p.project.path, Name: j.name, Stage: j.stage, Ref: p.ref, Status: j.status,
		FailureReason: j.renderedFailureReason(),
		IsBridge:      j.isBridge, Retried: j.retried, AllowFailure: j.allowFailure,
		CreatedAt: j.createdAt.time(), StartedAt: j.startedAt.ptr(), FinishedAt: j.finishedAt.ptr(),
	}
	r.Duration, r.QueuedDuration = j.durations(now)
	r.Coverage = j.coveragePtr()
	r.Tags = slices.Clone(j.tags)
	if j.runner != nil {
		r.RunnerDescription, r.RunnerType = j.runner.description, j.runner.runnerType
	}
	if len(j.artifacts) > 0 {
		r.ArtifactSizes = make(map[string]int64, len(j.artifacts))
		for _, a := range j.artifacts {
			r.ArtifactSizes[s.m.artifactKinds[a.kind].fileType] += a.size
		}
	}
	return r
}

// durations are GitLab's duration and queued_duration: each runs from its
// start to its end or, while the end is null, to now. As in GitLab, a job
// canceled while pending has no started_at, so its queued_duration keeps
// growing.
func (j *job) durations(now stamp) (duration, queued *float64) {
	if j.nullDurations {
		return nil, nil
	}
	return j.startedAt.durationUntil(j.finishedAt, now), j.queuedAt.durationUntil(j.startedAt, now)
}

// renderedFailureReason is failure_reason as the API shows it: only for
// failed jobs, "unknown_failure" when none was recorded (enum value nil).
func (j *job) renderedFailureReason() string {
	if j.status != "failed" {
		return ""
	}
	if j.failureReason == "" {
		return "unknown_failure"
	}
	return j.failureReason
}
