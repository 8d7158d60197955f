// Command gitlab-sim serves the fake GitLab of package gitlabtest on a real
// port with a real-time synthetic workload, for demos and manual testing of
// the exporter.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

type config struct {
	listen    string
	token     string
	history   time.Duration
	tick      time.Duration
	rateLimit int
	workload  gitlabtest.WorkloadOptions
	webhook   webhookConfig
}

func parseFlags(args []string) (config, error) {
	var c config
	app := kingpin.New("gitlab-sim", "A fake GitLab REST API with synthetic CI traffic.")
	app.HelpFlag.Short('h')
	app.Flag("listen-address", "Address to serve the API on.").Default("127.0.0.1:8081").StringVar(&c.listen)
	app.Flag("token", "Token clients must send (PRIVATE-TOKEN, Bearer or JOB-TOKEN).").Default("demo-token").StringVar(&c.token)
	w := &c.workload
	num(app, "projects", "Number of projects.", "5", &w.Projects, strconv.Atoi)
	num(app, "groups", "Spread projects over this many subgroups (0 or 1: one group).", "0", &w.Groups, strconv.Atoi)
	app.Flag("project-prefix", "Path prefix of the projects.").Default("group/project-").StringVar(&w.ProjectPrefix)
	num(app, "jobs-per-hour", "Jobs per hour across all projects.", "600", &w.JobsPerHour, parseFloat)
	num(app, "jobs-per-pipeline", "Jobs per pipeline.", "5", &w.JobsPerPipeline, strconv.Atoi)
	num(app, "failure-rate", "Share of jobs that fail.", "0.1", &w.FailureRate, parseFloat)
	num(app, "manual-rate", "Share of deploy jobs that are manual.", "0.2", &w.ManualRate, parseFloat)
	num(app, "retry-rate", "Share of failed jobs that are retried.", "0.3", &w.RetryRate, parseFloat)
	num(app, "child-pipeline-rate", "Share of pipelines that trigger a child pipeline.", "0.1", &w.ChildPipelineRate, parseFloat)
	app.Flag("retry-reopens", "Retry by hand as GitLab reopens a failure: the later stages are skipped and the pipeline fails until the retry, which makes the skipped jobs (and a child pipeline's bridge) run again.").BoolVar(&w.RetryReopens)
	num(app, "duration-median", "Median job duration.", "2m", &w.DurationMedian, time.ParseDuration)
	num(app, "queue-median", "Median time a job waits for a runner.", "10s", &w.QueueMedian, time.ParseDuration)
	num(app, "seed", "Random seed of the workload.", "1", &w.Seed, parseInt64)
	num(app, "history", "Pre-generate this much past activity at start (e.g. 1h).", "0s", &c.history, time.ParseDuration)
	num(app, "tick", "How often the workload catches up with real time.", "1s", &c.tick, time.ParseDuration)
	num(app, "rate-limit", "Authenticated API requests allowed per minute (0 = no throttle, no RateLimit headers).", "0", &c.rateLimit, strconv.Atoi)
	webhookFlags(app, &c.webhook)
	if _, err := app.Parse(args); err != nil {
		return c, err
	}
	if err := c.webhook.load(); err != nil {
		return c, err
	}
	switch {
	case c.token == "":
		return c, errors.New("--token must not be empty")
	case c.workload.Projects < 1:
		return c, fmt.Errorf("--projects must be at least 1, got %d", c.workload.Projects)
	case c.workload.JobsPerHour <= 0:
		return c, fmt.Errorf("--jobs-per-hour must be positive, got %g", c.workload.JobsPerHour)
	case c.history < 0:
		return c, fmt.Errorf("--history must not be negative, got %s", c.history)
	case c.tick <= 0:
		return c, fmt.Errorf("--tick must be positive, got %s", c.tick)
	case c.rateLimit < 0:
		return c, fmt.Errorf("--rate-limit must not be negative, got %d", c.rateLimit)
	}
	return c, nil
}

// flagValue is a kingpin.Value whose parse errors name the flag; kingpin's
// own numeric flags report only strconv's message.
type flagValue[T any] struct {
	name  string
	dst   *T
	parse func(string) (T, error)
}

func (v *flagValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return fmt.Errorf("--%s: %q is not a valid value", v.name, s)
	}
	*v.dst = x
	return nil
}

func (v *flagValue[T]) String() string { return fmt.Sprint(*v.dst) }

func num[T any](app *kingpin.Application, name, help, def string, dst *T, parse func(string) (T, error)) {
	app.Flag(name, help).Default(def).SetValue(&flagValue[T]{name: name, dst: dst, parse: parse})
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func parseInt64(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitlab-sim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger, os.Stdout); err != nil {
		logger.Error("gitlab-sim stopped", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	clock := gitlabtest.NewManualClock(time.Now().Add(-cfg.history))
	opts := gitlabtest.Options{
		Token: cfg.token, Clock: clock, FirstJobID: 5_000_000_000, RequestLogLimit: 10_000,
	}
	if cfg.rateLimit > 0 {
		opts.RateLimit = &gitlabtest.RateLimitOptions{Limit: cfg.rateLimit, Period: time.Minute}
	}
	srv := gitlabtest.NewHandler(opts)
	base := "http://" + ln.Addr().String()
	srv.SetBaseURL(base)
	w := gitlabtest.NewWorkload(srv, clock, cfg.workload)
	if cfg.history > 0 {
		w.Step(time.Since(clock.Now()))
		logger.Info("pre-generated history", "duration", cfg.history, "jobs", len(srv.Jobs()))
	}
	// Registered after the history, which GitLab would have sent long ago.
	hook, err := cfg.webhook.add(srv, cfg.workload.Seed, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	// Printing the token is the point here: it is the demo credential the
	// user chose on the command line and must now hand to the exporter.
	fmt.Fprintf(out, "gitlab-sim: GitLab URL %s (API %s/api/v4), token %q, %d projects\n",
		base, base, cfg.token, len(w.ProjectIDs()))

	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go w.Run(ctx, cfg.tick)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Close() // releases requests held by slow faults, stops webhook delivery
	if hook != nil {
		st := hook.Stats()
		logger.Info("webhooks", "events", st.Events, "requests", st.Requests, "succeeded", st.Succeeded,
			"failed", st.Failed, "lost", st.Lost, "dropped", st.Dropped, "duplicated", st.Duplicated,
			"reordered", st.Reordered, "wrong_token", st.WrongToken)
	}
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
