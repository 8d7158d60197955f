package state

import (
	"testing"
	"time"
)

func TestRecordAttemptNamesEachRetriedAttemptOnce(t *testing.T) {
	orders := [][]int64{{1, 2, 3}, {3, 2, 1}, {2, 3, 1}, {3, 1, 2}}
	for _, order := range orders {
		pl := &Pipeline{Attempts: map[string]int64{}}
		retried := map[int64]int{}
		for _, id := range order {
			if r := pl.RecordAttempt("rspec", id); r != 0 {
				retried[r]++
			}
		}
		if len(retried) != 2 || retried[1] != 1 || retried[2] != 1 {
			t.Errorf("order %v: retried attempts %v, want 1 and 2 once each", order, retried)
		}
		if r := pl.RecordAttempt("rspec", 3); r != 0 {
			t.Errorf("order %v: recording the latest attempt again named %d as retried", order, r)
		}
	}
}

func TestWalkWindow(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := NewProject(1, "g/p", "main")
	p.MarkHandled(100, base)
	p.MarkHandled(99, base.Add(-time.Hour))
	p.CompleteWalk(100, base)

	for _, tc := range []struct {
		id           int64
		created      time.Time
		handled, low bool
	}{
		{100, base, true, false},                        // in the window: remembered
		{99, base.Add(-time.Hour), true, true},          // below the window: covered by the high-water mark
		{98, base.Add(-30 * time.Second), false, false}, // late commit inside the window: new
		{101, base.Add(time.Second), false, false},      // newer: new
	} {
		if got := p.Handled(tc.id, tc.created); got != tc.handled {
			t.Errorf("Handled(%d) = %v, want %v", tc.id, got, tc.handled)
		}
		if got := p.BelowWindow(tc.id, tc.created); got != tc.low {
			t.Errorf("BelowWindow(%d) = %v, want %v", tc.id, got, tc.low)
		}
	}
	if _, ok := p.Recent[99]; ok {
		t.Errorf("job 99, below the window, is still remembered individually")
	}
}

func TestForgetPipelinesKeepsBusyOnes(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := NewProject(1, "g/p", "main")
	p.Pipeline(1, 0, now.Add(-2*time.Hour))
	p.Pipeline(2, 0, now.Add(-2*time.Hour))
	p.Pipeline(3, 0, now)
	p.Followed[10] = &FollowedJob{ID: 10, PipelineID: 2, Status: "manual"}
	p.ForgetPipelines(now.Add(-time.Hour))
	if _, ok := p.Pipelines[1]; ok {
		t.Errorf("idle pipeline 1 was kept")
	}
	if _, ok := p.Pipelines[2]; !ok {
		t.Errorf("pipeline 2, which has a followed job, was forgotten")
	}
	if _, ok := p.Pipelines[3]; !ok {
		t.Errorf("recent pipeline 3 was forgotten")
	}
	if p.MaxPipelineID != 3 {
		t.Errorf("MaxPipelineID = %d, want 3", p.MaxPipelineID)
	}
}
