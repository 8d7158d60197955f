package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// Metrics shapes the job metrics: which families are exported, with which
// labels, in which histogram form, and how long idle series are kept.
// Changes take effect at the next restart.
type Metrics struct {
	SeriesTTL Duration `yaml:"series_ttl"`
	// Families holds each family of family.All by its key.
	Families map[string]FamilyConfig `yaml:",inline"`
	// TagPools bound the tags label of the runner-pool families; none: a
	// job's tag set is its own pool.
	TagPools []PoolRule `yaml:"tag_pools"`
	// RunnerPools fold runner descriptions for the runner label.
	RunnerPools []PoolRule `yaml:"runner_pools"`
}

// FamilyConfig configures a job family; only histogram families take a
// form and buckets.
type FamilyConfig struct {
	Enabled bool     `yaml:"enabled"`
	Labels  []string `yaml:"labels,flow"`
	// Histogram is the form: "classic", "native" or "both".
	Histogram string    `yaml:"histogram,omitempty"`
	Buckets   []float64 `yaml:"buckets,flow,omitempty"`
}

// PoolRule names a runner pool: a value Match matches (anchored) becomes
// Pool, in which $1 or ${name} stand for Match's groups.
type PoolRule struct {
	Match *Regexp `yaml:"match"`
	Pool  string  `yaml:"pool"`
}

// MarshalYAML puts the families after series_ttl in the order of
// family.All, where yaml.v3 would sort them last.
func (m Metrics) MarshalYAML() (any, error) {
	type fixed Metrics
	var n yaml.Node
	if err := n.Encode(fixed{SeriesTTL: m.SeriesTTL, TagPools: m.TagPools, RunnerPools: m.RunnerPools}); err != nil {
		return nil, err
	}
	var families []*yaml.Node
	for _, f := range family.All {
		var v yaml.Node
		if err := v.Encode(m.Families[f.Key]); err != nil {
			return nil, err
		}
		families = append(families, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Key}, &v)
	}
	n.Content = slices.Insert(n.Content, 2, families...)
	return &n, nil
}

// CollectorOptions maps the families onto their options, as the collector
// takes them.
func (m *Metrics) CollectorOptions() map[string]family.Options {
	out := map[string]family.Options{}
	for key, f := range m.Families {
		out[key] = family.Options{Enabled: f.Enabled, Labels: slices.Clone(f.Labels), Form: family.Form(f.Histogram), Buckets: slices.Clone(f.Buckets)}
	}
	return out
}

// TTL is metrics.series_ttl as a time.Duration.
func (m *Metrics) TTL() time.Duration { return time.Duration(m.SeriesTTL) }

// familyKeys are the keys a family takes.
func familyKeys(f family.Family) []string {
	keys := keysOf(reflect.TypeFor[FamilyConfig]())
	if !f.Histogram {
		return keys[:2]
	}
	return keys
}

func (d *decoder) validateMetrics(m *Metrics) {
	atLeast(d, "metrics.series_ttl", m.SeriesTTL, 0)
	valid := keysOf(reflect.TypeFor[Metrics]())
	for _, f := range family.All {
		valid = append(valid, f.Key)
	}
	for _, key := range slices.Sorted(maps.Keys(m.Families)) {
		f, prefix := m.Families[key], "metrics."+key
		spec, ok := family.ByKey(key)
		if !ok { // yaml.v3 decoded it as a family all the same
			d.problems = slices.DeleteFunc(d.problems, func(p Problem) bool {
				return p.Key == prefix || strings.HasPrefix(p.Key, prefix+".")
			})
			d.problem(nil, prefix, "unknown key"+suggest(key, valid), false)
			continue
		}
		d.strict(prefix+".enabled", "!!bool", "true or false")
		d.validateLabels(prefix+".labels", spec, f.Labels)
		if !spec.Histogram {
			for _, k := range []string{"histogram", "buckets"} {
				if d.place(prefix+"."+k) != nil {
					d.problem(nil, prefix+"."+k, "unknown key"+suggest(k, familyKeys(spec)), false)
				}
			}
			continue
		}
		if key := prefix + ".histogram"; !d.skip(key) && !slices.Contains(family.Forms, family.Form(f.Histogram)) {
			d.addAt(key, fmt.Sprintf("unknown histogram form %q: want %s", f.Histogram, quotedList(family.Forms)))
		}
		d.validateBuckets(prefix+".buckets", f.Buckets)
	}
	d.validatePools("metrics.tag_pools", m.TagPools)
	d.validatePools("metrics.runner_pools", m.RunnerPools)
}

func (d *decoder) validateLabels(key string, spec family.Family, labels []string) {
	d.items(key, len(labels), "want a label")
	if d.skip(key) {
		return
	}
	seen := map[string]int{}
	for i, l := range labels {
		ik := fmt.Sprintf("%s[%d]", key, i)
		switch first, dup := seen[l]; {
		case dup:
			d.addAt(ik, fmt.Sprintf("label %q is listed twice (first as item %d)", l, first))
		case !spec.Supports(l):
			msg := fmt.Sprintf("unknown label %q: %s supports %s", l, key[:len(key)-len(".labels")], strings.Join(spec.Labels, ", "))
			if l == "job" {
				msg += ` (the job name's label is "job_name")`
			}
			d.addAt(ik, msg)
		}
		seen[l] = i
	}
}

func quotedList[T ~string](items []T) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
