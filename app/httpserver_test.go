package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

func TestNewHTTPServerIsBounded(t *testing.T) {
	s := NewHTTPServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": s.ReadHeaderTimeout, "ReadTimeout": s.ReadTimeout,
		"WriteTimeout": s.WriteTimeout, "IdleTimeout": s.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is unbounded", name)
		}
	}
	if s.ReadHeaderTimeout > s.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %s exceeds ReadTimeout %s", s.ReadHeaderTimeout, s.ReadTimeout)
	}
	if s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes >= http.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d, want a bound below net/http's default", s.MaxHeaderBytes)
	}
}

// TestSlowClientsAreCutOff plays clients that hold a connection by sending
// nothing, or a byte at a time, against the server with short timeouts:
// the server must close the connection long before the client is done.
func TestSlowClientsAreCutOff(t *testing.T) {
	app := newQuietApp(t)
	handler, err := app.Handler("/metrics", false)
	noErr(t, err)
	srv := newHTTPServer(handler, serverTimeouts{
		readHeader: 200 * time.Millisecond, read: 500 * time.Millisecond,
		write: 5 * time.Second, idle: 500 * time.Millisecond,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	// Each byte of trickle is sent 20ms after the previous one: 300 bytes
	// take 6s, far past every timeout above.
	trickle := strings.Repeat("a", 300)
	cases := []struct {
		name      string
		prefix    string // sent at once
		trickle   string // then a byte at a time
		wantReply bool   // the server answers 200 before closing
	}{
		{name: "connects and says nothing"},
		{name: "headers a byte at a time", trickle: "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + trickle},
		{name: "header lines that never end", prefix: "GET /metrics HTTP/1.1\r\nHost: x\r\n", trickle: "X-Slow: " + trickle},
		{
			name:    "reload body a byte at a time",
			prefix:  "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
			trickle: trickle, wantReply: true,
		},
		{
			name:      "idle keep-alive connection",
			prefix:    "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n",
			wantReply: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", l.Addr().String())
			noErr(t, err)
			defer conn.Close()
			// Our own bound, in case the server never cuts us off.
			noErr(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
			var sent atomic.Int64
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				if _, err := io.WriteString(conn, tc.prefix); err != nil {
					return
				}
				for i := 0; i < len(tc.trickle); i++ {
					time.Sleep(20 * time.Millisecond)
					if _, err := conn.Write([]byte{tc.trickle[i]}); err != nil {
						return
					}
					sent.Add(1)
				}
			}()
			reply, err := io.ReadAll(conn)
			if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the connection open for 20s (%d bytes trickled)", sent.Load())
			}
			if got := sent.Load(); tc.trickle != "" && got >= int64(len(tc.trickle)) {
				t.Errorf("the client sent all %d bytes before the server closed the connection", got)
			}
			switch ok := strings.HasPrefix(string(reply), "HTTP/1.1 200"); {
			case tc.wantReply && !ok:
				t.Errorf("reply %.100q, want 200", reply)
			case !tc.wantReply && len(reply) > 0 && !strings.HasPrefix(string(reply), "HTTP/1.1 4"):
				t.Errorf("reply %.100q, want none or a 4xx", reply)
			}
			_ = conn.Close()
			<-writerDone
		})
	}
}

// TestReloadBodyIsBounded sends /-/reload a body of 256 MiB: the handler
// must answer without reading more than its limit.
func TestReloadBodyIsBounded(t *testing.T) {
	app := newQuietApp(t)
	handler, err := app.Handler("/metrics", false)
	noErr(t, err)
	var read atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &read}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	const size = 256 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/-/reload", io.LimitReader(zeros{}, size))
	noErr(t, err)
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	noErr(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "reloaded") {
		t.Errorf("reload with a huge body answered %d %q, want 200", resp.StatusCode, body)
	}
	if got := read.Load(); got > 2*maxReloadBody {
		t.Errorf("handler read %d bytes of the body, limit %d", got, maxReloadBody)
	}
}

// newQuietApp builds an exporter that is never run: enough to serve
// /-/healthy and /-/reload.
func newQuietApp(t *testing.T) *App {
	t.Helper()
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: "tok"})
	t.Cleanup(gl.Close)
	configFile := filepath.Join(t.TempDir(), "config.yaml")
	writeTestConfig(t, configFile, testConfig{url: gl.URL(), projects: []string{"g/app"}})
	if _, err := os.Stat(configFile); err != nil {
		t.Fatal(err)
	}
	a, err := New(configFile, envWith("tok"), log.NewNopLogger())
	noErr(t, err)
	return a
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
