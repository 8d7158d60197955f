//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// The dashboards as far as evaluating their queries needs: the same shape
// dashboards/dashboards_test.go reads, which this package cannot import.

type dashboard struct {
	File       string
	Panels     []dashPanel `json:"panels"`
	Templating struct {
		List []dashVariable `json:"list"`
	} `json:"templating"`
}

type dashPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"` // a collapsed row's panels
}

type dashVariable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query any    `json:"query"`
	Multi bool   `json:"multi"`
}

// loadDashboards reads every dashboards/*.json of the repository.
func loadDashboards(t *testing.T, root string) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found in %s/dashboards (%v)", root, err)
	}
	var out []dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("decoding %s: %v", f, err)
		}
		d.File = filepath.Base(f)
		out = append(out, d)
	}
	return out
}

// dataPanels returns the panels that query data, rows' children included.
func (d dashboard) dataPanels() []dashPanel {
	var out []dashPanel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// substitute replaces Grafana variables as Grafana would with "All"
// selected in every multi-value variable (a regex matching anything), and
// Grafana's globals by the values in globals.
func (d dashboard) substitute(expr string, globals map[string]string) (string, error) {
	vars := map[string]dashVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	return deploytest.SubstituteVariables(expr, func(name string) (string, error) {
		if v, ok := globals[name]; ok {
			return v, nil
		}
		v, ok := vars[name]
		switch {
		case !ok:
			return "", fmt.Errorf("uses undefined variable $%s", name)
		case v.Multi:
			return ".*", nil
		}
		return "", fmt.Errorf("uses single-value variable $%s, which this test has no value for", name)
	})
}

var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
