// Command gitlab_jobs_exporter exports GitLab CI job metrics to Prometheus.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/app"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/buildinfo"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/logging"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	buildinfo.Init()
	a := kingpin.New("gitlab_jobs_exporter", "Prometheus exporter for GitLab CI jobs.")
	a.UsageWriter(stdout)
	a.ErrorWriter(stderr)
	var (
		configFile  = a.Flag("config.file", "Path to the configuration file.").Default("config.yaml").String()
		configCheck = a.Flag("config.check", "Validate the configuration file and exit (0 valid, 1 invalid).").Bool()
		metricsPath = a.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		storagePath = a.Flag("storage.path", "Directory where the scraper keeps its position, so that a restart neither loses nor doubles counts. Use a persistent volume in containers.").Default("./data").String()
		shardIndex  = a.Flag("shard", "This exporter's shard, 0-based: it polls, keeps state for and exports only the configured projects that jump(fnv64a(project id), --total-shards) assigns to it. In a Kubernetes StatefulSet, the pod index.").Default("0").Int()
		totalShards = a.Flag("total-shards", "How many exporters share the configured projects, each with its own --shard and the same configuration; 1 polls them all.").Default("1").Int()
		enablePprof = a.Flag("web.enable-pprof", "Serve Go profiling data under /debug/pprof/.").Bool()
		logLevel    = a.Flag("log.level", "Only log messages with the given severity or above.").Default("info").Enum(logging.Levels...)
		logFormat   = a.Flag("log.format", "Output format of log messages.").Default("logfmt").Enum(logging.Formats...)
		webFlags    = kingpinflag.AddFlags(a, ":9835")
	)
	a.Version(version.Print("gitlab_jobs_exporter"))
	a.HelpFlag.Short('h')
	if _, err := a.Parse(args); err != nil {
		fmt.Fprintf(stderr, "gitlab_jobs_exporter: %v\n", err)
		return 1
	}
	logger, toolkitLogger, err := logging.New(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "gitlab_jobs_exporter: %v\n", err)
		return 1
	}
	sh, err := shard.New(*shardIndex, *totalShards)
	if err != nil {
		fmt.Fprintf(stderr, "gitlab_jobs_exporter: %v\n", err)
		return 1
	}

	if *configCheck {
		cfg, err := app.LoadConfig(*configFile, sh, os.Getenv, logger)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s is valid\n%s", *configFile, cfg)
		return 0
	}

	_ = level.Info(logger).Log("msg", "starting gitlab_jobs_exporter", "version", version.Info(), "build_context", version.BuildContext(), "shard", sh)
	exporter, err := app.New(*configFile, os.Getenv, logger, app.WithShard(sh))
	if err != nil {
		_ = level.Error(logger).Log("msg", "cannot start", "file", *configFile, "err", err)
		return 1
	}
	if err := exporter.OpenStorage(*storagePath); err != nil {
		_ = level.Error(logger).Log("msg", "cannot use the storage directory", "path", *storagePath, "err", err)
		return 1
	}
	handler, err := exporter.Handler(*metricsPath, *enablePprof)
	if err != nil {
		_ = level.Error(logger).Log("msg", "cannot build HTTP handler", "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := exporter.Serve(ctx, handler, webFlags, toolkitLogger); err != nil {
		_ = level.Error(logger).Log("msg", "HTTP server failed", "err", err)
		return 1
	}
	return 0
}
