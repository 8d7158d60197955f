package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web"
)

// TestOneTimestampAndCallerPerLine logs a line of the exporter's own, one
// through the slog logger, and exporter-toolkit's "Listening on" line, in
// each format: every line has level, ts and caller once each (in logfmt
// first, as in the exporter's own lines), the caller being the logging call
// site, and no slog "time".
func TestOneTimestampAndCallerPerLine(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var out syncBuffer
			kit, sl, err := New(&out, "info", format)
			if err != nil {
				t.Fatal(err)
			}
			_ = level.Info(kit).Log("msg", "own line", "project", "g/app")
			ownCaller := callerHere(-1)
			sl.Info("slog line", "address", "127.0.0.1:1")
			slogCaller := callerHere(-1)
			toolkitListens(t, sl, &out)

			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			wantCallers := map[string]*regexp.Regexp{
				"own line":     regexp.MustCompile("^" + regexp.QuoteMeta(ownCaller) + "$"),
				"slog line":    regexp.MustCompile("^" + regexp.QuoteMeta(slogCaller) + "$"),
				"Listening on": regexp.MustCompile(`^tls_config\.go:\d+$`), // in exporter-toolkit, not the bridge
			}
			seen := map[string]bool{}
			for _, line := range lines {
				pairs, err := parseLine(format, line)
				if err != nil {
					t.Fatalf("%v: %q", err, line)
				}
				count := map[string]int{}
				values := map[string]string{}
				for _, p := range pairs {
					count[p[0]]++
					values[p[0]] = p[1]
				}
				want, ok := wantCallers[values["msg"]]
				if !ok {
					continue
				}
				seen[values["msg"]] = true
				for _, key := range []string{"level", "ts", "caller", "msg"} {
					if count[key] != 1 {
						t.Errorf("%q appears %d times, want once: %s", key, count[key], line)
					}
				}
				if count["time"] != 0 {
					t.Errorf("slog's time key on top of ts: %s", line)
				}
				if got := keysOf(pairs[:min(3, len(pairs))]); format == "logfmt" && got != "level ts caller" {
					t.Errorf("line starts with %s, want level ts caller like the exporter's own: %s", got, line)
				}
				if _, err := time.Parse(time.RFC3339Nano, values["ts"]); err != nil || !strings.HasSuffix(values["ts"], "Z") {
					t.Errorf("ts %q is not an RFC 3339 UTC time: %v", values["ts"], err)
				}
				if !want.MatchString(values["caller"]) {
					t.Errorf("caller %q, want %s: %s", values["caller"], want, line)
				}
			}
			for msg := range wantCallers {
				if !seen[msg] {
					t.Errorf("no %q line in:\n%s", msg, out.String())
				}
			}
		})
	}
}

func TestLevelFiltersBothLoggers(t *testing.T) {
	var out syncBuffer
	kit, sl, err := New(&out, "warn", "logfmt")
	if err != nil {
		t.Fatal(err)
	}
	_ = level.Info(kit).Log("msg", "kit info")
	sl.Info("slog info")
	_ = level.Warn(kit).Log("msg", "kit warn")
	sl.Warn("slog warn")
	got := out.String()
	for _, dropped := range []string{"kit info", "slog info"} {
		if strings.Contains(got, dropped) {
			t.Errorf("%q logged at level warn:\n%s", dropped, got)
		}
	}
	for _, kept := range []string{"kit warn", "slog warn"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q missing at level warn:\n%s", kept, got)
		}
	}
}

// callerHere is file:line of the caller's line plus offset, as go-kit and
// slog-gokit print it.
func callerHere(offset int) string {
	_, file, line, _ := runtime.Caller(1)
	return file[strings.LastIndexByte(file, '/')+1:] + ":" + strconv.Itoa(line+offset)
}

// toolkitListens has exporter-toolkit log "Listening on" to sl (which
// writes to out) for a server on a loopback port, and stops the server.
func toolkitListens(t *testing.T, sl *slog.Logger, out *syncBuffer) {
	t.Helper()
	addrs, noSystemd, noConfig := []string{"127.0.0.1:0"}, false, ""
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	served := make(chan error, 1)
	go func() {
		served <- web.ListenAndServe(srv, &web.FlagConfig{
			WebListenAddresses: &addrs, WebSystemdSocket: &noSystemd, WebConfigFile: &noConfig,
		}, sl)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Listening on") {
		if time.Now().After(deadline) {
			t.Fatal("exporter-toolkit logged no \"Listening on\"")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = srv.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("web.ListenAndServe: %v", err)
	}
}

// parseLine returns a line's key/value pairs in order, duplicates kept.
func parseLine(format, line string) ([][2]string, error) {
	if format == "json" {
		return parseJSONLine(line)
	}
	var pairs [][2]string
	for rest := strings.TrimSpace(line); rest != ""; rest = strings.TrimLeft(rest, " ") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok || strings.Contains(key, " ") {
			return nil, errors.New("not logfmt")
		}
		value := after
		if strings.HasPrefix(after, `"`) {
			quoted, err := strconv.QuotedPrefix(after)
			if err != nil {
				return nil, err
			}
			if value, err = strconv.Unquote(quoted); err != nil {
				return nil, err
			}
			rest = after[len(quoted):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		pairs = append(pairs, [2]string{key, value})
	}
	return pairs, nil
}

func parseJSONLine(line string) ([][2]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var pairs [][2]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		value := string(raw)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			value = s
		}
		pairs = append(pairs, [2]string{tok.(string), value})
	}
	return pairs, nil
}

func keysOf(pairs [][2]string) string {
	var keys []string
	for _, p := range pairs {
		keys = append(keys, p[0])
	}
	return strings.Join(keys, " ")
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
