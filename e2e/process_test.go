//go:build unix

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a program started by a test. Its stdout and stderr go to one
// buffer, which the test reads (addresses, log lines, leaked secrets) and
// logs when the test fails.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done is closed
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

// stopTimeout is how long a process gets to exit after SIGTERM before it is
// killed.
const stopTimeout = 10 * time.Second

// start runs bin with args and extra environment variables (added to the
// test's own), and stops it when the test ends.
func start(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// A directory of its own: whatever the program writes relative to its
	// working directory (the exporter's ./data by default) goes away with
	// the test and never mixes with another test's.
	cmd.Dir = t.TempDir()
	p := &process{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output (last 8 KiB):\n%s", name, tail(p.out.String(), 8<<10))
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL if the process outlives stopTimeout.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code, or fails the test.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("%s has not exited after %s", p.name, timeout)
		return -1
	}
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to %s: %v", sig, p.name, err)
	}
}

// find waits until re matches the process output and returns the first
// submatch.
func (p *process) find(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	var m []string
	waitFor(t, timeout, fmt.Sprintf("%s to print %s", p.name, re), func() (bool, string) {
		m = re.FindStringSubmatch(p.out.String())
		return m != nil, ""
	}, p)
	return m[1]
}

// waitFor polls cond until it holds. It fails the test on timeout, or at
// once when one of the watched processes exits, instead of waiting for a
// server that is gone. cond's second result describes the last state, for
// the failure message.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string), watch ...*process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("%s exited (%v) while waiting for %s; last state: %s", p.name, p.err, what, last)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// freeAddr returns a loopback address with a port free right now, for
// programs that cannot report the port they picked themselves (Prometheus,
// Alertmanager). Another process could take it in between; on a test
// machine that is rare enough.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// newToken returns a random token, distinctive enough to grep for.
func newToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "glpat-e2e" + hex.EncodeToString(b)
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get returns the status and body of a GET, or an error for a transport
// failure.
func get(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func post(url string) (int, string, error) {
	resp, err := httpClient.Post(url, "text/plain", strings.NewReader(""))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP200 waits until url answers 200.
func waitHTTP200(t *testing.T, url string, timeout time.Duration, watch ...*process) {
	t.Helper()
	waitFor(t, timeout, "200 from "+url, func() (bool, string) {
		code, body, err := get(url)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
	}, watch...)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// exporter is a running gitlab_jobs_exporter binary.
type exporter struct {
	*process
	base string // http://127.0.0.1:port
}

var listeningOn = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// startExporter runs the exporter on a port of its own choosing (the
// toolkit logs the address it bound), with the token in GITLAB_TOKEN, and
// waits until it answers /-/healthy.
func startExporter(t *testing.T, configFile, token string, extraArgs ...string) *exporter {
	t.Helper()
	return startExporterEnv(t, configFile, []string{"GITLAB_TOKEN=" + token}, extraArgs...)
}

// startExporterEnv is startExporter with the environment env.
func startExporterEnv(t *testing.T, configFile string, env []string, extraArgs ...string) *exporter {
	t.Helper()
	args := append([]string{"--config.file=" + configFile, "--web.listen-address=127.0.0.1:0"}, extraArgs...)
	p := start(t, "gitlab_jobs_exporter", bins.exporter, env, args...)
	e := &exporter{process: p, base: "http://" + p.find(t, listeningOn, 30*time.Second)}
	waitHTTP200(t, e.base+"/-/healthy", 10*time.Second, p)
	return e
}

// exporterConfig is a config file for a fake GitLab at url with fast
// polling; sources is the projects: or groups: section.
func exporterConfig(url, sources string) string {
	return fmt.Sprintf(`gitlab:
  url: %s
poll:
  interval: 1s
  initial_lookback: 1h
discovery:
  interval: 5s
%s`, url, sources)
}
