package gitlabtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var offsetOnlyHeaders = []string{"X-Total", "X-Total-Pages", "X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page"}

// TestKeysetWalk follows Link headers verbatim and checks GitLab's keyset
// contract: rel="next" only while rows remain (no Link on the last page,
// even a full one), no offset headers, cursors for {"id":"N","_kd":"n"}.
func TestKeysetWalk(t *testing.T) {
	cases := []struct {
		name      string
		statuses  []string // jobs to create, in order
		query     string
		wantPages []int
		wantMatch func(status string) bool
	}{
		{"partial last page", rep("success", 5), "per_page=2", []int{2, 2, 1}, nil},
		{"full last page", rep("success", 4), "per_page=2", []int{2, 2}, nil},
		{"single page", rep("success", 3), "per_page=20", []int{3}, nil},
		{"default per_page", rep("success", 21), "", []int{20, 1}, nil},
		{"empty project", nil, "per_page=2", []int{0}, nil},
		{"explicit id desc", rep("success", 3), "per_page=2&order_by=id&sort=desc", []int{2, 1}, nil},
		{"scope filter", []string{"success", "failed", "success", "failed", "failed"}, "per_page=2&scope=failed", []int{2, 1},
			func(s string) bool { return s == "failed" }},
		{"scope array", []string{"success", "failed", "running", "canceled"}, "per_page=1&scope[]=failed&scope[]=running", []int{1, 1},
			func(s string) bool { return s == "failed" || s == "running" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{FirstJobID: 1 << 33})
			var want []int64
			for i, st := range c.statuses {
				id := f.job(t, fmt.Sprintf("job %d", i), st)
				if c.wantMatch == nil || c.wantMatch(st) {
					want = append([]int64{id}, want...)
				}
			}
			next := f.s.URL() + "/api/v4/projects/grp%2Fsub%2Fproj/jobs?pagination=keyset"
			if c.query != "" {
				next += "&" + c.query
			}
			var got []int64
			var pages []int
			for next != "" {
				r := do(t, "GET", next)
				if r.status != 200 {
					t.Fatalf("GET %s: %d %s", next, r.status, r.body)
				}
				for _, h := range offsetOnlyHeaders {
					if _, ok := r.header[h]; ok {
						t.Errorf("keyset page has %s", h)
					}
				}
				page := ids(t, r)
				pages = append(pages, len(page))
				got = append(got, page...)
				l := links(r.header)
				if len(l) > 1 || (len(l) == 1 && l["next"] == "") {
					t.Fatalf("Link rels %v, want only next", l)
				}
				next = l["next"]
				if next != "" {
					checkKeysetLink(t, f.s.URL(), next, page[len(page)-1])
				}
				if len(pages) > 10 {
					t.Fatal("walk does not end")
				}
			}
			if !slices.Equal(pages, c.wantPages) {
				t.Errorf("page sizes %v, want %v", pages, c.wantPages)
			}
			if !equalIDs(got, want) {
				t.Errorf("ids %v, want %v", got, want)
			}
		})
	}
}

func rep(s string, n int) []string { return slices.Repeat([]string{s}, n) }

func checkKeysetLink(t *testing.T, base, link string, lastID int64) {
	t.Helper()
	if !strings.HasPrefix(link, base+"/api/v4/projects/grp%2Fsub%2Fproj/jobs?") {
		t.Errorf("Link %s is not on %s with the encoded path", link, base)
	}
	rawQuery := link[strings.IndexByte(link, '?')+1:]
	pairs := strings.Split(rawQuery, "&")
	if !slices.IsSorted(pairs) {
		t.Errorf("Link query %s is not sorted like Rails to_query", rawQuery)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("pagination") != "keyset" {
		t.Errorf("Link %s lost pagination=keyset", link)
	}
	raw, err := base64.URLEncoding.DecodeString(q.Get("cursor"))
	if err != nil {
		t.Fatalf("cursor %q is not padded urlsafe base64: %v", q.Get("cursor"), err)
	}
	var cur map[string]string
	if err := json.Unmarshal(raw, &cur); err != nil {
		t.Fatal(err)
	}
	if cur["id"] != fmt.Sprint(lastID) || cur["_kd"] != "n" || len(cur) != 2 {
		t.Errorf("cursor %s, want {\"id\":\"%d\",\"_kd\":\"n\"}", raw, lastID)
	}
	if strings.HasSuffix(q.Get("cursor"), "=") && !strings.Contains(rawQuery, "%3D") {
		t.Errorf("cursor padding is not escaped in %s", rawQuery)
	}
}

func TestKeysetErrors(t *testing.T) {
	f := newFixture(t, Options{})
	f.job(t, "a", "success")
	const order405 = `{"error":"Keyset pagination is not yet available for this type of request"}`
	cases := []struct {
		query, body string
		status      int
	}{
		{"order_by=created_at", order405, 405},
		{"sort=asc", order405, 405},
		{"order_by=id&sort=asc", order405, 405},
		{"cursor=not-a-cursor", `{"error":"cursor is invalid"}`, 400},
		{"cursor=" + base64.URLEncoding.EncodeToString([]byte(`{"id":"1","_kd":"p"}`)), `{"error":"cursor is invalid"}`, 400},
		{"per_page=x", `{"error":"per_page is invalid"}`, 400},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			wantBody(t, get(t, f.s, "/api/v4/projects/1/jobs?pagination=keyset&"+c.query), c.status, c.body)
		})
	}
}

func TestPerPageClamp(t *testing.T) {
	f := newFixture(t, Options{})
	for i := range 105 {
		f.s.CreateJob(f.pipeline, JobSpec{Name: fmt.Sprint("j", i)})
	}
	cases := []struct {
		path        string
		wantRows    int
		wantPerPage string
	}{
		{"/api/v4/projects/1/jobs?per_page=500", 100, "100"},
		{"/api/v4/projects/1/jobs?per_page=0", 20, "20"},
		{"/api/v4/projects/1/jobs?pagination=keyset&per_page=500", 100, ""},
		{"/api/v4/projects/1/pipelines/1/jobs?per_page=101", 100, "100"},
	}
	for _, c := range cases {
		r := get(t, f.s, c.path)
		if n := len(ids(t, r)); n != c.wantRows || r.header.Get("X-Per-Page") != c.wantPerPage {
			t.Errorf("%s: %d rows, X-Per-Page %q; want %d, %q", c.path, n, r.header.Get("X-Per-Page"), c.wantRows, c.wantPerPage)
		}
	}
}

// TestOffsetProjectJobs checks OffsetHeaderBuilder on the project jobs list
// (without_count): empty X-Next-Page/X-Prev-Page at the ends, never counts.
func TestOffsetProjectJobs(t *testing.T) {
	f := newFixture(t, Options{})
	var all []int64
	for i := range 5 {
		all = append([]int64{f.job(t, fmt.Sprint("j", i), "success")}, all...)
	}
	cases := []struct {
		query      string
		wantIDs    []int64
		next, prev string
		wantRels   []string
	}{
		{"per_page=2", all[0:2], "2", "", []string{"next", "first"}},
		{"per_page=2&page=2", all[2:4], "3", "1", []string{"prev", "next", "first"}},
		{"per_page=2&page=3", all[4:5], "", "2", []string{"prev", "first"}},
		{"per_page=2&page=4", nil, "", "", []string{"first"}},
		{"per_page=5", all, "", "", []string{"first"}},
		{"page=0", all, "", "", []string{"first"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := get(t, f.s, "/api/v4/projects/1/jobs?"+c.query)
			if got := ids(t, r); !equalIDs(got, c.wantIDs) {
				t.Errorf("ids %v, want %v", got, c.wantIDs)
			}
			for h, want := range map[string]string{"X-Next-Page": c.next, "X-Prev-Page": c.prev} {
				v, ok := r.header[h]
				if !ok || len(v) != 1 || v[0] != want {
					t.Errorf("%s = %q (present %v), want %q", h, v, ok, want)
				}
			}
			for _, h := range []string{"X-Total", "X-Total-Pages"} {
				if _, ok := r.header[h]; ok {
					t.Errorf("project jobs sent %s", h)
				}
			}
			l := links(r.header)
			var rels []string
			for _, rel := range []string{"prev", "next", "first", "last"} {
				if l[rel] != "" {
					rels = append(rels, rel)
				}
			}
			if !slices.Equal(rels, c.wantRels) {
				t.Errorf("Link rels %v, want %v (%s)", rels, c.wantRels, r.header.Get("Link"))
			}
			if l["first"] != "" && !strings.Contains(l["first"], "page=1&per_page=") {
				t.Errorf("first link %s", l["first"])
			}
		})
	}
	// Following rel="next" reaches every job once.
	var walked []int64
	for next := f.s.URL() + "/api/v4/projects/1/jobs?per_page=2"; next != ""; {
		r := do(t, "GET", next)
		walked = append(walked, ids(t, r)...)
		next = links(r.header)["next"]
	}
	if !equalIDs(walked, all) {
		t.Errorf("offset walk %v, want %v", walked, all)
	}
}

func TestOffsetLimit(t *testing.T) {
	f := newFixture(t, Options{})
	cases := []struct {
		query  string
		status int
	}{
		{"page=500&per_page=100", 200},
		{"page=501&per_page=100", 405},
		{"page=2501&per_page=20", 405},
		{"page=60&per_page=1000", 405}, // checked on the raw per_page, before the clamp
		{"page=100000000000000000&per_page=100", 405},
		{"page=-5&per_page=100", 200},
	}
	for _, c := range cases {
		r := get(t, f.s, "/api/v4/projects/1/jobs?"+c.query)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d", c.query, r.status, c.status)
		}
		if c.status == 405 {
			wantBody(t, r, 405, `{"error":"Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type Ci::Build. Remaining records can be retrieved using keyset pagination."}`)
		}
	}
	for _, q := range []string{"page=600&per_page=100", "page=9223372036854775807&per_page=100"} {
		if r := get(t, f.s, "/api/v4/projects/1/pipelines?"+q); r.status != 200 || string(r.body) != "[]" {
			t.Errorf("pipelines %s: %d %s, want an empty page (no offset limit there)", q, r.status, r.body)
		}
	}
}

// TestCountedPagination checks X-Total, X-Total-Pages and rel="last" on the
// pipeline endpoints, and their absence above 10,000 rows.
func TestCountedPagination(t *testing.T) {
	f := newFixture(t, Options{})
	for range 2 {
		f.s.CreatePipeline(f.project, "", PipelineOptions{})
	}
	r := get(t, f.s, "/api/v4/projects/1/pipelines?per_page=2")
	if r.header.Get("X-Total") != "3" || r.header.Get("X-Total-Pages") != "2" || r.header.Get("X-Next-Page") != "2" {
		t.Errorf("counts: %v", r.header)
	}
	last := links(r.header)["last"]
	if !strings.Contains(last, "page=2&per_page=2") || !strings.Contains(last, "order_by=id") || !strings.Contains(last, "sort=desc") {
		t.Errorf("rel=last %q", last)
	}

	r = get(t, f.s, "/api/v4/projects/1/pipelines/1/jobs")
	if r.header.Get("X-Total") != "0" || r.header.Get("X-Total-Pages") != "1" {
		t.Errorf("empty list: X-Total %q X-Total-Pages %q, want 0 and 1", r.header.Get("X-Total"), r.header.Get("X-Total-Pages"))
	}
	if l := links(r.header)["first"]; !strings.Contains(l, "include_retried=false") {
		t.Errorf("pipeline jobs Link lacks the declared default include_retried=false: %s", l)
	}

	for range maxCountRows - 2 {
		f.s.CreatePipeline(f.project, "", PipelineOptions{})
	}
	r = get(t, f.s, "/api/v4/projects/1/pipelines?per_page=1")
	if r.header.Get("X-Total") != "" || links(r.header)["last"] != "" {
		t.Errorf("10,001 rows still counted: %v", r.header)
	}
	if r.header.Get("X-Next-Page") != "2" {
		t.Errorf("X-Next-Page %q without counts", r.header.Get("X-Next-Page"))
	}
	r = get(t, f.s, "/api/v4/projects/1/pipelines?per_page=1&status=created&page=10000")
	if r.header.Get("X-Total") != "" {
		t.Errorf("filtered 10,001 rows counted")
	}
}

// TestProjectsKeyset checks the older Keyset::Pager on GET /projects: a
// Link after every non-empty page, so the walk ends on an empty one.
func TestProjectsKeyset(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	var want []int64
	for i := range 3 {
		want = append(want, s.CreateProject(fmt.Sprintf("g/p%d", i), ProjectOptions{}))
	}
	for _, c := range []struct {
		sort, key string
		want      []int64
	}{
		{"asc", "id_after", want},
		{"desc", "id_before", []int64{want[2], want[1], want[0]}},
	} {
		var got []int64
		var pages []int
		next := s.URL() + "/api/v4/projects?pagination=keyset&order_by=id&per_page=2&sort=" + c.sort
		for next != "" && len(pages) < 5 {
			r := do(t, "GET", next)
			page := ids(t, r)
			pages = append(pages, len(page))
			got = append(got, page...)
			next = links(r.header)["next"]
			if next != "" && !strings.Contains(next, c.key+"=") {
				t.Errorf("Link %s lacks %s", next, c.key)
			}
		}
		if !slices.Equal(pages, []int{2, 1, 0}) || !equalIDs(got, c.want) {
			t.Errorf("sort %s: pages %v ids %v, want [2 1 0] %v", c.sort, pages, got, c.want)
		}
	}
	wantBody(t, get(t, s, "/api/v4/projects?pagination=keyset"), 405, `{"error":"Keyset pagination is not yet available for this type of request"}`)
	r := get(t, s, "/api/v4/projects?per_page=2")
	if r.header.Get("X-Total") != "3" || len(ids(t, r)) != 2 {
		t.Errorf("offset /projects: %v", r.header)
	}
}

func TestGroupProjects(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a := s.CreateProject("top/a", ProjectOptions{})
	b := s.CreateProject("top/sub/b", ProjectOptions{Archived: true})
	c := s.CreateProject("top/sub/deeper/c", ProjectOptions{})
	gone := s.CreateProject("top/gone", ProjectOptions{})
	s.DeleteProject(gone)
	cases := []struct {
		path string
		want []int64
	}{
		{"/api/v4/groups/top/projects", []int64{a}},
		{"/api/v4/groups/top/projects?include_subgroups=true", []int64{c, b, a}},
		{"/api/v4/groups/top/projects?include_subgroups=true&archived=false", []int64{c, a}},
		{"/api/v4/groups/top/projects?include_subgroups=true&archived=true", []int64{b}},
		{"/api/v4/groups/top/projects?include_subgroups=true&order_by=id&sort=asc", []int64{a, b, c}},
		{"/api/v4/groups/top%2Fsub/projects?include_subgroups=true&pagination=keyset", []int64{c, b}},
		{"/api/v4/groups/1/projects", []int64{a}},
	}
	for _, cs := range cases {
		r := get(t, s, cs.path)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", cs.path, r.status, r.body)
		}
		if got := ids(t, r); !equalIDs(got, cs.want) {
			t.Errorf("%s: %v, want %v", cs.path, got, cs.want)
		}
		if r.header.Get("X-Total") != fmt.Sprint(len(cs.want)) {
			t.Errorf("%s: X-Total %q", cs.path, r.header.Get("X-Total"))
		}
	}
	wantBody(t, get(t, s, "/api/v4/groups/nope/projects"), 404, `{"message":"404 Group Not Found"}`)
	wantBody(t, get(t, s, "/api/v4/groups/top/projects?order_by=size"), 400, `{"error":"order_by does not have a valid value"}`)
	wantBody(t, get(t, s, "/api/v4/groups/top/projects?include_subgroups=perhaps"), 400, `{"error":"include_subgroups is invalid"}`)
}
