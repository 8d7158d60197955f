package gitlabtest

import (
	"cmp"
	"slices"
	"strconv"
)

var projectOrders = []string{"id", "name", "path", "created_at", "updated_at", "last_activity_at", "similarity", "star_count"}

func projectLess(orderBy, dir string) func(a, b *project) int {
	return func(a, b *project) int {
		var c int
		switch orderBy {
		case "name", "path":
			c = cmp.Compare(a.name, b.name)
		case "created_at":
			c = cmp.Compare(a.createdAt, b.createdAt)
		case "updated_at", "last_activity_at":
			c = cmp.Compare(a.lastActivity, b.lastActivity)
		}
		if c == 0 {
			c = cmp.Compare(a.id, b.id)
		}
		if dir == "desc" {
			c = -c
		}
		return c
	}
}

func (s *Server) getProject(req *request) (*response, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, e := s.projectFor(req, false)
	if e != nil {
		return nil, e
	}
	return ok(s.renderer(req).project(p)), nil
}

// groupProjects is GET /groups/:id/projects: offset only (pagination=keyset
// is an undeclared, ignored parameter there), counts up to 10,000 rows and
// no maximum offset (plain paginate).
func (s *Server) groupProjects(req *request) (*response, *apiError) {
	q := req.q
	subgroups, _, e := boolParam(q, "include_subgroups")
	if e != nil {
		return nil, e
	}
	archived, archivedSet, e := boolParam(q, "archived")
	if e != nil {
		return nil, e
	}
	orderBy, e := enumParam(q, "order_by", "created_at", projectOrders...)
	if e != nil {
		return nil, e
	}
	dir, e := enumParam(q, "sort", "desc", "asc", "desc")
	if e != nil {
		return nil, e
	}
	pg, e := parsePage(q)
	if e != nil {
		return nil, e
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.m.findGroup(req.rt.id)
	if g == nil {
		return nil, errGroupNotFound
	}
	var rows []*project
	var walk func(g *group)
	walk = func(g *group) {
		for _, p := range g.projects {
			if !p.deleted && (!archivedSet || p.archived == archived) {
				rows = append(rows, p)
			}
		}
		if subgroups {
			for _, sg := range g.subgroups {
				walk(sg)
			}
		}
	}
	walk(g)
	slices.SortFunc(rows, projectLess(orderBy, dir))
	page, op := countedPage(rows, pg)
	rend := s.renderer(req)
	body := make([]projectJSON, len(page))
	for i, p := range page {
		body[i] = rend.project(p)
	}
	resp := ok(body)
	prm := routeParams(req).withDefault("order_by", "created_at").withDefault("sort", "desc").
		withDefault("include_subgroups", "false").withDefault("with_shared", "true")
	setOffsetHeaders(resp.header, linkBase(req), prm, op)
	return resp, nil
}

// listProjects is GET /projects. With pagination=keyset (order_by=id only)
// it uses the older Keyset::Pager: Link rel="next" with id_after/id_before
// whenever the page is not empty, so a walk ends on an empty page.
func (s *Server) listProjects(req *request) (*response, *apiError) {
	q := req.q
	archived, archivedSet, e := boolParam(q, "archived")
	if e != nil {
		return nil, e
	}
	orderBy, e := enumParam(q, "order_by", "created_at", projectOrders...)
	if e != nil {
		return nil, e
	}
	dir, e := enumParam(q, "sort", "desc", "asc", "desc")
	if e != nil {
		return nil, e
	}
	idAfter, e := intParam(q, "id_after", 0)
	if e != nil {
		return nil, e
	}
	idBefore, e := intParam(q, "id_before", 0)
	if e != nil {
		return nil, e
	}
	pg, e := parsePage(q)
	if e != nil {
		return nil, e
	}
	mode, _ := last(q, "pagination")
	keyset := mode == "keyset"
	if keyset && orderBy != "id" {
		return nil, errKeysetOrder
	}
	if !keyset && pg.offsetLimitExceeded() {
		return nil, errOffsetLimit("Project")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rows []*project
	for _, p := range s.m.projects {
		switch {
		case p.deleted,
			archivedSet && p.archived != archived,
			idAfter > 0 && p.id <= int64(idAfter),
			idBefore > 0 && p.id >= int64(idBefore):
			continue
		}
		rows = append(rows, p)
	}
	slices.SortFunc(rows, projectLess(orderBy, dir))
	rend := s.renderer(req)
	render := func(ps []*project) []projectJSON {
		out := make([]projectJSON, len(ps))
		for i, p := range ps {
			out[i] = rend.project(p)
		}
		return out
	}
	prm := routeParams(req)
	if keyset {
		page := rows[:min(len(rows), pg.perPage)]
		resp := ok(render(page))
		if len(page) > 0 {
			key := "id_before"
			if dir == "asc" {
				key = "id_after"
			}
			prm.set(key, strconv.FormatInt(page[len(page)-1].id, 10))
			resp.header.Set("Link", "<"+linkBase(req)+"?"+prm.toQuery()+`>; rel="next"`)
		}
		return resp, nil
	}
	page, op := countedPage(rows, pg)
	resp := ok(render(page))
	setOffsetHeaders(resp.header, linkBase(req), prm.withDefault("order_by", "created_at").withDefault("sort", "desc"), op)
	return resp, nil
}
