package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// Webhook configures the POST /webhook endpoint GitLab's Job and Pipeline
// Hooks are sent to. Deliveries only wake polls sooner; counts always come
// from the API.
type Webhook struct {
	Enabled bool `yaml:"enabled"`
	// SecretTokenFile holds the hook's secret token, which GitLab sends in
	// X-Gitlab-Token; EnvWebhookSecret wins over it.
	SecretTokenFile string `yaml:"secret_token_file,omitempty"`
	// ForwardURL is where a shard passes on a delivery about a project
	// another shard owns: a URL with ShardPlaceholder for the owner's
	// index, such as the pods' stable names behind a headless Service.
	// Empty: such deliveries are ignored, and the owner's scheduled poll
	// counts what they announced.
	ForwardURL string `yaml:"forward_url,omitempty"`
}

// ForwardURLFor is ForwardURL for the shard with this index; "" when
// deliveries are not forwarded.
func (w Webhook) ForwardURLFor(index int) string {
	if w.ForwardURL == "" {
		return ""
	}
	return strings.ReplaceAll(w.ForwardURL, ShardPlaceholder, strconv.Itoa(index))
}

// validateWebhook checks webhook.forward_url: an http or https URL that
// names the shard, so that each delivery reaches its owner, and carries no
// credentials (a forwarded delivery carries the ones it came with).
func (d *decoder) validateWebhook(w *Webhook) {
	const key = "webhook.forward_url"
	if w.ForwardURL == "" || d.skip(key) {
		return
	}
	if !strings.Contains(w.ForwardURL, ShardPlaceholder) {
		d.addAt(key, fmt.Sprintf("must contain %s, which becomes the index of the shard that owns a delivery's project, e.g. http://gitlab-jobs-exporter-%s.gitlab-jobs-exporter-shards:9835/webhook", ShardPlaceholder, ShardPlaceholder))
		return
	}
	u, err := url.Parse(w.ForwardURLFor(0))
	switch {
	case err != nil:
		d.addAt(key, fmt.Sprintf("not a URL: %v", err))
	case u.Scheme != "http" && u.Scheme != "https":
		d.addAt(key, fmt.Sprintf("scheme %q: want http or https", u.Scheme))
	case u.Host == "":
		d.addAt(key, "no host")
	case u.User != nil:
		d.addAt(key, "must not carry credentials: a forwarded delivery carries the Authorization header GitLab sent")
	}
}

// EnvWebhookSecret is the environment variable that sets the webhook's
// secret token, overriding webhook.secret_token_file.
const EnvWebhookSecret = "GITLAB_WEBHOOK_SECRET_TOKEN"

// resolveWebhookSecret reads the secret of an enabled webhook: the
// environment variable, else the file. An enabled webhook without one is
// an error: anyone could then wake polls. No message names the secret.
func (d *decoder) resolveWebhookSecret(c *Config, getenv func(string) string, filename string) string {
	w := &c.Webhook
	if w.SecretTokenFile != "" && !filepath.IsAbs(w.SecretTokenFile) {
		w.SecretTokenFile = filepath.Join(filepath.Dir(filename), w.SecretTokenFile)
	}
	if !d.strict("webhook.enabled", "!!bool", "true or false") || !w.Enabled {
		return ""
	}
	if s := strings.TrimSpace(getenv(EnvWebhookSecret)); s != "" {
		d.checkToken(EnvWebhookSecret, s, "the "+EnvWebhookSecret+" environment variable")
		return s
	}
	if w.SecretTokenFile == "" {
		d.addAt("webhook.enabled", fmt.Sprintf("the webhook needs a secret token: set webhook.secret_token_file or %s, and the same secret token in GitLab's webhook settings", EnvWebhookSecret))
		return ""
	}
	if d.skip("webhook.secret_token_file") {
		return ""
	}
	s, err := readTokenFile(w.SecretTokenFile)
	if err != nil {
		d.addAt("webhook.secret_token_file", strings.Replace(err.Error(), "token file", "secret token file", 1))
		return ""
	}
	d.checkToken("webhook.secret_token_file", s, fmt.Sprintf("secret token file %q", w.SecretTokenFile))
	return s
}
