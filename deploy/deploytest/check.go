package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// CheckMetrics reports an expr that Prometheus's parser rejects, and every
// selector of it that names a series missing from series or matches on a
// label that series does not carry (a matcher on a missing label silently
// selects nothing, so a typo would go unnoticed).
func CheckMetrics(expr string, series map[string][]string) []error {
	sels, err := Selectors(expr)
	if err != nil {
		return []error{fmt.Errorf("parsing expression: %w", err)}
	}
	if len(sels) == 0 {
		return []error{fmt.Errorf("expression selects no metric")}
	}
	var errs []error
	for _, sel := range sels {
		if len(sel.Names) == 0 {
			errs = append(errs, fmt.Errorf("selector with labels %v has no metric name", sel.Labels))
			continue
		}
		for _, name := range sel.Names {
			labels, ok := series[name]
			if !ok {
				errs = append(errs, fmt.Errorf("metric %q is not exported", name))
				continue
			}
			for _, l := range sel.Labels {
				if !slices.Contains(labels, l) {
					errs = append(errs, fmt.Errorf("metric %q has no label %q (it has %s)", name, l, strings.Join(labels, ", ")))
				}
			}
		}
	}
	return errs
}

// NamedExpr is a PromQL expression with a human-readable origin, used to say
// where a bad expression came from.
type NamedExpr struct {
	Where string
	Expr  string
}

// CheckPromQL validates expressions with promtool by writing them as recording
// rules and running `promtool check rules`. It returns promtool's output and
// whether every expression parsed.
func CheckPromQL(t testing.TB, exprs []NamedExpr) (string, bool) {
	t.Helper()
	promtool := RequireTool(t, "promtool", HintPromtool)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	g := group{Name: "expressions"}
	for i, e := range exprs {
		g.Rules = append(g.Rules, rule{Record: fmt.Sprintf("expr_%03d", i), Expr: e.Expr})
	}
	b, err := yaml.Marshal(map[string][]group{"groups": {g}})
	if err != nil {
		t.Fatalf("encoding rules: %v", err)
	}
	path := filepath.Join(t.TempDir(), "exprs.rules.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	out, err := Run(t, "", promtool, "check", "rules", path)
	if err == nil {
		return out, true
	}
	// Name the origin of each rule promtool complains about.
	var b2 strings.Builder
	b2.WriteString(out)
	for i, e := range exprs {
		name := fmt.Sprintf("expr_%03d", i)
		if strings.Contains(out, `"`+name+`"`) {
			fmt.Fprintf(&b2, "%s is %s:\n%s\n", name, e.Where, e.Expr)
		}
	}
	return b2.String(), false
}
