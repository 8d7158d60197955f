package gitlabtest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAuthAndErrorBodies(t *testing.T) {
	f := newFixture(t, Options{Token: "s3cret"})
	job := f.job(t, "a", "success")
	bridge, _ := f.s.CreateBridge(f.pipeline, JobSpec{Name: "t"})
	other := f.s.CreateProject("grp/other", ProjectOptions{})
	otherPipeline := f.s.CreatePipeline(other, "", PipelineOptions{})
	otherJob := f.jobIn(t, otherPipeline, JobSpec{Name: "o"}, "success")
	forbidden := f.s.CreateProject("grp/guest", ProjectOptions{})
	f.s.ForbidProject(forbidden, true)
	gone := f.s.CreateProject("grp/gone", ProjectOptions{})
	f.s.DeleteProject(gone)

	const (
		unauthorized = `{"message":"401 Unauthorized"}`
		noRoute      = `{"error":"404 Not Found"}`
		noProject    = `{"message":"404 Project Not Found"}`
		noRecord     = `{"message":"404 Not found"}`
		forbid       = `{"message":"403 Forbidden"}`
	)
	jobs := "/api/v4/projects/1/jobs"
	cases := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
		body    string // "" = only check status
	}{
		{"no token", "GET", jobs, []string{"", ""}, 401, unauthorized},
		{"wrong token", "GET", jobs, []string{"PRIVATE-TOKEN", "nope"}, 401, unauthorized},
		{"private token", "GET", jobs, []string{"PRIVATE-TOKEN", "s3cret"}, 200, ""},
		{"bearer", "GET", jobs, []string{"Authorization", "Bearer s3cret"}, 200, ""},
		{"job token", "GET", jobs, []string{"JOB-TOKEN", "s3cret"}, 200, ""},
		{"token parameter", "GET", jobs + "?private_token=s3cret", []string{"", ""}, 200, ""},
		{"metadata needs a token", "GET", "/api/v4/metadata", []string{"", ""}, 401, unauthorized},
		{"unknown route without token", "GET", "/api/v4/nothing", []string{"", ""}, 404, noRoute},
		{"unknown route", "GET", "/api/v4/projects/1/jobs/1/trace/x", nil, 404, noRoute},
		{"outside the API", "GET", "/projects/1/jobs", nil, 404, noRoute},
		{"unencoded slash", "GET", "/api/v4/projects/grp/sub/proj/jobs", nil, 404, noRoute},
		{"unknown project id", "GET", "/api/v4/projects/99/jobs", nil, 404, noProject},
		{"unknown project path", "GET", "/api/v4/projects/grp%2Fnope/jobs", nil, 404, noProject},
		{"deleted project", "GET", fmt.Sprintf("/api/v4/projects/%d", gone), nil, 404, noProject},
		{"deleted project by path", "GET", "/api/v4/projects/grp%2Fgone/jobs", nil, 404, noProject},
		{"unknown job", "GET", jobs + "/999", nil, 404, noRecord},
		{"bridge is not a build", "GET", fmt.Sprintf("%s/%d", jobs, bridge), nil, 404, noRecord},
		{"other project's job", "GET", fmt.Sprintf("%s/%d", jobs, otherJob), nil, 404, noRecord},
		{"bad job id", "GET", jobs + "/abc", nil, 400, `{"error":"job_id is invalid"}`},
		{"unknown pipeline", "GET", "/api/v4/projects/1/pipelines/999/jobs", nil, 404, noRecord},
		{"other project's pipeline", "GET", fmt.Sprintf("/api/v4/projects/1/pipelines/%d/bridges", otherPipeline), nil, 404, noRecord},
		{"guest on jobs", "GET", fmt.Sprintf("/api/v4/projects/%d/jobs", forbidden), nil, 403, forbid},
		{"guest on pipelines", "GET", fmt.Sprintf("/api/v4/projects/%d/pipelines", forbidden), nil, 403, forbid},
		{"guest sees the project", "GET", fmt.Sprintf("/api/v4/projects/%d", forbidden), nil, 200, ""},
		{"POST", "POST", jobs, nil, 405, `{"error":"405 Not Allowed"}`},
		{"version", "GET", "/api/v4/version", nil, 200, `{"version":"18.1.1-ee","revision":"ceb07b24cb0"}`},
		{"metadata", "GET", "/api/v4/metadata", nil, 200,
			`{"version":"18.1.1-ee","revision":"ceb07b24cb0","kas":{"enabled":false,"externalUrl":null,"externalK8sProxyUrl":null,"version":null},"enterprise":true}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			headers := c.headers
			if headers == nil {
				headers = []string{"PRIVATE-TOKEN", "s3cret"}
			}
			r := do(t, c.method, f.s.URL()+c.path, headers...)
			if r.status != c.status || (c.body != "" && string(r.body) != c.body) {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, c.status, c.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if strings.Contains(string(r.body), "s3cret") {
				t.Error("the token leaked into a response")
			}
		})
	}
	_ = job

	f.s.RevokeToken()
	wantBody(t, do(t, "GET", f.s.URL()+jobs, "PRIVATE-TOKEN", "s3cret"), 401, unauthorized)
	f.s.RestoreToken()
	if r := do(t, "GET", f.s.URL()+jobs, "PRIVATE-TOKEN", "s3cret"); r.status != 200 {
		t.Errorf("after RestoreToken: %d", r.status)
	}
}

func TestProjectIDForms(t *testing.T) {
	f := newFixture(t, Options{})
	job := f.job(t, "a", "success")
	for _, id := range []string{"1", "grp%2Fsub%2Fproj", "GRP%2FSub%2FProj", "grp%2fsub%2fproj"} {
		t.Run(id, func(t *testing.T) {
			if got := ids(t, get(t, f.s, "/api/v4/projects/"+id+"/jobs")); !equalIDs(got, []int64{job}) {
				t.Errorf("jobs %v", got)
			}
			p := decode[struct {
				ID   int64  `json:"id"`
				Path string `json:"path_with_namespace"`
			}](t, get(t, f.s, "/api/v4/projects/"+id))
			if p.ID != 1 || p.Path != "grp/sub/proj" {
				t.Errorf("project %+v", p)
			}
		})
	}
}

// TestScope covers scope as a string, as an array and invalid, on every
// endpoint that declares it.
func TestScope(t *testing.T) {
	f := newFixture(t, Options{})
	succ := f.job(t, "s", "success")
	fail := f.job(t, "f", "failed")
	run := f.job(t, "r", "running")
	man := f.job(t, "m", "manual")
	bSucc, child := f.s.CreateBridge(f.pipeline, JobSpec{Name: "b"})
	f.jobIn(t, child, JobSpec{Name: "c"}, "success")
	bCreated, _ := f.s.CreateBridge(f.pipeline, JobSpec{Name: "b2"})
	childJob := f.s.Jobs()[len(f.s.Jobs())-2].ID
	const invalid = `{"error":"scope does not have a valid value"}`
	endpoints := []struct {
		path string
		all  []int64
	}{
		{"/api/v4/projects/1/jobs", []int64{childJob, man, run, fail, succ}},
		{"/api/v4/projects/1/jobs?pagination=keyset", []int64{childJob, man, run, fail, succ}},
		{"/api/v4/projects/1/pipelines/1/jobs", []int64{man, run, fail, succ}},
		{"/api/v4/projects/1/pipelines/1/bridges", []int64{bCreated, bSucc}},
	}
	byStatus := map[int64]string{}
	for _, r := range f.s.Jobs() {
		byStatus[r.ID] = r.Status
	}
	cases := []struct {
		query string
		keep  []string // nil = all
		err   bool
	}{
		{"", nil, false},
		{"scope=", nil, false},
		{"scope=success", []string{"success"}, false},
		{"scope[]=failed&scope[]=running", []string{"failed", "running"}, false},
		{"scope[]=manual&scope[]=created", []string{"manual", "created"}, false},
		{"scope=bogus", nil, true},
		{"scope[]=success&scope[]=bogus", nil, true},
	}
	for _, e := range endpoints {
		for _, c := range cases {
			t.Run(e.path+"?"+c.query, func(t *testing.T) {
				sep := "?"
				if strings.Contains(e.path, "?") {
					sep = "&"
				}
				r := get(t, f.s, e.path+sep+c.query)
				if c.err {
					wantBody(t, r, 400, invalid)
					return
				}
				var want []int64
				for _, id := range e.all {
					if c.keep == nil || contains(c.keep, byStatus[id]) {
						want = append(want, id)
					}
				}
				if got := ids(t, r); !equalIDs(got, want) {
					t.Errorf("ids %v, want %v", got, want)
				}
			})
		}
	}
	// Grape coerces scope=x into an array, which Link renders as scope[].
	r := get(t, f.s, "/api/v4/projects/1/jobs?scope=success&per_page=1")
	if l := links(r.header)["first"]; !strings.Contains(l, "scope%5B%5D=success") {
		t.Errorf("Link %s does not carry scope[]", l)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPipelineFilters(t *testing.T) {
	f := newFixture(t, Options{})
	first := f.pipeline // created at t0 on main, push
	f.clock.Advance(time.Minute)
	second := f.s.CreatePipeline(f.project, "feature/x", PipelineOptions{Source: "merge_request_event"})
	f.clock.Advance(time.Minute)
	third := f.s.CreatePipeline(f.project, "main", PipelineOptions{Source: "schedule"})
	f.jobIn(t, third, JobSpec{Name: "a"}, "running")
	f.clock.Advance(time.Minute)
	f.jobIn(t, first, JobSpec{Name: "b"}, "success") // moves first's updated_at to t0+3m
	// Microsecond precision: the boundary below is the millisecond value the
	// API rendered, so inclusive filtering must still include the row.
	at := func(d time.Duration) string {
		return t0.Add(d).Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	}
	cases := []struct {
		query string
		want  []int64
	}{
		{"", []int64{third, second, first}},
		{"sort=asc", []int64{first, second, third}},
		{"order_by=updated_at", []int64{first, third, second}},
		{"updated_after=" + at(2*time.Minute), []int64{third, first}},
		{"updated_after=" + at(3*time.Minute), []int64{first}},
		{"updated_before=" + at(time.Minute+time.Millisecond), []int64{second}},
		{"created_after=" + at(time.Minute), []int64{third, second}},
		{"ref=main", []int64{third, first}},
		{"status=running", []int64{third}},
		{"scope=running", []int64{third}},
		{"scope=finished", []int64{first}},
		{"scope=branches", []int64{third, second}},
		{"source=schedule", []int64{third}},
		{"sha=nope", nil},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := get(t, f.s, "/api/v4/projects/1/pipelines?"+strings.ReplaceAll(c.query, "+", "%2B"))
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got := ids(t, r); !equalIDs(got, c.want) {
				t.Errorf("ids %v, want %v", got, c.want)
			}
		})
	}
	for q, body := range map[string]string{
		"updated_after=yesterday": `{"error":"updated_after is invalid"}`,
		"order_by=name":           `{"error":"order_by does not have a valid value"}`,
		"scope=mine":              `{"error":"scope does not have a valid value"}`,
		"source=carrier_pigeon":   `{"error":"source does not have a valid value"}`,
		"per_page=many":           `{"error":"per_page is invalid"}`,
	} {
		wantBody(t, get(t, f.s, "/api/v4/projects/1/pipelines?"+q), 400, body)
	}
}

// TestOddInput sends malformed paths and parameters: each must get a 2xx
// or 4xx answer, never a crash or a 500.
func TestOddInput(t *testing.T) {
	f := newFixture(t, Options{})
	f.job(t, "a", "success")
	paths := []string{
		"/api/v4/projects//jobs",
		"/api/v4/projects/1/jobs/",
		"/api/v4/projects/0/jobs",
		"/api/v4/projects/-1/jobs",
		"/api/v4/projects/99999999999999999999999/jobs",
		"/api/v4/projects/1/jobs/99999999999999999999999",
		"/api/v4/projects/1/jobs/-3",
		"/api/v4/projects/1/pipelines/x/jobs",
		"/api/v4/projects/1/jobs?per_page=-1&page=-1",
		"/api/v4/projects/1/jobs?pagination=keyset&cursor=",
		"/api/v4/projects/1/jobs?pagination=keyset&cursor=%3D%3D%3D",
		"/api/v4/projects/1/jobs?pagination=keyset&cursor=eyJpZCI6Ii0xIiwiX2tkIjoibiJ9",
		"/api/v4/projects/1/jobs?scope[]=&scope=",
		"/api/v4/projects/1/pipelines?updated_after=2025-09-02T11:54:28 00:00",
		"/api/v4/projects/1/pipelines?created_before=2025-09-02",
		"/api/v4/groups/%2F/projects",
		"/api/v4/projects?id_after=x",
		"/api/v4/projects?pagination=keyset&order_by=id&per_page=100000",
		"/api/v4/",
	}
	for _, p := range paths {
		r := get(t, f.s, strings.ReplaceAll(p, " ", "%20"))
		if r.status >= 500 || r.status < 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}
