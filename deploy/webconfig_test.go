package deploy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

type webConfig struct {
	TLS struct {
		CertFile   string `yaml:"cert_file"`
		KeyFile    string `yaml:"key_file"`
		MinVersion string `yaml:"min_version"`
	} `yaml:"tls_server_config"`
	HTTP struct {
		Headers map[string]string `yaml:"headers"`
	} `yaml:"http_server_config"`
	Users map[string]string `yaml:"basic_auth_users"`
}

// exampleWebConfig copies deploy/web-config.yml into a directory beside a
// freshly generated certificate and key under the names it references
// (the example ships no key), optionally editing it, and returns its path
// and a pool trusting the certificate.
func exampleWebConfig(t *testing.T, edit func(string) string) (string, *x509.CertPool) {
	t.Helper()
	data, err := os.ReadFile("web-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c webConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("web-config.yml: %v", err)
	}
	if c.TLS.CertFile == "" || c.TLS.KeyFile == "" || filepath.IsAbs(c.TLS.CertFile) || filepath.IsAbs(c.TLS.KeyFile) {
		t.Fatalf("web-config.yml: cert_file %q and key_file %q should be set and relative", c.TLS.CertFile, c.TLS.KeyFile)
	}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web-config test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(c.TLS.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(c.TLS.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	write("web-config.yml", []byte(text))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return filepath.Join(dir, "web-config.yml"), pool
}

func TestWebConfigExampleIsSafe(t *testing.T) {
	data, err := os.ReadFile("web-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c webConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if c.TLS.MinVersion != "TLS12" && c.TLS.MinVersion != "TLS13" {
		t.Errorf("min_version %q, want TLS12 or TLS13", c.TLS.MinVersion)
	}
	if len(c.Users) == 0 {
		t.Errorf("no basic_auth_users: the example should show authentication")
	}
	for user, hash := range c.Users {
		cost, err := bcrypt.Cost([]byte(hash))
		switch {
		case err != nil:
			t.Errorf("user %s: not a bcrypt hash: %v", user, err)
		case cost < bcrypt.DefaultCost:
			t.Errorf("user %s: bcrypt cost %d, want at least %d", user, cost, bcrypt.DefaultCost)
		}
		// A copy used unchanged must not open with a guessable password.
		for _, guess := range []string{"", user, "password", "changeme"} {
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte(guess)) == nil {
				t.Errorf("user %s: the example hash is of the password %q", user, guess)
			}
		}
	}
	for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options"} {
		if c.HTTP.Headers[h] == "" {
			t.Errorf("http_server_config.headers has no %s", h)
		}
	}
	path, _ := exampleWebConfig(t, nil)
	if err := web.Validate(path); err != nil {
		t.Errorf("exporter-toolkit rejects the example: %v", err)
	}
}

func TestWebConfigExamplePromtool(t *testing.T) {
	promtool := deploytest.RequireTool(t, "promtool", deploytest.HintPromtool)
	for _, tc := range []struct {
		name   string
		edit   func(string) string
		wantOK bool
	}{
		{"as shipped", nil, true},
		{"plain-text password", func(s string) string {
			i := strings.Index(s, "$2a$")
			return s[:i] + "hunter2\n"
		}, false},
		{"unknown key", func(s string) string { return s + "tls_config: {}\n" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := exampleWebConfig(t, tc.edit)
			out, err := deploytest.Run(t, filepath.Dir(path), promtool, "check", "web-config", filepath.Base(path))
			if (err == nil) != tc.wantOK {
				t.Errorf("promtool check web-config: err %v, want ok %v\n%s", err, tc.wantOK, out)
			}
		})
	}
}

// TestWebConfigExampleServes serves a handler with the example through
// exporter-toolkit: nothing gets through without the (unknown) password,
// and the configured headers are sent.
func TestWebConfigExampleServes(t *testing.T) {
	path, pool := exampleWebConfig(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret metrics") }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	served := make(chan error, 1)
	go func() {
		served <- web.Serve(l, server, &web.FlagConfig{WebConfigFile: &path}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("web.Serve: %v", err)
		}
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	for _, pw := range []string{"", "prometheus", "changeme"} {
		req, err := http.NewRequest(http.MethodGet, "https://"+l.Addr().String()+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if pw != "" {
			req.SetBasicAuth("prometheus", pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "secret") {
			t.Errorf("password %q: %d %q, want 401", pw, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
		}
		if resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("no Strict-Transport-Security header")
		}
	}
}
