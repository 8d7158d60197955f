package app

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// TestMetricsFormats scrapes /metrics in each format Prometheus may ask for
// and checks each answer is complete: the job histograms with the default
// labels, exemplars where the format carries them, native buckets in
// protobuf, promhttp's own metrics and the rest.
func TestMetricsFormats(t *testing.T) {
	a := newQuietApp(t)
	d, q := 42.0, 3.0
	finished := time.Date(2026, 3, 2, 9, 0, 42, 0, time.UTC)
	a.metrics.JobStarted(event.Project{ID: 1, Path: "g/app", DefaultBranch: "main"},
		&gitlabapi.Job{ID: 7, Name: "rspec 1/2", Stage: "test", Ref: "main", QueuedDuration: &q, StartedAt: &finished})
	a.metrics.JobFinished(event.Project{ID: 1, Path: "g/app", DefaultBranch: "main"},
		&gitlabapi.Job{ID: 7, Name: "rspec 1/2", Stage: "test", Ref: "main", Status: "success", Duration: &d, FinishedAt: &finished,
			Artifacts: []gitlabapi.Artifact{{FileType: "trace", Size: 2000}}})
	h, err := a.Handler("/metrics", false)
	noErr(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	for _, tc := range []struct {
		name, accept, encoding string
		wantType               string
	}{
		{"text", "text/plain;version=0.0.4", "", "text/plain"},
		{"text, gzip", "text/plain;version=0.0.4", "gzip", "text/plain"},
		{"OpenMetrics", "application/openmetrics-text;version=1.0.0", "", "application/openmetrics-text"},
		{"OpenMetrics, gzip", "application/openmetrics-text;version=1.0.0", "gzip", "application/openmetrics-text"},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "", "application/vnd.google.protobuf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
			req.Header.Set("Accept", tc.accept)
			req.Header.Set("Accept-Encoding", tc.encoding)
			resp, err := client.Do(req)
			noErr(t, err)
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.wantType) {
				t.Fatalf("status %d, Content-Type %q; want 200, %s", resp.StatusCode, resp.Header.Get("Content-Type"), tc.wantType)
			}
			body := io.Reader(resp.Body)
			if tc.encoding == "gzip" {
				if resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
				}
				body, err = gzip.NewReader(resp.Body)
				noErr(t, err)
			} else if ce := resp.Header.Get("Content-Encoding"); ce != "" {
				t.Fatalf("Content-Encoding %q without gzip asked for", ce)
			}
			raw, err := io.ReadAll(body)
			noErr(t, err)
			families := map[string]*dto.MetricFamily{}
			switch {
			case strings.HasPrefix(tc.wantType, "application/openmetrics-text"):
				text := string(raw)
				if !strings.HasSuffix(text, "# EOF\n") || strings.Count(text, "# EOF") != 1 {
					t.Fatalf("OpenMetrics answer does not end with one # EOF:\n...%s", text[max(0, len(text)-200):])
				}
				if !strings.Contains(text, `gitlab_ci_job_duration_seconds_bucket{job_name="rspec",project="g/app",ref="main",stage="test",status="success",le="60.0"} 1 # {job_id="7"} 42.0`) {
					t.Errorf("no duration bucket with its exemplar in:\n%s", text)
				}
				// OpenMetrics names counters without _total in HELP and TYPE,
				// which the text parser takes for duplicates: check lines instead.
				for _, want := range []string{
					`gitlab_ci_job_duration_seconds_count{job_name="rspec",project="g/app",ref="main",stage="test",status="success"} 1` + "\n",
					`gitlab_ci_job_queued_duration_seconds_count{project="g/app"} 1` + "\n",
					`gitlab_ci_job_artifacts_size_bytes_count{file_type="trace",project="g/app"} 1` + "\n",
					"# TYPE gitlab_jobs_exporter_jobs_observed counter\n", "# TYPE gitlab_jobs_exporter_build_info gauge\n",
					"# TYPE go_goroutines gauge\n", "# TYPE gitlab_jobs_exporter_config_last_reload_successful gauge\n",
				} {
					if strings.Count(text, want) != 1 {
						t.Errorf("%q appears %d times, want once", want, strings.Count(text, want))
					}
				}
				return
			case strings.HasPrefix(tc.wantType, "text/plain"):
				parser := expfmt.NewTextParser(model.UTF8Validation)
				parsed, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
				noErr(t, err)
				families = parsed
			default:
				dec := expfmt.NewDecoder(strings.NewReader(string(raw)), expfmt.NewFormat(expfmt.TypeProtoDelim))
				for {
					var mf dto.MetricFamily
					if err := dec.Decode(&mf); err == io.EOF {
						break
					} else {
						noErr(t, err)
					}
					families[mf.GetName()] = &mf
				}
				if h := families["gitlab_ci_job_duration_seconds"].GetMetric()[0].GetHistogram(); h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0 {
					t.Errorf("protobuf duration histogram has no native buckets: %v", h)
				}
			}
			for name, count := range map[string]uint64{
				"gitlab_ci_job_duration_seconds": 1, "gitlab_ci_job_queued_duration_seconds": 1, "gitlab_ci_job_artifacts_size_bytes": 1,
			} {
				mf := families[name]
				if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].GetHistogram().GetSampleCount() != count {
					t.Errorf("%s: %v, want one series counting %d", name, mf, count)
				}
			}
			for _, name := range []string{"gitlab_jobs_exporter_jobs_observed_total", "gitlab_jobs_exporter_build_info", "go_goroutines",
				"gitlab_jobs_exporter_config_last_reload_successful", "promhttp_metric_handler_requests_total"} {
				if families[name] == nil {
					t.Errorf("%s missing", name)
				}
			}
		})
	}
}
