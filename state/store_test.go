package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSaveWritesOnlyChanges checks that Save rewrites a project's file
// exactly when its saved form changed since the last write or load. A write
// replaces the file by a new one created while the old one exists, so it
// always shows as another file.
func TestSaveWritesOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	const instance = "https://gitlab.example.com"
	s, err := OpenStore(dir, instance)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProject(7, "g/app", "main")
	path := filepath.Join(dir, "projects", "7.json")
	var last os.FileInfo
	steps := []struct {
		name      string
		act       func()
		wantWrite bool
	}{
		{"first save", func() {}, true},
		{"nothing changed", func() {}, false},
		{"a field changed", func() { p.HighWater = 42 }, true},
		{"a map entry added", func() { p.MarkHandled(41, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }, true},
		{"unchanged again", func() {}, false},
		{"a new store loads the file: unchanged", func() {
			if s, err = OpenStore(dir, instance); err != nil {
				t.Fatal(err)
			}
			if p, err = s.Load(7); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"changed after the load", func() { p.LastParkedCheck = time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC) }, true},
		{"deleted, then saved unchanged", func() {
			if err := s.Delete(7); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("state file still there after Delete: %v", err)
			}
			last = nil // the file is gone: finding one means it was written
		}, true},
	}
	for _, st := range steps {
		st.act()
		if err := s.Save(p); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if wrote := last == nil || !os.SameFile(last, info); wrote != st.wantWrite {
			t.Errorf("%s: file written = %v, want %v", st.name, wrote, st.wantWrite)
		}
		last = info
	}
	got, err := s.Load(7)
	if err != nil {
		t.Fatal(err)
	}
	if got.HighWater != 42 || len(got.Recent) != 1 || !got.LastParkedCheck.Equal(p.LastParkedCheck) {
		t.Errorf("loaded %+v, want the last saved state", got)
	}
}
