package config

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// maxTokenFileSize guards against token_file pointing at something huge or
// endless (a log, /dev/zero); real tokens are well under 1 KiB.
const maxTokenFileSize = 64 << 10

// checkFiles resolves relative file paths against the config's directory
// and checks that ca_file holds certificates.
func (d *decoder) checkFiles(c *Config, filename string) {
	dir := filepath.Dir(filename)
	if strings.Contains(c.GitLab.TokenFile, ShardPlaceholder) {
		c.GitLab.TokenFile = strings.ReplaceAll(c.GitLab.TokenFile, ShardPlaceholder, strconv.Itoa(d.shard))
		d.tokenFilePerShard = true
	}
	if c.GitLab.TokenFile != "" && !filepath.IsAbs(c.GitLab.TokenFile) {
		c.GitLab.TokenFile = filepath.Join(dir, c.GitLab.TokenFile)
	}
	if c.GitLab.CAFile == "" || d.skip("gitlab.ca_file") {
		return
	}
	if !filepath.IsAbs(c.GitLab.CAFile) {
		c.GitLab.CAFile = filepath.Join(dir, c.GitLab.CAFile)
	}
	data, err := os.ReadFile(c.GitLab.CAFile)
	if err != nil {
		d.addAt("gitlab.ca_file", "cannot read CA file: "+err.Error())
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		d.addAt("gitlab.ca_file", fmt.Sprintf("CA file %q contains no PEM certificates", c.GitLab.CAFile))
	}
	if c.GitLab.InsecureSkipVerify {
		d.warn("gitlab.ca_file", "ignored because gitlab.insecure_skip_verify is true")
	}
}

// resolveToken picks the token by precedence (env, token_file, inline). No
// message it produces may contain the token or the token file's contents.
func (d *decoder) resolveToken(c *Config, getenv func(string) string) string {
	g := &c.GitLab
	if g.Token != "" {
		d.warn("gitlab.token", "token is written in the config file; prefer "+EnvToken+" or gitlab.token_file")
	}
	if t := strings.TrimSpace(getenv(EnvToken)); t != "" {
		d.checkToken(EnvToken, t, "the "+EnvToken+" environment variable")
		return t
	}
	if g.TokenFile != "" {
		if d.skip("gitlab.token_file") {
			return ""
		}
		if g.Token != "" {
			d.warn("gitlab.token", "ignored because gitlab.token_file is set")
		}
		t, err := readTokenFile(g.TokenFile)
		if err != nil {
			msg := err.Error()
			if d.tokenFilePerShard {
				msg += fmt.Sprintf(" (the token of shard %d: every shard needs one)", d.shard)
			}
			d.addAt("gitlab.token_file", msg)
			return ""
		}
		d.checkToken("gitlab.token_file", t, fmt.Sprintf("token file %q", g.TokenFile))
		return t
	}
	if t := strings.TrimSpace(string(g.Token)); t != "" {
		d.checkToken("gitlab.token", t, "gitlab.token")
		return t
	}
	if !d.skip("gitlab.token") && !d.skip("gitlab.token_file") {
		d.addAt("gitlab", "no GitLab token: set "+EnvToken+", gitlab.token_file or gitlab.token")
	}
	return ""
}

func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read token file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileSize+1))
	if err != nil {
		return "", fmt.Errorf("cannot read token file: %w", err)
	}
	if len(data) > maxTokenFileSize {
		return "", fmt.Errorf("token file %q is larger than %d KiB; is it the right file?", path, maxTokenFileSize>>10)
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("token file %q is empty", path)
	}
	return t, nil
}

// checkToken rejects tokens that cannot go into an HTTP header, naming the
// source but never the value.
func (d *decoder) checkToken(key, token, source string) {
	if strings.ContainsFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		d.addAt(key, "token from "+source+" contains whitespace or control characters")
	}
}
