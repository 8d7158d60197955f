package gitlabtest

import (
	"net/url"
	"reflect"
	"testing"
	"time"
)

func TestRequestLog(t *testing.T) {
	f := newFixture(t, Options{})
	get(t, f.s, "/api/v4/projects/grp%2Fsub%2Fproj/jobs?per_page=2&scope[]=failed")
	f.clock.Advance(time.Second)
	get(t, f.s, "/api/v4/projects/7/pipelines/3/jobs")
	do(t, "GET", f.s.URL()+"/api/v4/version?private_token="+DefaultToken, "", "")
	get(t, f.s, "/api/v4/unknown")
	want := []RequestRecord{
		{Method: "GET", Endpoint: EndpointProjectJobs, Path: "/api/v4/projects/grp%2Fsub%2Fproj/jobs", User: DefaultUser,
			Query: url.Values{"per_page": {"2"}, "scope[]": {"failed"}}, Status: 200, ProjectID: 1, Time: t0},
		{Method: "GET", Endpoint: EndpointPipelineJobs, Path: "/api/v4/projects/7/pipelines/3/jobs", User: DefaultUser,
			Query: url.Values{}, Status: 404, ProjectID: 7, Time: t0.Add(time.Second)},
		{Method: "GET", Endpoint: EndpointVersion, Path: "/api/v4/version", User: DefaultUser,
			Query: url.Values{"private_token": {"[REDACTED]"}}, Status: 200, Time: t0.Add(time.Second)},
		{Method: "GET", Endpoint: "", Path: "/api/v4/unknown", User: DefaultUser, Query: url.Values{}, Status: 404, Time: t0.Add(time.Second)},
	}
	if got := f.s.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("log\n got %+v\nwant %+v", got, want)
	}
	counts := map[string]int{"": 4, EndpointProjectJobs: 1, EndpointPipelineJobs: 1, EndpointVersion: 1, EndpointBridges: 0}
	for ep, n := range counts {
		if got := f.s.RequestCount(ep); got != n {
			t.Errorf("RequestCount(%q) = %d, want %d", ep, got, n)
		}
	}
	f.s.ResetRequests()
	if len(f.s.Requests()) != 0 || f.s.RequestCount("") != 0 {
		t.Error("ResetRequests left records")
	}
}

func TestRequestLogLimit(t *testing.T) {
	s, _ := newTestServer(t, Options{RequestLogLimit: 3})
	for range 10 {
		get(t, s, "/api/v4/version")
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("kept %d records, want 3", n)
	}
	if n := s.RequestCount(EndpointVersion); n != 10 {
		t.Errorf("count %d, want 10", n)
	}
}
