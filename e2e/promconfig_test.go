//go:build unix

package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// exporterJob is the shipped scrape job of the exporter, which the alert
// rules and dashboards select.
const exporterJob = "gitlab_jobs_exporter"

// prometheus3ScrapeSettings are the shipped scrape settings Prometheus 2
// does not know.
var prometheus3ScrapeSettings = []string{"scrape_native_histograms", "convert_classic_histograms_to_nhcb"}

// promSetup is where a test's Prometheus finds everything.
type promSetup struct {
	root         string // the repository
	self         string // Prometheus' own address
	alertmanager string // "" for none
	// targets maps scrape jobs to exporter addresses: the shipped exporter
	// job, and further jobs scraped with the same settings.
	targets map[string]string
	// prometheus2 drops the Prometheus 3 scrape settings, as README says
	// to for Debian's Prometheus 2.42.
	prometheus2 bool
}

// writePrometheusConfig writes the shipped deploy/prometheus/prometheus.yml
// with the test's addresses, 1s intervals and the shipped rules by
// absolute path. Everything else stays as shipped.
func writePrometheusConfig(t *testing.T, dst string, s promSetup) {
	t.Helper()
	src := filepath.Join(s.root, "deploy", "prometheus", "prometheus.yml")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("decoding %s: %v", src, err)
	}
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
		cfg["global"] = global
	}
	global["scrape_interval"], global["scrape_timeout"], global["evaluation_interval"] = "1s", "1s", "1s"

	var rules []string
	for _, f := range asSlice(cfg["rule_files"]) {
		rules = append(rules, filepath.Join(s.root, "deploy", "prometheus", f.(string)))
	}
	if !slices.Contains(rules, filepath.Join(s.root, "deploy", "prometheus", "alerts.yml")) {
		t.Fatalf("%s does not load alerts.yml (rule_files %v)", src, cfg["rule_files"])
	}
	cfg["rule_files"] = rules

	alerting, _ := cfg["alerting"].(map[string]any)
	ams := asSlice(alerting["alertmanagers"])
	if len(ams) != 1 {
		t.Fatalf("%s: want one alertmanagers entry, got %v", src, alerting)
	}
	if s.alertmanager == "" {
		delete(cfg, "alerting")
	} else {
		ams[0].(map[string]any)["static_configs"] = []any{map[string]any{"targets": []string{s.alertmanager}}}
	}

	var shipped map[string]any
	var jobs []any
	for _, sc := range asSlice(cfg["scrape_configs"]) {
		m := sc.(map[string]any)
		switch name, _ := m["job_name"].(string); name {
		case exporterJob:
			shipped = m
		case "prometheus":
			m["static_configs"] = []any{map[string]any{"targets": []string{s.self}}}
			jobs = append(jobs, m)
		default:
			t.Fatalf("%s: scrape job %q unknown to this test", src, name)
		}
	}
	if shipped == nil {
		t.Fatalf("%s has no %s scrape job", src, exporterJob)
	}
	for _, name := range slices.Sorted(maps.Keys(s.targets)) {
		job := maps.Clone(shipped)
		job["job_name"] = name
		job["static_configs"] = []any{map[string]any{"targets": []string{s.targets[name]}}}
		if s.prometheus2 {
			for _, key := range prometheus3ScrapeSettings {
				delete(job, key)
			}
		}
		jobs = append(jobs, job)
	}
	cfg["scrape_configs"] = jobs
	writeYAML(t, dst, cfg)
}
