package config

import (
	"fmt"
	"path/filepath"
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
	if !w.Enabled || d.skip("webhook.enabled") {
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
