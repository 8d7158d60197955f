package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/prometheus/common/version"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// newClient builds the GitLab API client the configuration describes.
func newClient(cfg *config.Config, observer gitlabapi.Observer) (*gitlabapi.Client, error) {
	g := cfg.GitLab
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: g.InsecureSkipVerify} //nolint:gosec // opt-in, documented
	if g.CAFile != "" {
		pem, err := os.ReadFile(g.CAFile)
		if err != nil {
			return nil, fmt.Errorf("gitlab.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gitlab.ca_file %s: no PEM certificate found", g.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   max(g.MaxConcurrentRequests, 2),
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	mode := gitlabapi.AuthPrivateToken
	if g.AuthMode == config.AuthBearer {
		mode = gitlabapi.AuthBearer
	}
	return gitlabapi.New(gitlabapi.Options{
		BaseURL:           g.URL,
		Token:             cfg.ResolvedToken(),
		AuthMode:          mode,
		RequestsPerSecond: g.RequestsPerSecond,
		Burst:             g.Burst,
		MaxConcurrent:     g.MaxConcurrentRequests,
		Timeout:           time.Duration(g.Timeout),
		MaxRetries:        g.MaxRetries,
		HTTPClient:        &http.Client{Transport: transport},
		Observer:          observer,
		UserAgent:         "gitlab_jobs_exporter/" + version.Version,
	})
}

// ScraperOptions maps the configuration onto the scraper's options (without
// Logger, Store and Now); the benchmarks start from it too.
func ScraperOptions(cfg *config.Config) scraper.Options {
	opts := scraper.Options{
		Interval:              time.Duration(cfg.Poll.Interval),
		InitialLookback:       time.Duration(cfg.Poll.InitialLookback),
		ParkedRecheckInterval: time.Duration(cfg.Poll.ParkedRecheckInterval),
		ParkedMaxAge:          time.Duration(cfg.Poll.ParkedMaxAge),
		PipelineTTL:           time.Duration(cfg.Poll.RetryWindow),
		DiscoveryInterval:     time.Duration(cfg.Discovery.Interval),
		// A few polls per request slot keep the slots busy while polls
		// between two requests decide what to ask next.
		MaxConcurrentPolls: 4 * cfg.GitLab.MaxConcurrentRequests,
	}
	for _, p := range cfg.Projects {
		opts.Projects = append(opts.Projects, p.String())
	}
	for _, g := range cfg.Groups {
		sg := scraper.Group{Path: g.Path, IncludeSubgroups: *g.IncludeSubgroups} // defaulted by config
		sg.Include, sg.Exclude = regexpOf(g.Include), regexpOf(g.Exclude)
		opts.Groups = append(opts.Groups, sg)
	}
	return opts
}

func regexpOf(r *config.Regexp) *regexp.Regexp {
	if r == nil {
		return nil
	}
	return r.Regexp
}

func refTracker(cfg *config.Config) collector.RefTracker {
	return collector.NewRefTracker(regexpOf(cfg.Refs.Tracked))
}

// MetricsOptions maps the configuration onto the job metrics' options.
func MetricsOptions(cfg *config.Config) collector.Options {
	return collector.Options{
		Families:    cfg.Metrics.CollectorOptions(),
		Refs:        refTracker(cfg),
		TagPools:    poolRules(cfg.Metrics.TagPools),
		RunnerPools: poolRules(cfg.Metrics.RunnerPools),
		SeriesTTL:   cfg.Metrics.TTL(),
	}
}

// poolRules maps tag_pools or runner_pools onto the collector's rules.
func poolRules(rules []config.PoolRule) []collector.PoolRule {
	var out []collector.PoolRule
	for _, r := range rules {
		out = append(out, collector.PoolRule{Match: r.Match.Regexp, Pool: r.Pool})
	}
	return out
}
