package state

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestShardSince walks one storage directory through the lives of a shard:
// the time it returns moves only when the shard's place in the set changes.
func TestShardSince(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const instance = "https://gitlab.example.com"
	for _, tc := range []struct {
		name   string
		steps  []shardStep
		others func(t *testing.T, dir string) // between the first and the second step
	}{
		{name: "unsharded from the start: never a hand-over", steps: []shardStep{
			{0, 1, t0, time.Time{}},
			{0, 1, t0.Add(time.Hour), time.Time{}},
		}},
		{name: "a new shard in a sharded set: since its first start, kept across restarts", steps: []shardStep{
			{3, 4, t0, t0},
			{3, 4, t0.Add(time.Hour), t0},
		}},
		{name: "resharded: since the first start with the new total", steps: []shardStep{
			{1, 3, t0, t0},
			{1, 4, t0.Add(time.Hour), t0.Add(time.Hour)},
			{1, 4, t0.Add(2 * time.Hour), t0.Add(time.Hour)},
		}},
		{name: "unsharded, then sharded, then unsharded again", steps: []shardStep{
			{0, 1, t0, time.Time{}},
			{0, 2, t0.Add(time.Hour), t0.Add(time.Hour)},
			{0, 1, t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		}},
		{name: "another GitLab", steps: []shardStep{
			{2, 3, t0, t0},
			{2, 3, t0.Add(time.Hour), t0.Add(time.Hour)},
		}, others: func(t *testing.T, dir string) {
			rewriteShardFile(t, dir, `"instance":"https://gitlab.example.com"`, `"instance":"https://other.example.com"`)
		}},
		{name: "another format version", steps: []shardStep{
			{2, 3, t0, t0},
			{2, 3, t0.Add(time.Hour), t0.Add(time.Hour)},
		}, others: func(t *testing.T, dir string) {
			rewriteShardFile(t, dir, `"version":1`, `"version":99`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, st := range tc.steps {
				if i == 1 && tc.others != nil {
					tc.others(t, dir)
				}
				s, err := OpenStore(dir, instance) // each step is a process start
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.ShardSince(st.index, st.total, st.now)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if !got.Equal(st.want) {
					t.Errorf("step %d: shard %d of %d at %s: since %s, want %s", i, st.index, st.total, st.now, got, st.want)
				}
			}
		})
	}
}

type shardStep struct {
	index, total int
	now, want    time.Time
}

func rewriteShardFile(t *testing.T, dir, old, new string) {
	t.Helper()
	path := filepath.Join(dir, "shard.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("shard.json %s does not contain %s", b, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestShardSinceRefusesACorruptRecord(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, "https://gitlab.example.com")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "shard.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"shard":`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.ShardSince(0, 2, time.Now())
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want ErrCorrupt naming %s", err, path)
	}
}

func TestIDs(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, "https://gitlab.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{7, 12, 9_000_000_001} {
		if err := s.Save(NewProject(id, "g/p", "main")); err != nil {
			t.Fatal(err)
		}
	}
	// What else may lie there: a write's temporary file, something foreign.
	for _, name := range []string{".7.json.tmp-123", "notes.txt", "x.json"} {
		if err := os.WriteFile(filepath.Join(dir, "projects", name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ShardSince(1, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	ids, err := s.IDs()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if want := []int64{7, 12, 9_000_000_001}; !slices.Equal(ids, want) {
		t.Errorf("IDs() = %v, want %v", ids, want)
	}
}
