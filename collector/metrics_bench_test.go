package collector

import (
	"bufio"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// largeMetrics records jobs in the shape of the large benchmark scenario
// after an hour: 2,000 projects, each with its jobs on the default branch
// and on other refs, some failed, retried, with artifacts, and a few
// unfinished. It is about 1.2 million lines of text.
func largeMetrics(b *testing.B) *Metrics {
	b.Helper()
	var pow4 []float64
	for v := float64(1 << 10); v <= 4<<30; v *= 4 {
		pow4 = append(pow4, v)
	}
	m := New(Buckets{
		Duration:       []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
		QueuedDuration: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		ArtifactSize:   pow4,
		Native:         true,
	}, NewRefTracker(nil))
	jobs := []struct{ name, stage string }{
		{"build", "build"}, {"lint", "test"}, {"rspec 1/2", "test"}, {"rspec 2/2", "test"},
		{"deploy", "deploy"}, {"child-build", "build"}, {"child-test", "test"},
	}
	finished := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var id int64
	for p := range 2000 {
		info := state.ProjectInfo{ID: int64(p + 1), Path: fmt.Sprintf("group/sub-%d/project-%d", p%20, p+1), DefaultBranch: "main"}
		var active []state.FollowedJob
		for _, ref := range []string{"main", "feature/login"} {
			for k, j := range jobs {
				for n := range 4 {
					id++
					status := gitlabapi.StatusSuccess
					switch {
					case n == 3 && (p+k)%2 == 0:
						status = gitlabapi.StatusFailed
					case n == 3 && (p+k)%7 == 0:
						status = gitlabapi.StatusCanceled
					}
					job := &gitlabapi.Job{ID: id, Name: j.name, Stage: j.stage, Ref: ref, Status: status,
						FailureReason: "script_failure", Duration: f64(float64(20 + (id*37)%900)),
						QueuedDuration: f64(float64(1 + (id*13)%120)), FinishedAt: &finished}
					if status == gitlabapi.StatusSuccess {
						job.Artifacts = []gitlabapi.Artifact{{FileType: "trace", Size: 2000 + (id*97)%500_000}}
						if k < 4 {
							job.Artifacts = append(job.Artifacts, gitlabapi.Artifact{FileType: "archive", Size: 100_000 + (id*7919)%50_000_000},
								gitlabapi.Artifact{FileType: "metadata", Size: 500 + id%2000})
						}
					}
					m.JobStarted(info, job)
					m.JobFinished(info, job)
					if status == gitlabapi.StatusFailed {
						m.JobRetried(info, job)
					}
				}
			}
		}
		if p%3 == 0 {
			active = append(active, state.FollowedJob{ID: id + 1, Status: "manual", CreatedAt: finished},
				state.FollowedJob{ID: id + 2, Status: "pending", CreatedAt: finished})
		}
		m.ProjectActive(info, active)
	}
	return m
}

// BenchmarkMetricsWrite writes a large /metrics the way the handler does
// (Metrics.Write, the rest through a registry), in each format it writes.
func BenchmarkMetricsWrite(b *testing.B) {
	m := largeMetrics(b)
	rest := prometheus.NewRegistry()
	rest.MustRegister(m.RegistryPart())
	var lines lineCount
	if err := m.Write(&lines, expfmt.NewFormat(expfmt.TypeTextPlain), rest); err != nil {
		b.Fatal(err)
	}
	for name, f := range map[string]expfmt.Format{
		"text":        expfmt.NewFormat(expfmt.TypeTextPlain),
		"openmetrics": expfmt.NewFormat(expfmt.TypeOpenMetrics),
		"protobuf":    expfmt.NewFormat(expfmt.TypeProtoDelim),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			w := bufio.NewWriter(io.Discard)
			for range b.N {
				if err := m.Write(w, f, rest); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lines), "lines")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		})
	}
}

// lineCount counts the lines written to it.
type lineCount int

func (c *lineCount) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			*c++
		}
	}
	return len(p), nil
}
