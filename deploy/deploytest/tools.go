package deploytest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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
