package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

const minimal = "gitlab:\n  url: https://gitlab.example.com/\nprojects: [a/b]\ngroups:\n  - path: g\n"

func TestDefaults(t *testing.T) {
	cfg, warnings, err := Parse([]byte(minimal), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}
	g := cfg.GitLab
	checks := []struct {
		name      string
		got, want any
	}{
		{"url (trailing slash dropped)", g.URL, "https://gitlab.example.com"},
		{"auth_mode", g.AuthMode, "private-token"},
		{"requests_per_second", g.RequestsPerSecond, 10.0},
		{"burst", g.Burst, 20},
		{"max_concurrent_requests", g.MaxConcurrentRequests, 8},
		{"timeout", time.Duration(g.Timeout), 30 * time.Second},
		{"max_retries", g.MaxRetries, 4},
		{"insecure_skip_verify", g.InsecureSkipVerify, false},
		{"poll.interval", time.Duration(cfg.Poll.Interval), 30 * time.Second},
		{"poll.initial_lookback", time.Duration(cfg.Poll.InitialLookback), time.Hour},
		{"poll.parked_recheck_interval", time.Duration(cfg.Poll.ParkedRecheckInterval), 10 * time.Minute},
		{"poll.parked_max_age", time.Duration(cfg.Poll.ParkedMaxAge), 14 * 24 * time.Hour},
		{"poll.retry_window", time.Duration(cfg.Poll.RetryWindow), time.Hour},
		{"discovery.interval", time.Duration(cfg.Discovery.Interval), 5 * time.Minute},
		{"groups[0].include_subgroups", *cfg.Groups[0].IncludeSubgroups, true},
		{"metrics.series_ttl", time.Duration(cfg.Metrics.SeriesTTL), 168 * time.Hour},
		{"metrics.duration", cfg.Metrics.Families["duration"], FamilyConfig{Enabled: true, Histogram: "both",
			Labels:  []string{"project", "ref", "stage", "job_name", "status"},
			Buckets: []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600}}},
		{"metrics.queued_duration", cfg.Metrics.Families["queued_duration"], FamilyConfig{Enabled: true, Histogram: "both",
			Labels: []string{"project"}, Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}}},
		{"metrics.artifact_size", cfg.Metrics.Families["artifact_size"], FamilyConfig{Enabled: true, Histogram: "both",
			Labels: []string{"project", "file_type"}, Buckets: []float64{1 << 10, 16 << 10, 256 << 10, 4 << 20, 64 << 20, 1 << 30}}},
		{"metrics.failures", cfg.Metrics.Families["failures"], FamilyConfig{Enabled: true,
			Labels: []string{"project", "ref", "stage", "job_name", "failure_reason", "allow_failure"}}},
		{"metrics.retries", cfg.Metrics.Families["retries"], FamilyConfig{Enabled: true, Labels: []string{"project", "ref", "stage", "job_name"}}},
		{"metrics.last_job", cfg.Metrics.Families["last_job"], FamilyConfig{Enabled: true, Labels: []string{"project", "ref", "stage", "job_name"}}},
		{"metrics.jobs", cfg.Metrics.Families["jobs"], FamilyConfig{Enabled: true, Labels: []string{"project", "status"}}},
		{"metrics.queue_by_pool", cfg.Metrics.Families["queue_by_pool"], FamilyConfig{Enabled: true, Histogram: "both",
			Labels: []string{"tags", "runner_type"}, Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}}},
		{"metrics.pending_by_pool", cfg.Metrics.Families["pending_by_pool"], FamilyConfig{Enabled: true, Labels: []string{"tags"}}},
		{"metrics.runners", cfg.Metrics.Families["runners"], FamilyConfig{Enabled: false, Histogram: "both",
			Labels:  []string{"runner", "runner_type"},
			Buckets: []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600}}},
		{"metrics.tag_pools", len(cfg.Metrics.TagPools), 0},
		{"metrics.runner_pools", poolSources(cfg.Metrics.RunnerPools), []string{`[0-9]+-[a-z]+\.([^./]+)\.runners-manager\..+ -> $1`}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if cfg.Refs.Tracked != nil || cfg.Groups[0].Include != nil || g.CAFile != "" || g.TokenFile != "" {
		t.Errorf("optional settings should stay unset: %+v", cfg)
	}
}

func poolSources(rules []PoolRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Match.Source+" -> "+r.Pool)
	}
	return out
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	doc := minimal + "  - path: h\n    include_subgroups: false\npoll:\n  interval: 1s\n  initial_lookback: 0s\nmetrics:\n  duration:\n    histogram: native\n    buckets: [1]\n    labels: [job_name]\n  retries:\n    enabled: false\n"
	cfg, _, err := Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Groups[0].IncludeSubgroups != true || *cfg.Groups[1].IncludeSubgroups != false ||
		cfg.Poll.Interval != Duration(time.Second) || cfg.Poll.InitialLookback != 0 ||
		cfg.Metrics.Families["duration"].Histogram != "native" || !slices.Equal(cfg.Metrics.Families["duration"].Buckets, []float64{1}) ||
		!slices.Equal(cfg.Metrics.Families["duration"].Labels, []string{"job_name"}) || !cfg.Metrics.Families["duration"].Enabled ||
		cfg.Metrics.Families["retries"].Enabled || !cfg.Metrics.Families["failures"].Enabled {
		t.Errorf("explicit values not applied:\n%s", cfg)
	}
}

func TestTokenPrecedence(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", "  file-token\n")
	inline := "  token: inline-token\n"
	fileKey := "  token_file: " + tokenFile + "\n"
	const (
		inlineWarning = "c.yaml:3: gitlab.token: token is written in the config file; prefer GITLAB_TOKEN or gitlab.token_file"
		ignoredInline = "c.yaml:3: gitlab.token: ignored because gitlab.token_file is set"
	)
	tests := []struct {
		name         string
		env, keys    string
		want         string
		wantWarnings []string
	}{
		{"env only", "env-token", "", "env-token", nil},
		{"env beats file and inline", "env-token", inline + fileKey, "env-token", []string{inlineWarning}},
		{"blank env is ignored", "  ", fileKey, "file-token", nil},
		{"file beats inline", "", inline + fileKey, "file-token", []string{inlineWarning, ignoredInline}},
		{"file only, trimmed", "", fileKey, "file-token", nil},
		{"inline only", "", inline, "inline-token", []string{inlineWarning}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "gitlab:\n  url: https://g.example.com\n" + tt.keys + "projects: [a/b]\n"
			cfg, warnings, err := Parse([]byte(doc), "c.yaml", envWith(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.ResolvedToken(); got != tt.want {
				t.Errorf("token = %q, want %q", got, tt.want)
			}
			if !slices.Equal(warnings, tt.wantWarnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarnings)
			}
		})
	}
}

func TestTokenProblems(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", " \n\t\n")
	spaced := writeFile(t, dir, "spaced", "abc def\n")
	huge := writeFile(t, dir, "huge", strings.Repeat("x", maxTokenFileSize+1))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name, env, keys string
		want            string
	}{
		{"no token at all", "", "",
			"c.yaml:1: gitlab: no GitLab token: set GITLAB_TOKEN, gitlab.token_file or gitlab.token"},
		{"missing token file", "", "  token_file: " + missing + "\n",
			"c.yaml:3: gitlab.token_file: cannot read token file: open " + missing + ": no such file or directory"},
		{"token file is a directory", "", "  token_file: " + dir + "\n",
			"c.yaml:3: gitlab.token_file: cannot read token file: read " + dir + ": is a directory"},
		{"empty token file", "", "  token_file: " + empty + "\n",
			fmt.Sprintf("c.yaml:3: gitlab.token_file: token file %q is empty", empty)},
		{"huge token file", "", "  token_file: " + huge + "\n",
			fmt.Sprintf("c.yaml:3: gitlab.token_file: token file %q is larger than 64 KiB; is it the right file?", huge)},
		{"token with a space in file", "", "  token_file: " + spaced + "\n",
			fmt.Sprintf("c.yaml:3: gitlab.token_file: token from token file %q contains whitespace or control characters", spaced)},
		{"token with a space in env", "abc def", "",
			"c.yaml: GITLAB_TOKEN: token from the GITLAB_TOKEN environment variable contains whitespace or control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "gitlab:\n  url: https://g.example.com\n" + tt.keys + "projects: [a/b]\n"
			_, _, err := Parse([]byte(doc), "c.yaml", envWith(tt.env))
			if got := problemLines(t, err); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("problems = %q\nwant       %q", got, tt.want)
			}
		})
	}
}

// TestTokenNeverLeaks feeds a recognisable token through every source and
// looks for it in everything the package prints.
func TestTokenNeverLeaks(t *testing.T) {
	const tok = "glpat-LEAKCANARY42"
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", tok+"\n")
	badFile := writeFile(t, dir, "bad", tok+" "+tok+"\n")
	cases := []struct {
		name, env, keys string
	}{
		{"env", tok, ""},
		{"file", "", "  token_file: " + tokenFile + "\n"},
		{"inline", "", "  token: " + tok + "\n"},
		{"inline and file", "", "  token: " + tok + "\n  token_file: " + tokenFile + "\n"},
		{"bad file", "", "  token_file: " + badFile + "\n"},
		{"bad inline", "", "  token: \"" + tok + "\\n" + tok + "\"\n"},
		{"inline with a tag it does not fit", "", "  token: !!int " + tok + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := "gitlab:\n  url: https://g.example.com\n" + c.keys + "projects: [a/b]\n"
			cfg, warnings, err := Parse([]byte(doc), "c.yaml", envWith(c.env))
			outputs := append([]string{}, warnings...)
			if err != nil {
				outputs = append(outputs, err.Error())
			} else {
				if cfg.ResolvedToken() != tok {
					t.Fatalf("token not resolved")
				}
				outputs = append(outputs, cfg.String(),
					fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
					fmt.Sprintf("%v", *cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", *cfg),
					fmt.Sprintf("%+v", cfg.GitLab))
			}
			// Also an invalid config that has the token in it.
			_, w2, err2 := Parse([]byte(doc+"poll: {interval: 5x}\n"), "c.yaml", envWith(c.env))
			if err2 == nil {
				t.Fatal("invalid config accepted")
			}
			outputs = append(append(outputs, w2...), err2.Error())
			for _, o := range outputs {
				if strings.Contains(o, tok) {
					t.Errorf("token leaked in %q", o)
				}
			}
		})
	}
}

func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "ca.pem", selfSignedPEM(t))
	notPEM := writeFile(t, dir, "ca.txt", "hello\n")
	missing := filepath.Join(dir, "nope.pem")
	tests := []struct {
		name, path string
		want       []string
	}{
		{"valid", good, nil},
		{"relative to the config file", "ca.pem", nil},
		{"not PEM", notPEM, []string{fmt.Sprintf("%s:3: gitlab.ca_file: CA file %q contains no PEM certificates", filepath.Join(dir, "c.yaml"), notPEM)}},
		{"missing", missing, []string{fmt.Sprintf("%s:3: gitlab.ca_file: cannot read CA file: open %s: no such file or directory", filepath.Join(dir, "c.yaml"), missing)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "gitlab:\n  url: https://g.example.com\n  ca_file: " + tt.path + "\nprojects: [a/b]\n"
			cfg, _, err := Parse([]byte(doc), filepath.Join(dir, "c.yaml"), envWith("tok"))
			if got := problemLines(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("problems = %q, want %q", got, tt.want)
			}
			if err == nil && cfg.GitLab.CAFile != good {
				t.Errorf("ca_file = %q, want %q", cfg.GitLab.CAFile, good)
			}
		})
	}
}

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "from-file\n")
	path := writeFile(t, dir, "exporter.yaml", "gitlab:\n  url: https://g.example.com\n  token_file: token\nprojects: [a/b]\n")
	cfg, _, err := Load(path, envWith(""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ResolvedToken() != "from-file" || cfg.GitLab.TokenFile != filepath.Join(dir, "token") {
		t.Errorf("relative token_file not resolved against the config's directory: %q", cfg.GitLab.TokenFile)
	}

	_, _, err = Load(filepath.Join(dir, "absent.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("err = %v, want a not-exist error naming the file", err)
	}

	bad := writeFile(t, dir, "bad.yaml", "gitlab:\n  url: https://g.example.com\nprojects: [a/b]\npoll:\n  interval: 5x\n")
	_, _, err = Load(bad, envWith("tok"))
	want := bad + `:5: poll.interval: invalid duration "5x": want a Go duration such as "30s", "5m" or "1h30m"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestNilGetenvUsesEnvironment(t *testing.T) {
	t.Setenv(EnvToken, "from-env")
	cfg, _, err := Parse([]byte(minimal), "c.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ResolvedToken() != "from-env" {
		t.Errorf("token = %q", cfg.ResolvedToken())
	}
}

func TestWarnings(t *testing.T) {
	doc := "gitlab:\n  url: http://g.example.com\n  insecure_skip_verify: true\nprojects: [a/b]\n"
	_, warnings, err := Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"c.yaml:2: gitlab.url: plain http sends the token unencrypted",
		"c.yaml:3: gitlab.insecure_skip_verify: TLS certificate verification is disabled",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
}

// TestStringRoundTrip checks that the effective config printed by String
// is itself a valid config describing the same settings.
func TestStringRoundTrip(t *testing.T) {
	doc := minimal + "    exclude: g/x.*\nrefs:\n  tracked: main|v.*\npoll:\n  interval: 1h30m\n"
	cfg, _, err := Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.String()
	again, _, err := Parse([]byte(out), "string.yaml", envWith("tok"))
	if err != nil {
		t.Fatalf("String() output does not parse: %v\n%s", err, out)
	}
	if again.String() != out {
		t.Errorf("round trip changed the config:\n%s\nvs\n%s", out, again.String())
	}
	for _, want := range []string{"interval: 1h30m", "tracked: main|v.*", "exclude: g/x.*", "- a/b"} {
		if !strings.Contains(out, want) {
			t.Errorf("String() lacks %q:\n%s", want, out)
		}
	}
	last := 0
	for _, f := range family.All {
		i := strings.Index(out, "\n  "+f.Key+":\n")
		if i < last {
			t.Errorf("family %s is not in the order of family.All:\n%s", f.Key, out)
		}
		last = i
	}
}

func TestExampleConfig(t *testing.T) {
	cfg, warnings, err := Load("../config.yaml", envWith("example-token"))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("example config gives warnings: %q", warnings)
	}
	if cfg.ResolvedToken() != "example-token" || len(cfg.Projects) == 0 || len(cfg.Groups) == 0 {
		t.Errorf("unexpected example config:\n%s", cfg)
	}
}

// TestExampleConfigDocumentsEveryKey keeps ../config.yaml in step with the
// structs: every key must appear there, set or commented out.
func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range yamlKeys(reflect.TypeOf(Config{}), "") {
		name := key[strings.LastIndexAny(key, ".]")+1:]
		re := regexp.MustCompile(`(?m)^[ \t]*(#[ \t]*)?(-[ \t]+)?` + regexp.QuoteMeta(name) + `:`)
		if !re.Match(data) {
			t.Errorf("config.yaml does not mention %s", key)
		}
	}
}

func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" { // the families, inline
			for _, fam := range family.All {
				key := joinKey(prefix, fam.Key)
				keys = append(append(keys, key), yamlKeys(f.Type.Elem(), key)...)
			}
			continue
		}
		key := joinKey(prefix, name)
		keys = append(keys, key)
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(ProjectRef{}) {
			keys = append(keys, yamlKeys(ft, key)...)
		}
	}
	return keys
}

// FuzzParse checks that no input panics and that errors never carry the
// token. The seeds run as part of go test.
func FuzzParse(f *testing.F) {
	for _, s := range []string{minimal, "", "~", "[", "a: *b", "gitlab: {url: x}\nprojects: [0, {a: 1}, [1]]",
		"gitlab:\n  <<: [*a]\n", "groups:\n  - &a {<<: *a}\n", "groups: [{path: '', include: '('}]\nmetrics: {duration: {buckets: [.nan]}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		const tok = "fuzz-TOKEN-canary"
		cfg, _, err := Parse([]byte(doc), "f.yaml", envWith(tok))
		switch {
		case err != nil && strings.Contains(err.Error(), tok):
			t.Errorf("token in error: %v", err)
		case err == nil && (cfg == nil || strings.Contains(cfg.String(), tok)):
			t.Errorf("bad success result for %q", doc)
		}
	})
}

// TestEveryFamilyIsConfigurable: the default metrics configure the
// families of family.All, and only those, in a way each takes.
func TestEveryFamilyIsConfigurable(t *testing.T) {
	m := DefaultMetrics()
	var want []string
	for _, f := range family.All {
		want = append(want, f.Key)
		c, opts := m.Families[f.Key], m.CollectorOptions()[f.Key]
		// Off by default: a histogram per runner.
		if c.Enabled == (f.Key == family.Runners) || len(c.Labels) == 0 || (c.Histogram != "") != f.Histogram || f.Check(opts) != nil {
			t.Errorf("family %s: default %+v (%v)", f.Key, c, f.Check(opts))
		}
	}
	if got := slices.Sorted(maps.Keys(m.Families)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("metrics keys %v, families %v", got, want)
	}
}

// TestFamilyThroughMergeKey: a family's settings that reach it through a
// merge key are its settings, enabled: false included.
func TestFamilyThroughMergeKey(t *testing.T) {
	doc := minimal + "metrics:\n  failures: &off {enabled: false, labels: [project]}\n  duration: {<<: *off}\n  retries:\n    <<: [*off]\n    enabled: true\n" +
		"  queued_duration: *off\n  artifact_size: {<<: {<<: *off}}\n"
	cfg, _, err := Parse([]byte(doc), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"failures": false, "duration": false, "retries": true, "queued_duration": false, "artifact_size": false} {
		f := cfg.Metrics.Families[key]
		if f.Enabled != want || !slices.Equal(f.Labels, []string{"project"}) {
			t.Errorf("metrics.%s = %+v, want enabled %v with labels [project]", key, f, want)
		}
	}
}
