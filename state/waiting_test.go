package state

import (
	"maps"
	"testing"
	"time"
)

// TestWaiting: a job keeps the entry it was first recorded with while it
// waits, the entry goes when it stops waiting, and the entries are saved
// and loaded with the project.
func TestWaiting(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 3, 2, 9, min, 0, 0, time.UTC) }
	p := NewProject(7, "g/app", "main")
	steps := []struct {
		name string
		act  func()
		want map[int64]Waiting
	}{
		{"none", func() {}, nil},
		{"one waits", func() { p.Wait(1, Waiting{Tags: "docker,linux", QueuedAt: at(1)}) }, map[int64]Waiting{1: {"docker,linux", at(1)}}},
		{"an untagged one waits", func() { p.Wait(2, Waiting{QueuedAt: at(2)}) },
			map[int64]Waiting{1: {"docker,linux", at(1)}, 2: {"", at(2)}}},
		{"still waiting: the first entry stays", func() { p.Wait(1, Waiting{Tags: "docker,linux", QueuedAt: at(3)}) },
			map[int64]Waiting{1: {"docker,linux", at(1)}, 2: {"", at(2)}}},
		{"one starts", func() { p.StopWaiting(1) }, map[int64]Waiting{2: {"", at(2)}}},
		{"a job that never waited", func() { p.StopWaiting(9) }, map[int64]Waiting{2: {"", at(2)}}},
		{"the last one starts", func() { p.StopWaiting(2) }, nil},
	}
	for _, s := range steps {
		s.act()
		if !maps.Equal(p.Waiting, s.want) || (s.want == nil) != (p.Waiting == nil) {
			t.Errorf("%s: waiting %v, want %v", s.name, p.Waiting, s.want)
		}
		for id := range int64(10) {
			if _, want := s.want[id]; p.IsWaiting(id) != want {
				t.Errorf("%s: IsWaiting(%d) = %v, want %v", s.name, id, !want, want)
			}
		}
	}

	dir := t.TempDir()
	const instance = "https://gitlab.example.com"
	store, err := OpenStore(dir, instance)
	if err != nil {
		t.Fatal(err)
	}
	p.Wait(3, Waiting{Tags: "gpu", QueuedAt: at(4)})
	if err := store.Save(p); err != nil {
		t.Fatal(err)
	}
	if store, err = OpenStore(dir, instance); err != nil {
		t.Fatal(err)
	}
	loaded, err := store.Load(7)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64]Waiting{3: {"gpu", at(4)}}; !maps.Equal(loaded.Waiting, want) {
		t.Errorf("loaded waiting %v, want %v", loaded.Waiting, want)
	}
}
