package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// shardFile is shard.json beside the projects directory: which shard of how
// many keeps the project states here, and since when it has owned its
// share. It is what tells a shard that the set was resharded (its total
// changed) and what fixes the moment from which it counts the projects
// handed to it, across its restarts.
type shardFile struct {
	Version     int       `json:"version"`
	Instance    string    `json:"instance"`
	Shard       int       `json:"shard"`
	TotalShards int       `json:"total_shards"`
	Since       time.Time `json:"since,omitzero"`
}

const shardFileName = "shard.json"

// ShardSince records that shard index of total keeps the states here and
// returns since when it has owned its current share of the projects: the
// time recorded when this shard first ran with this total against this
// GitLab, or now if it never did. Another shard may have counted the
// projects it owns up to then (the set was resharded, or this shard is new
// in a sharded set), so a project without saved state must count only what
// happens after it.
//
// The zero time means no project can have been handed over: a storage
// directory that never held a record (a new exporter, or one from before
// sharding) of a single, unsharded exporter. Its projects without state
// walk back poll.initial_lookback as always.
func (s *Store) ShardSince(index, total int, now time.Time) (time.Time, error) {
	path := filepath.Join(s.root, shardFileName)
	rec := shardFile{Version: FormatVersion, Instance: s.instance, Shard: index, TotalShards: total}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if total <= 1 {
			return time.Time{}, s.writeShard(path, rec) // never sharded
		}
	case err != nil:
		return time.Time{}, err
	default:
		var prev shardFile
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&prev); err != nil {
			return time.Time{}, fmt.Errorf("%s: %w: %v (remove it to start this shard afresh)", path, ErrCorrupt, err)
		}
		if prev.Version == rec.Version && prev.Instance == rec.Instance && prev.Shard == index && prev.TotalShards == total {
			return prev.Since, nil
		}
	}
	rec.Since = now.UTC()
	return rec.Since, s.writeShard(path, rec)
}

func (s *Store) writeShard(path string, f shardFile) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}
