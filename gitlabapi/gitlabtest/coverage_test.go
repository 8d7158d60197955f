package gitlabtest

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestCoverage(t *testing.T) {
	type build struct {
		coverage *float64
		status   string   // "" = success
		retried  *float64 // an earlier, retried attempt finished with this coverage (nil: none)
	}
	cases := []struct {
		name   string
		builds []build
		child  *float64 // a child pipeline's job's coverage
		want   *string
	}{
		{"no coverage", []build{{}, {}}, nil, nil},
		{"one job", []build{{coverage: ptr(80.0)}, {}}, nil, ptr("80.00")},
		{"mean of the jobs that have one", []build{{coverage: ptr(70.0)}, {}, {coverage: ptr(90.5)}}, nil, ptr("80.25")},
		// Ruby's '%.2f' rounds an exact tie to even, as Go's 'f' does.
		{"exact tie", []build{{coverage: ptr(80.0)}, {coverage: ptr(91.25)}}, nil, ptr("85.62")},
		{"rounded to two decimals", []build{{coverage: ptr(33.333)}, {coverage: ptr(66.666)}, {coverage: ptr(12.5)}}, nil, ptr("37.50")},
		{"failed and canceled jobs count", []build{{coverage: ptr(50.0), status: "failed"}, {coverage: ptr(60.0), status: "canceled"}}, nil, ptr("55.00")},
		{"a retried attempt is left out", []build{{coverage: ptr(90.0), retried: ptr(10.0)}}, nil, ptr("90.00")},
		{"a retry running has none yet", []build{{status: "running", retried: ptr(10.0)}}, nil, nil},
		{"a child pipeline's jobs are not the parent's", []build{{}}, ptr(50.0), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			var jobs []int64
			for i, b := range c.builds {
				name := fmt.Sprintf("rspec %d", i)
				if b.retried != nil {
					old := f.jobIn(t, f.pipeline, JobSpec{Name: name}, "running")
					must(t, f.s.Finish(old, "failed", FinishOptions{Coverage: b.retried}))
					id, err := f.s.Retry(old)
					must(t, err)
					must(t, f.s.Start(id))
					if b.status != "running" {
						must(t, f.s.Finish(id, "success", FinishOptions{Coverage: b.coverage}))
					}
					jobs = append(jobs, id)
					continue
				}
				id := f.jobIn(t, f.pipeline, JobSpec{Name: name}, "running")
				status := b.status
				if status == "" {
					status = "success"
				}
				must(t, f.s.Finish(id, status, FinishOptions{Coverage: b.coverage}))
				jobs = append(jobs, id)
			}
			if c.child != nil {
				_, child, childJob := childPipelineJob(t, f, "running")
				must(t, f.s.Finish(childJob, "success", FinishOptions{Coverage: c.child}))
				if rec, _ := f.s.Pipeline(child); rec.Coverage == nil || *rec.Coverage != "50.00" {
					t.Errorf("child pipeline coverage %v, want 50.00", rec.Coverage)
				}
			}

			// The single pipeline renders a string or null.
			p := decode[map[string]any](t, get(t, f.s, fmt.Sprintf("/api/v4/projects/%d/pipelines/%d", f.project, f.pipeline)))
			if c.want == nil && p["coverage"] != nil || c.want != nil && p["coverage"] != *c.want {
				t.Errorf("pipeline coverage %#v, want %v", p["coverage"], deref(c.want))
			}
			if rec, _ := f.s.Pipeline(f.pipeline); !reflect.DeepEqual(rec.Coverage, c.want) {
				t.Errorf("record coverage %v, want %v", deref(rec.Coverage), deref(c.want))
			}
			// Jobs render a number or null.
			for i, id := range jobs {
				want := c.builds[i].coverage
				j := decode[map[string]any](t, get(t, f.s, fmt.Sprintf("/api/v4/projects/%d/jobs/%d", f.project, id)))
				if want == nil && j["coverage"] != nil || want != nil && j["coverage"] != *want {
					t.Errorf("job %d coverage %#v, want %v", id, j["coverage"], deref(want))
				}
				if rec, _ := f.s.Job(id); !reflect.DeepEqual(rec.Coverage, want) {
					t.Errorf("job %d record coverage %v, want %v", id, deref(rec.Coverage), deref(want))
				}
			}
		})
	}
}

func TestFinishRefusesCoverage(t *testing.T) {
	f := newFixture(t, Options{})
	bridge, _ := f.s.CreateBridge(f.pipeline, JobSpec{Name: "trigger"})
	must(t, f.s.Enqueue(bridge))
	for _, c := range []struct {
		name     string
		coverage float64
		bridge   bool
	}{
		{"NaN", math.NaN(), false},
		{"infinite", math.Inf(1), false},
		{"a bridge's", 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := bridge
			if !c.bridge {
				id = f.job(t, "j", "running")
			}
			before, _ := f.s.Job(id)
			if err := f.s.Finish(id, "success", FinishOptions{Coverage: ptr(c.coverage)}); err == nil {
				t.Errorf("coverage %v accepted", c.coverage)
			}
			if rec, _ := f.s.Job(id); rec.Status != before.Status || rec.Coverage != nil {
				t.Errorf("a refused Finish left the job %s with coverage %v", rec.Status, deref(rec.Coverage))
			}
		})
	}
}
