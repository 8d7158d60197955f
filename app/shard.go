package app

import (
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// Option changes how New builds the exporter.
type Option func(*options)

type options struct {
	shard shard.Shard
}

// WithShard makes the exporter one shard of a sharded set (--shard,
// --total-shards): it polls only the projects it owns, and reads the token
// file that names it (config.ShardPlaceholder). Without it the exporter
// polls every configured project.
func WithShard(s shard.Shard) Option {
	return func(o *options) { o.shard = s }
}
