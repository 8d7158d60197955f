package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// notification is the part of Alertmanager's webhook payload the test reads.
type notification struct {
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// TestLiveRoutingAndInhibition runs the real Alertmanager with
// alertmanager.yml, posts alerts and checks where they are delivered and which
// are inhibited. Only the webhook URLs are changed, to a local server, so
// nothing leaves the machine. The alerts start in the past, which makes
// Alertmanager skip group_wait and notify at once.
func TestLiveRoutingAndInhibition(t *testing.T) {
	am := deploytest.RequireTool(t, "prometheus-alertmanager", deploytest.HintAmtool)

	delivered := make(chan notification, 16)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook %s: decoding payload: %v", r.URL.Path, err)
		}
		if "/"+n.Receiver != r.URL.Path {
			t.Errorf("receiver %q notified through %s", n.Receiver, r.URL.Path)
		}
		delivered <- n
	}))
	defer hooks.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	writeTestConfig(t, "alertmanager.yml", cfgPath, hooks.URL)

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, am,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting alertmanager: %v", err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	}()
	base := "http://" + addr
	waitFor(t, "alertmanager ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	alert := func(name, severity, project string) map[string]any {
		return map[string]any{
			"labels":      map[string]string{"alertname": name, "severity": severity, "project": project},
			"annotations": map[string]string{"summary": name + " " + project},
			"startsAt":    time.Now().Add(-time.Minute).Format(time.RFC3339),
		}
	}
	// The critical alert goes first: Alertmanager inhibits only by alerts it
	// already holds, and alerts posted together race for that.
	postAlerts(t, base, []map[string]any{alert("GitLabCIJobsStuckPending", "critical", "group/a")})
	waitFor(t, "critical alert held", func() bool {
		_, held := findAlert(t, base, "GitLabCIJobsStuckPending", "critical", "group/a")
		return held
	})
	postAlerts(t, base, []map[string]any{
		alert("GitLabCIJobsStuckPending", "warning", "group/a"),      // inhibited
		alert("GitLabCIJobsStuckPending", "warning", "group/b"),      // other project
		alert("GitLabJobsExporterProjectDown", "warning", "group/a"), // other alert
	})

	waitFor(t, "warning of group/a inhibited by its critical twin", func() bool {
		return len(alertStatus(t, base, "GitLabCIJobsStuckPending", "warning", "group/a").InhibitedBy) > 0
	})
	for _, a := range [][3]string{
		{"GitLabCIJobsStuckPending", "warning", "group/b"},
		{"GitLabJobsExporterProjectDown", "warning", "group/a"},
		{"GitLabCIJobsStuckPending", "critical", "group/a"},
	} {
		if st := alertStatus(t, base, a[0], a[1], a[2]); len(st.InhibitedBy) > 0 {
			t.Errorf("%v is inhibited by %v; only a warning with a critical twin of the same alertname and project may be", a, st.InhibitedBy)
		}
	}

	// key: receiver + alertname + severity + project of each delivered alert.
	want := []string{
		"pager GitLabCIJobsStuckPending critical group/a",
		"chat GitLabCIJobsStuckPending warning group/b",
		"chat GitLabJobsExporterProjectDown warning group/a",
	}
	var got []string
	deadline := time.After(15 * time.Second)
	for len(got) < len(want) {
		select {
		case n := <-delivered:
			for _, a := range n.Alerts {
				got = append(got, strings.Join([]string{n.Receiver, a.Labels["alertname"], a.Labels["severity"], a.Labels["project"]}, " "))
			}
		case <-deadline:
			t.Fatalf("timed out waiting for notifications; got %q, want %q", got, want)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("notifications = %q, want %q", got, want)
	}
}

// writeTestConfig copies the Alertmanager config, sending every webhook to
// hookBase/<receiver name>.
func writeTestConfig(t *testing.T, src, dst, hookBase string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("reading %s: %v", src, err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("decoding %s: %v", src, err)
	}
	receivers, _ := cfg["receivers"].([]any)
	hooks := 0
	for _, r := range receivers {
		rm, _ := r.(map[string]any)
		for _, wh := range asSlice(rm["webhook_configs"]) {
			whm, _ := wh.(map[string]any)
			whm["url"] = fmt.Sprintf("%s/%s", hookBase, rm["name"])
			hooks++
		}
	}
	if hooks == 0 {
		t.Fatalf("%s has no webhook receiver to redirect", src)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("encoding config: %v", err)
	}
	if err := os.WriteFile(dst, out, 0o600); err != nil {
		t.Fatalf("writing %s: %v", dst, err)
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it holds; Alertmanager updates its state
// asynchronously and offers nothing to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postAlerts(t *testing.T, base string, alerts []map[string]any) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatalf("encoding alerts: %v", err)
	}
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("posting alerts: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("posting alerts: %s: %s", resp.Status, b)
	}
}

type amStatus struct {
	State       string   `json:"state"`
	InhibitedBy []string `json:"inhibitedBy"`
}

func alertStatus(t *testing.T, base, name, severity, project string) amStatus {
	t.Helper()
	st, ok := findAlert(t, base, name, severity, project)
	if !ok {
		t.Fatalf("alert %s/%s/%s not found in Alertmanager", name, severity, project)
	}
	return st
}

func findAlert(t *testing.T, base, name, severity, project string) (amStatus, bool) {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("listing alerts: %v", err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status amStatus          `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatalf("decoding alerts: %v", err)
	}
	for _, a := range alerts {
		if a.Labels["alertname"] == name && a.Labels["severity"] == severity && a.Labels["project"] == project {
			return a.Status, true
		}
	}
	return amStatus{}, false
}
