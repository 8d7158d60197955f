package shard

import (
	"strconv"
	"strings"
	"testing"
)

// Published values: ClickHouse's jumpConsistentHash tests and the Rust
// jump-consistent-hash crate's examples, both the paper's C++ code.
func TestJumpPublishedValues(t *testing.T) {
	for _, tc := range []struct {
		key     uint64
		buckets int
		want    int
	}{
		{1, 1, 0},
		{42, 57, 43},
		{256, 1024, 520},
		{3735883980, 1, 0},
		{3735883980, 666, 361},
		{16045690984833335023, 255, 237},
		{0, 60, 0},
		{1, 60, 55},
		{2, 60, 46},
	} {
		if got := Jump(tc.key, tc.buckets); got != tc.want {
			t.Errorf("Jump(%d, %d) = %d, want %d", tc.key, tc.buckets, got, tc.want)
		}
	}
}

func TestJumpBelowOneBucket(t *testing.T) {
	for _, n := range []int{0, -3} {
		if got := Jump(42, n); got != 0 {
			t.Errorf("Jump(42, %d) = %d, want 0", n, got)
		}
	}
}

// GitLab project ids are sequential; shards must still get even shares, and
// adding a shard must move only the new shard's share, all of it to the new
// shard (what makes resharding cheap).
func TestOfSpreadsIDsAndMovesFewOnReshard(t *testing.T) {
	const projects = 20000
	for _, n := range []int{2, 3, 4, 7} {
		counts := make([]int, n+1)
		moved := 0
		for id := int64(1); id <= projects; id++ {
			before, after := Of(id, n), Of(id, n+1)
			counts[before]++
			if before != after {
				moved++
				if after != n {
					t.Fatalf("project %d moved from shard %d to %d when going from %d to %d shards; only moves to the new shard are allowed", id, before, after, n, n+1)
				}
			}
		}
		for k, c := range counts[:n] {
			if share := float64(c) / projects; share < 0.9/float64(n) || share > 1.1/float64(n) {
				t.Errorf("%d shards: shard %d owns %.3f of the projects, want %.3f ± 10 %%", n, k, share, 1/float64(n))
			}
		}
		if share := float64(moved) / projects; share < 0.9/float64(n+1) || share > 1.1/float64(n+1) {
			t.Errorf("%d → %d shards moved %.3f of the projects, want about %.3f", n, n+1, share, 1/float64(n+1))
		}
	}
}

// The owner of every project is exactly one shard.
func TestExactlyOneOwner(t *testing.T) {
	for _, n := range []int{1, 3, 4} {
		for id := int64(1); id <= 1000; id++ {
			owners := 0
			for k := range n {
				if (Shard{Index: k, Total: n}).Owns(id) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("project %d has %d owners among %d shards", id, owners, n)
			}
		}
		for _, ref := range []string{"acme/app", "Acme/App", "group/sub/project", "4711"} {
			owners := 0
			for k := range n {
				if (Shard{Index: k, Total: n}).OwnsName(ref) {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("%q has %d owners among %d shards", ref, owners, n)
			}
		}
	}
}

func TestOwnsNameOfANumericReferenceIsByID(t *testing.T) {
	for id := int64(1); id <= 200; id++ {
		s := Shard{Index: Of(id, 5), Total: 5}
		if ref := strconv.FormatInt(id, 10); !s.OwnsName(ref) {
			t.Fatalf("shard %v owns project %d but not the reference %q", s, id, ref)
		}
	}
}

func TestZeroValueIsUnsharded(t *testing.T) {
	var s Shard
	if s.Sharded() || !s.Owns(12345) || !s.OwnsName("acme/app") {
		t.Errorf("the zero Shard must own everything: Sharded %v", s.Sharded())
	}
	if s.String() != "0 of 1" {
		t.Errorf("String() = %q", s.String())
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		index, total int
		err          string // "" = valid
	}{
		{0, 1, ""},
		{2, 3, ""},
		{3, 3, "--shard=3 is not one of the 3 shards of --total-shards=3: it must be 0 to 2"},
		{-1, 3, "--shard=-1"},
		{0, 0, "--total-shards=0: there must be at least one shard"},
		{0, -2, "--total-shards=-2"},
	} {
		s, err := New(tc.index, tc.total)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("New(%d, %d): %v", tc.index, tc.total, err)
		case tc.err == "" && (s.Index != tc.index || s.Total != tc.total):
			t.Errorf("New(%d, %d) = %+v", tc.index, tc.total, s)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("New(%d, %d) error %v, want one containing %q", tc.index, tc.total, err, tc.err)
		}
	}
}

// TestOfIsStable pins the owner of a few ids: scripts and receivers outside
// the exporter compute it, so it must never change. The values were
// computed independently (a Python FNV-1a 64 and Jump Consistent Hash).
func TestOfIsStable(t *testing.T) {
	for _, tc := range []struct {
		id             int64
		of3, of4, of10 int
	}{
		{1, 2, 2, 2}, {2, 2, 2, 9}, {42, 1, 1, 4}, {278964, 1, 1, 6}, {13083, 1, 3, 3}, {31537070, 0, 3, 3},
	} {
		if got := []int{Of(tc.id, 3), Of(tc.id, 4), Of(tc.id, 10)}; got[0] != tc.of3 || got[1] != tc.of4 || got[2] != tc.of10 {
			t.Errorf("Of(%d, 3, 4, 10) = %v, want [%d %d %d]", tc.id, got, tc.of3, tc.of4, tc.of10)
		}
	}
}
