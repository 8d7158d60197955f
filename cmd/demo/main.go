// Command demo runs gitlab_jobs_exporter against a simulated GitLab in one
// process, for trying the exporter on a machine without GitLab:
//
//	go run ./cmd/demo
//
// The simulated GitLab (package gitlabtest, the same fake the tests use)
// starts with 30 minutes of history and keeps running jobs in real time,
// and sends its Job and Pipeline Hooks to the exporter's /webhook (unless
// --no-webhooks), which counts finished jobs within a second and polls
// every minute to reconcile (every 10 seconds without webhooks). It serves
// http://localhost:9835/metrics with the same server, flags
// (--web.listen-address, --web.config.file) and endpoints as
// gitlab_jobs_exporter.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/app"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/buildinfo"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/logging"
)

const (
	demoToken         = "demo-token"
	demoWebhookSecret = "demo-webhook-secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run serves the demo until ctx ends, the way gitlab_jobs_exporter serves
// (app.Serve): the same hardened server, --web.config.file, /-/reload.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	buildinfo.Init()
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, toolkitLogger, err := logging.New(stderr, "info", "logfmt")
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop() // the simulated GitLab stops with ctx

	fake, err := startGitLab(ctx, f.projects, f.jobsPerHour)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gitlab_jobs_exporter-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gitlabURL := fake.URL()
	configFile, err := writeConfig(dir, gitlabURL, f.webhooks)
	if err != nil {
		return err
	}
	exporter, err := app.New(configFile, demoEnv, logger)
	if err != nil {
		return err
	}
	if err := exporter.OpenStorage(filepath.Join(dir, "data")); err != nil {
		return err
	}
	handler, err := exporter.Handler("/metrics", false)
	if err != nil {
		return err
	}
	if f.webhooks {
		// The deliveries reach the exporter's own handler on a loopback
		// listener of their own, whatever --web.listen-address and
		// --web.config.file say.
		hooks := httptest.NewServer(handler)
		defer hooks.Close()
		if _, err := fake.AddWebhook(gitlabtest.WebhookOptions{URL: hooks.URL + "/webhook", SecretToken: demoWebhookSecret,
			Timestamps: gitlabtest.TimestampsMixed}); err != nil {
			return err
		}
	}
	_ = level.Info(logger).Log("msg", "demo running", "metrics_path", "/metrics", "simulated_gitlab", gitlabURL, "config", configFile)
	return exporter.Serve(ctx, handler, f.web, toolkitLogger)
}

// flags are the demo's command line.
type flags struct {
	projects    int
	jobsPerHour float64
	webhooks    bool
	web         *web.FlagConfig
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	a := kingpin.New("demo", "gitlab_jobs_exporter against a simulated GitLab, in one process.")
	a.UsageWriter(stderr)
	a.ErrorWriter(stderr)
	projects := a.Flag("projects", "Projects in the simulated GitLab.").Default("5").Int()
	jobsPerHour := a.Flag("jobs-per-hour", "Jobs the simulated GitLab runs per hour.").Default("1200").Float64()
	webhooks := a.Flag("webhooks", "The simulated GitLab sends its Job and Pipeline Hooks to the exporter (--no-webhooks: polling alone).").Default("true").Bool()
	webFlags := kingpinflag.AddFlags(a, "localhost:9835")
	a.HelpFlag.Short('h')
	if _, err := a.Parse(args); err != nil {
		return flags{}, err
	}
	return flags{projects: *projects, jobsPerHour: *jobsPerHour, webhooks: *webhooks, web: webFlags}, nil
}

// writeConfig writes the exporter's configuration for the simulated GitLab
// into dir: its groups, polled every 10 seconds, or every minute to
// reconcile when webhooks tell what changed.
func writeConfig(dir, gitlabURL string, webhooks bool) (string, error) {
	interval, webhookSection := "10s", ""
	if webhooks {
		interval, webhookSection = "1m", "webhook:\n  enabled: true\n"
	}
	configFile := filepath.Join(dir, "config.yaml")
	config := fmt.Sprintf(`gitlab:
  url: %s
poll:
  interval: %s
  initial_lookback: 1h
discovery:
  interval: 1m
groups:
  - path: group
refs:
  tracked: "release/.*"
%s`, gitlabURL, interval, webhookSection)
	return configFile, os.WriteFile(configFile, []byte(config), 0o600)
}

// demoEnv is the environment with the simulated GitLab's token and webhook
// secret.
func demoEnv(k string) string {
	switch k {
	case "GITLAB_TOKEN":
		return demoToken
	case "GITLAB_WEBHOOK_SECRET_TOKEN":
		return demoWebhookSecret
	}
	return os.Getenv(k)
}

// startGitLab serves a simulated GitLab on a free loopback port with 30
// minutes of history and a workload that keeps running in real time.
func startGitLab(ctx context.Context, projects int, jobsPerHour float64) (*gitlabtest.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	const history = 30 * time.Minute
	clock := gitlabtest.NewManualClock(time.Now().Add(-history))
	fake := gitlabtest.NewHandler(gitlabtest.Options{Token: demoToken, Clock: clock, RequestLogLimit: 1000})
	base := "http://" + ln.Addr().String()
	fake.SetBaseURL(base)
	w := gitlabtest.NewWorkload(fake, clock, gitlabtest.WorkloadOptions{
		Projects: projects, JobsPerHour: jobsPerHour, FailureRate: 0.1, ManualRate: 0.3, RetryRate: 0.5,
		ChildPipelineRate: 0.2, DurationMedian: 90 * time.Second, QueueMedian: 15 * time.Second,
		Refs: []string{"main", "release/1.0", "feature/login", "feature/search"}, Seed: time.Now().UnixNano(),
	})
	w.Step(time.Since(clock.Now()))
	server := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(ln) }()
	go func() {
		<-ctx.Done()
		fake.Close()
		_ = server.Close()
	}()
	go w.Run(ctx, time.Second)
	return fake, nil
}
