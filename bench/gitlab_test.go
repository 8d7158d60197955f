package bench

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// StepResult.Pipelines lists every pipeline finish of the step once, in
// order, as the single-pipeline endpoint shows it at that moment, and the
// fake in a child process passes the same through its JSON protocol.
func TestStepResultPipelines(t *testing.T) {
	sc := Smoke()
	local, err := newLocalGitLab(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	remote, err := startRemoteGitLab(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()

	type step struct {
		d      time.Duration
		frozen bool
	}
	steps := []step{{WarmUp, false}, {sc.Interval, true}}
	for range 20 {
		steps = append(steps, step{sc.Interval, false})
	}
	var all []PipelineChange
	for i, st := range steps {
		l, err := local.Step(st.d, st.frozen)
		if err != nil {
			t.Fatal(err)
		}
		r, err := remote.Step(st.d, st.frozen)
		if err != nil {
			t.Fatal(err)
		}
		// Job changes come in map order; pipeline finishes in the order
		// they happened.
		byID := func(a, b JobChange) int { return cmp.Compare(a.ID, b.ID) }
		slices.SortFunc(l.Changes, byID)
		slices.SortFunc(r.Changes, byID)
		if !l.Now.Equal(r.Now) || !reflect.DeepEqual(l.Changes, r.Changes) {
			t.Fatalf("step %d: the child process reports %d job changes at %v, this one %d at %v", i, len(r.Changes), r.Now, len(l.Changes), l.Now)
		}
		if !reflect.DeepEqual(l.Pipelines, r.Pipelines) {
			t.Fatalf("step %d: the child process reports %d pipeline finishes, this one %d; first: %+v vs %+v",
				i, len(r.Pipelines), len(l.Pipelines), first(r.Pipelines), first(l.Pipelines))
		}
		if st.frozen && l.Pipelines != nil {
			t.Errorf("step %d: %d pipelines finished while GitLab was frozen", i, len(l.Pipelines))
		}
		for _, p := range l.Pipelines {
			if p.FinishedAt != nil && (p.FinishedAt.After(l.Now) || (len(all) > 0 && all[len(all)-1].FinishedAt != nil && p.FinishedAt.Before(*all[len(all)-1].FinishedAt))) {
				t.Errorf("step %d ending %v: finish %+v out of order", i, l.Now, p)
			}
			all = append(all, p)
		}
	}

	// Each finish agrees with the pipeline as the API shows it now when it
	// has not run again since; one pipeline can finish several times.
	last := map[int64]PipelineChange{}
	finishes := map[int64]int{}
	kinds := map[string]bool{}
	for _, p := range all {
		switch p.Status {
		case "success", "failed", "canceled", "skipped":
		default:
			t.Errorf("pipeline %d finished as %q", p.ID, p.Status)
		}
		if (p.Status != "skipped" && (p.Duration == nil || p.FinishedAt == nil)) || p.CreatedAt.IsZero() || p.ProjectID == 0 || p.Ref == "" || p.Source == "" {
			t.Errorf("finish %+v lacks fields", p)
		}
		last[p.ID] = p
		finishes[p.ID]++
		kinds[p.Source] = true
		if p.Coverage != nil {
			kinds["coverage"] = true
		}
	}
	twice := 0
	for id, p := range last {
		if finishes[id] > 1 {
			twice++
		}
		now, ok := local.srv.Pipeline(id)
		if !ok || !now.Finished() {
			continue // it runs again
		}
		want := PipelineChange{ID: now.ID, ProjectID: now.ProjectID, Ref: now.Ref, Source: now.Source, Status: now.Status,
			Duration: now.Duration, QueuedDuration: now.QueuedDuration, CreatedAt: now.CreatedAt, FinishedAt: now.FinishedAt}
		if now.Coverage != nil {
			c, _ := strconv.ParseFloat(*now.Coverage, 64)
			want.Coverage = &c
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("last finish of %d: %s, the pipeline now: %s", id, describe(p), describe(want))
		}
	}
	for _, k := range []string{"push", "merge_request_event", "parent_pipeline", "coverage"} {
		if !kinds[k] {
			t.Errorf("no finished pipeline with %s among %d", k, len(all))
		}
	}
	if twice == 0 {
		t.Errorf("no pipeline finished twice among %d finishes", len(all))
	}
	t.Logf("%d finishes of %d pipelines, %d finished more than once", len(all), len(last), twice)
}

func first(ps []PipelineChange) any {
	if len(ps) == 0 {
		return nil
	}
	return describe(ps[0])
}

func describe(p PipelineChange) string {
	s := fmt.Sprintf("{%d %s %s %s created %v", p.ID, p.Ref, p.Source, p.Status, p.CreatedAt)
	for _, f := range []struct {
		name string
		v    any
	}{{"duration", p.Duration}, {"queued", p.QueuedDuration}, {"finished", p.FinishedAt}, {"coverage", p.Coverage}} {
		switch v := f.v.(type) {
		case *int64:
			if v != nil {
				s += fmt.Sprintf(" %s %d", f.name, *v)
			}
		case *time.Time:
			if v != nil {
				s += fmt.Sprintf(" %s %v", f.name, *v)
			}
		case *float64:
			if v != nil {
				s += fmt.Sprintf(" %s %v", f.name, *v)
			}
		}
	}
	return s + "}"
}

// A skipped pipeline has no finished_at; the idle scenario's history is
// reported by the first step.
func TestStepResultPipelinesIdleHistory(t *testing.T) {
	sc := IdleSmoke()
	g, err := newLocalGitLab(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	res, err := g.Step(time.Minute, false)
	if err != nil {
		t.Fatal(err)
	}
	perPipeline := 5 // buildHistory's
	if want := sc.Projects * max(1, sc.HistoryJobs/perPipeline); len(res.Pipelines) != want {
		t.Errorf("first step: %d pipeline finishes, want the %d of the history", len(res.Pipelines), want)
	}
	statuses := map[string]int{}
	for _, p := range res.Pipelines {
		statuses[p.Status]++
	}
	if statuses["success"] == 0 || statuses["failed"] == 0 {
		t.Errorf("history statuses %v", statuses)
	}
	if res, _ := g.Step(time.Minute, false); res.Pipelines != nil {
		t.Errorf("second step: %d finishes in an idle GitLab", len(res.Pipelines))
	}

	// A pipeline all of whose jobs were skipped is skipped, unfinished.
	pl := g.srv.CreatePipeline(1, "main", gitlabtest.PipelineOptions{})
	must(t, g.srv.Skip(g.srv.CreateJob(pl, gitlabtest.JobSpec{Name: "never"})))
	res, _ = g.Step(time.Minute, false)
	if len(res.Pipelines) != 1 || res.Pipelines[0].Status != "skipped" || res.Pipelines[0].FinishedAt != nil || res.Pipelines[0].Duration != nil {
		t.Errorf("skipped pipeline: %+v", res.Pipelines)
	}
}
