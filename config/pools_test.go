package config

import "testing"

// TestCollectorPools: the rules reach the collector anchored and in order,
// and runner_pools given in the file replace the default ones.
func TestCollectorPools(t *testing.T) {
	doc := minimal + "metrics:\n  tag_pools:\n    - {match: docker, pool: d}\n    - {match: '.*gpu.*', pool: gpu}\n  runner_pools: []\n"
	cfg, _, err := Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	tags, runners := cfg.Metrics.CollectorPools()
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
}
