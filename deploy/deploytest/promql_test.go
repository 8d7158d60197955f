package deploytest

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestSelectors(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want []Selector
	}{
		{"bare metric", "up", []Selector{{Names: []string{"up"}}}},
		{"matchers", `up{job="x", instance=~"a|b"}`, []Selector{{Names: []string{"up"}, Labels: []string{"job", "instance"}}}},
		{"matcher values are not names", `m{a="b{c}", d!~'e,f'}`, []Selector{{Names: []string{"m"}, Labels: []string{"a", "d"}}}},
		{
			"functions, aggregation and label list",
			`histogram_quantile(0.95, sum by (le, project) (rate(h_bucket{project=~"a|b"}[1m])))`,
			[]Selector{{Names: []string{"h_bucket"}, Labels: []string{"project"}}},
		},
		{
			"binary operators, offset and subquery",
			`sum(rate(a_total[5m] offset 1h)) by (job) / on (job) group_left (x) max_over_time(b[1h:5m]) unless c @ end()`,
			[]Selector{{Names: []string{"a_total"}}, {Names: []string{"b"}}, {Names: []string{"c"}}},
		},
		{"native histogram functions", `histogram_fraction(-Inf, 60, sum(rate(h[1m])))`, []Selector{{Names: []string{"h"}}}},
		{"selector by __name__", `{__name__="m", a=~"x"}`, []Selector{{Names: []string{"m"}, Labels: []string{"a"}}}},
		{"__name__ alternatives", `{__name__=~"m_count|m"}`, []Selector{{Names: []string{"m_count", "m"}}}},
		{"__name__ pattern", `{__name__=~"m_.*"}`, []Selector{{Names: []string{"m_.*"}}}},
		{"string arguments", `label_replace(m, "dst", "$1", "src", "(.*)")`, []Selector{{Names: []string{"m"}}}},
		{"recording rule name with colons", `job:m:rate5m{a="b"}`, []Selector{{Names: []string{"job:m:rate5m"}, Labels: []string{"a"}}}},
		{"quoted metric name", `{"m", a="b"}`, []Selector{{Names: []string{"m"}, Labels: []string{"a"}}}},
		{"comment", "m # not_a_metric\n+ n", []Selector{{Names: []string{"m"}}, {Names: []string{"n"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Selectors(tc.expr)
			if err != nil {
				t.Fatalf("Selectors(%q): %v", tc.expr, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Selectors(%q) = %+v, want %+v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestSelectorsErrors(t *testing.T) {
	for _, expr := range []string{
		`m{a="b}`, `rate(m[5m)`, `m{a="b"`, `m{a=5}`,
		`rate(m[$__rate_interval])`, // a Grafana variable left in
		`nope(m)`,                   // no such function
		`double_exponential_smoothing(m[5m], .5, .5)`, // experimental: needs a feature flag
	} {
		if _, err := Selectors(expr); err == nil {
			t.Errorf("Selectors(%q) returned no error", expr)
		}
	}
}

// TestTheParserIsThePrometheusCIBuilds: the parser is the one of the
// Prometheus 3 that .ci/run builds, so both accept the same PromQL.
func TestTheParserIsThePrometheusCIBuilds(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	got := "nothing"
	if m := regexp.MustCompile(`(?m)^\s*github\.com/prometheus/prometheus (\S+)`).FindSubmatch(mod); m != nil {
		got = string(m[1])
	}
	if got != Prometheus3Version {
		t.Errorf("go.mod requires github.com/prometheus/prometheus %s, want Prometheus3Version %s", got, Prometheus3Version)
	}
}

func TestCheckMetrics(t *testing.T) {
	series := Series([]Family{
		{Name: "h_seconds", Type: "histogram", Labels: []string{"project"}},
		{Name: "c_total", Type: "counter", Labels: []string{"project", "reason"}},
	})
	tests := []struct {
		expr    string
		wantErr string // substring of the joined errors; empty for none
	}{
		{`sum by (le) (rate(h_seconds_bucket{project="a", le="60"}[1m]))`, ""},
		{`h_seconds_sum{instance="x", job="y"} / h_seconds_count`, ""},
		{`up{job="gitlab_jobs_exporter"} == 0`, ""},
		{`c_total{reason="x"}`, ""},
		{`histogram_count(rate(h_seconds{project="a"}[1m]))`, ""}, // native or NHCB
		{`h_seconds{le="1"}`, `has no label "le"`},
		{`h`, `metric "h" is not exported`},
		{`count by (project) ({__name__=~"h_seconds_count|h_seconds", project="a"})`, ""},
		{`{__name__="c_total", reason="x"}`, ""},
		{`{__name__=~"h_seconds|h_total", project="a"}`, `metric "h_total" is not exported`},
		{`{__name__="c_total", le="1"}`, `metric "c_total" has no label "le"`},
		{`c_total{status="x"}`, `metric "c_total" has no label "status"`},
		{`h_seconds_sum{le="1"}`, `has no label "le"`},
		{`{project="a"}`, "has no metric name"},
		{`vector(1)`, "selects no metric"},
	}
	for _, tc := range tests {
		errs := CheckMetrics(tc.expr, series)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		joined := strings.Join(msgs, "; ")
		switch {
		case tc.wantErr == "" && len(errs) > 0:
			t.Errorf("CheckMetrics(%q) = %s, want no error", tc.expr, joined)
		case tc.wantErr != "" && !strings.Contains(joined, tc.wantErr):
			t.Errorf("CheckMetrics(%q) = %q, want an error containing %q", tc.expr, joined, tc.wantErr)
		}
	}
}

func TestExportedMetricNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range ExportedMetricNames() {
		if seen[f.Name] {
			t.Errorf("family %s listed twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Type {
		case "counter", "gauge", "histogram":
		default:
			t.Errorf("family %s has unknown type %q", f.Name, f.Type)
		}
	}
}

// TestCIBuildsThePrometheus3TheTestsExpect: .ci/run builds the version the
// tests are written for.
func TestCIBuildsThePrometheus3TheTestsExpect(t *testing.T) {
	run, err := os.ReadFile(filepath.Join(RepoRoot(t), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "prom3_version=" + Prometheus3Version + "\n"; !strings.Contains(string(run), want) {
		t.Errorf(".ci/run does not set %q", want)
	}
}
