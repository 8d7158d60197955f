package gitlabtest

import (
	"fmt"
	"math"
	"slices"
)

// FinishOptions configures Finish.
type FinishOptions struct {
	FailureReason string // only for "failed"; "" = "script_failure"
	Artifacts     []Artifact
	// Coverage is the percentage a build with a `coverage:` regex found in
	// its log (nil: none, the job's coverage stays null). The job renders it
	// as a number; the pipeline's coverage is the mean of its latest builds'.
	Coverage *float64
	// AutoRetry, for a build finishing as failed, retries it within the
	// same transition, as GitLab's `retry:` (e.g. when:
	// runner_system_failure) does: the new attempt is pending before the
	// pipeline's status is recomputed, so the pipeline never shows failed
	// and no Pipeline Hook says it did. LatestAttempt gives the new id.
	AutoRetry bool
}

// Artifact is one file a job uploaded.
type Artifact struct {
	FileType   string // "archive", "trace", "junit", ...
	Size       int64
	Filename   string // "" = GitLab's usual name for the type
	FileFormat string // "" = null, as gitlab.com sends for traces
}

// transition runs fn on job id under the lock and then lets the pipeline
// (and any bridge above it) follow.
func (s *Server) transition(id int64, fn func(j *job, now stamp) error) error {
	return s.transitionThen(id, fn, nil)
}

// transitionThen is transition with a step, then, that runs after the job's
// change is announced and before the pipeline follows: what GitLab does in
// the job's after_transition callbacks, such as an automatic retry.
func (s *Server) transitionThen(id int64, fn func(j *job, now stamp) error, then func(j *job, now stamp)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.m.job(id)
	if j == nil {
		return fmt.Errorf("gitlabtest: job %d does not exist", id)
	}
	if j.retried {
		return fmt.Errorf("gitlabtest: job %d was retried; only its newest attempt can change", id)
	}
	now := s.now()
	before := j.status
	if err := fn(j, now); err != nil {
		return err
	}
	if j.status != before {
		s.m.jobChanged(j, now)
	}
	if then != nil {
		then(j, now)
	}
	s.m.updatePipeline(j.pipeline, now)
	return nil
}

func statusError(j *job, action string, want ...string) error {
	return fmt.Errorf("gitlabtest: job %d: cannot %s from status %q (allowed from %q)", j.id, action, j.status, want)
}

// Enqueue moves a job from created (or waiting_for_resource) to pending and
// sets queued_at.
func (s *Server) Enqueue(jobID int64) error {
	return s.transition(jobID, func(j *job, now stamp) error {
		if j.status != "created" && j.status != "waiting_for_resource" {
			return statusError(j, "enqueue", "created", "waiting_for_resource")
		}
		j.status = "pending"
		j.queuedAt = now
		return nil
	})
}

// WaitForResource moves a job from created to waiting_for_resource (a
// resource_group holds it back; it is not queued yet).
func (s *Server) WaitForResource(jobID int64) error {
	return s.transition(jobID, func(j *job, now stamp) error {
		if j.status != "created" {
			return statusError(j, "wait for resource", "created")
		}
		j.status = "waiting_for_resource"
		return nil
	})
}

// Start moves a job from pending (or waiting_for_resource) to running, sets
// started_at and assigns a runner (builds only).
func (s *Server) Start(jobID int64) error {
	return s.transition(jobID, func(j *job, now stamp) error {
		if j.status != "pending" && j.status != "waiting_for_resource" {
			return statusError(j, "start", "pending", "waiting_for_resource")
		}
		j.status = "running"
		j.startedAt = now
		if !j.isBridge {
			j.runner = pickRunner(j)
		}
		return nil
	})
}

// pickRunner picks, as GitLab does, among the runners that have every tag
// the job asks for (an untagged job: those that run untagged jobs), so
// jobs tagged "docker" go to the shared runners and the group runner
// alike. A job no runner can take (a test starts it anyway) goes to a
// shared runner.
func pickRunner(j *job) *runner {
	var fit []*runner
	for _, r := range runners {
		if canRun(r, j.tags) {
			fit = append(fit, r)
		}
	}
	if len(fit) == 0 {
		return runners[j.id%2]
	}
	return fit[j.id%int64(len(fit))]
}

func canRun(r *runner, tags []string) bool {
	if len(tags) == 0 {
		return r.runUntagged
	}
	for _, t := range tags {
		if !slices.Contains(r.tags, t) {
			return false
		}
	}
	return true
}

// Finish ends a job as success (from running), failed (from any active
// status, e.g. stuck while pending) or canceled (from any unfinished
// status), sets finished_at and records its artifacts.
func (s *Server) Finish(jobID int64, status string, opt FinishOptions) error {
	var allowed func(string) bool
	switch status {
	case "success":
		allowed = func(st string) bool { return st == "running" }
	case "failed":
		allowed = func(st string) bool {
			switch st {
			case "created", "manual", "scheduled", "success", "failed", "canceled", "skipped":
				return false
			}
			return true
		}
	case "canceled":
		allowed = func(st string) bool { return !completed(st) }
	default:
		return fmt.Errorf("gitlabtest: job %d: Finish status must be success, failed or canceled, got %q", jobID, status)
	}
	if opt.FailureReason != "" && status != "failed" {
		return fmt.Errorf("gitlabtest: job %d: a failure reason needs status failed, got %q", jobID, status)
	}
	for i, a := range opt.Artifacts {
		if a.FileType == "" || a.Size < 0 {
			return fmt.Errorf("gitlabtest: job %d: artifact %d needs a file type and a size >= 0", jobID, i)
		}
	}
	if c := opt.Coverage; c != nil && (math.IsNaN(*c) || math.IsInf(*c, 0)) {
		return fmt.Errorf("gitlabtest: job %d: coverage %v is not a number JSON can carry", jobID, *c)
	}
	if opt.AutoRetry && status != "failed" {
		return fmt.Errorf("gitlabtest: job %d: only a failed job is retried automatically, got %q", jobID, status)
	}
	var then func(j *job, now stamp)
	if opt.AutoRetry {
		then = func(j *job, now stamp) { s.m.retry(j, now) }
	}
	return s.transitionThen(jobID, func(j *job, now stamp) error {
		if !allowed(j.status) {
			return fmt.Errorf("gitlabtest: job %d: cannot finish as %s from status %q", j.id, status, j.status)
		}
		if j.isBridge && (len(opt.Artifacts) > 0 || opt.Coverage != nil || opt.AutoRetry) {
			return fmt.Errorf("gitlabtest: job %d is a bridge; bridges have no artifacts or coverage and the fake does not retry them", j.id)
		}
		arts, err := s.m.artifactsOf(opt.Artifacts)
		if err != nil {
			return fmt.Errorf("gitlabtest: job %d: %w", j.id, err)
		}
		j.status = status
		j.finishedAt = now
		j.artifacts = arts
		if opt.Coverage != nil {
			j.coverage, j.hasCoverage = *opt.Coverage, true
		}
		if status == "failed" {
			j.failureReason = opt.FailureReason
			if j.failureReason == "" {
				j.failureReason = "script_failure"
			}
		}
		return nil
	}, then)
}

// defaultArtifactNames are the file names GitLab gives each type.
var defaultArtifactNames = map[string]string{
	"archive": "artifacts.zip", "metadata": "metadata.gz", "trace": "job.log",
	"junit": "junit.xml.gz", "cobertura": "cobertura-coverage.xml.gz", "dotenv": ".env.gz",
}

func (m *model) artifactsOf(in []Artifact) ([]artifact, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]artifact, len(in))
	for i, a := range in {
		name := a.Filename
		if name == "" {
			name = defaultArtifactNames[a.FileType]
			if name == "" {
				name = "gl-" + a.FileType + "-report.json"
			}
		}
		k, ok := m.internArtifact(artifactKind{fileType: a.FileType, filename: name, fileFormat: a.FileFormat})
		if !ok {
			return nil, fmt.Errorf("too many distinct artifact descriptions")
		}
		out[i] = artifact{size: a.Size, kind: k}
	}
	return out, nil
}

// Skip moves a job that has not run (created, manual or scheduled) to
// skipped. Like GitLab, it sets no finished_at.
func (s *Server) Skip(jobID int64) error {
	return s.transition(jobID, func(j *job, now stamp) error {
		switch j.status {
		case "created", "manual", "scheduled":
			j.status = "skipped"
			return nil
		}
		return statusError(j, "skip", "created", "manual", "scheduled")
	})
}

// Play starts a manual or scheduled job: it becomes pending and queued.
func (s *Server) Play(jobID int64) error {
	return s.transition(jobID, func(j *job, now stamp) error {
		if j.status != "manual" && j.status != "scheduled" {
			return statusError(j, "play", "manual", "scheduled")
		}
		j.status = "pending"
		j.queuedAt = now
		return nil
	})
}

// Retry replaces a finished build (success, failed or canceled) by a new job
// with the same name, stage and pipeline, pending and queued, and returns the
// new id. The old job becomes retried: /pipelines/:id/jobs hides it unless
// include_retried=true, /projects/:id/jobs still lists it. As in GitLab,
// jobs of later stages skipped after a failure become runnable again and a
// finished bridge above the pipeline waits for it again, so a failed
// pipeline (and its parents) runs again. Bridges cannot be retried here.
func (s *Server) Retry(jobID int64) (int64, error) {
	var newID int64
	err := s.transition(jobID, func(j *job, now stamp) error {
		if j.isBridge {
			return fmt.Errorf("gitlabtest: job %d is a bridge; the fake does not retry bridges", j.id)
		}
		switch j.status {
		case "success", "failed", "canceled":
		default:
			return statusError(j, "retry", "success", "failed", "canceled")
		}
		newID = s.m.retry(j, now).id
		return nil
	})
	return newID, err
}

// retry marks build j retried and adds its next attempt, pending and
// queued; the coverage and artifacts are the new attempt's own, later. As
// Ci::RetryJobService does (through AfterRequeueJobService, later
// ResetSkippedJobsService), the jobs of later stages that were skipped
// after the failure can run again, and a finished bridge that triggered
// the pipeline waits for it again (Ci::Pipeline#reset_source_bridge!), so
// the pipelines above run again too. The statuses follow when the
// transition recomputes them.
func (m *model) retry(j *job, now stamp) *job {
	n := &job{
		pipeline: j.pipeline, name: j.name, stage: j.stage, status: "pending",
		tags: j.tags, allowFailure: j.allowFailure, createdAt: now, queuedAt: now,
		env: j.env, when: j.when,
	}
	j.retried = true
	m.addJob(n)
	if m.retryReopens {
		m.resetSkippedAfter(j.pipeline, j.stage, now)
		m.resetSourceBridges(j.pipeline, now)
	}
	return n
}

// resetSkippedAfter puts the skipped jobs of the stages after stage back
// to what they were created as (Processable#process: skipped → created;
// the fake's manual and delayed jobs wait as manual and scheduled from
// the start).
func (m *model) resetSkippedAfter(p *pipeline, stage string, now stamp) {
	names := stageNames(p)
	i := slices.Index(names, stage)
	if i < 0 {
		return
	}
	later := names[i+1:]
	for _, o := range p.jobs {
		if o.retried || o.status != "skipped" || !slices.Contains(later, o.stage) {
			continue
		}
		switch o.when {
		case whenManual:
			o.status = "manual"
		case whenDelayed:
			o.status = "scheduled"
		default:
			o.status = "created"
		}
		m.jobChanged(o, now)
	}
}

// resetSourceBridges is Ci::Pipeline#reset_source_bridge!: the finished
// bridge that triggered p (the fake's bridges all depend on their child,
// strategy: depend) goes back to pending, the skipped jobs after it can
// run again, and so on upwards. It then follows its child again: running
// while the child runs (GitLab keeps it pending; the pipelines above show
// running either way).
func (m *model) resetSourceBridges(p *pipeline, now stamp) {
	for b := p.upstream; b != nil && !b.retried && completed(b.status); b = b.pipeline.upstream {
		b.status = "pending"
		m.jobChanged(b, now)
		m.resetSkippedAfter(b.pipeline, b.stage, now)
	}
}

// LatestAttempt returns the id of the newest attempt of the job jobID is an
// attempt of (jobID itself unless it was retried), e.g. the job an
// automatic retry created; 0 for an unknown id.
func (s *Server) LatestAttempt(jobID int64) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := s.m.job(jobID)
	if j == nil {
		return 0
	}
	if !j.retried {
		return j.id
	}
	latest := j
	for _, o := range j.pipeline.jobs {
		if o.id > latest.id && o.name == j.name && o.isBridge == j.isBridge {
			latest = o
		}
	}
	return latest.id
}

// SetStatus overrides a job's status without any other change, e.g. to an
// unknown future status such as "waiting_for_callback2". The pipeline
// follows as it would for a real change.
func (s *Server) SetStatus(jobID int64, status string) {
	_ = s.transition(jobID, func(j *job, now stamp) error {
		j.status = status
		return nil
	})
}

// SetNullDurations forces duration and queued_duration to null in the JSON
// and in JobRecord, as GitLab sends for some old or erased jobs.
func (s *Server) SetNullDurations(jobID int64, null bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.m.job(jobID); j != nil {
		j.nullDurations = null
	}
}
