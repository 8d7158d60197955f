package gitlabtest

// changeSink hears every status change of the model, under Server.mu, so
// that what it builds (webhook payloads) reflects the state at that moment.
type changeSink interface {
	// jobChanged is called for a new job and for every later status
	// change, bridges included.
	jobChanged(j *job, now stamp)
	// pipelineChanged is called when a pipeline's status changes.
	pipelineChanged(p *pipeline, now stamp)
}

func (m *model) jobChanged(j *job, now stamp) {
	if m.sink != nil {
		m.sink.jobChanged(j, now)
	}
}

func (m *model) pipelineChanged(p *pipeline, now stamp) {
	if m.sink != nil {
		m.sink.pipelineChanged(p, now)
	}
}
