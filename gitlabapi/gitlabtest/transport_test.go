package gitlabtest

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

func TestTransportServesWithoutAListener(t *testing.T) {
	s := NewHandler(Options{Token: "tok"})
	s.SetBaseURL("http://gitlab.test")
	project := s.CreateProject("g/app", ProjectOptions{})
	for range 3 {
		s.CreateJob(s.CreatePipeline(project, "main", PipelineOptions{}), JobSpec{Name: "build"})
	}
	client := &http.Client{Transport: s.Transport()}
	get := func(url string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("PRIVATE-TOKEN", "tok")
		return client.Do(req)
	}

	resp, err := get("http://gitlab.test/api/v4/projects/1/jobs?pagination=keyset&per_page=2&order_by=id&sort=desc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "[") {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	if link := resp.Header.Get("Link"); !strings.Contains(link, "http://gitlab.test/api/v4/projects/1/jobs?") {
		t.Errorf("Link %q does not point at the base URL", link)
	}

	s.InjectFault(Fault{Kind: FaultConnectionReset, Times: 1})
	if _, err := get("http://gitlab.test/api/v4/projects/1/jobs"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset fault: err = %v, want ECONNRESET", err)
	}
	recs := s.Requests()
	if len(recs) != 2 || recs[1].Status != 0 || recs[1].Endpoint != EndpointProjectJobs {
		t.Errorf("request log = %+v, want the answered request and the reset one (status 0)", recs)
	}
}
