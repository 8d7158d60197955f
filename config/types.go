package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as a Go duration string ("30s",
// "1h30m"). Days are deliberately not accepted: "1d" is ambiguous around DST
// and Go's parser rejects it, so users get a hint instead.
type Duration time.Duration

var dayLikeUnit = regexp.MustCompile(`[0-9.](d|w|y)`)

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil {
		return Duration(d), nil
	}
	switch {
	case dayLikeUnit.MatchString(s):
		return 0, fmt.Errorf("invalid duration %q: days, weeks and years are not supported, use hours (e.g. \"24h\")", s)
	case s != "" && strings.Trim(s, "0123456789") == "":
		return 0, fmt.Errorf("invalid duration %q: missing unit (e.g. \"%ss\")", s, s)
	default:
		return 0, fmt.Errorf("invalid duration %q: want a Go duration such as \"30s\", \"5m\" or \"1h30m\"", s)
	}
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalScalar(n, `a duration such as "30s"`, func(s string) error {
		v, err := parseDuration(s)
		if err == nil {
			*d = v
		}
		return err
	})
}

// unmarshalScalar is UnmarshalYAML for a type written as one scalar;
// yaml.v3 never passes it null, which keeps the value, the default.
func unmarshalScalar(n *yaml.Node, want string, parse func(string) error) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "want %s, got %s", want, describe(n))
	}
	if err := parse(n.Value); err != nil {
		return typeError(n, "%v", err)
	}
	return nil
}

// MarshalYAML renders the duration in the form the parser accepts.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String is shorter than time.Duration's ("1h" rather than "1h0m0s") so the
// effective config reads like the file it came from.
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{
		{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"},
		{time.Millisecond, "ms"}, {time.Microsecond, "us"}, {time.Nanosecond, "ns"},
	} {
		if v >= u.d {
			fmt.Fprintf(&b, "%d%s", v/u.d, u.name)
			v %= u.d
		}
	}
	return b.String()
}

// Secret is a string that never shows its value when printed or marshalled.
type Secret string

const maskedSecret = "<secret>"

// String masks the value; an empty secret prints as empty so that logs still
// tell "not set" from "set".
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return maskedSecret
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// MarshalYAML masks the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// Regexp is a regular expression anchored at both ends on compile, so that
// "group/a.*" means the whole path and not any path containing it.
type Regexp struct {
	*regexp.Regexp
	// Source is the expression as written, without the anchors.
	Source string
}

// NewRegexp compiles src anchored as ^(?:src)$.
func NewRegexp(src string) (*Regexp, error) {
	if src == "" {
		return nil, errors.New("empty regular expression matches only the empty string; omit the key instead")
	}
	// Compiling the bare source first keeps the error message about what the
	// user wrote rather than about the anchored form.
	if _, err := regexp.Compile(src); err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	re, err := regexp.Compile("^(?:" + src + ")$")
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	return &Regexp{Regexp: re, Source: src}, nil
}

func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalScalar(n, "a regular expression string", func(s string) error {
		re, err := NewRegexp(s)
		if err == nil {
			*r = *re
		}
		return err
	})
}

// MarshalYAML renders the expression as written.
func (r Regexp) MarshalYAML() (any, error) { return r.Source, nil }

// String returns the expression as written, without the anchors.
func (r Regexp) String() string { return r.Source }

// ProjectRef names a project either by full path or by numeric id; exactly
// one of the fields is set.
type ProjectRef struct {
	ID   int64
	Path string
}

// String returns the path, or the id as text.
func (p ProjectRef) String() string {
	if p.Path != "" {
		return p.Path
	}
	return strconv.FormatInt(p.ID, 10)
}

// MarshalYAML writes the same form the parser accepts.
func (p ProjectRef) MarshalYAML() (any, error) {
	if p.Path != "" {
		return p.Path, nil
	}
	return p.ID, nil
}

const wantProject = `want a project path like "group/project" or a positive numeric id`

func (p *ProjectRef) UnmarshalYAML(n *yaml.Node) error {
	var id int64
	switch {
	case n.Kind != yaml.ScalarNode:
	case n.ShortTag() == "!!int":
		if n.Decode(&id) == nil && id > 0 {
			*p = ProjectRef{ID: id}
			return nil
		}
	case n.ShortTag() != "!!str":
	default:
		if id, ok := parseID(n.Value); ok {
			*p = ProjectRef{ID: id}
			return nil
		}
		if msg := checkPath(n.Value, true); msg != "" {
			return typeError(n, "%s, got %s: %s", wantProject, describe(n), msg)
		}
		*p = ProjectRef{Path: n.Value}
		return nil
	}
	return typeError(n, "%s, got %s", wantProject, describe(n))
}

// parseID accepts decimal digits only, so a path segment like "0x1f" or
// "+5" is never mistaken for an id.
func parseID(s string) (int64, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// checkPath returns why s is not a usable GitLab namespace path, or "".
// Projects always live in a namespace, so their paths need a slash.
func checkPath(s string, needNamespace bool) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "path is empty"
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "path contains whitespace or control characters"
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return "path must not start or end with a slash"
	case strings.Contains(s, "//"):
		return "path has an empty segment"
	case needNamespace && !strings.Contains(s, "/"):
		return "path has no namespace"
	}
	return ""
}

// isNull reports whether a resolved node is YAML null (~, null or nothing).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe renders a node for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return strconv.Quote(n.Value)
	default:
		return "nothing"
	}
}

// describeKind names a node's kind without its value, for places where a
// whole section was expected: the stray value could be anything, including a
// token pasted at the wrong indentation.
func describeKind(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return describe(n)
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	default:
		return "a string"
	}
}
