// Package prometheus_test checks the Prometheus configuration and alerting
// rules in deploy/prometheus with promtool and against the exporter's metrics.
package prometheus_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		HonorLabels   bool   `yaml:"honor_labels"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func decode[T any](t *testing.T, name string) T {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	var v T
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return v
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var out []rule
	for _, g := range decode[ruleFile](t, "alerts.yml").Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no alerting rule")
	}
	return out
}

// TestPromtool checks the rules with Debian's promtool (Prometheus 2.42)
// and Prometheus 3's, and the config, which uses Prometheus 3 settings,
// with Prometheus 3's.
func TestPromtool(t *testing.T) {
	tests := []struct {
		name     string
		promtool func(testing.TB) string
		args     []string
	}{
		{"2: check rules", promtool2, []string{"check", "rules", "alerts.yml"}},
		{"2: test rules", promtool2, []string{"test", "rules", "alerts_test.yml"}},
		{"3: check rules", promtool3, []string{"check", "rules", "alerts.yml"}},
		{"3: test rules", promtool3, []string{"test", "rules", "alerts_test.yml"}},
		{"3: test rules on native histograms", promtool3, []string{"test", "rules", "alerts_native_test.yml"}},
		{"3: check config", promtool3, []string{"check", "config", "prometheus.yml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			promtool := tc.promtool(t)
			out, err := deploytest.Run(t, ".", promtool, tc.args...)
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
		})
	}
}

func promtool2(t testing.TB) string {
	return deploytest.RequireTool(t, "promtool", deploytest.HintPromtool)
}
func promtool3(t testing.TB) string { return deploytest.Prometheus3Tool(t, "promtool") }

func TestAlertRulesAreWellFormed(t *testing.T) {
	series := deploytest.Series(deploytest.ExportedMetricNames())
	seen := map[string]bool{}
	for _, r := range alertRules(t) {
		id := r.Alert + "/" + r.Labels["severity"]
		t.Run(id, func(t *testing.T) {
			if seen[id] {
				t.Errorf("two rules for alert %s with the same severity", r.Alert)
			}
			seen[id] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("labels.severity = %q, want warning or critical", s)
			}
			for _, key := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[key]) == "" {
					t.Errorf("annotations.%s is missing", key)
				}
			}
			// Labels tell the receiver which project or instance is affected.
			if !strings.Contains(r.Annotations["description"], "$labels.") {
				t.Errorf("annotations.description names no label: %q", r.Annotations["description"])
			}
			if _, err := model.ParseDuration(r.For); err != nil {
				t.Errorf("for: %q: %v (every alert needs a `for` to ride out one bad scrape)", r.For, err)
			}
			for _, err := range deploytest.CheckMetrics(r.Expr, series) {
				t.Errorf("expr: %v", err)
			}
		})
	}
}

// TestEveryAlertIsTestedFiringAndNotFiring requires, for each alert and
// severity, a promtool test case where it fires and one where it does not.
func TestEveryAlertIsTestedFiringAndNotFiring(t *testing.T) {
	tf := decode[testFile](t, "alerts_test.yml")
	if !slices.Contains(tf.RuleFiles, "alerts.yml") {
		t.Fatalf("alerts_test.yml rule_files = %v, want it to load alerts.yml", tf.RuleFiles)
	}
	fires := map[string]bool{}
	silent := map[string]bool{}
	for _, r := range alertRules(t) {
		id := r.Alert + "/" + r.Labels["severity"]
		fires[id], silent[id] = false, false
	}
	for _, tc := range tf.Tests {
		for _, art := range tc.AlertRuleTest {
			firing := map[string]bool{}
			for _, a := range art.ExpAlerts {
				firing[a.ExpLabels["severity"]] = true
			}
			for _, sev := range []string{"warning", "critical"} {
				id := art.Alertname + "/" + sev
				if _, ok := fires[id]; !ok {
					continue
				}
				if firing[sev] {
					fires[id] = true
				} else {
					silent[id] = true
				}
			}
			for sev := range firing {
				if _, ok := fires[art.Alertname+"/"+sev]; !ok {
					t.Errorf("test %q expects %s/%s, which alerts.yml does not define", tc.Name, art.Alertname, sev)
				}
			}
		}
	}
	for id := range fires {
		if !fires[id] {
			t.Errorf("alerts_test.yml has no case where %s fires", id)
		}
		if !silent[id] {
			t.Errorf("alerts_test.yml has no case where %s does not fire", id)
		}
	}
}

// The end-to-end test drives failures and waits for this alert, so its
// window and `for` must let it fire within about two minutes.
func TestFailureRatioAlertFiresQuickly(t *testing.T) {
	var found bool
	for _, r := range alertRules(t) {
		if r.Alert != "GitLabCIJobFailureRatioHigh" {
			continue
		}
		found = true
		if d, err := model.ParseDuration(r.For); err != nil || time.Duration(d) > time.Minute {
			t.Errorf("for: %q, want at most 1m", r.For)
		}
		ranges := regexp.MustCompile(`\[([^\]]+)\]`).FindAllStringSubmatch(r.Expr, -1)
		if len(ranges) == 0 {
			t.Errorf("expr has no range selector: %s", r.Expr)
		}
		for _, m := range ranges {
			if d, err := model.ParseDuration(m[1]); err != nil || time.Duration(d) > 5*time.Minute {
				t.Errorf("range [%s], want at most 5m", m[1])
			}
		}
		for _, want := range []string{`allow_failure="false"`, `ref!="other"`} {
			if !strings.Contains(r.Expr, want) {
				t.Errorf("expr does not select %s: %s", want, r.Expr)
			}
		}
	}
	if !found {
		t.Fatal("alerts.yml has no GitLabCIJobFailureRatioHigh alert")
	}
}

// TestConfigReferences checks that prometheus.yml loads the rules and
// scrapes the exporter under the job name the rules and dashboards use.
func TestConfigReferences(t *testing.T) {
	cfg := decode[promConfig](t, "prometheus.yml")
	if !slices.Contains(cfg.RuleFiles, "alerts.yml") {
		t.Errorf("rule_files = %v, want alerts.yml", cfg.RuleFiles)
	}
	for _, f := range cfg.RuleFiles {
		if _, err := os.Stat(filepath.Clean(f)); err != nil {
			t.Errorf("rule file %s: %v", f, err)
		}
	}
	var job bool
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "gitlab_jobs_exporter" {
			continue
		}
		job = true
		if sc.HonorLabels {
			t.Error("the gitlab_jobs_exporter scrape job sets honor_labels: the exporter's labels (job_name) need no such override, and it would let them overwrite target labels")
		}
		for _, s := range sc.StaticConfigs {
			for _, target := range s.Targets {
				if !strings.HasSuffix(target, ":9835") {
					t.Errorf("exporter target %s does not use the default port 9835", target)
				}
			}
		}
	}
	if !job {
		t.Error(`prometheus.yml has no scrape job "gitlab_jobs_exporter", which alerts.yml's up{job=...} selects`)
	}
}
