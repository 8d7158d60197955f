package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
)

// testConfig is the part of the exporter's configuration the tests vary.
type testConfig struct {
	url      string
	token    string // written inline when set
	projects []string
	extra    string // appended verbatim (top-level YAML)
}

func writeTestConfig(t testing.TB, path string, c testConfig) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "gitlab:\n  url: %s\n  timeout: 5s\n  max_retries: 1\n  requests_per_second: 1000\n  burst: 1000\n", c.url)
	if c.token != "" {
		fmt.Fprintf(&b, "  token: %s\n", c.token)
	}
	b.WriteString("poll:\n  interval: 1s\ndiscovery:\n  interval: 1h\nprojects:\n")
	for _, p := range c.projects {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	b.WriteString(c.extra)
	noErr(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

// envWith returns a getenv that knows only GITLAB_TOKEN.
func envWith(token string) func(string) string {
	return func(k string) string {
		if k == config.EnvToken {
			return token
		}
		return ""
	}
}

// runApp polls in the background until the test ends.
func runApp(t testing.TB, a *App) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue sums the series of name whose labels include match.
func metricValue(t testing.TB, g prometheus.Gatherer, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	noErr(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, v := range match {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key into dir
// as tls.crt and tls.key, and returns a pool that trusts it.
func selfSignedCert(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noErr(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "gitlab_jobs_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	noErr(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	noErr(t, err)
	noErr(t, os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	noErr(t, os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	noErr(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// listenAddr is an slog handler that passes on the address exporter-toolkit
// logs when it starts listening: web.ListenAndServe takes port 0 but does
// not return the port it got.
type listenAddr struct{ ch chan string }

func (h listenAddr) Enabled(context.Context, slog.Level) bool { return true }

func (h listenAddr) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "Listening on" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "address" {
			select {
			case h.ch <- a.Value.String():
			default:
			}
		}
		return true
	})
	return nil
}

func (h listenAddr) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h listenAddr) WithGroup(string) slog.Handler      { return h }
