package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// ShardInfo is gitlab_jobs_exporter_shard_info: which shard of how many
// this exporter is. Every shard exports it, so that rules can tell that
// the shards agree on their number and that none runs twice.
func ShardInfo(s shard.Shard) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gitlab_jobs_exporter_shard_info",
		Help: "Always 1: this exporter is shard `shard` of `total_shards`, and polls only the projects it owns (gitlab_jobs_exporter_projects of them).",
		ConstLabels: prometheus.Labels{
			"shard":        strconv.Itoa(s.Index),
			"total_shards": strconv.Itoa(s.Shards()),
		},
	})
	g.Set(1)
	return g
}
