package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestProjectRefDecoding(t *testing.T) {
	tests := []struct {
		in      string
		want    ProjectRef
		wantErr string
	}{
		{"42", ProjectRef{ID: 42}, ""},
		{`"42"`, ProjectRef{ID: 42}, ""},
		{"0x2A", ProjectRef{ID: 42}, ""}, // a YAML int, whatever its base
		{"group/sub/proj", ProjectRef{Path: "group/sub/proj"}, ""},
		{`"group/proj"`, ProjectRef{Path: "group/proj"}, ""},
		{`"0x2A/b"`, ProjectRef{Path: "0x2A/b"}, ""},
		{"0", ProjectRef{}, `got "0"`},
		{`"0"`, ProjectRef{}, "path has no namespace"},
		{"-1", ProjectRef{}, `got "-1"`},
		{"3.0", ProjectRef{}, `got "3.0"`},
		{"99999999999999999999", ProjectRef{}, `got "99999999999999999999"`},
		{"[1]", ProjectRef{}, "got a list"},
		{"plain", ProjectRef{}, "path has no namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got ProjectRef
			err := yaml.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			// Marshalling gives back something that decodes to the same ref.
			out, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var again ProjectRef
			if err := yaml.Unmarshal(out, &again); err != nil || again != got {
				t.Errorf("round trip via %q gave %+v, %v", out, again, err)
			}
		})
	}
}

func TestProjectRefString(t *testing.T) {
	for _, tt := range []struct {
		ref  ProjectRef
		want string
	}{
		{ProjectRef{ID: 7}, "7"},
		{ProjectRef{Path: "a/b"}, "a/b"},
	} {
		if got := tt.ref.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestProjectsInConfig(t *testing.T) {
	cfg, _, err := Parse([]byte("gitlab: {url: 'https://g.example.com'}\nprojects:\n  - 12\n  - '34'\n  - a/b\n"), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ProjectRef{{ID: 12}, {ID: 34}, {Path: "a/b"}}
	if fmt.Sprint(cfg.Projects) != fmt.Sprint(want) {
		t.Errorf("projects = %v, want %v", cfg.Projects, want)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		str     string
		wantErr string
	}{
		{"30s", 30 * time.Second, "30s", ""},
		{"1h30m", 90 * time.Minute, "1h30m", ""},
		{"1h", time.Hour, "1h", ""},
		{"1h0m1s", time.Hour + time.Second, "1h1s", ""},
		{"1.5s", 1500 * time.Millisecond, "1s500ms", ""},
		{"0s", 0, "0s", ""},
		{"-2m", -2 * time.Minute, "-2m", ""},
		{"1d", 0, "", `invalid duration "1d": days, weeks and years are not supported`},
		{"2w", 0, "", `invalid duration "2w": days`},
		{"10", 0, "", `invalid duration "10": missing unit (e.g. "10s")`},
		{"5x", 0, "", `invalid duration "5x": want a Go duration`},
		{"[1s]", 0, "", `want a duration such as "30s", got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte("x: "+tt.in), &struct {
				X *Duration `yaml:"x"`
			}{&d})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Duration(d) != tt.want || d.String() != tt.str {
				t.Errorf("got %v (%q), want %v (%q)", time.Duration(d), d.String(), tt.want, tt.str)
			}
			if back, err := parseDuration(d.String()); err != nil || back != d {
				t.Errorf("String() %q does not parse back: %v, %v", d.String(), back, err)
			}
		})
	}
}

func TestRegexpIsAnchored(t *testing.T) {
	tests := []struct {
		re    string
		in    string
		match bool
	}{
		{"group/a.*", "group/ab", true},
		{"group/a.*", "x/group/ab", false},
		{"group/a", "group/ab", false},
		{"a|b", "a", true},
		{"a|b", "ab", false}, // the alternation is grouped before anchoring
		{"a|b", "xb", false},
		{"main|release/.*", "release/1.0", true},
		{"main|release/.*", "feature/main", false},
	}
	for _, tt := range tests {
		t.Run(tt.re+" "+tt.in, func(t *testing.T) {
			r, err := NewRegexp(tt.re)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.MatchString(tt.in); got != tt.match {
				t.Errorf("MatchString(%q) = %v, want %v", tt.in, got, tt.match)
			}
			if r.String() != tt.re || r.Source != tt.re {
				t.Errorf("String() = %q, Source = %q, want %q", r.String(), r.Source, tt.re)
			}
		})
	}
}

func TestRegexpInConfig(t *testing.T) {
	cfg, _, err := Parse([]byte("gitlab: {url: 'https://g.example.com'}\ngroups:\n  - path: group\n    include: group/a.*\n"), "c.yaml", envWith("tok"))
	if err != nil {
		t.Fatal(err)
	}
	inc := cfg.Groups[0].Include
	if !inc.MatchString("group/ab") || inc.MatchString("x/group/ab") {
		t.Errorf("include %q is not anchored", inc.Regexp.String())
	}
	if cfg.Groups[0].Exclude != nil || cfg.Refs.Tracked != nil {
		t.Errorf("absent regexes should stay nil")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const tok = "glpat-VERYSECRET"
	s := Secret(tok)
	holder := struct{ S Secret }{s}
	hex := fmt.Sprintf("%x", tok)
	if got := fmt.Sprintf("%x", holder); strings.Contains(got, hex) {
		t.Errorf("secret leaked via %%x: %q", got)
	}
	var outs []string
	for _, f := range []string{"%v", "%s", "%q", "%+v", "%#v"} {
		outs = append(outs, fmt.Sprintf(f, s), fmt.Sprintf(f, holder))
	}
	y, _ := yaml.Marshal(holder)
	j, _ := json.Marshal(holder)
	outs = append(outs, string(y), string(j))
	for _, o := range outs {
		if strings.Contains(o, tok) {
			t.Errorf("secret leaked: %q", o)
		}
		if !strings.Contains(o, "secret") {
			t.Errorf("output %q does not say a secret is set", o)
		}
	}
	if Secret("").String() != "" {
		t.Errorf("empty secret should print as empty")
	}
}
