// Package app assembles the exporter: it loads the configuration, builds the
// GitLab client, the scraper and the metrics, reloads them on request, and
// serves the HTTP endpoints. main only parses flags and calls it.
package app

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/webhook"
)

// App is a running exporter.
type App struct {
	configFile string
	getenv     func(string) string
	logger     log.Logger

	// Registry holds every metric /metrics serves.
	Registry *prometheus.Registry
	metrics  *collector.Metrics
	scraper  *scraper.Scraper
	webhook  *webhook.Handler
	// forwarder passes a sharded exporter's deliveries about other shards'
	// projects on to them; nil when not sharded.
	forwarder *webhook.Forwarder

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge

	// shard is this exporter's place in a sharded set; shardSince when it
	// took on its share of the projects (state.Store.ShardSince).
	shard      shard.Shard
	shardSince time.Time

	mu    sync.Mutex
	cfg   *config.Config
	store *state.Store
}

// LoadConfig loads and validates a configuration file for a shard (the
// zero Shard when not sharded), logging its warnings.
func LoadConfig(file string, sh shard.Shard, getenv func(string) string, logger log.Logger) (*config.Config, error) {
	cfg, warnings, err := config.LoadShard(file, getenv, sh.Index)
	for _, w := range warnings {
		_ = level.Warn(logger).Log("msg", "configuration warning", "file", file, "warning", w)
	}
	return cfg, err
}

// New loads the configuration and builds the exporter. Nothing is requested
// from GitLab until Run.
func New(configFile string, getenv func(string) string, logger log.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := LoadConfig(configFile, o.shard, getenv, logger)
	if err != nil {
		return nil, err
	}
	metrics, err := collector.New(MetricsOptions(cfg))
	if err != nil {
		return nil, err
	}
	a := &App{
		configFile: configFile,
		getenv:     getenv,
		logger:     logger,
		Registry:   prometheus.NewRegistry(),
		metrics:    metrics,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitlab_jobs_exporter_config_last_reload_successful",
			Help: "1 if the last configuration reload succeeded, else 0 (the previous configuration stays in use).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitlab_jobs_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load.",
		}),
		shard: o.shard,
		cfg:   cfg,
	}
	client, err := newClient(cfg, a.metrics)
	if err != nil {
		return nil, err
	}
	if a.scraper, err = scraper.New(client, a.metrics, a.scraperOptions(cfg)); err != nil {
		return nil, err
	}
	a.webhook = webhook.NewHandler(a.scraper, a.metrics.Self)
	a.webhook.SetSecret(cfg.WebhookSecret())
	if a.shard.Sharded() {
		a.forwarder = webhook.NewForwarder(a.shard, nil, a.metrics.Self, logger)
		a.webhook.SetForwarder(a.forwarder)
		a.setForwardURL(cfg)
	}
	a.reloadOK.Set(1)
	a.reloadTime.SetToCurrentTime()
	a.Registry.MustRegister(
		a.metrics, a.reloadOK, a.reloadTime, collector.ShardInfo(a.shard),
		versioncollector.NewCollector("gitlab_jobs_exporter"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return a, nil
}

// OpenStorage keeps the scraper's state under dir (--storage.path), so that
// a restart resumes where the last poll ended. Call it before Run.
func (a *App) OpenStorage(dir string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	store, err := state.OpenStore(dir, a.cfg.GitLab.URL)
	if err != nil {
		return err
	}
	since, err := store.ShardSince(a.shard.Index, a.shard.Shards(), time.Now())
	if err != nil {
		return err
	}
	if !since.IsZero() {
		_ = level.Info(a.logger).Log("msg", "sharded: projects without saved state count what happens after the moment this shard took its share",
			"shard", a.shard, "since", since.Format(time.RFC3339))
	}
	a.store, a.shardSince = store, since
	return a.scraper.Reconfigure(a.scraperOptions(a.cfg))
}

func (a *App) scraperOptions(cfg *config.Config) scraper.Options {
	opts := ScraperOptions(cfg)
	opts.Logger = a.logger
	opts.Store = a.store
	opts.Shard, opts.ShardSince = a.shard, a.shardSince
	// The families are built once, at start: a reload that enables one
	// takes effect at the restart, and the scraper must not count
	// pipelines meanwhile into families that do not exist.
	opts.SkipPipelines = !a.metrics.Jobs.CountsPipelines()
	return opts
}

// Run polls GitLab until ctx ends, and drops job series idle for longer
// than metrics.series_ttl.
func (a *App) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.expireSeries(ctx) })
	if a.forwarder != nil {
		wg.Go(func() { a.forwarder.Run(ctx) })
	}
	a.scraper.Run(ctx)
	wg.Wait()
}

// expiryInterval is how often idle series are looked for; a series lives
// at most this much longer than metrics.series_ttl.
const expiryInterval = time.Minute

func (a *App) expireSeries(ctx context.Context) {
	t := time.NewTicker(expiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.metrics.Jobs.Expire()
		}
	}
}

// Ready reports whether every project has been polled once.
func (a *App) Ready() bool { return a.scraper.Ready() }

// Reload loads the configuration file again. On error the running
// configuration stays in use and the error is returned.
func (a *App) Reload() error {
	err := a.reload()
	if err != nil {
		a.reloadOK.Set(0)
		_ = level.Error(a.logger).Log("msg", "configuration reload failed; keeping the running configuration", "file", a.configFile, "err", err)
		return err
	}
	a.reloadOK.Set(1)
	a.reloadTime.SetToCurrentTime()
	_ = level.Info(a.logger).Log("msg", "configuration reloaded", "file", a.configFile)
	return nil
}

func (a *App) reload() error {
	cfg, err := LoadConfig(a.configFile, a.shard, a.getenv, a.logger)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg.GitLab.URL != a.cfg.GitLab.URL {
		// The state belongs to one GitLab: project and job ids mean nothing on another.
		return fmt.Errorf("gitlab.url changed from %s to %s: restart the exporter to watch another GitLab", a.cfg.GitLab.URL, cfg.GitLab.URL)
	}
	// Everything that can fail comes before anything changes, so that a
	// failed reload leaves the running configuration whole.
	var client *gitlabapi.Client
	if !reflect.DeepEqual(cfg.GitLab, a.cfg.GitLab) || cfg.ResolvedToken() != a.cfg.ResolvedToken() {
		if client, err = newClient(cfg, a.metrics); err != nil {
			return err
		}
	}
	if err := a.scraper.Reconfigure(a.scraperOptions(cfg)); err != nil {
		return err
	}
	if client != nil {
		a.scraper.SetClient(client)
	}
	if !reflect.DeepEqual(cfg.Metrics, a.cfg.Metrics) {
		_ = level.Warn(a.logger).Log("msg", "metrics.* changed; the change takes effect at the next restart")
	}
	a.metrics.Jobs.SetRefTracker(refTracker(cfg))
	a.webhook.SetSecret(cfg.WebhookSecret())
	a.setForwardURL(cfg)
	a.cfg = cfg
	return nil
}

// setForwardURL points a sharded exporter's forwarder at
// webhook.forward_url; without one, deliveries about other shards'
// projects are left to their scheduled polls.
func (a *App) setForwardURL(cfg *config.Config) {
	if a.forwarder == nil {
		return
	}
	if cfg.Webhook.Enabled && cfg.Webhook.ForwardURL == "" {
		_ = level.Warn(a.logger).Log("msg", "sharded with webhooks on but no webhook.forward_url: deliveries about other shards' projects wait for those shards' scheduled polls")
	}
	if cfg.Webhook.ForwardURL == "" {
		a.forwarder.SetURL(nil)
		return
	}
	a.forwarder.SetURL(cfg.Webhook.ForwardURLFor)
}
