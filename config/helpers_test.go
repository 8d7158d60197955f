package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// envWith returns a getenv that knows only GITLAB_TOKEN.
func envWith(token string) func(string) string {
	return func(k string) string {
		if k == EnvToken {
			return token
		}
		return ""
	}
}

// problemLines returns err's problems rendered one per element, or nil.
func problemLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T, want *config.Error: %v", err, err)
	}
	out := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		out[i] = p.String()
	}
	return out
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
