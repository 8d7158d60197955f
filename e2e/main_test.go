//go:build unix

// Package e2e runs the real programs: the exporter binary against the fake
// GitLab (cmd/gitlab-sim or an in-process gitlabtest.Server), and, in the
// end-to-end test, a real Prometheus and Alertmanager fed by the shipped
// scrape config, alert rules and dashboards.
//
// Every process listens on 127.0.0.1 only and is stopped by t.Cleanup; on
// Linux the kernel also kills them if the test binary dies (see
// setProcAttr), so a `go test -timeout` panic leaves nothing behind.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bins are the programs TestMain builds once for every test of the package.
var bins struct {
	exporter string // gitlab_jobs_exporter
	sim      string // cmd/gitlab-sim
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gitlab_jobs_exporter-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	bins.exporter = filepath.Join(dir, "gitlab_jobs_exporter")
	bins.sim = filepath.Join(dir, "gitlab-sim")
	for _, b := range []struct{ out, pkg string }{{bins.exporter, "."}, {bins.sim, "./cmd/gitlab-sim"}} {
		if err := goBuild(root, b.out, b.pkg); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	return m.Run()
}

// goBuild builds pkg of the module at root. `go test` puts its own GOROOT/bin
// first in PATH, so this is the same toolchain that builds the tests.
//
// It asks for the repository's revision to be stamped in, whatever GOFLAGS
// says, as it is by default: the binary then reports it (TestBinary's
// build_info), as it does when users build it. In a git worktree the go
// command finds no repository and stamps nothing; a repository git refuses
// to read (owned by another user) builds as GOFLAGS says.
func goBuild(root, out, pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := func(flags ...string) error {
		cmd := exec.CommandContext(ctx, "go", append(append([]string{"build"}, flags...), "-o", out, pkg)...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
		}
		return nil
	}
	err := build("-buildvcs=auto")
	if err != nil && strings.Contains(err.Error(), "error obtaining VCS status") {
		err = build()
	}
	return err
}

// repoRoot is deploytest.RepoRoot for TestMain, which has no testing.TB.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
