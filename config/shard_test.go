package config

import (
	"path/filepath"
	"slices"
	"testing"
)

// Each shard reads the token file that names it; the configuration file
// is the same for all, and relative paths are resolved as usual.
func TestTokenFilePerShard(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "shard-0", "token-of-shard-0\n")
	writeFile(t, dir, "shard-2", "token-of-shard-2\n")
	cfgFile := filepath.Join(dir, "c.yaml")
	for _, tc := range []struct {
		name      string
		tokenFile string
		shard     int
		env       string
		want      string
		problems  []string
	}{
		{"shard 0", filepath.Join(dir, "shard-{shard}"), 0, "", "token-of-shard-0", nil},
		{"shard 2, relative to the configuration", "shard-{shard}", 2, "", "token-of-shard-2", nil},
		{"GITLAB_TOKEN still wins", "shard-{shard}", 2, "env-token", "env-token", nil},
		{"no file for this shard", "shard-{shard}", 1, "", "", []string{
			cfgFile + ":3: gitlab.token_file: cannot read token file: open " + filepath.Join(dir, "shard-1") +
				": no such file or directory (the token of shard 1: every shard needs one)"}},
		{"one token for every shard", "shard-0", 1, "", "token-of-shard-0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "gitlab:\n  url: https://g.example.com\n  token_file: " + tc.tokenFile + "\nprojects: [a/b]\n"
			cfg, _, err := ParseShard([]byte(doc), cfgFile, envWith(tc.env), tc.shard)
			if got := problemLines(t, err); !slices.Equal(got, tc.problems) {
				t.Fatalf("problems %q, want %q", got, tc.problems)
			}
			if err == nil && cfg.ResolvedToken() != tc.want {
				t.Errorf("token %q, want %q", cfg.ResolvedToken(), tc.want)
			}
		})
	}
}

// Load and Parse are shard 0's.
func TestLoadIsShardZero(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "shard-0", "token-of-shard-0\n")
	cfgFile := writeFile(t, dir, "c.yaml", "gitlab:\n  url: https://g.example.com\n  token_file: shard-{shard}\nprojects: [a/b]\n")
	cfg, _, err := Load(cfgFile, envWith(""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ResolvedToken() != "token-of-shard-0" || cfg.GitLab.TokenFile != filepath.Join(dir, "shard-0") {
		t.Errorf("token file %s, token %q", cfg.GitLab.TokenFile, cfg.ResolvedToken())
	}
	if _, _, err := LoadShard(filepath.Join(dir, "missing.yaml"), envWith(""), 3); err == nil {
		t.Error("no error for a missing configuration file")
	}
}
