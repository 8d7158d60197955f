package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestParseProblems pins the exact "file:line: key: message" of every class
// of problem. Each document is complete, so line numbers are read off it.
func TestParseProblems(t *testing.T) {
	const ok = "gitlab:\n  url: https://gitlab.example.com\nprojects: [a/b]\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown nested key", "gitlab:\n  url: https://g.example.com\n  tokenfile: /x\nprojects: [a/b]\n",
			[]string{"c.yaml:3: gitlab.tokenfile: unknown key (did you mean \"token_file\"?)"}},
		{"unknown top-level key", ok + "polling: {interval: 1s}\n",
			[]string{"c.yaml:4: polling: unknown key"}},
		{"unknown key in list item", ok + "groups:\n  - path: g\n    inclde: x\n",
			[]string{"c.yaml:6: groups[0].inclde: unknown key (did you mean \"include\"?)"}},
		{"duplicate key", ok + "poll:\n  interval: 1m\n  interval: 2m\n",
			[]string{"c.yaml:6: poll.interval: duplicate key (first set at line 5)"}},
		{"number wanted", "gitlab:\n  url: https://g.example.com\n  requests_per_second: fast\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.requests_per_second: want a number, got "fast"`}},
		{"quoted number is a string", ok + "gitlab2: 1\nmetrics:\n  duration: {buckets: [1, \"2\"]}\n",
			[]string{`c.yaml:4: gitlab2: unknown key (did you mean "gitlab"?)`, `c.yaml:6: metrics.duration.buckets[1]: want a number, got "2"`}},
		{"duplicate section", ok + "gitlab: {}\n",
			[]string{"c.yaml:4: gitlab: duplicate key (first set at line 1)"}},
		{"float for integer", "gitlab:\n  url: https://g.example.com\n  burst: 1.5\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.burst: want an integer, got "1.5"`}},
		{"integer overflow", "gitlab:\n  url: https://g.example.com\n  burst: 99999999999999999999\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.burst: want an integer, got "99999999999999999999"`}},
		{"bool wanted", "gitlab:\n  url: https://g.example.com\n  insecure_skip_verify: yes\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.insecure_skip_verify: want true or false, got "yes"`}},
		{"float for integer through an alias", "gitlab:\n  url: https://g.example.com\n  requests_per_second: &r 2.5\n  burst: *r\n  insecure_skip_verify: {<<: {}}\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.burst: want an integer, got "2.5"`, "c.yaml:5: gitlab.insecure_skip_verify: want true or false, got a mapping"}},
		{"bool through a merge key", ok + "groups:\n  - <<: {include_subgroups: yes}\n    path: g\n",
			[]string{`c.yaml:5: groups[0].include_subgroups: want true or false, got "yes"`}},
		{"a bad include_subgroups stops no other check of the groups", ok + "groups:\n  - path: /g\n    include_subgroups: maybe\n  - path: g\n  - path: G\n",
			[]string{`c.yaml:5: groups[0].path: want a group path or a positive numeric id, got "/g": path must not start or end with a slash`,
				`c.yaml:6: groups[0].include_subgroups: want true or false, got "maybe"`,
				`c.yaml:8: groups[2].path: group "G" is listed twice (first at line 7)`}},
		{"a bad duration through a merge key keeps the default", ok + "poll:\n  <<: {interval: 5x}\n",
			[]string{`c.yaml:5: poll.<<.interval: invalid duration "5x": want a Go duration such as "30s", "5m" or "1h30m"`}},
		{"null keys and an aliased null item", "gitlab:\n  url: https://g.example.com\n  ca_file: &n\n~: 1\npoll: {null: 5x}\nprojects: [a/b, *n, c/d]\n",
			[]string{"c.yaml:4: ~: unknown key", "c.yaml:5: poll.null: unknown key",
				`c.yaml:6: projects[1]: want a project path like "group/project" or a positive numeric id, got null`}},
		{"infinite number", "gitlab:\n  url: https://g.example.com\n  requests_per_second: .inf\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.requests_per_second: want a finite number, got ".inf"`}},
		{"mapping wanted", "gitlab: https://g.example.com\nprojects: [a/b]\n",
			[]string{"c.yaml:1: gitlab: want a mapping, got a string"}},
		{"list wanted", "gitlab:\n  url: https://g.example.com\nprojects: a/b\n",
			[]string{`c.yaml:3: projects: want a list, got "a/b"`}},
		{"string wanted", "gitlab:\n  url: [https://g.example.com]\nprojects: [a/b]\n",
			[]string{"c.yaml:2: gitlab.url: want a string, got a list"}},
		{"bad duration", ok + "poll:\n  interval: 5x\n",
			[]string{`c.yaml:5: poll.interval: invalid duration "5x": want a Go duration such as "30s", "5m" or "1h30m"`}},
		{"days", ok + "poll:\n  retry_window: 1d\n",
			[]string{`c.yaml:5: poll.retry_window: invalid duration "1d": days, weeks and years are not supported, use hours (e.g. "24h")`}},
		{"unitless duration", ok + "discovery:\n  interval: 300\n",
			[]string{`c.yaml:5: discovery.interval: invalid duration "300": missing unit (e.g. "300s")`}},
		{"duration as list", ok + "gitlab2: x\npoll:\n  interval: [1s]\n",
			[]string{`c.yaml:4: gitlab2: unknown key (did you mean "gitlab"?)`, `c.yaml:6: poll.interval: want a duration such as "30s", got a list`}},
		{"durations too small or negative", ok + "poll:\n  interval: 500ms\n  initial_lookback: -1m\n  parked_recheck_interval: 0s\ndiscovery:\n  interval: 0s\n",
			[]string{"c.yaml:5: poll.interval: must be at least 1s, got 500ms",
				"c.yaml:6: poll.initial_lookback: must not be negative, got -1m",
				"c.yaml:7: poll.parked_recheck_interval: must be at least 1s, got 0s",
				"c.yaml:9: discovery.interval: must be at least 1s, got 0s"}},
		{"parked jobs dropped before their first recheck", ok + "poll:\n  parked_recheck_interval: 1h\n  parked_max_age: 30m\n",
			[]string{"c.yaml:6: poll.parked_max_age: must be at least poll.parked_recheck_interval (1h), got 30m"}},
		{"negative and zero numbers", "gitlab:\n  url: https://g.example.com\n  requests_per_second: -1\n  burst: -1\n  max_concurrent_requests: 0\n  max_retries: -2\n  timeout: 0s\nprojects: [a/b]\n",
			[]string{"c.yaml:3: gitlab.requests_per_second: must be greater than 0, got -1",
				"c.yaml:4: gitlab.burst: must be at least 1, got -1",
				"c.yaml:5: gitlab.max_concurrent_requests: must be at least 1, got 0",
				"c.yaml:6: gitlab.max_retries: must not be negative, got -2",
				"c.yaml:7: gitlab.timeout: must be at least 1ms, got 0s"}},
		{"bad regexes", ok + "groups:\n  - path: g\n  - path: h\n    include: 'a(b'\nrefs:\n  tracked: '*'\n",
			[]string{"c.yaml:7: groups[1].include: invalid regular expression: error parsing regexp: missing closing ): `a(b`",
				"c.yaml:9: refs.tracked: invalid regular expression: error parsing regexp: missing argument to repetition operator: `*`"}},
		{"empty regex", ok + "refs:\n  tracked: ''\n",
			[]string{"c.yaml:5: refs.tracked: empty regular expression matches only the empty string; omit the key instead"}},
		{"url without scheme", "gitlab:\n  url: gitlab.example.com\nprojects: [a/b]\n",
			[]string{`c.yaml:2: gitlab.url: want an http or https URL with a host, got "gitlab.example.com" (did you mean "https://gitlab.example.com"?)`}},
		{"url with other scheme", "gitlab:\n  url: ftp://gitlab.example.com\nprojects: [a/b]\n",
			[]string{`c.yaml:2: gitlab.url: want an http or https URL with a host, got "ftp://gitlab.example.com"`}},
		{"url without host", "gitlab:\n  url: https:///x\nprojects: [a/b]\n",
			[]string{`c.yaml:2: gitlab.url: want an http or https URL with a host, got "https:///x"`}},
		{"url with api path", "gitlab:\n  url: https://g.example.com/api/v4/\nprojects: [a/b]\n",
			[]string{`c.yaml:2: gitlab.url: want the GitLab base URL, without "/api/v4"`}},
		{"url with credentials is not echoed", "gitlab:\n  url: https://u:hunter2@g.example.com\nprojects: [a/b]\n",
			[]string{"c.yaml:2: gitlab.url: must not contain credentials; pass the token separately"}},
		{"url missing", "gitlab:\n  burst: 1\nprojects: [a/b]\n",
			[]string{`c.yaml:1: gitlab.url: required: the base URL of the GitLab instance, e.g. "https://gitlab.com"`}},
		{"gitlab section missing", "projects: [a/b]\n",
			[]string{`c.yaml: gitlab.url: required: the base URL of the GitLab instance, e.g. "https://gitlab.com"`}},
		{"unknown auth mode", "gitlab:\n  url: https://g.example.com\n  auth_mode: basic\nprojects: [a/b]\n",
			[]string{`c.yaml:3: gitlab.auth_mode: unknown auth_mode "basic": want "private-token" or "bearer"`}},
		{"neither projects nor groups", "gitlab:\n  url: https://g.example.com\n",
			[]string{"c.yaml: projects: no projects or groups configured: list at least one entry under projects or groups"}},
		{"empty projects and groups", "gitlab:\n  url: https://g.example.com\nprojects: []\ngroups: []\n",
			[]string{"c.yaml:3: projects: no projects or groups configured: list at least one entry under projects or groups"}},
		{"bad project items", "gitlab:\n  url: https://g.example.com\nprojects:\n  - 0\n  - -3\n  - 1.5\n  - true\n  - ''\n  - ~\n  - {id: 1}\n  - solo\n  - /a/b\n  - a//b\n  - a/b c\n",
			[]string{
				`c.yaml:4: projects[0]: want a project path like "group/project" or a positive numeric id, got "0"`,
				`c.yaml:5: projects[1]: want a project path like "group/project" or a positive numeric id, got "-3"`,
				`c.yaml:6: projects[2]: want a project path like "group/project" or a positive numeric id, got "1.5"`,
				`c.yaml:7: projects[3]: want a project path like "group/project" or a positive numeric id, got "true"`,
				`c.yaml:8: projects[4]: want a project path like "group/project" or a positive numeric id, got "": path is empty`,
				`c.yaml:9: projects[5]: want a project path like "group/project" or a positive numeric id, got null`,
				`c.yaml:10: projects[6]: want a project path like "group/project" or a positive numeric id, got a mapping`,
				`c.yaml:11: projects[7]: want a project path like "group/project" or a positive numeric id, got "solo": path has no namespace`,
				`c.yaml:12: projects[8]: want a project path like "group/project" or a positive numeric id, got "/a/b": path must not start or end with a slash`,
				`c.yaml:13: projects[9]: want a project path like "group/project" or a positive numeric id, got "a//b": path has an empty segment`,
				`c.yaml:14: projects[10]: want a project path like "group/project" or a positive numeric id, got "a/b c": path contains whitespace or control characters`,
			}},
		{"duplicate projects and groups", "gitlab:\n  url: https://g.example.com\nprojects: [a/b, 7, A/B, \"7\"]\ngroups:\n  - path: g\n  - path: G\n",
			[]string{`c.yaml:3: projects[2]: project "A/B" is listed twice (first at line 3)`,
				`c.yaml:3: projects[3]: project "7" is listed twice (first at line 3)`,
				`c.yaml:6: groups[1].path: group "G" is listed twice (first at line 5)`}},
		{"group path missing or bad", ok + "groups:\n  - include_subgroups: false\n  - path: /g\n  - path: 0\n",
			[]string{"c.yaml:5: groups[0].path: required: the group's full path or numeric id",
				`c.yaml:6: groups[1].path: want a group path or a positive numeric id, got "/g": path must not start or end with a slash`,
				`c.yaml:7: groups[2].path: want a group path or a positive numeric id, got "0"`}},
		{"group item not a mapping", ok + "groups: [g]\n",
			[]string{"c.yaml:4: groups[0]: want a mapping, got a string"}},
		{"buckets", ok + "metrics:\n  duration: {buckets: [1, 3, 3, 2]}\n  queued_duration: {buckets: []}\n  artifact_size: {buckets: [-1, 5]}\n",
			[]string{"c.yaml:5: metrics.duration.buckets[2]: buckets must be strictly increasing, but 3 follows 3",
				"c.yaml:5: metrics.duration.buckets[3]: buckets must be strictly increasing, but 2 follows 3",
				"c.yaml:6: metrics.queued_duration.buckets: must not be empty; leave the key out to use the defaults",
				"c.yaml:7: metrics.artifact_size.buckets[0]: must not be negative, got -1"}},
		{"buckets in block style point at the item", ok + "metrics:\n  duration:\n    buckets:\n      - 10\n      - 5\n",
			[]string{"c.yaml:8: metrics.duration.buckets[1]: buckets must be strictly increasing, but 5 follows 10"}},
		{"labels a family does not have", ok + "metrics:\n  duration: {labels: [project, job, project, file_type]}\n  jobs:\n    labels: [status, status]\n",
			[]string{`c.yaml:5: metrics.duration.labels[1]: unknown label "job": metrics.duration supports project, ref, source, stage, job_name, status (the job name's label is "job_name")`,
				`c.yaml:5: metrics.duration.labels[2]: label "project" is listed twice (first as item 0)`,
				`c.yaml:5: metrics.duration.labels[3]: unknown label "file_type": metrics.duration supports project, ref, source, stage, job_name, status`,
				`c.yaml:7: metrics.jobs.labels[1]: label "status" is listed twice (first as item 0)`}},
		{"histogram form and keys of other kinds", ok + "metrics:\n  queued_duration: {histogram: sparse}\n  failures: {buckets: [1]}\n  series_ttl: -1h\n",
			[]string{`c.yaml:5: metrics.queued_duration.histogram: unknown histogram form "sparse": want "classic", "native", "both"`,
				"c.yaml:6: metrics.failures.buckets: unknown key",
				"c.yaml:7: metrics.series_ttl: must not be negative, got -1h"}},
		{"runner-pool labels", ok + "metrics:\n  queue_by_pool: {labels: [tags, project]}\n  pending_by_pool: {labels: [runner_type]}\n  runners: {labels: [runner, tags]}\n",
			[]string{`c.yaml:5: metrics.queue_by_pool.labels[1]: unknown label "project": metrics.queue_by_pool supports tags, runner_type`,
				`c.yaml:6: metrics.pending_by_pool.labels[0]: unknown label "runner_type": metrics.pending_by_pool supports tags`,
				`c.yaml:7: metrics.runners.labels[1]: unknown label "tags": metrics.runners supports runner, runner_type, status`}},
		{"pool rules", ok + "metrics:\n  tag_pools:\n    - pool: gpu\n    - match: 'a(b'\n      pool: x\n    - match: docker\n    - match: '(arm|amd)64,(.*)'\n      pool: '$3'\n    - match: '(?P<arch>arm64),.*'\n      pool: '$arch-$1_x'\n" +
			"  runner_pools:\n    - match: 'runner-.*'\n      pool: 'cost: $'\n    - {match: '(r)', pool: '${1}x $$ ${arch}'}\n    - [x]\n",
			[]string{"c.yaml:6: metrics.tag_pools[0].match: required: an (anchored) regular expression",
				"c.yaml:7: metrics.tag_pools[1].match: invalid regular expression: error parsing regexp: missing closing ): `a(b`",
				`c.yaml:9: metrics.tag_pools[2].pool: required: the pool's name, in which $1 or ${name} stand for the match's groups`,
				`c.yaml:11: metrics.tag_pools[3].pool: pool "$3" refers to group "3", which match "(arm|amd)64,(.*)" does not have (write ${1}x for group 1 followed by x)`,
				`c.yaml:13: metrics.tag_pools[4].pool: pool "$arch-$1_x" refers to group "1_x", which match "(?P<arch>arm64),.*" does not have (write ${1}x for group 1 followed by x)`,
				`c.yaml:16: metrics.runner_pools[0].pool: pool "cost: $" has a $ without a group after it (write $$ for a dollar)`,
				`c.yaml:17: metrics.runner_pools[1].pool: pool "${1}x $$ ${arch}" refers to group "arch", which match "(r)" does not have (write ${1}x for group 1 followed by x)`,
				"c.yaml:18: metrics.runner_pools[2]: want a mapping, got a list"}},
		{"misspelt families and family keys", ok + "metrics:\n  durations: {enabld: true}\n  duration: {enabld: true}\n  failures: {histogrm: classic, lables: []}\n",
			[]string{`c.yaml:5: metrics.durations: unknown key (did you mean "duration"?)`,
				`c.yaml:6: metrics.duration.enabld: unknown key (did you mean "enabled"?)`,
				"c.yaml:7: metrics.failures.histogrm: unknown key",
				`c.yaml:7: metrics.failures.lables: unknown key (did you mean "labels"?)`}},
		{"what yaml.v3 would take for a boolean or an integer", "gitlab:\n  url: https://g.example.com\n  max_retries: 1e3\n  insecure_skip_verify: off\nprojects: [a/b]\n" +
			"webhook: {enabled: on}\ngroups: [{path: g, include_subgroups: yes}]\nmetrics: {jobs: {enabled: 1}}\n",
			[]string{`c.yaml:3: gitlab.max_retries: want an integer, got "1e3"`,
				`c.yaml:4: gitlab.insecure_skip_verify: want true or false, got "off"`,
				`c.yaml:6: webhook.enabled: want true or false, got "on"`,
				`c.yaml:7: groups[0].include_subgroups: want true or false, got "yes"`,
				`c.yaml:8: metrics.jobs.enabled: want true or false, got "1"`}},
		{"null list items", ok + "groups: [~, {path: g}, {path: g}]\nmetrics:\n  duration: {labels: [~], buckets: [1, ~]}\n",
			[]string{"c.yaml:4: groups[0]: want a mapping, got null",
				`c.yaml:4: groups[2].path: group "g" is listed twice (first at line 4)`,
				"c.yaml:6: metrics.duration.labels[0]: want a label, got null",
				"c.yaml:6: metrics.duration.buckets[1]: want a number, got null"}},
		{"an alias is reported where it is used", ok + "poll:\n  interval: &i 5x\n  retry_window: *i\n",
			[]string{`c.yaml:5: poll.interval: invalid duration "5x": want a Go duration such as "30s", "5m" or "1h30m"`,
				`c.yaml:6: poll.retry_window: invalid duration "5x": want a Go duration such as "30s", "5m" or "1h30m"`}},
		{"pool rules after one that is no mapping", ok + "metrics:\n  tag_pools:\n    - [x]\n    - ~\n    - {match: a, pool: $1}\n",
			[]string{"c.yaml:6: metrics.tag_pools[0]: want a mapping, got a list",
				"c.yaml:7: metrics.tag_pools[1]: want a mapping, got null",
				`c.yaml:8: metrics.tag_pools[2].pool: pool "$1" refers to group "1", which match "a" does not have (write ${1}x for group 1 followed by x)`}},
		{"the old flat keys", ok + "metrics:\n  duration_buckets: [1]\n  native_histograms: true\n",
			[]string{"c.yaml:5: metrics.duration_buckets: unknown key", "c.yaml:6: metrics.native_histograms: unknown key"}},
		{"empty file", "", []string{"c.yaml: config is empty: want a mapping with at least gitlab and projects or groups"}},
		{"only comments", "# nothing\n\n# here\n", []string{"c.yaml: config is empty: want a mapping with at least gitlab and projects or groups"}},
		{"top level list", "- a\n", []string{"c.yaml:1: want a mapping of settings at the top level, got a list"}},
		{"syntax error: bad indentation", "gitlab:\n  url: https://g.example.com\n burst: 3\nprojects: [a/b]\n",
			[]string{"c.yaml:3: invalid YAML: did not find expected key"}},
		{"syntax error: tab", "gitlab:\n\turl: https://g.example.com\n",
			[]string{"c.yaml:2: invalid YAML: found character that cannot start any token"}},
		{"syntax error: unclosed flow list", ok + "metrics:\n  duration: {buckets: [1, 2\n",
			[]string{"c.yaml:5: invalid YAML: did not find expected ',' or ']'"}},
		{"syntax error on first line", "gitlab: url: x\n",
			[]string{"c.yaml:1: invalid YAML: mapping values are not allowed in this context"}},
		{"unknown alias", ok + "groups:\n  - path: *nope\n",
			[]string{"c.yaml:5: invalid YAML: unknown anchor 'nope' referenced"}},
		{"second document", ok + "---\npoll: {interval: 1m}\n",
			[]string{"c.yaml:4: more than one YAML document; put the whole config in one"}},
		{"bad merge source", ok + "refs:\n  <<: 3\n",
			[]string{`c.yaml:5: refs.<<: want a mapping or a list of mappings to merge, got a number`}},
		{"merge cycle", ok + "groups:\n  - &g {path: g, <<: *g}\n",
			[]string{"c.yaml:5: groups[0].<<: merge key includes the mapping it is in"}},
		{"many problems at once, in file order", "gitlab:\n  url: gitlab\n  tokenfile: x\n  burst: many\npoll:\n  interval: 5x\nmetrics:\n  duration: {buckets: [2, 1]}\n",
			[]string{`c.yaml:2: gitlab.url: want an http or https URL with a host, got "gitlab" (did you mean "https://gitlab"?)`,
				`c.yaml:3: gitlab.tokenfile: unknown key (did you mean "token_file"?)`,
				`c.yaml:4: gitlab.burst: want an integer, got "many"`,
				`c.yaml:6: poll.interval: invalid duration "5x": want a Go duration such as "30s", "5m" or "1h30m"`,
				"c.yaml:8: metrics.duration.buckets[1]: buckets must be strictly increasing, but 1 follows 2",
				"c.yaml: projects: no projects or groups configured: list at least one entry under projects or groups"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tt.yaml), "c.yaml", envWith("tok"))
			if err == nil {
				t.Fatalf("no error; config:\n%s", cfg)
			}
			if cfg != nil {
				t.Errorf("config returned along with an error")
			}
			got := problemLines(t, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q, want one line per problem", err.Error())
			}
		})
	}
}

func TestProblemFields(t *testing.T) {
	_, _, err := Parse([]byte("gitlab:\n  url: https://g.example.com\nprojects: [a/b]\ngroups:\n  - path: g\n  - path: h\n    exclude: '('\n"), "c.yaml", envWith("tok"))
	ce, _ := err.(*Error)
	if ce == nil || len(ce.Problems) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	want := Problem{File: "c.yaml", Line: 7, Column: 14, Key: "groups[1].exclude"}
	got := ce.Problems[0]
	got.Msg = ""
	if got != want {
		t.Errorf("problem = %+v, want %+v", got, want)
	}
}

func TestNullMeansDefault(t *testing.T) {
	cfg, _, err := Parse([]byte("gitlab:\n  url: https://g.example.com\n  timeout:\npoll: ~\nprojects: [a/b]\nmetrics:\n  duration:\n    buckets:\n"), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	def := defaultConfig()
	if cfg.GitLab.Timeout != def.GitLab.Timeout || cfg.Poll != def.Poll || !reflect.DeepEqual(cfg.Metrics.Families, def.Metrics.Families) {
		t.Errorf("null values did not keep defaults:\n%s", cfg)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	doc := `gitlab:
  url: https://g.example.com
defaults: &common
  include_subgroups: false
  exclude: ".*/archive/.*"
groups:
  - <<: *common
    path: a
  - <<: *common
    path: b
    include_subgroups: true
`
	// "defaults" is not a config key, so it is reported; the merges still
	// expand, with explicit keys winning over merged ones.
	cfg, _, err := Parse([]byte(doc), "c.yaml", envWith("tok"))
	if got := problemLines(t, err); !slices.Equal(got, []string{"c.yaml:3: defaults: unknown key"}) {
		t.Fatalf("problems = %q", got)
	}
	doc = strings.Replace(doc, "defaults: &common", "refs: {}\nx-defaults: &common", 1)
	_, _, err = Parse([]byte(doc), "c.yaml", envWith("tok"))
	if got := problemLines(t, err); !slices.Equal(got, []string{"c.yaml:4: x-defaults: unknown key"}) {
		t.Fatalf("problems = %q", got)
	}

	doc = `gitlab: &gl
  url: https://g.example.com
projects: [a/b]
groups:
  - &first
    path: a
    include_subgroups: false
    exclude: ".*/archive/.*"
  - <<: *first
    path: b
    include_subgroups: true
`
	cfg, _, err = Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Groups) != 2 {
		t.Fatalf("groups = %+v", cfg.Groups)
	}
	b := cfg.Groups[1]
	if b.Path != "b" || !*b.IncludeSubgroups || b.Exclude == nil || b.Exclude.Source != ".*/archive/.*" {
		t.Errorf("merged group = %+v (exclude %v)", b, b.Exclude)
	}
}

// TestAliasBomb checks that exponential alias expansion ends in an error
// instead of exhausting memory or time.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("gitlab:\n  url: https://g.example.com\nprojects: [a/b]\nrefs:\n  l0: &l0 {path: x}\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("  l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " {<<: [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("groups:\n  - <<: *l9\n")
	_, _, err := Parse([]byte(b.String()), "c.yaml", envWith("tok"))
	if got := problemLines(t, err); !slices.Equal(got, []string{"c.yaml: document contains excessive aliasing"}) {
		t.Fatalf("problems = %q, want yaml.v3's expansion limit", got)
	}
}
