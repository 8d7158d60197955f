package gitlabtest

import "time"

// PipelineRecord is the ground truth about one pipeline at a moment, with
// what the single-pipeline endpoint would render then: Duration and
// QueuedDuration in whole seconds (null before the start), Coverage as the
// string GitLab sends ("87.50", nil for null). Times have the model's
// microsecond precision.
type PipelineRecord struct {
	ID, IID, ProjectID int64

	ProjectPath, Ref, Source, Status string
	// SourceRef is the merge request's source branch for a merge request
	// pipeline and its children (what Pipeline Hooks send as ref), else
	// Ref.
	SourceRef string
	// ParentID is the pipeline whose bridge triggered this child pipeline;
	// 0 for others.
	ParentID int64

	CreatedAt             time.Time
	StartedAt, FinishedAt *time.Time

	Duration, QueuedDuration *int64
	Coverage                 *string
}

// Finished reports whether Status is one of GitLab's completed statuses
// (success, failed, canceled, skipped).
func (r PipelineRecord) Finished() bool { return completed(r.Status) }

// Pipeline returns the ground truth about one pipeline, child pipelines
// and deleted projects' ones included.
func (s *Server) Pipeline(id int64) (PipelineRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.m.pipelines[id]
	if p == nil {
		return PipelineRecord{}, false
	}
	return p.record(s.now()), true
}

func (p *pipeline) record(now stamp) PipelineRecord {
	r := PipelineRecord{
		ID: p.id, IID: p.iid, ProjectID: p.project.id,
		ProjectPath: p.project.path, Ref: p.ref, Source: p.source, Status: p.status, SourceRef: p.sourceRef(),
		CreatedAt: p.createdAt.time(), StartedAt: p.startedAt.ptr(), FinishedAt: p.finishedAt.ptr(),
		Coverage: p.coverage(),
	}
	if p.upstream != nil {
		r.ParentID = p.upstream.pipeline.id
	}
	r.Duration, r.QueuedDuration = p.durations(now)
	return r
}

// TrackPipelineFinishes starts (on) or stops keeping a record of every
// pipeline reaching a finished status (success, failed, canceled or
// skipped), as it was at that moment, for PipelineFinishes. A pipeline that
// finishes, runs again (a retry, a manual job played) and finishes again is
// recorded at each finish. Stopping forgets what was not taken.
func (s *Server) TrackPipelineFinishes(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trackFinishes = on
	if !on {
		s.finishes = nil
	}
}

// PipelineFinishes returns the finishes recorded since the last call, in
// the order they happened, and forgets them; nil when there were none.
func (s *Server) PipelineFinishes() []PipelineRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.finishes
	s.finishes = nil
	return out
}

// noteFinish records p, whose status just changed, if it finished.
func (s *Server) noteFinish(p *pipeline, now stamp) {
	if s.trackFinishes && completed(p.status) {
		s.finishes = append(s.finishes, p.record(now))
	}
}
