package deploytest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireTool returns the path of an external program. When it is missing the
// test is skipped on a developer machine, but fails when CI=true so that a CI
// image without the tool cannot silently pass.
func RequireTool(t testing.TB, name, installHint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found in PATH (CI=true, so this is a failure); install it: %s", name, installHint)
	}
	t.Skipf("%s not found in PATH; install it to run this test: %s", name, installHint)
	return ""
}

// Run executes a program in dir and returns its combined output. The timeout
// keeps a hung tool from stalling the whole test binary.
func Run(t testing.TB, dir, prog string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// Tool install hints, in one place so every test names the same packages.
const (
	HintPromtool      = "apt-get install -y --no-install-recommends prometheus"
	HintAmtool        = "apt-get install -y --no-install-recommends prometheus-alertmanager"
	HintKubectl       = "apt-get install -y --no-install-recommends kubernetes-client"
	HintDockerCompose = "apt-get install -y --no-install-recommends docker-compose"
)

// Prometheus3Version is the Prometheus 3 release the tests run against,
// as its Go module version (v0.316.0 is Prometheus 3.16.0); go.mod requires
// the same version for the PromQL parser (Selectors).
const Prometheus3Version = "v0.316.0"

// Prometheus3Env names the directory holding a Prometheus 3 prometheus
// and promtool; .ci/run builds them there.
const Prometheus3Env = "PROMETHEUS3_DIR"

// HintPrometheus3 builds them (about 5 minutes on two cores).
const HintPrometheus3 = "GOBIN=<dir> go install github.com/prometheus/prometheus/cmd/prometheus@" + Prometheus3Version +
	" github.com/prometheus/prometheus/cmd/promtool@" + Prometheus3Version + " and set " + Prometheus3Env + "=<dir>"

// Prometheus3Tool returns the path of Prometheus 3's prometheus or
// promtool from $PROMETHEUS3_DIR. Debian's are 2.42, which cannot scrape
// native histograms without a feature flag nor read the scrape settings
// the shipped config uses. Missing: skipped, or a failure when CI=true.
func Prometheus3Tool(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv(Prometheus3Env)
	if dir != "" {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("Prometheus 3 %s not found (%s=%q; CI=true, so this is a failure); build it: %s", name, Prometheus3Env, dir, HintPrometheus3)
	}
	t.Skipf("Prometheus 3 %s not found (%s=%q); to run this test: %s", name, Prometheus3Env, dir, HintPrometheus3)
	return ""
}
