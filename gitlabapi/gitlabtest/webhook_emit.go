package gitlabtest

import (
	"encoding/json"
	"fmt"
)

// jobChanged implements changeSink: a Job Hook for every build. GitLab
// sends none for trigger jobs (bridges), ../shared/gitlab-api/README.md §6.1.
func (s *Server) jobChanged(j *job, now stamp) {
	if j.isBridge || len(s.webhooks) == 0 {
		return
	}
	ev := s.newHookEvent(JobHookEvent, j.pipeline, now)
	ev.jobID, ev.status = j.id, j.status
	s.fanOut(ev, func(r *hookRenderer) any { return r.jobHook(j) })
}

// pipelineChanged implements changeSink: a Pipeline Hook per status
// change, and the record of a finish for PipelineFinishes.
func (s *Server) pipelineChanged(p *pipeline, now stamp) {
	s.noteFinish(p, now)
	if len(s.webhooks) == 0 {
		return
	}
	ev := s.newHookEvent(PipelineHookEvent, p, now)
	ev.status = p.status
	s.fanOut(ev, func(r *hookRenderer) any { return r.pipelineHook(p) })
}

func (s *Server) newHookEvent(event string, p *pipeline, now stamp) hookEvent {
	s.hookSeq++
	return hookEvent{
		event: event, seq: s.hookSeq, uuid: derivedUUID(uuidEvent, s.hookSeq),
		pipelineID: p.id, projectID: p.project.id, at: now,
	}
}

// fanOut hands ev to every webhook that wants it. Payloads are rendered
// here, under Server.mu, at most once per timestamp form.
func (s *Server) fanOut(ev hookEvent, render func(*hookRenderer) any) {
	var bodies [2][]byte
	body := func(utc bool) []byte {
		i := 0
		if utc {
			i = 1
		}
		if bodies[i] == nil {
			r := &hookRenderer{renderer: renderer{m: &s.m, base: s.hookBase(), now: ev.at}, utc: utc}
			b, err := json.Marshal(render(r))
			if err != nil {
				panic(fmt.Sprintf("gitlabtest: rendering a %s: %v", ev.event, err)) // plain structs cannot fail
			}
			bodies[i] = b
		}
		return bodies[i]
	}
	for _, w := range s.webhooks {
		if w.wants(ev.event) {
			w.accept(ev, body)
		}
	}
}
