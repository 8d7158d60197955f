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

// Without pipeline counting, a manual or scheduled job does not keep its
// pipeline: a played job keeps its id and is recognised without it.
func TestForgetPipelinesWithoutPipelineCounting(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := NewProject(1, "g/p", "main")
	for id := range int64(3) {
		p.Pipeline(id+1, 0, now.Add(-2*time.Hour))
	}
	p.Followed[10] = &FollowedJob{ID: 10, PipelineID: 1, Status: "manual"}
	p.Followed[11] = &FollowedJob{ID: 11, PipelineID: 2, Status: "manual", Bridge: true}
	p.Followed[12] = &FollowedJob{ID: 12, PipelineID: 3, Status: "running"}
	p.ForgetPipelines(now.Add(-time.Hour), false)
	if _, ok := p.Pipelines[1]; ok {
		t.Error("pipeline 1 is kept for its manual job")
	}
	if len(p.Pipelines) != 2 || p.Pipelines[2] == nil || p.Pipelines[3] == nil {
		t.Errorf("kept %v, want the pipelines of the manual bridge and the running job", p.Pipelines)
	}
}

func TestForgetPipelinesKeepsBusyOnes(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := NewProject(1, "g/p", "main")
	for id := range int64(6) {
		p.Pipeline(id+1, 0, now.Add(-2*time.Hour))
	}
	p.Pipeline(7, 0, now)
	p.Followed[10] = &FollowedJob{ID: 10, PipelineID: 2, Status: "running"}
	p.Followed[11] = &FollowedJob{ID: 11, PipelineID: 3, Status: "manual"}
	p.Followed[12] = &FollowedJob{ID: 12, PipelineID: 4, Status: "scheduled"}
	p.Followed[13] = &FollowedJob{ID: 13, PipelineID: 5, Status: "manual", Bridge: true}
	p.Followed[14] = &FollowedJob{ID: 14, PipelineID: 6, Status: "manual"}
	p.Followed[15] = &FollowedJob{ID: 15, PipelineID: 6, Status: "pending"}
	p.ForgetPipelines(now.Add(-time.Hour), true)
	for _, tc := range []struct {
		id   int64
		kept bool
		why  string
	}{
		{1, false, "idle"},
		{2, true, "has a running job"},
		{3, true, "has a manual job, whose play runs it again"},
		{4, true, "has a scheduled job"},
		{5, true, "has a manual bridge, followed through its bridge list"},
		{6, true, "has a pending job besides a manual one"},
		{7, true, "recent"},
	} {
		if _, ok := p.Pipelines[tc.id]; ok != tc.kept {
			t.Errorf("pipeline %d (%s): kept %v, want %v", tc.id, tc.why, ok, tc.kept)
		}
	}
	if p.MaxPipelineID != 7 {
		t.Errorf("MaxPipelineID = %d, want 7", p.MaxPipelineID)
	}
}
