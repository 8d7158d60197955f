package gitlabtest

import (
	"sort"
	"strconv"
)

// listProjectJobs is GET /projects/:id/jobs: every build of the project,
// retried ones included, newest first; offset (never counted) or keyset.
func (s *Server) listProjectJobs(req *request) (*response, *apiError) {
	scope, e := scopeParam(req.q)
	if e != nil {
		return nil, e
	}
	pg, e := parsePage(req.q)
	if e != nil {
		return nil, e
	}
	mode, _ := last(req.q, "pagination")
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, e := s.projectFor(req, true)
	if e != nil {
		return nil, e
	}
	prm := routeParams(req)
	prm.normalizeScope(scope)
	if mode == "keyset" {
		return s.keysetJobs(req, p, scopeSet(scope), pg, prm)
	}
	if pg.offsetLimitExceeded() {
		return nil, errOffsetLimit("Ci::Build")
	}
	rows, hasNext := jobsDescPage(p.builds, scopeSet(scope), pg.offset(), pg.perPage)
	rend := s.renderer(req)
	body := make([]jobJSON, len(rows))
	for i, j := range rows {
		body[i] = rend.job(j)
	}
	resp := ok(body)
	// paginator_params: { without_count: true } — never X-Total.
	setOffsetHeaders(resp.header, linkBase(req), prm, offsetPage{pageParams: pg, rows: len(rows), hasNext: hasNext})
	return resp, nil
}

// jobsDescPage walks builds (ascending ids) from the newest, skips `skip`
// matching rows and returns the next n plus whether one more exists.
func jobsDescPage(builds []*job, filter map[string]bool, skip, n int) ([]*job, bool) {
	if filter == nil {
		end := len(builds) - skip
		if end <= 0 {
			return nil, false
		}
		start := max(0, end-n)
		out := make([]*job, 0, end-start)
		for i := end - 1; i >= start; i-- {
			out = append(out, builds[i])
		}
		return out, start > 0
	}
	return collectDesc(builds, len(builds), filter, skip, n)
}

// collectDesc scans builds[:end] downwards for rows matching filter.
func collectDesc(builds []*job, end int, filter map[string]bool, skip, n int) ([]*job, bool) {
	var out []*job
	for i := end - 1; i >= 0; i-- {
		j := builds[i]
		if filter != nil && !filter[j.status] {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(out) == n {
			return out, true
		}
		out = append(out, j)
	}
	return out, false
}

// keysetJobs answers pagination=keyset: id DESC only, Link rel="next" only
// while rows remain, no other pagination header.
func (s *Server) keysetJobs(req *request, p *project, filter map[string]bool, pg pageParams, prm params) (*response, *apiError) {
	if ob, ok := last(req.q, "order_by"); ok && ob != "id" {
		return nil, errKeysetOrder
	}
	if so, ok := last(req.q, "sort"); ok && so != "desc" {
		return nil, errKeysetOrder
	}
	end := len(p.builds)
	if c, ok := last(req.q, "cursor"); ok {
		before, valid := decodeCursor(c)
		if !valid {
			return nil, errCursor
		}
		end = sort.Search(len(p.builds), func(i int) bool { return p.builds[i].id >= before })
	}
	rows, hasNext := collectDesc(p.builds, end, filter, 0, pg.perPage)
	rend := s.renderer(req)
	body := make([]jobJSON, len(rows))
	for i, j := range rows {
		body[i] = rend.job(j)
	}
	resp := ok(body)
	if hasNext {
		prm.set("cursor", encodeCursor(rows[len(rows)-1].id))
		resp.header.Set("Link", "<"+linkBase(req)+"?"+prm.toQuery()+`>; rel="next"`)
	}
	return resp, nil
}

// getProjectJob is GET /projects/:id/jobs/:job_id: builds of that project
// only; a bridge or another project's job is 404 Not found.
func (s *Server) getProjectJob(req *request) (*response, *apiError) {
	id, valid := parseID(req.rt.jobID)
	if !valid {
		if _, err := strconv.ParseInt(req.rt.jobID, 10, 64); err != nil {
			return nil, errInvalid("job_id")
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, e := s.projectFor(req, true)
	if e != nil {
		return nil, e
	}
	j := s.m.job(id)
	if j == nil || j.isBridge || j.pipeline.project != p {
		return nil, errRecordNotFound
	}
	return ok(s.renderer(req).job(j)), nil
}
