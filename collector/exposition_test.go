package collector

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// familyBlocks splits an exposition into its families (from "# HELP" to
// the next), by name, and returns the rest (OpenMetrics' "# EOF").
func familyBlocks(t *testing.T, text string) (map[string]string, string) {
	t.Helper()
	blocks := map[string]string{}
	var name, tail string
	var b strings.Builder
	flush := func() {
		if name != "" {
			if _, dup := blocks[name]; dup {
				t.Errorf("family %s written twice", name)
			}
			blocks[name] = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
			flush()
			name = strings.Fields(line)[2]
		case line == "# EOF\n":
			tail += line
			continue
		}
		b.WriteString(line)
	}
	flush()
	return blocks, tail
}

// metricsWithEveryShape records jobs whose series cover what the writer
// must get right: label values needing escapes, tracked and other refs,
// several statuses and stages, exemplars in the +Inf bucket, fractional and
// zero values, retries and followed jobs.
func metricsWithEveryShape(native bool) *Metrics {
	m := newShapeMetrics(native)
	recordEveryShape(m, "g/app", `g/we"ird\path`)
	return m
}

func newShapeMetrics(native bool) *Metrics {
	b := testBuckets
	b.Native = native
	return New(b, NewRefTracker(regexp.MustCompile(`^feature/`)))
}

func recordEveryShape(m *Metrics, paths ...string) {
	for _, path := range paths {
		id := int64(len(path)) * 1000
		info := state.ProjectInfo{ID: id, Path: path, DefaultBranch: "main"}
		for k, name := range []string{"rspec 1/2", "lint", "deploy: [eu, prod]", "multi\nline"} {
			for n, status := range []string{"success", "failed", "skipped", "success", "canceled"} {
				id++
				job := &gitlabapi.Job{ID: id, Name: name, Stage: []string{"test", "build"}[n%2], Ref: []string{"main", "feature/x", "fix/y"}[(k+n)%3],
					Status: gitlabapi.JobStatus(status), FailureReason: "script_failure", StartedAt: at("2026-03-02T09:00:00Z")}
				if status != "skipped" {
					job.FinishedAt = at("2026-03-02T09:10:00Z")
					job.Duration = f64(float64(n*n*k)*7.25 + 0.5)
					job.QueuedDuration = f64(float64(n) * 30.1)
					job.Artifacts = []gitlabapi.Artifact{{FileType: "trace", Size: int64(1000 * (n + 1) * (k + 1))},
						{FileType: "archive", Size: int64(1 << (10 + 3*n))}}
				}
				m.JobStarted(info, job)
				m.JobFinished(info, job)
				if status == "failed" {
					m.JobRetried(info, job)
				}
			}
		}
		created := *at("2026-03-02T08:59:30Z")
		m.ProjectActive(info, []state.FollowedJob{
			{ID: 100, Status: "manual", CreatedAt: created},
			{ID: 101, Status: "pending", CreatedAt: created.Add(time.Duration(len(path)) * time.Second)},
			{ID: 102, Status: "pending", CreatedAt: created.Add(1500 * time.Millisecond)},
		})
	}
}

// decodeDelimited reads a protobuf exposition, by family name.
func decodeDelimited(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	families := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(r, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if err == io.EOF {
			return families
		}
		if err != nil {
			t.Fatal(err)
		}
		if families[mf.GetName()] != nil {
			t.Errorf("family %s written twice", mf.GetName())
		}
		families[mf.GetName()] = mf
	}
}

func TestWriteMatchesExpfmt(t *testing.T) {
	// "changed": series came and went since the last write, which Write
	// must merge into the order it keeps rather than sort again.
	for _, shape := range []string{"empty", "classic", "native", "changed"} {
		native := shape != "classic"
		m := metricsWithEveryShape(native)
		switch shape {
		case "empty":
			m = newShapeMetrics(false)
		case "changed":
			m = newShapeMetrics(true)
			recordEveryShape(m, "g/gone", "g/app")
		}
		whole := prometheus.NewPedanticRegistry()
		whole.MustRegister(m)
		rest := prometheus.NewPedanticRegistry()
		rest.MustRegister(m.RegistryPart())
		if shape == "changed" {
			for _, f := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
				if err := m.Write(io.Discard, f, rest); err != nil {
					t.Fatal(err)
				}
			}
			m.ProjectRemoved("g/gone")
			recordEveryShape(m, `g/we"ird\path`, "g/a", "g/zz")
		}
		for _, f := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeOpenMetrics), expfmt.NewFormat(expfmt.TypeProtoDelim)} {
			t.Run(fmt.Sprintf("%s/%d", shape, f.FormatType()), func(t *testing.T) {
				var want, got bytes.Buffer
				mfs, err := whole.Gather()
				if err != nil {
					t.Fatal(err)
				}
				enc := expfmt.NewEncoder(&want, f)
				for _, mf := range mfs {
					if err := enc.Encode(mf); err != nil {
						t.Fatal(err)
					}
				}
				if c, ok := enc.(expfmt.Closer); ok {
					_ = c.Close()
				}
				if err := m.Write(&got, f, rest); err != nil {
					t.Fatal(err)
				}
				if f.FormatType() == expfmt.TypeProtoDelim {
					wantFamilies, gotFamilies := decodeDelimited(t, &want), decodeDelimited(t, &got)
					if len(gotFamilies) != len(wantFamilies) {
						t.Errorf("%d families written, want %d", len(gotFamilies), len(wantFamilies))
					}
					for name, w := range wantFamilies {
						if g := gotFamilies[name]; !proto.Equal(g, w) {
							t.Errorf("family %s differs:\n--- Write\n%v\n--- client_model\n%v", name, g, w)
						}
					}
					return
				}
				wantBlocks, wantTail := familyBlocks(t, want.String())
				gotBlocks, gotTail := familyBlocks(t, got.String())
				if gotTail != wantTail || (f.FormatType() == expfmt.TypeOpenMetrics && !strings.HasSuffix(got.String(), "# EOF\n")) {
					t.Errorf("ends with %q, want %q at the very end", gotTail, wantTail)
				}
				for name, w := range wantBlocks {
					if g := gotBlocks[name]; g != w {
						t.Errorf("family %s differs:\n--- WriteText\n%s--- expfmt\n%s", name, g, w)
					}
				}
				for name := range gotBlocks {
					if _, ok := wantBlocks[name]; !ok {
						t.Errorf("WriteText wrote family %s, which the registry does not have", name)
					}
				}
				if shape != "empty" && (strings.Contains(got.String(), "g/gone") || !strings.Contains(got.String(), `job="multi\nline"`) || !strings.Contains(got.String(), `project="g/we\"ird\\path"`)) {
					t.Error("a removed project is written, or the escaped label values are missing (the test data lost its point)")
				}
			})
		}
	}
}
