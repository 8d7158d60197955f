package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// webhookSecretEnv names the variable read for the secret token when no
// file is given: secrets never travel as flag values, which end up in
// process listings and logs.
const webhookSecretEnv = "GITLAB_SIM_WEBHOOK_SECRET"

type webhookConfig struct {
	url        string
	secretFile string
	secret     string
	form       gitlabtest.TimestampForm
	faults     gitlabtest.WebhookFaults
}

func webhookFlags(app *kingpin.Application, c *webhookConfig) {
	app.Flag("webhook-url", "Send Job and Pipeline Hooks to this URL, e.g. the exporter's /webhook (empty: no webhooks).").StringVar(&c.url)
	app.Flag("webhook-secret-file", "File holding the secret token sent as X-Gitlab-Token (default: $"+webhookSecretEnv+"; neither: no token).").StringVar(&c.secretFile)
	num(app, "webhook-timestamps", "Timestamp form of the payloads: iso (GitLab's docs), utc (gitlab.com) or mixed.", "utc", &c.form, gitlabtest.ParseTimestampForm)
	f := &c.faults
	num(app, "webhook-loss", "Share of webhook deliveries lost.", "0", &f.Loss, parseFloat)
	num(app, "webhook-duplicate", "Share of webhook deliveries sent twice (same event UUID and idempotency key).", "0", &f.Duplicate, parseFloat)
	num(app, "webhook-reorder", "Share of webhook deliveries held back until a later one was sent.", "0", &f.Reorder, parseFloat)
	num(app, "webhook-wrong-token", "Share of webhook deliveries sent with a wrong X-Gitlab-Token.", "0", &f.WrongToken, parseFloat)
	num(app, "webhook-delay", "Delay of every webhook delivery.", "0s", &f.Delay, time.ParseDuration)
	num(app, "webhook-jitter", "Extra random delay of webhook deliveries, up to this.", "0s", &f.Jitter, time.ParseDuration)
}

// load validates the flags and reads the secret.
func (c *webhookConfig) load() error {
	f := c.faults
	for name, share := range map[string]float64{
		"--webhook-loss": f.Loss, "--webhook-duplicate": f.Duplicate, "--webhook-reorder": f.Reorder, "--webhook-wrong-token": f.WrongToken,
	} {
		if !(share >= 0 && share <= 1) {
			return fmt.Errorf("%s must be a share between 0 and 1, got %g", name, share)
		}
	}
	if f.Delay < 0 || f.Jitter < 0 {
		return errors.New("--webhook-delay and --webhook-jitter must not be negative")
	}
	if c.url == "" {
		return nil
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("--webhook-url must be an http(s) URL")
	}
	c.secret = os.Getenv(webhookSecretEnv)
	if c.secretFile != "" {
		b, err := os.ReadFile(c.secretFile)
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		if c.secret = strings.TrimSpace(string(b)); c.secret == "" {
			return fmt.Errorf("--webhook-secret-file: %s is empty", c.secretFile)
		}
	}
	return nil
}

// add registers the webhook, if one is configured, and says so without
// the secret.
func (c *webhookConfig) add(srv *gitlabtest.Server, seed int64, logger *slog.Logger) (*gitlabtest.Webhook, error) {
	if c.url == "" {
		return nil, nil
	}
	hook, err := srv.AddWebhook(gitlabtest.WebhookOptions{
		URL: c.url, SecretToken: c.secret, Timestamps: c.form, Faults: c.faults, Seed: seed, RecordLimit: 10_000,
	})
	if err != nil {
		return nil, err
	}
	target := c.url
	if u, err := url.Parse(c.url); err == nil {
		target = u.Redacted()
	}
	f := c.faults
	logger.Info("sending webhooks", "url", target, "secret_token", c.secret != "", "timestamps", c.form,
		"loss", f.Loss, "duplicate", f.Duplicate, "reorder", f.Reorder, "wrong_token", f.WrongToken,
		"delay", f.Delay, "jitter", f.Jitter)
	return hook, nil
}
