package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// An exporter built WithShard reads its own token file, says which shard
// it is, and records it in its storage directory with the moment it took
// on its share.
func TestWithShard(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "shard-1"), []byte("token-of-shard-1\n"), 0o600))
	configFile := filepath.Join(dir, "config.yaml")
	must(t, os.WriteFile(configFile, []byte("gitlab:\n  url: https://gitlab.example.com\n  token_file: shard-{shard}\nprojects: [g/app]\n"), 0o600))
	noEnv := func(string) string { return "" }

	if _, err := New(configFile, noEnv, log.NewNopLogger(), WithShard(shard.Shard{Index: 0, Total: 2})); err == nil {
		t.Error("shard 0 started without its token file")
	}
	a, err := New(configFile, noEnv, log.NewNopLogger(), WithShard(shard.Shard{Index: 1, Total: 2}))
	must(t, err)
	if got := a.cfg.ResolvedToken(); got != "token-of-shard-1" {
		t.Errorf("shard 1 resolved token %q, want its own", got)
	}
	storage := filepath.Join(dir, "data")
	must(t, a.OpenStorage(storage))
	if a.shardSince.IsZero() || a.scraperOptions(a.cfg).Shard != (shard.Shard{Index: 1, Total: 2}) || !a.scraperOptions(a.cfg).ShardSince.Equal(a.shardSince) {
		t.Errorf("scraper options: shard %v since %v", a.scraperOptions(a.cfg).Shard, a.scraperOptions(a.cfg).ShardSince)
	}
	b, err := os.ReadFile(filepath.Join(storage, "shard.json"))
	must(t, err)
	var rec struct {
		Shard       int `json:"shard"`
		TotalShards int `json:"total_shards"`
	}
	must(t, json.Unmarshal(b, &rec))
	if rec.Shard != 1 || rec.TotalShards != 2 {
		t.Errorf("shard.json %s, want shard 1 of 2", b)
	}
	const want = `
# HELP gitlab_jobs_exporter_shard_info Always 1: this exporter is shard ` + "`shard` of `total_shards`" + `, and polls only the projects it owns (gitlab_jobs_exporter_projects of them).
# TYPE gitlab_jobs_exporter_shard_info gauge
gitlab_jobs_exporter_shard_info{shard="1",total_shards="2"} 1
`
	if err := testutil.GatherAndCompare(a.Registry, strings.NewReader(want), "gitlab_jobs_exporter_shard_info"); err != nil {
		t.Error(err)
	}
}
