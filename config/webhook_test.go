package config

import (
	"strings"
	"testing"
)

func TestWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	secretFile := writeFile(t, dir, "hook-secret", "  file-secret\n")
	empty := writeFile(t, dir, "empty", "\n")
	env := func(secret string) func(string) string {
		return func(k string) string {
			switch k {
			case EnvToken:
				return "tok"
			case EnvWebhookSecret:
				return secret
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, doc, env string
		want           string // the secret, or an error's text
		wantErr        bool
	}{
		{"off by default", "", "", "", false},
		{"off, a secret set", "webhook:\n  enabled: false\n  secret_token_file: " + secretFile + "\n", "env-secret", "", false},
		{"from the file", "webhook:\n  enabled: true\n  secret_token_file: " + secretFile + "\n", "", "file-secret", false},
		{"relative to the config", "webhook:\n  enabled: true\n  secret_token_file: hook-secret\n", "", "file-secret", false},
		{"the environment wins", "webhook:\n  enabled: true\n  secret_token_file: " + secretFile + "\n", "env-secret", "env-secret", false},
		{"from the environment alone", "webhook:\n  enabled: true\n", "env-secret", "env-secret", false},
		{"on without a secret", "webhook:\n  enabled: true\n", "", "c.yaml:7: webhook.enabled: the webhook needs a secret token: set webhook.secret_token_file or GITLAB_WEBHOOK_SECRET_TOKEN", true},
		{"a missing file", "webhook:\n  enabled: true\n  secret_token_file: nope\n", "", "c.yaml:8: webhook.secret_token_file: cannot read secret token file", true},
		{"an empty file", "webhook:\n  enabled: true\n  secret_token_file: " + empty + "\n", "", "is empty", true},
		{"an unknown key", "webhook:\n  enabled: true\n  secret_token: inline\n", "env-secret", "c.yaml:8: webhook.secret_token: unknown key", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(minimal+tc.doc), dir+"/c.yaml", env(tc.env))
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			case tc.wantErr:
				for _, secret := range []string{"file-secret", "env-secret"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error shows the secret: %v", err)
					}
				}
			case err != nil:
				t.Fatal(err)
			case cfg.WebhookSecret() != tc.want:
				t.Errorf("secret %q, want %q", cfg.WebhookSecret(), tc.want)
			case strings.Contains(cfg.String(), "file-secret") || strings.Contains(cfg.String(), "env-secret"):
				t.Errorf("the effective config shows the secret:\n%s", cfg)
			}
		})
	}
}

func TestWebhookForwardURL(t *testing.T) {
	getenv := func(k string) string { return map[string]string{EnvToken: "tok"}[k] }
	for _, tc := range []struct {
		name, url string
		want      string // the URL for shard 2, or an error's text
		wantErr   bool
	}{
		{"not set", "", "", false},
		{"the pods' stable names", "http://gje-{shard}.gje-shards:9835/webhook", "http://gje-2.gje-shards:9835/webhook", false},
		{"https", "https://gje-{shard}.gje-shards.monitoring.svc:9835/webhook", "https://gje-2.gje-shards.monitoring.svc:9835/webhook", false},
		{"no placeholder", "http://gje-0.gje-shards:9835/webhook", "c.yaml:8: webhook.forward_url: must contain {shard}", true},
		{"another scheme", "ftp://gje-{shard}/webhook", `c.yaml:8: webhook.forward_url: scheme "ftp": want http or https`, true},
		{"no host", "http:///{shard}/webhook", "c.yaml:8: webhook.forward_url: no host", true},
		{"credentials", "http://u:p@gje-{shard}/webhook", "c.yaml:8: webhook.forward_url: must not carry credentials", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := minimal + "webhook:\n  enabled: false\n"
			if tc.url != "" {
				doc += "  forward_url: " + tc.url + "\n"
			}
			cfg, _, err := Parse([]byte(doc), "c.yaml", getenv)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			case tc.wantErr:
				if strings.Contains(err.Error(), "u:p") {
					t.Errorf("the error shows the credentials: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case cfg.Webhook.ForwardURLFor(2) != tc.want:
				t.Errorf("URL for shard 2 %q, want %q", cfg.Webhook.ForwardURLFor(2), tc.want)
			}
		})
	}
}
