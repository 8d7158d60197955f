package deploy_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
)

// TestExporterConfigsLoad runs the exporter's own config loader over the
// configuration files shipped with the deployments, so they cannot drift
// from what the exporter accepts.
func TestExporterConfigsLoad(t *testing.T) {
	// The token and secret files exist only inside the containers; the
	// environment variables take precedence, so the loader does not read
	// them.
	getenv := func(k string) string {
		switch k {
		case config.EnvToken:
			return "test-token"
		case config.EnvWebhookSecret:
			return "test-secret"
		}
		return ""
	}
	tests := []struct {
		file string
		// expected is a warning the file is known to cause: the demo's fake
		// GitLab speaks plain HTTP.
		expected string
	}{
		{"compose/exporter.yml", "plain http"},
		{"kubernetes/config.yaml", ""},
		{"kubernetes/sharded/config.yaml", ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			_, warnings, err := config.Parse(data, tc.file, getenv)
			if err != nil {
				t.Fatalf("the exporter rejects %s: %v", tc.file, err)
			}
			for _, w := range warnings {
				if tc.expected == "" || !strings.Contains(w, tc.expected) {
					t.Errorf("the exporter warns about %s: %s", tc.file, w)
				}
			}
		})
	}
}
