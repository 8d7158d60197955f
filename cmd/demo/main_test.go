package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestDemoServesLikeTheExporter runs the demo with a web config: it must
// serve through exporter-toolkit (basic auth from --web.config.file), with
// the exporter's hardened server (headers bounded well below net/http's
// 1 MiB default) and its endpoints (/-/reload).
func TestDemoServesLikeTheExporter(t *testing.T) {
	const user, password = "prometheus", "demo password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web-config.yml")
	if err := os.WriteFile(webConfig, []byte(fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash)), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"--web.listen-address=127.0.0.1:0", "--web.config.file=" + webConfig,
			"--projects=1", "--jobs-per-hour=3600",
		}, &out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the demo did not stop within 30s of its context's end")
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	})
	base := "http://" + listenAddress(t, &out, done)

	request := func(method, path string, auth bool, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if auth {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, _ := request(http.MethodGet, "/metrics", false, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics without credentials = %d, want 401 (--web.config.file ignored?)", code)
	}
	if code, body := request(http.MethodGet, "/-/healthy", true, nil); code != http.StatusOK {
		t.Errorf("GET /-/healthy = %d %q, want 200", code, body)
	}
	if code, body := request(http.MethodPost, "/-/reload", true, nil); code != http.StatusOK || !strings.Contains(body, "reloaded") {
		t.Errorf("POST /-/reload = %d %q, want 200", code, body)
	}
	// The simulated GitLab's webhooks reach the exporter: its deliveries
	// are accepted.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := request(http.MethodGet, "/metrics", true, nil)
		if regexp.MustCompile(`gitlab_jobs_exporter_webhook_deliveries_total\{event="(job|pipeline)",result="accepted"\} [1-9]`).MatchString(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted webhook delivery within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	big := http.Header{"X-Padding": {strings.Repeat("a", 256<<10)}}
	if code, _ := request(http.MethodGet, "/-/healthy", true, big); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET with 256 KiB of headers = %d, want 431 from the hardened server", code)
	}
}

var listeningOn = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// listenAddress waits for exporter-toolkit to log the address it bound.
func listenAddress(t *testing.T, out *syncBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listeningOn.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("the demo stopped before listening: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo logged no listen address in 30s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
