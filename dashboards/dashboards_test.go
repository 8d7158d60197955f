// Package dashboards_test checks the Grafana dashboards in this directory:
// schema, layout rules, template variables and every PromQL query.
package dashboards_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// The dashboards and what the README and the Grafana provisioning promise
// about them; uids are stable so links and bookmarks survive re-imports.
var dashboards = []struct {
	file, uid, title string
	queryVars        []string // multi-select query variables it must offer
}{
	{"gitlab-ci-jobs.json", "gitlab-ci-jobs", "GitLab CI jobs", []string{"project", "ref", "job_name"}},
	{"gitlab-jobs-exporter-health.json", "gitlab-jobs-exporter-health", "gitlab_jobs_exporter health", []string{"instance", "project"}},
	{"gitlab-ci-runners.json", "gitlab-ci-runners", "GitLab CI runners and queues", []string{"runner_type"}},
	{"gitlab-ci-pipelines.json", "gitlab-ci-pipelines", "GitLab CI pipelines", []string{"project", "ref", "source"}},
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  map[string]any `json:"datasource"`
	GridPos     struct{ H, W, X, Y int }
	Targets     []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Instant    bool           `json:"instant"`
		Datasource map[string]any `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []panel `json:"panels"` // a row's collapsed panels
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
}

func load(t *testing.T, file string) dashboard {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
	return d
}

// dataPanels returns every panel that queries data, rows' children included.
func dataPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestEveryDashboardIsListed(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, d := range dashboards {
		listed = append(listed, d.file)
	}
	slices.Sort(files)
	slices.Sort(listed)
	if !slices.Equal(files, listed) {
		t.Errorf("dashboards on disk %v, tested %v: add new dashboards to the table", files, listed)
	}
}

func TestSchema(t *testing.T) {
	schemaPath := filepath.Join(deploytest.SharedDir(t), "grafana", "dashboard.jsonschema.json")
	if _, err := os.Stat(schemaPath); err != nil {
		t.Fatalf("Grafana dashboard schema: %v (expected in ../shared beside the repository)", err)
	}
	schema, err := jsonschema.NewCompiler().Compile(schemaPath)
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaPath, err)
	}
	for _, d := range dashboards {
		t.Run(d.file, func(t *testing.T) {
			f, err := os.Open(d.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			doc, err := jsonschema.UnmarshalJSON(f)
			if err != nil {
				t.Fatalf("decoding %s: %v", d.file, err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Errorf("%s does not match the Grafana dashboard schema:\n%v", d.file, err)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	for _, want := range dashboards {
		t.Run(want.file, func(t *testing.T) {
			d := load(t, want.file)
			if d.UID != want.uid || d.Title != want.title {
				t.Errorf("uid, title = %q, %q; want %q, %q", d.UID, d.Title, want.uid, want.title)
			}
			ids := map[int]bool{}
			for _, p := range d.Panels {
				if ids[p.ID] {
					t.Errorf("panel id %d used twice", p.ID)
				}
				ids[p.ID] = true
			}
			panels := dataPanels(d)
			if len(panels) == 0 {
				t.Fatal("dashboard has no panel")
			}
			for _, p := range panels {
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if strings.TrimSpace(p.Title) == "" {
					t.Errorf("%s has no title", where)
				}
				if strings.TrimSpace(p.Description) == "" {
					t.Errorf("%s has no description", where)
				}
				if p.FieldConfig.Defaults.Unit == "" {
					t.Errorf("%s has no fieldConfig.defaults.unit", where)
				}
				if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
					t.Errorf("%s has gridPos %+v outside the 24-column grid", where, p.GridPos)
				}
				if p.Datasource["uid"] != "${datasource}" {
					t.Errorf("%s datasource = %v, want the ${datasource} variable", where, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s has no query", where)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("%s: refId %q empty or repeated", where, tg.RefID)
					}
					refs[tg.RefID] = true
					if tg.Datasource != nil && tg.Datasource["uid"] != "${datasource}" {
						t.Errorf("%s target %s datasource = %v, want ${datasource}", where, tg.RefID, tg.Datasource)
					}
				}
			}
		})
	}
}

func TestVariables(t *testing.T) {
	series := deploytest.Series(deploytest.ExportedMetricNames())
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, want := range dashboards {
		t.Run(want.file, func(t *testing.T) {
			d := load(t, want.file)
			vars := map[string]variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || ds.Query != "prometheus" {
				t.Errorf("variable datasource = %+v, want type datasource with query prometheus", ds)
			}
			for _, name := range want.queryVars {
				v, ok := vars[name]
				if !ok {
					t.Errorf("variable %s is missing", name)
					continue
				}
				if v.Type != "query" || !v.Multi || !v.IncludeAll {
					t.Errorf("variable %s: type %q multi %v includeAll %v, want a multi-select query variable with All", name, v.Type, v.Multi, v.IncludeAll)
				}
				q, _ := v.Query.(string)
				m := labelValues.FindStringSubmatch(q)
				if m == nil {
					t.Errorf("variable %s query %q is not label_values(selector, label)", name, q)
					continue
				}
				expr, err := substitute(m[1], vars)
				if err != nil {
					t.Errorf("variable %s: %v", name, err)
					continue
				}
				for _, err := range deploytest.CheckMetrics(expr, series) {
					t.Errorf("variable %s: %v", name, err)
				}
				sels, _ := deploytest.Selectors(expr)
				if len(sels) != 1 {
					continue
				}
				for _, metric := range sels[0].Names {
					if !slices.Contains(series[metric], m[2]) {
						t.Errorf("variable %s takes label %q, which %s does not have", name, m[2], metric)
					}
				}
			}
		})
	}
}

// rangeSel captures every range literal ([5m], [$__rate_interval]) of an
// expression. The dashboards use no regex character class in a matcher,
// which this would also catch.
var rangeSel = regexp.MustCompile(`\[([^\]]*)\]`)

func TestRangesUseGrafanaIntervals(t *testing.T) {
	for _, want := range dashboards {
		d := load(t, want.file)
		for _, p := range dataPanels(d) {
			for _, tg := range p.Targets {
				for _, m := range rangeSel.FindAllStringSubmatch(tg.Expr, -1) {
					ok := m[1] == "$__rate_interval" || (tg.Instant && m[1] == "$__range")
					if !ok {
						t.Errorf("%s panel %d %q target %s uses range [%s]; use [$__rate_interval] (or [$__range] in an instant query)",
							want.file, p.ID, p.Title, tg.RefID, m[1])
					}
				}
				usesRate := regexp.MustCompile(`\b(rate|irate|increase)\(`).MatchString(tg.Expr)
				if usesRate && !strings.Contains(tg.Expr, "[$__rate_interval]") && !tg.Instant {
					t.Errorf("%s panel %d %q target %s: a range query using rate/increase must use $__rate_interval", want.file, p.ID, p.Title, tg.RefID)
				}
			}
		}
	}
}

// TestQueries checks every query is valid PromQL (Prometheus 3's parser, and
// Debian's promtool, a Prometheus 2) and selects only metrics and labels the
// exporter exports.
func TestQueries(t *testing.T) {
	series := deploytest.Series(deploytest.ExportedMetricNames())
	var exprs []deploytest.NamedExpr
	for _, want := range dashboards {
		d := load(t, want.file)
		vars := map[string]variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		for _, p := range dataPanels(d) {
			for _, tg := range p.Targets {
				where := fmt.Sprintf("%s panel %d %q target %s", want.file, p.ID, p.Title, tg.RefID)
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s has no expression", where)
					continue
				}
				expr, err := substitute(tg.Expr, vars)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				for _, err := range deploytest.CheckMetrics(expr, series) {
					t.Errorf("%s: %v", where, err)
				}
				exprs = append(exprs, deploytest.NamedExpr{Where: where, Expr: expr})
			}
		}
	}
	t.Run("promtool 2", func(t *testing.T) {
		if out, ok := deploytest.CheckPromQL(t, exprs); !ok {
			t.Errorf("promtool rejects dashboard queries:\n%s", out)
		}
	})
}

// grafanaGlobals are Grafana's built-in variables, replaced by typical values.
var grafanaGlobals = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__range":         "1h",
	"__range_s":       "3600",
}

// substitute replaces Grafana variables as Grafana would before sending the
// query: a multi-value variable becomes a regex alternation.
func substitute(expr string, vars map[string]variable) (string, error) {
	return substituteWith(expr, vars, "value-a|value-b")
}

// substituteWith replaces every multi-value variable by multi.
func substituteWith(expr string, vars map[string]variable, multi string) (string, error) {
	return deploytest.SubstituteVariables(expr, func(name string) (string, error) {
		if v, ok := grafanaGlobals[name]; ok {
			return v, nil
		}
		v, ok := vars[name]
		switch {
		case !ok:
			return "", fmt.Errorf("uses undefined variable $%s", name)
		case v.Type == "datasource":
			return "", fmt.Errorf("uses $%s inside a query", name)
		case v.Multi:
			return multi, nil
		}
		return "value-a", nil
	})
}

func TestSubstitute(t *testing.T) {
	vars := map[string]variable{
		"project":    {Name: "project", Type: "query", Multi: true},
		"single":     {Name: "single", Type: "query"},
		"datasource": {Name: "datasource", Type: "datasource"},
	}
	tests := []struct {
		in, want, wantErr string
	}{
		{`rate(m{project=~"$project"}[$__rate_interval])`, `rate(m{project=~"value-a|value-b"}[1m])`, ""},
		{`m{a=~"${project:regex}", b="[[single]]"}[${__range}]`, `m{a=~"value-a|value-b", b="value-a"}[1h]`, ""},
		{`m{a="$nope"}`, "", "undefined variable $nope"},
		{`m{a="$datasource"}`, "", "$datasource inside a query"},
	}
	for _, tc := range tests {
		got, err := substitute(tc.in, vars)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("substitute(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("substitute(%q): %v", tc.in, err)
		case got != tc.want:
			t.Errorf("substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
