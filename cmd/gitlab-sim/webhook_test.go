package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

func TestParseWebhookFlags(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(webhookSecretEnv, "from-env")
	url := "--webhook-url=http://127.0.0.1:9/webhook"
	cases := []struct {
		args       []string
		wantErr    string
		wantSecret string
	}{
		{[]string{url}, "", "from-env"},
		{[]string{url, "--webhook-secret-file", secretFile}, "", "from-file"},
		{[]string{url, "--webhook-secret-file", emptyFile}, "empty", ""},
		{[]string{url, "--webhook-secret-file", filepath.Join(dir, "missing")}, "--webhook-secret-file", ""},
		{[]string{"--webhook-url", "not a url"}, "--webhook-url", ""},
		{[]string{url, "--webhook-loss", "1.5"}, "--webhook-loss", ""},
		{[]string{url, "--webhook-duplicate", "-0.1"}, "--webhook-duplicate", ""},
		{[]string{url, "--webhook-reorder", "2"}, "--webhook-reorder", ""},
		{[]string{url, "--webhook-wrong-token", "x"}, "webhook-wrong-token", ""},
		{[]string{url, "--webhook-delay", "-1s"}, "--webhook-delay", ""},
		{[]string{url, "--webhook-timestamps", "local"}, "webhook-timestamps", ""},
	}
	for _, c := range cases {
		cfg, err := parseFlags(c.args)
		if c.wantErr == "" {
			if err != nil || cfg.webhook.secret != c.wantSecret || cfg.webhook.form != gitlabtest.TimestampsUTC {
				t.Errorf("%v: secret ok %v, form %v, err %v", c.args, cfg.webhook.secret == c.wantSecret, cfg.webhook.form, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%v: err %v, want one naming %s", c.args, err, c.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "from-") {
			t.Errorf("%v: the error shows the secret: %v", c.args, err)
		}
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunSendsWebhooks: the simulator's workload reaches a receiver with
// the secret token, and neither its logs nor its banner show the secret.
func TestRunSendsWebhooks(t *testing.T) {
	const secret = "hook-s3cret"
	got := make(chan http.Header, 100)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Clone():
		default:
		}
	}))
	defer rc.Close()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{
		"--listen-address", "127.0.0.1:0", "--jobs-per-hour", "36000", "--tick", "20ms",
		"--webhook-url", rc.URL + "/webhook", "--webhook-secret-file", secretFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	logs, banner := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), banner) }()

	select {
	case h := <-got:
		if h.Get("X-Gitlab-Token") != secret || h.Get("X-Gitlab-Event") == "" {
			t.Errorf("delivery headers %v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery within 10s")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	out := logs.String() + banner.String()
	if !strings.Contains(out, "sending webhooks") || !strings.Contains(out, "secret_token=true") {
		t.Errorf("logs do not announce the webhook:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the secret appears in the output:\n%s", out)
	}
}
