package gitlabapi

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"testing"
)

// listOf returns a fixture as a JSON list: list fixtures as they are,
// single-job fixtures wrapped in one.
func listOf(t testing.TB, name string) []byte {
	b := bytes.TrimSpace(fixture(t, name))
	if b[0] == '[' {
		return b
	}
	return append(append([]byte("["), b...), ']')
}

// withoutSkipped is what a minimal decode must return for j: every key
// ListJobsOptions.Minimal documents as decoded, and nothing else.
func withoutSkipped(j Job) Job {
	return Job{
		ID: j.ID, Status: j.Status, Stage: j.Stage, Name: j.Name, Ref: j.Ref, Tag: j.Tag,
		AllowFailure: j.AllowFailure, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt,
		FinishedAt: j.FinishedAt, ErasedAt: j.ErasedAt, Duration: j.Duration,
		QueuedDuration: j.QueuedDuration, FailureReason: j.FailureReason,
		Pipeline: PipelineBasic{ID: j.Pipeline.ID, IID: j.Pipeline.IID, ProjectID: j.Pipeline.ProjectID,
			Ref: j.Pipeline.Ref, Status: j.Pipeline.Status, Source: j.Pipeline.Source, CreatedAt: j.Pipeline.CreatedAt},
		Artifacts: j.Artifacts, Runner: runnerPool(j.Runner), TagList: j.TagList, Archived: j.Archived, Source: j.Source,
	}
}

// runnerPool is what a minimal decode keeps of a runner.
func runnerPool(r *Runner) *Runner {
	if r == nil {
		return nil
	}
	return &Runner{ID: r.ID, Description: r.Description, IsShared: r.IsShared, RunnerType: r.RunnerType}
}

func TestMinimalJobsKeepWhatExportersUse(t *testing.T) {
	fetchers := map[string]func(c *Client, minimal bool) ([]Job, error){
		"project jobs": func(c *Client, minimal bool) ([]Job, error) {
			var all []Job
			for page, err := range c.ProjectJobPages(context.Background(), "42", ListJobsOptions{Minimal: minimal}) {
				if err != nil {
					return nil, err
				}
				all = append(all, page...)
			}
			return all, nil
		},
		"pipeline jobs": func(c *Client, minimal bool) ([]Job, error) {
			return c.PipelineJobs(context.Background(), "42", 7, PipelineJobsOptions{Minimal: minimal})
		},
	}
	files := []string{"jobs_list_docs.json", "job_real_gitlab_com_2025-09.json", "job_real_gitlab_com_2024-06.json", "job_single_docs.json"}
	// The fixtures must exercise what the runner pools need, or the
	// comparison below would pass with those keys dropped.
	var withRunnerType, withTags int
	for _, file := range files {
		body := string(listOf(t, file))
		env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Next-Page", "")
			writeRaw(w, 200, "application/json", body)
		}), nil)
		for what, fetch := range fetchers {
			full, err := fetch(env.c, false)
			mustOK(t, err)
			minimal, err := fetch(env.c, true)
			mustOK(t, err)
			if len(full) == 0 || len(minimal) != len(full) {
				t.Fatalf("%s, %s: %d jobs in full, %d minimal", file, what, len(full), len(minimal))
			}
			for i := range full {
				if full[i].User == nil && full[i].Commit == nil {
					t.Fatalf("%s, %s: fixture job %d has neither user nor commit: nothing to skip", file, what, full[i].ID)
				}
				if want := withoutSkipped(full[i]); !reflect.DeepEqual(minimal[i], want) {
					t.Errorf("%s, %s: job %d decoded minimally as\n%+v\nwant\n%+v", file, what, full[i].ID, minimal[i], want)
				}
				if r := minimal[i].Runner; r != nil && r.RunnerType != "" && r.Description != "" {
					withRunnerType++
				}
				if len(minimal[i].TagList) > 0 {
					withTags++
				}
			}
		}
	}
	if withRunnerType == 0 || withTags == 0 {
		t.Errorf("fixtures decoded %d jobs with a runner type and description, %d with tags; want some of each", withRunnerType, withTags)
	}
}

// BenchmarkDecodeJobPage decodes a page of 100 real gitlab.com jobs, as a
// poll of an idle project does.
func BenchmarkDecodeJobPage(b *testing.B) {
	one := bytes.TrimSpace(fixture(b, "job_real_gitlab_com_2025-09.json"))
	page := []byte("[")
	for i := range 100 {
		if i > 0 {
			page = append(page, ',')
		}
		page = append(page, one...)
	}
	page = append(page, ']')
	for _, minimal := range []bool{false, true} {
		name := "full"
		if minimal {
			name = "minimal"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				jobs, err := decodeJobs(EndpointProjectJobs, nil, page, minimal)
				if err != nil || len(jobs) != 100 {
					b.Fatal(err, len(jobs))
				}
			}
		})
	}
}
