package gitlabtest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// PipelineFinishes lists each finish once, in order, with GitLab's
// duration at that moment.
func TestPipelineFinishes(t *testing.T) {
	f := newFixture(t, Options{})
	s, at := f.s, func(sec int) { f.clock.Set(t0.Add(time.Duration(sec) * time.Second)) }
	s.TrackPipelineFinishes(true)
	a := s.CreateJob(f.pipeline, JobSpec{Name: "a", Stage: "build"})
	b := s.CreateJob(f.pipeline, JobSpec{Name: "b", Stage: "build"})
	c := s.CreateJob(f.pipeline, JobSpec{Name: "c", Stage: "test"})
	skipped := s.CreatePipeline(f.project, "feature/x", PipelineOptions{})
	onlyJob := s.CreateJob(skipped, JobSpec{Name: "x"})
	var retry int64
	// The example of Gitlab::Ci::Pipeline::Duration: A (1, 3), B (2, 4),
	// C (6, 7) → 4 s; then C again (11, 13) → 5 s.
	steps := []struct {
		at int
		do func() error
	}{
		{0, func() error { return errors.Join(s.Enqueue(a), s.Enqueue(b)) }},
		{1, func() error { return s.Start(a) }},
		{2, func() error { return s.Start(b) }},
		{3, func() error { return s.Finish(a, "success", FinishOptions{}) }},
		{4, func() error { return s.Finish(b, "success", FinishOptions{}) }},
		{5, func() error { return s.Enqueue(c) }},
		{6, func() error { return s.Start(c) }},
		{7, func() error { return s.Finish(c, "failed", FinishOptions{Coverage: ptr(66.5)}) }},
		{8, func() error { return s.Skip(onlyJob) }},
		{10, func() error { var err error; retry, err = s.Retry(c); return err }},
		{11, func() error { return s.Start(retry) }},
		{13, func() error { return s.Finish(retry, "success", FinishOptions{Coverage: ptr(70.0)}) }},
	}
	for _, st := range steps {
		at(st.at)
		must(t, st.do())
	}
	sec := func(n int) *int64 { return ptr(int64(n)) }
	tm := func(n int) *time.Time { return ptr(t0.Add(time.Duration(n) * time.Second).Truncate(time.Microsecond)) }
	want := []struct {
		id               int64
		status           string
		duration, queued *int64
		finished         *time.Time
		coverage         *string
	}{
		{f.pipeline, "failed", sec(4), sec(1), tm(7), ptr("66.50")},
		{skipped, "skipped", nil, nil, nil, nil},
		{f.pipeline, "success", sec(5), sec(1), tm(13), ptr("70.00")},
	}
	got := s.PipelineFinishes()
	if len(got) != len(want) {
		t.Fatalf("%d finishes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Status != w.status || !reflect.DeepEqual(g.Duration, w.duration) ||
			!reflect.DeepEqual(g.QueuedDuration, w.queued) || !reflect.DeepEqual(g.FinishedAt, w.finished) ||
			!reflect.DeepEqual(g.Coverage, w.coverage) || g.Ref == "" || g.Source != "push" || !g.Finished() {
			t.Errorf("finish %d: %+v, want %+v", i, g, w)
		}
	}
	// What the endpoint shows now is the last finish.
	p := decode[map[string]any](t, get(t, s, fmt.Sprintf("/api/v4/projects/%d/pipelines/%d", f.project, f.pipeline)))
	if p["duration"] != float64(5) || p["status"] != "success" || p["coverage"] != "70.00" {
		t.Errorf("pipeline now: duration %v, status %v, coverage %v", p["duration"], p["status"], p["coverage"])
	}
	if again := s.PipelineFinishes(); again != nil {
		t.Errorf("finishes handed over twice: %+v", again)
	}
	s.TrackPipelineFinishes(false)
	other := f.job(t, "late", "running")
	must(t, s.Finish(other, "success", FinishOptions{}))
	if n := len(s.PipelineFinishes()); n != 0 {
		t.Errorf("%d finishes recorded while not tracking", n)
	}
}
