// Package shard says which exporter of a sharded set owns a project. Every
// shard runs with the same configuration and the same total; each polls,
// keeps state for and exports only the projects it owns, so that together
// they poll every project exactly once. Ownership depends on the project id
// and the total only, so any shard (or a webhook receiver forwarding a
// delivery) can tell the owner of any project without asking anyone.
package shard

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Shard is one exporter's place in a sharded set: Index of Total, 0-based.
// The zero value is the single, unsharded exporter, like {0, 1}.
type Shard struct {
	Index, Total int
}

// New checks --shard and --total-shards.
func New(index, total int) (Shard, error) {
	switch {
	case total < 1:
		return Shard{}, fmt.Errorf("--total-shards=%d: there must be at least one shard", total)
	case index < 0 || index >= total:
		return Shard{}, fmt.Errorf("--shard=%d is not one of the %d shards of --total-shards=%d: it must be 0 to %d", index, total, total, total-1)
	}
	return Shard{Index: index, Total: total}, nil
}

// Sharded reports whether there is more than one shard.
func (s Shard) Sharded() bool { return s.Total > 1 }

// Shards is how many shards there are: Total, at least 1.
func (s Shard) Shards() int { return max(s.Total, 1) }

// Owns reports whether this shard polls the project with this id.
func (s Shard) Owns(projectID int64) bool {
	return !s.Sharded() || Of(projectID, s.Total) == s.Index
}

// OwnsName reports whether this shard speaks for a configured project that
// has no id (yet): one that GitLab could not resolve. A numeric reference
// is an id; a path is hashed like one, so that exactly one shard exports
// it as down.
func (s Shard) OwnsName(ref string) bool {
	if !s.Sharded() {
		return true
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return s.Owns(id)
	}
	return Jump(hash(ref), s.Total) == s.Index
}

// String is "K of N", for logs.
func (s Shard) String() string { return fmt.Sprintf("%d of %d", s.Index, s.Shards()) }

// Of is the shard that owns the project with this id among total shards:
// Jump of the 64-bit FNV-1a hash of the id's decimal digits, which any
// tool can compute from the id as URLs and webhook payloads carry it. Jump
// keeps moves few when total changes.
func Of(projectID int64, total int) int {
	return Jump(hash(strconv.FormatInt(projectID, 10)), total)
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}
