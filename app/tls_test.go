package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// TestTLSAndBasicAuthOnEveryEndpoint serves the exporter the way main does,
// through exporter-toolkit with a web config holding a certificate and a
// bcrypt-hashed password, and talks to it with real TLS clients.
func TestTLSAndBasicAuthOnEveryEndpoint(t *testing.T) {
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: "tok"})
	t.Cleanup(gl.Close)
	gl.CreateProject("g/app", gitlabtest.ProjectOptions{})

	dir := t.TempDir()
	configFile := filepath.Join(dir, "config.yaml")
	writeTestConfig(t, configFile, testConfig{url: gl.URL(), projects: []string{"g/app"}})
	a, err := New(configFile, envWith("tok"), log.NewNopLogger())
	noErr(t, err)
	runApp(t, a)
	handler, err := a.Handler("/metrics", true)
	noErr(t, err)

	const user, password = "prometheus", "correct horse battery staple"
	pool := selfSignedCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	noErr(t, err)
	webConfig := filepath.Join(dir, "web-config.yml")
	// Relative paths are resolved against the web config's directory.
	noErr(t, os.WriteFile(webConfig, []byte(fmt.Sprintf(
		"tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  %s: %s\n", user, hash)), 0o600))

	server := NewHTTPServer(handler)
	addrs := make(chan string, 1)
	served := make(chan error, 1)
	noSystemd := false
	go func() {
		served <- web.ListenAndServe(server, &web.FlagConfig{
			WebListenAddresses: &[]string{"127.0.0.1:0"},
			WebSystemdSocket:   &noSystemd,
			WebConfigFile:      &webConfig,
		}, slog.New(listenAddr{addrs}))
	}()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-served:
		t.Fatalf("web.ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("exporter-toolkit never logged its listen address")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("web.ListenAndServe returned %v", err)
		}
	})

	tlsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	t.Cleanup(tlsClient.CloseIdleConnections)
	base := "https://" + addr
	do := func(method, path, user, password string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		noErr(t, err)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := tlsClient.Do(req)
		noErr(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}
	waitUntil(t, 15*time.Second, "the first poll (readiness)", func() bool {
		code, _, _ := do(http.MethodGet, "/-/ready", user, password)
		return code == http.StatusOK
	})

	endpoints := []struct {
		method, path, want string // want: a substring of the authorised answer
	}{
		{http.MethodGet, "/metrics", "gitlab_jobs_exporter_projects 1"},
		{http.MethodGet, "/-/healthy", "Healthy"},
		{http.MethodGet, "/-/ready", "Ready"},
		{http.MethodPost, "/-/reload", "Configuration reloaded"},
		{http.MethodGet, "/", "GitLab Jobs Exporter"},
		{http.MethodGet, "/debug/pprof/", "goroutine"},
	}
	credentials := []struct {
		name, user, password string
		ok                   bool
	}{
		{"no credentials", "", "", false},
		{"wrong password", user, "wrong", false},
		{"unknown user", "admin", password, false},
		{"empty password", user, "", false},
		{"right password", user, password, true},
	}
	for _, ep := range endpoints {
		for _, c := range credentials {
			t.Run(ep.method+" "+ep.path+"/"+c.name, func(t *testing.T) {
				code, body, header := do(ep.method, ep.path, c.user, c.password)
				if !c.ok {
					if code != http.StatusUnauthorized || header.Get("WWW-Authenticate") == "" {
						t.Errorf("got %d (WWW-Authenticate %q), want 401 with a challenge", code, header.Get("WWW-Authenticate"))
					}
					if strings.Contains(body, "gitlab_") || strings.Contains(body, ep.want) {
						t.Errorf("unauthorised answer leaks content: %.200q", body)
					}
					return
				}
				if code != http.StatusOK || !strings.Contains(body, ep.want) {
					t.Errorf("got %d %.200q, want 200 containing %q", code, body, ep.want)
				}
			})
		}
	}

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		plain := &http.Client{Timeout: 10 * time.Second}
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		noErr(t, err)
		req.SetBasicAuth(user, password)
		resp, err := plain.Do(req)
		if err != nil {
			return // refused outright: fine
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "gitlab_") {
			t.Errorf("plain HTTP got %d %.200q, want no metrics", resp.StatusCode, body)
		}
	})
	t.Run("client that does not trust the certificate", func(t *testing.T) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		if resp, err := c.Get(base + "/-/healthy"); err == nil {
			resp.Body.Close()
			t.Errorf("a client without the CA connected (status %d)", resp.StatusCode)
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, //nolint:gosec // the point of the test
		}}
		defer c.CloseIdleConnections()
		if resp, err := c.Get(base + "/-/healthy"); err == nil {
			resp.Body.Close()
			t.Errorf("a TLS 1.1 client connected (status %d)", resp.StatusCode)
		}
	})
}
