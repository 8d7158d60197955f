package app

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// TestGitLabTLSVerification: TLS to GitLab is verified by default, and
// gitlab.ca_file makes a private CA trusted.
func TestGitLabTLSVerification(t *testing.T) {
	fake := gitlabtest.NewHandler(gitlabtest.Options{Token: "tok"})
	srv := httptest.NewTLSServer(fake.Handler())
	t.Cleanup(srv.Close)
	fake.SetBaseURL(srv.URL)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	must(t, os.WriteFile(caFile, cert, 0o600))
	getenv := func(k string) string {
		if k == "GITLAB_TOKEN" {
			return "tok"
		}
		return ""
	}

	for _, tc := range []struct {
		name    string
		extra   string
		wantErr string
	}{
		{"system roots only", "", "certificate"},
		{"private CA from ca_file", "  ca_file: " + caFile + "\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := fmt.Sprintf("gitlab:\n  url: %s\n  max_retries: 0\n%sprojects: [g/p]\n", srv.URL, tc.extra)
			cfg, _, err := config.Parse([]byte(yaml), "config.yaml", getenv)
			must(t, err)
			client, err := newClient(cfg, nil)
			must(t, err)
			_, err = client.Metadata(context.Background())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("request with the CA trusted failed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("request to an untrusted certificate: err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}
