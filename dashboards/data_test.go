package dashboards_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// TestQueriesReturnData evaluates every panel query, with "All" selected in
// each variable, against two hours of synthetic series shaped like the
// exporter's output, and requires each to return at least one number. It
// catches what parsing cannot: a misspelt label value, a vector match that
// errors (many-to-many) or a query that only ever yields NaN.
//
// promtool evaluates the queries: each becomes an alerting rule that fires
// when the query returns a number, and the unit test expects every one to
// fire.
func TestQueriesReturnData(t *testing.T) {
	promtool := deploytest.RequireTool(t, "promtool", deploytest.HintPromtool)

	type expAlert struct {
		ExpLabels map[string]string `yaml:"exp_labels"`
	}
	type alertTest struct {
		EvalTime  string     `yaml:"eval_time"`
		Alertname string     `yaml:"alertname"`
		ExpAlerts []expAlert `yaml:"exp_alerts"`
	}
	type rule struct {
		Alert string `yaml:"alert"`
		Expr  string `yaml:"expr"`
	}
	var rules []rule
	var tests []alertTest
	where := map[string]string{}
	for _, want := range dashboards {
		d := load(t, want.file)
		vars := map[string]variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		for _, p := range dataPanels(d) {
			for _, tg := range p.Targets {
				expr, err := substituteWith(tg.Expr, vars, ".*")
				if err != nil {
					t.Fatalf("%s panel %d: %v", want.file, p.ID, err)
				}
				name := fmt.Sprintf("q%03d", len(rules))
				where[name] = fmt.Sprintf("%s panel %d %q target %s", want.file, p.ID, p.Title, tg.RefID)
				// NaN > -Inf is false, so a query yielding only NaN fails.
				rules = append(rules, rule{Alert: name, Expr: fmt.Sprintf("count((%s) > -Inf)", expr)})
				tests = append(tests, alertTest{EvalTime: "2h", Alertname: name, ExpAlerts: []expAlert{{ExpLabels: map[string]string{}}}})
			}
		}
	}

	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "queries.yml"), map[string]any{
		"groups": []any{map[string]any{"name": "dashboard-queries", "rules": rules}},
	})
	writeYAML(t, filepath.Join(dir, "queries_test.yml"), map[string]any{
		"rule_files":          []string{"queries.yml"},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":        "15s",
			"input_series":    syntheticSeries(deploytest.ExportedMetricNames()),
			"alert_rule_test": tests,
		}},
	})
	out, err := deploytest.Run(t, dir, promtool, "test", "rules", "queries_test.yml")
	if err != nil {
		var b strings.Builder
		for name, w := range where {
			if strings.Contains(out, "alertname: "+name+",") {
				fmt.Fprintf(&b, "%s is %s\n", name, w)
			}
		}
		t.Fatalf("some dashboard queries return no data on synthetic series:\n%s\n%s", out, b.String())
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %s: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// samples covers the two hours the queries are evaluated at, every 15 s.
const samples = 480

// labelValues gives each label the values the synthetic series take; a
// label with several values yields one series per value.
var labelValues = map[string][]string{
	"project":        {"group/app"},
	"ref":            {"main", "other", "merge_request"},
	"source":         {"push", "schedule"},
	"first_status":   {"failed"},
	"stage":          {"test"},
	"job_name":       {"unit"},
	"failure_reason": {"script_failure"},
	"allow_failure":  {"false", "true"},
	"file_type":      {"archive"},
	"endpoint":       {"/projects/:id/jobs"},
	"code":           {"200", "429"},
	"reason":         {"rate_limited"},
	"shard":          {"0"},
	"total_shards":   {"1"},
}

// statusValues differ per family: the exporter keeps a single status at 1
// for gitlab_ci_job_last_status and gitlab_ci_pipeline_last_status (failed
// here, for the failing-refs panel), and only unfinished statuses in
// gitlab_ci_jobs and gitlab_ci_pipelines.
var statusValues = map[string][]string{
	"gitlab_ci_job_duration_seconds": {"success", "failed"},
	"gitlab_ci_jobs":                 {"pending", "running"},
	"gitlab_ci_job_last_status":      {"success"},

	"gitlab_ci_pipeline_duration_seconds":  {"success", "failed"},
	"gitlab_ci_pipeline_wall_time_seconds": {"success", "failed"},
	"gitlab_ci_pipelines_finished_total":   {"success", "failed"},
	"gitlab_ci_pipeline_reruns_total":      {"success"},
	"gitlab_ci_pipeline_last_status":       {"failed"},
	"gitlab_ci_pipelines":                  {"pending", "running"},
}

// syntheticSeries returns series for every family, with the target labels
// Prometheus adds.
func syntheticSeries(families []deploytest.Family) []inputSeries {
	var out []inputSeries
	for _, f := range families {
		for _, labels := range labelSets(f) {
			labels = append(labels, `job="gitlab_jobs_exporter"`)
			labels = append(labels, `instance="exporter:9835"`)
			name := func(suffix string, extra ...string) string {
				return f.Name + suffix + "{" + strings.Join(append(slices.Clone(labels), extra...), ", ") + "}"
			}
			switch f.Type {
			case "histogram":
				// Per 15 s: two observations, one of them above 60.
				out = append(out,
					inputSeries{name("_bucket", `le="1"`), fmt.Sprintf("0x%d", samples)},
					inputSeries{name("_bucket", `le="60"`), fmt.Sprintf("0+1x%d", samples)},
					inputSeries{name("_bucket", `le="+Inf"`), fmt.Sprintf("0+2x%d", samples)},
					inputSeries{name("_count"), fmt.Sprintf("0+2x%d", samples)},
					inputSeries{name("_sum"), fmt.Sprintf("0+130x%d", samples)},
				)
			case "counter":
				out = append(out, inputSeries{name(""), fmt.Sprintf("0+1x%d", samples)})
			default:
				out = append(out, inputSeries{name(""), gaugeValues(f.Name)})
			}
		}
	}
	out = append(out, inputSeries{`up{job="gitlab_jobs_exporter", instance="exporter:9835"}`, fmt.Sprintf("1x%d", samples)})
	return out
}

func gaugeValues(name string) string {
	switch {
	case name == "gitlab_jobs_exporter_project_last_success_timestamp_seconds":
		return fmt.Sprintf("0+15x%d", samples) // polled every scrape
	case strings.HasSuffix(name, "_timestamp_seconds"):
		return fmt.Sprintf("0x%d", samples) // created or finished at time 0
	case name == "gitlab_jobs_exporter_rate_limit_remaining":
		return fmt.Sprintf("1500x%d", samples)
	}
	return fmt.Sprintf("1x%d", samples)
}

// labelSets returns the cross product of the family's label values.
func labelSets(f deploytest.Family) [][]string {
	sets := [][]string{nil}
	for _, l := range f.Labels {
		values := labelValues[l]
		if l == "status" {
			values = statusValues[f.Name]
		}
		if len(values) == 0 {
			values = []string{"x"}
		}
		var next [][]string
		for _, s := range sets {
			for _, v := range values {
				next = append(next, append(slices.Clone(s), fmt.Sprintf("%s=%q", l, v)))
			}
		}
		sets = next
	}
	return sets
}
