package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChildEnv names the environment variable that turns a test binary into
// the fake GitLab's process; its value is the scenario as JSON. The test
// binary's TestMain must call ServeChild when it is set.
const ChildEnv = "GITLAB_JOBS_EXPORTER_BENCH_CHILD"

// ServeChild runs the fake GitLab and its workload for the scenario in
// spec, answers the parent's step and count requests on a loopback
// control port, and returns when stdin closes (the parent is done or
// gone). It prints "READY <control URL> <GitLab URL>" once serving.
func ServeChild(spec string, stdin io.Reader, stdout io.Writer) error {
	var sc Scenario
	if err := json.Unmarshal([]byte(spec), &sc); err != nil {
		return fmt.Errorf("bench child: bad scenario: %w", err)
	}
	g, err := newLocalGitLab(sc)
	if err != nil {
		return err
	}
	defer g.Close()
	var mu sync.Mutex // one step or count at a time
	mux := http.NewServeMux()
	mux.HandleFunc("POST /step", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		res, _ := g.Step(d, r.URL.Query().Get("frozen") != "")
		mu.Unlock()
		writeJSON(w, res)
	})
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		c, _ := g.Counts()
		mu.Unlock()
		writeJSON(w, c)
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		project, err1 := strconv.ParseInt(r.URL.Query().Get("project"), 10, 64)
		last, err2 := strconv.Atoi(r.URL.Query().Get("last"))
		if err := errors.Join(err1, err2); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs, complete := g.pollRequests(project, last)
		mu.Unlock()
		writeJSON(w, pollRequestsAnswer{reqs, complete})
	})
	mux.HandleFunc("POST /webhook", func(w http.ResponseWriter, r *http.Request) {
		var spec WebhookSpec
		if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		err := g.AddWebhook(spec)
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, struct{}{})
	})
	mux.HandleFunc("POST /flush", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n, err := g.FlushWebhooks()
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, n)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if _, err := fmt.Fprintf(stdout, "READY http://%s %s\n", ln.Addr(), g.URL()); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

type pollRequestsAnswer struct {
	Requests []RequestDetail `json:"requests"`
	Complete bool            `json:"complete"`
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// remoteGitLab is a fake GitLab in a child process: the test binary itself,
// started again with ChildEnv set.
type remoteGitLab struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	control string
	url     string
	hc      *http.Client
	done    chan error
}

func startRemoteGitLab(sc Scenario) (*remoteGitLab, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &remoteGitLab{cmd: cmd, stdin: stdin, hc: &http.Client{Timeout: 5 * time.Minute}, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "READY ") {
				ready <- line
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		g.done <- cmd.Wait()
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		if len(f) != 3 {
			_ = g.Close()
			return nil, fmt.Errorf("bench child said %q", line)
		}
		g.control, g.url = f[1], f[2]
		return g, nil
	case err := <-g.done:
		return nil, fmt.Errorf("bench child exited before serving: %v", err)
	case <-time.After(10 * time.Minute):
		_ = g.Close()
		return nil, errors.New("bench child did not start within 10 minutes")
	}
}

func (g *remoteGitLab) URL() string    { return g.url }
func (g *remoteGitLab) Separate() bool { return true }

func (g *remoteGitLab) Step(d time.Duration, frozen bool) (StepResult, error) {
	path := "/step?d=" + d.String()
	if frozen {
		path += "&frozen=1"
	}
	var res StepResult
	err := g.call(http.MethodPost, path, &res)
	return res, err
}

func (g *remoteGitLab) Counts() (Counts, error) {
	var c Counts
	err := g.call(http.MethodGet, "/counts", &c)
	return c, err
}

func (g *remoteGitLab) PollRequests(project int64, last int) ([]RequestDetail, bool, error) {
	var a pollRequestsAnswer
	err := g.call(http.MethodGet, fmt.Sprintf("/requests?project=%d&last=%d", project, last), &a)
	return a.Requests, a.Complete, err
}

func (g *remoteGitLab) call(method, path string, v any) error {
	req, err := http.NewRequest(method, g.control+path, nil)
	if err != nil {
		return err
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("bench child %s %s: %s: %s", method, path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Close ends the child by closing its stdin and waits for it; it kills
// the child if it does not exit within a few seconds.
func (g *remoteGitLab) AddWebhook(w WebhookSpec) error {
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	resp, err := g.hc.Post(g.control+"/webhook", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("bench child: adding the webhook: %s", msg)
	}
	return nil
}

func (g *remoteGitLab) FlushWebhooks() (int, error) {
	var n int
	err := g.call(http.MethodPost, "/flush", &n)
	return n, err
}

func (g *remoteGitLab) Close() error {
	_ = g.stdin.Close()
	select {
	case err := <-g.done:
		return err
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		return <-g.done
	}
}
