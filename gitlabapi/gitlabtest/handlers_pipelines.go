package gitlabtest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// pipelineSources are the values source= accepts (Enums::Ci::Pipeline).
var pipelineSources = []string{
	"unknown", "push", "web", "trigger", "schedule", "api", "external", "pipeline", "chat", "webide",
	"merge_request_event", "external_pull_request_event", "parent_pipeline", "ondemand_dast_scan",
	"ondemand_dast_validation", "security_orchestration_policy", "container_registry_push",
	"duo_workflow", "pipeline_execution_policy_schedule",
}

type pipelineFilter struct {
	scope, status, ref, sha, source, orderBy, sort           string
	updatedAfter, updatedBefore, createdAfter, createdBefore stamp
}

func parsePipelineFilter(req *request) (pipelineFilter, *apiError) {
	var f pipelineFilter
	var e *apiError
	q := req.q
	if f.scope, e = enumParam(q, "scope", "", "running", "pending", "finished", "branches", "tags"); e != nil {
		return f, e
	}
	if f.status, e = enumParam(q, "status", "", jobStatuses...); e != nil {
		return f, e
	}
	if f.source, e = enumParam(q, "source", "", pipelineSources...); e != nil {
		return f, e
	}
	if f.orderBy, e = enumParam(q, "order_by", "id", "id", "status", "ref", "updated_at", "user_id"); e != nil {
		return f, e
	}
	if f.sort, e = enumParam(q, "sort", "desc", "asc", "desc"); e != nil {
		return f, e
	}
	for _, t := range []struct {
		k   string
		dst *stamp
	}{{"updated_after", &f.updatedAfter}, {"updated_before", &f.updatedBefore}, {"created_after", &f.createdAfter}, {"created_before", &f.createdBefore}} {
		if *t.dst, e = timeParam(q, t.k); e != nil {
			return f, e
		}
	}
	f.ref, _ = last(q, "ref")
	f.sha, _ = last(q, "sha")
	return f, nil
}

// match applies Ci::PipelinesFinder's filters; time bounds are inclusive.
func (f pipelineFilter) match(p *pipeline) bool {
	// Child pipelines are listed only when asked for by source.
	if p.source == "parent_pipeline" && f.source != "parent_pipeline" {
		return false
	}
	switch {
	case f.source != "" && p.source != f.source,
		f.status != "" && p.status != f.status,
		f.ref != "" && p.ref != f.ref,
		f.sha != "" && p.sha != f.sha,
		f.updatedAfter.valid() && p.updatedAt < f.updatedAfter,
		f.updatedBefore.valid() && p.updatedAt > f.updatedBefore,
		f.createdAfter.valid() && p.createdAt < f.createdAfter,
		f.createdBefore.valid() && p.createdAt > f.createdBefore:
		return false
	}
	switch f.scope {
	case "running", "pending":
		return p.status == f.scope
	case "finished":
		return p.status == "success" || p.status == "failed" || p.status == "canceled"
	case "tags":
		return false // the fake has no tag pipelines
	case "branches":
		// ids_for_ref(branch_names): a merge request ref is no branch. The
		// fake takes every other ref for an existing branch.
		return !strings.HasPrefix(p.ref, mergeRequestRefPrefix)
	}
	return true
}

func (f pipelineFilter) less(a, b *pipeline) int {
	var c int
	switch f.orderBy {
	case "status":
		c = cmp.Compare(a.status, b.status)
	case "ref":
		c = cmp.Compare(a.ref, b.ref)
	case "updated_at":
		c = cmp.Compare(a.updatedAt, b.updatedAt)
	case "user_id":
		c = cmp.Compare(a.user.id, b.user.id)
	}
	if c == 0 {
		c = cmp.Compare(a.id, b.id)
	}
	if f.sort == "desc" {
		c = -c
	}
	return c
}

// listPipelines is GET /projects/:id/pipelines (offset with counts).
func (s *Server) listPipelines(req *request) (*response, *apiError) {
	f, e := parsePipelineFilter(req)
	if e != nil {
		return nil, e
	}
	pg, e := parsePage(req.q)
	if e != nil {
		return nil, e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, e := s.projectFor(req, true)
	if e != nil {
		return nil, e
	}
	var rows []*pipeline
	latest := map[string]int64{}
	for _, pl := range p.pipelines {
		if f.match(pl) {
			rows = append(rows, pl)
			latest[pl.ref] = pl.id
		}
	}
	if f.scope == "branches" {
		rows = slices.DeleteFunc(rows, func(pl *pipeline) bool { return latest[pl.ref] != pl.id })
	}
	slices.SortFunc(rows, f.less)
	page, op := countedPage(rows, pg)
	rend := s.renderer(req)
	body := make([]pipelineListJSON, len(page))
	for i, pl := range page {
		body[i] = rend.pipelineListItem(pl)
	}
	resp := ok(body)
	prm := routeParams(req).withDefault("order_by", "id").withDefault("sort", "desc")
	setOffsetHeaders(resp.header, linkBase(req), prm, op)
	return resp, nil
}

// pipelineFor resolves :pipeline_id within the project (child pipelines
// included) under s.mu.
func (s *Server) pipelineFor(req *request, p *project) (*pipeline, *apiError) {
	id, valid := parseID(req.rt.pipelineID)
	if !valid {
		if _, err := strconv.ParseInt(req.rt.pipelineID, 10, 64); err != nil {
			return nil, errInvalid("pipeline_id")
		}
	}
	pl := s.m.pipelines[id]
	if pl == nil || pl.project != p {
		return nil, errRecordNotFound
	}
	return pl, nil
}

func (s *Server) getPipeline(req *request) (*response, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, e := s.projectFor(req, true)
	if e != nil {
		return nil, e
	}
	pl, e := s.pipelineFor(req, p)
	if e != nil {
		return nil, e
	}
	return ok(s.renderer(req).pipeline(pl)), nil
}

// listPipelineJobs is GET /projects/:id/pipelines/:pipeline_id/jobs (builds,
// latest attempts unless include_retried) and .../bridges (bridges, latest
// only: include_retried is not declared there), newest first, with counts.
func (s *Server) listPipelineJobs(req *request, bridges bool) (*response, *apiError) {
	scope, e := scopeParam(req.q)
	if e != nil {
		return nil, e
	}
	includeRetried := false
	if !bridges {
		if includeRetried, _, e = boolParam(req.q, "include_retried"); e != nil {
			return nil, e
		}
	}
	pg, e := parsePage(req.q)
	if e != nil {
		return nil, e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, e := s.projectFor(req, true)
	if e != nil {
		return nil, e
	}
	pl, e := s.pipelineFor(req, p)
	if e != nil {
		return nil, e
	}
	filter := scopeSet(scope)
	var rows []*job
	for i := len(pl.jobs) - 1; i >= 0; i-- {
		j := pl.jobs[i]
		if j.isBridge != bridges || (j.retried && !includeRetried) || (filter != nil && !filter[j.status]) {
			continue
		}
		rows = append(rows, j)
	}
	page, op := countedPage(rows, pg)
	rend := s.renderer(req)
	var body any
	if bridges {
		out := make([]bridgeJSON, len(page))
		for i, j := range page {
			out[i] = rend.bridge(j)
		}
		body = out
	} else {
		out := make([]jobJSON, len(page))
		for i, j := range page {
			out[i] = rend.job(j)
		}
		body = out
	}
	resp := ok(body)
	prm := routeParams(req)
	prm.normalizeScope(scope)
	if !bridges {
		prm.set("include_retried", strconv.FormatBool(includeRetried))
	}
	setOffsetHeaders(resp.header, linkBase(req), prm, op)
	return resp, nil
}
