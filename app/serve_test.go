//go:build unix

package app

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/logging"
)

// TestServePollsReloadsOnSIGHUPAndStops: Serve polls, serves the handler,
// reloads the configuration on SIGHUP, and when its context ends shuts the
// server down and returns nil.
func TestServePollsReloadsOnSIGHUPAndStops(t *testing.T) {
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: "tok"})
	t.Cleanup(gl.Close)
	gl.CreateProject("g/app", gitlabtest.ProjectOptions{})
	configFile := filepath.Join(t.TempDir(), "config.yaml")
	writeTestConfig(t, configFile, testConfig{url: gl.URL(), projects: []string{"g/app"}})
	logs := &lockedBuffer{}
	logger, _, err := logging.New(logs, "info", "logfmt")
	noErr(t, err)
	a, err := New(configFile, envWith("tok"), logger)
	noErr(t, err)
	handler, err := a.Handler("/metrics", false)
	noErr(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, handler, flagConfig("127.0.0.1:0", ""), slog.New(listenAddr{addrs})) }()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-served:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("exporter-toolkit never logged its listen address")
	}

	waitUntil(t, 20*time.Second, "every project polled", a.Ready)
	resp, err := http.Get("http://" + addr + "/-/ready")
	noErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /-/ready = %d, want 200", resp.StatusCode)
	}

	noErr(t, os.WriteFile(configFile, []byte("gitlab: [\n"), 0o600))
	noErr(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitUntil(t, 10*time.Second, "SIGHUP to reload the broken configuration", func() bool {
		return metricValue(t, a.Registry, "gitlab_jobs_exporter_config_last_reload_successful", nil) == 0
	})

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v after its context ended, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get("http://" + addr + "/-/healthy"); err == nil {
		t.Error("the server still answers after Serve returned")
	}
	if !strings.Contains(logs.String(), `msg="shutting down"`) {
		t.Errorf("no shutdown line in the log:\n%s", logs.String())
	}
}

func TestServeReturnsTheServerError(t *testing.T) {
	a := newQuietApp(t)
	handler, err := a.Handler("/metrics", false)
	noErr(t, err)
	missing := filepath.Join(t.TempDir(), "web-config.yml")
	served := make(chan error, 1)
	go func() {
		served <- a.Serve(context.Background(), handler, flagConfig("127.0.0.1:0", missing), slog.New(slog.DiscardHandler))
	}()
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "web-config.yml") {
			t.Errorf("Serve with a missing web config returned %v, want an error naming it", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return when the server could not start")
	}
}

func flagConfig(addr, webConfigFile string) *web.FlagConfig {
	noSystemd := false
	return &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: &noSystemd, WebConfigFile: &webConfigFile}
}
