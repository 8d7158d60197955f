package app

import (
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// TestDefaultMetricsSuitTheCollector: the collector takes the default
// metrics section as it is, and with the runners family on.
func TestDefaultMetricsSuitTheCollector(t *testing.T) {
	cfg, _, err := config.Parse([]byte("gitlab:\n  url: https://g.example.com\nprojects: [a/b]\n"), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collector.New(MetricsOptions(cfg)); err != nil {
		t.Errorf("the collector refuses the default metrics: %v", err)
	}
	defaults := config.DefaultMetrics()
	families := defaults.CollectorOptions()
	runners := families[family.Runners]
	runners.Enabled = true
	families[family.Runners] = runners
	if _, err := collector.New(collector.Options{Families: families}); err != nil {
		t.Errorf("the collector refuses the default metrics with runners on: %v", err)
	}
}

// TestPoolRules: the rules reach the collector anchored and in order, and
// runner_pools given in the file replace the default ones.
func TestPoolRules(t *testing.T) {
	doc := "gitlab:\n  url: https://g.example.com\nprojects: [a/b]\nmetrics:\n  tag_pools:\n    - {match: docker, pool: d}\n    - {match: '.*gpu.*', pool: gpu}\n  runner_pools: []\n"
	cfg, _, err := config.Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	o := MetricsOptions(cfg)
	tags, runners := o.TagPools, o.RunnerPools
	if len(tags) != 2 || tags[0].Pool != "d" || tags[1].Pool != "gpu" || len(runners) != 0 {
		t.Fatalf("tag pools %+v, runner pools %+v", tags, runners)
	}
	for _, tc := range []struct {
		tagSet string
		want   bool
	}{{"docker", true}, {"docker,linux", false}, {"nodocker", false}} {
		if got := tags[0].Match.MatchString(tc.tagSet); got != tc.want {
			t.Errorf("rule %q matches %q: %v, want %v (anchored)", tags[0].Match, tc.tagSet, got, tc.want)
		}
	}
	if def := MetricsOptions(&config.Config{Metrics: config.DefaultMetrics()}).RunnerPools; len(def) != 1 || def[0].Match == nil {
		t.Errorf("default runner pools %+v", def)
	}
}
