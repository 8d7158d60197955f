package gitlabtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestFaultKinds(t *testing.T) {
	cases := []struct {
		name  string
		fault Fault
		check func(t *testing.T, r result, normal []byte)
	}{
		{"rack attack 429", Fault{Kind: FaultRateLimit, RetryAfter: 2500 * time.Millisecond}, func(t *testing.T, r result, _ []byte) {
			wantStatusType(t, r, 429, "text/plain")
			if string(r.body) != "Retry later\n" {
				t.Errorf("body %q", r.body)
			}
			reset := t0.Unix() + 3
			want := map[string]string{
				"Retry-After": "3", "RateLimit-Name": "throttle_authenticated_api", "RateLimit-Remaining": "0",
				"RateLimit-Limit": "2000", "RateLimit-Observed": "2001", "RateLimit-Reset": itoa(reset),
				"RateLimit-ResetTime": time.Unix(reset, 0).UTC().Format(http.TimeFormat),
			}
			for k, v := range want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		}},
		{"application 429", Fault{Kind: FaultAppRateLimit}, func(t *testing.T, r result, _ []byte) {
			wantStatusType(t, r, 429, "application/json")
			wantBody(t, r, 429, `{"message":{"error":"This endpoint has been requested too many times. Try again later."}}`)
			if r.header.Get("Retry-After") != "" {
				t.Error("application limit sent Retry-After")
			}
		}},
		{"502", Fault{Kind: FaultServerError}, func(t *testing.T, r result, _ []byte) {
			wantStatusType(t, r, 502, "text/html; charset=utf-8")
			if json.Valid(r.body) || !bytes.Contains(r.body, []byte("<html>")) {
				t.Errorf("body %q is not an HTML page", r.body)
			}
		}},
		{"503", Fault{Kind: FaultServerError, Status: 503}, func(t *testing.T, r result, _ []byte) {
			wantStatusType(t, r, 503, "text/html; charset=utf-8")
		}},
		{"malformed", Fault{Kind: FaultMalformedJSON}, func(t *testing.T, r result, _ []byte) {
			wantStatusType(t, r, 200, "application/json")
			if json.Valid(r.body) || len(r.body) == 0 {
				t.Errorf("body %q is valid JSON", r.body)
			}
		}},
		{"truncated", Fault{Kind: FaultTruncatedJSON}, func(t *testing.T, r result, normal []byte) {
			wantStatusType(t, r, 200, "application/json")
			if json.Valid(r.body) || len(r.body) == 0 || !bytes.HasPrefix(normal, r.body) {
				t.Errorf("body %q is not a cut of %q", r.body, normal)
			}
			if r.header.Get("X-Next-Page") != "2" {
				t.Errorf("truncated answer lost its headers: %v", r.header)
			}
		}},
		{"slow", Fault{Kind: FaultSlow, Delay: 10 * time.Millisecond}, func(t *testing.T, r result, normal []byte) {
			if r.status != 200 || !bytes.Equal(r.body, normal) {
				t.Errorf("slow answer %d %q differs from the normal one", r.status, r.body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.job(t, "a", "success")
			f.job(t, "b", "success")
			const path = "/api/v4/projects/1/jobs?per_page=1"
			normal := get(t, f.s, path).body
			f.s.InjectFault(c.fault)
			c.check(t, get(t, f.s, path), normal)
			f.s.ClearFaults()
			if r := get(t, f.s, path); r.status != 200 || !bytes.Equal(r.body, normal) {
				t.Errorf("after ClearFaults: %d %q", r.status, r.body)
			}
		})
	}
}

func wantStatusType(t *testing.T, r result, status int, contentType string) {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != contentType {
		t.Errorf("got %d %q, want %d %q", r.status, r.header.Get("Content-Type"), status, contentType)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

func TestFaultConnectionReset(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.InjectFault(Fault{Kind: FaultConnectionReset, Times: 1})
	req, _ := http.NewRequest("GET", f.s.URL()+"/api/v4/projects/1/jobs", nil)
	req.Header.Set("PRIVATE-TOKEN", DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want a transport error", resp.StatusCode)
	}
	if r := get(t, f.s, "/api/v4/projects/1/jobs"); r.status != 200 {
		t.Errorf("after the single reset: %d", r.status)
	}
	recs := f.s.Requests()
	if len(recs) != 2 || recs[0].Status != 0 || recs[1].Status != 200 {
		t.Errorf("log %+v, want statuses 0 then 200", recs)
	}
}

func TestFaultSlowGivesUpWithClient(t *testing.T) {
	f := newFixture(t, Options{})
	f.s.InjectFault(Fault{Kind: FaultSlow, Delay: time.Hour})
	client := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("GET", f.s.URL()+"/api/v4/projects/1/jobs", nil)
	req.Header.Set("PRIVATE-TOKEN", DefaultToken)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d before the delay", resp.StatusCode)
	}
	// Close must not wait for the hour: it releases slow handlers.
}

func TestFaultMatching(t *testing.T) {
	f := newFixture(t, Options{})
	other := f.s.CreateProject("grp/other", ProjectOptions{})
	f.s.InjectFault(Fault{Endpoint: EndpointProjectJobs, ProjectID: other, Kind: FaultServerError, Times: 2})
	steps := []struct {
		path   string
		status int
	}{
		{"/api/v4/projects/1/jobs", 200},                   // other project
		{"/api/v4/projects/grp%2Fother", 200},              // other endpoint
		{"/api/v4/projects/grp%2Fother/jobs", 502},         // path resolves to the project
		{"/api/v4/projects/" + itoa(other) + "/jobs", 502}, // second and last time
		{"/api/v4/projects/" + itoa(other) + "/jobs", 200},
	}
	for i, st := range steps {
		if r := get(t, f.s, st.path); r.status != st.status {
			t.Errorf("step %d %s: %d, want %d", i, st.path, r.status, st.status)
		}
	}
	id := f.s.InjectFault(Fault{Kind: FaultAppRateLimit})
	f.s.InjectFault(Fault{Kind: FaultServerError})
	if r := get(t, f.s, "/api/v4/version"); r.status != 429 {
		t.Errorf("earliest matching fault not applied first: %d", r.status)
	}
	f.s.RemoveFault(id)
	if r := get(t, f.s, "/api/v4/version", "", ""); r.status != 502 {
		t.Errorf("fault not applied in front of authentication: %d", r.status)
	}
	f.s.ClearFaults()
	if r := get(t, f.s, "/api/v4/version"); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}
