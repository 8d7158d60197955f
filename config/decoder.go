package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

type position struct{ line, col int }

// decoder walks the yaml.Node tree itself instead of using yaml.v3's
// KnownFields, because that is the only way to get a line and dotted key for
// every problem and to keep going after the first one.
type decoder struct {
	file     string
	problems []Problem
	warnings []Problem
	// pos records where each key or list item that was present sits, so that
	// checks run after decoding can still point at a line.
	pos map[string]position
	// failed holds keys whose value, or part of it, did not decode, and
	// broken those whose own value did not; later checks consult them via
	// skip to avoid a second, misleading report.
	failed    map[string]bool
	broken    map[string]bool
	budget    int
	exhausted bool
	// merging holds the mappings whose merge keys are being expanded;
	// yaml.v3 accepts "&a {<<: *a}" when parsing to nodes, and expanding it
	// would never end.
	merging map[*yaml.Node]bool
	// shard replaces ShardPlaceholder in gitlab.token_file;
	// tokenFilePerShard records that it did.
	shard             int
	tokenFilePerShard bool
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:    file,
		pos:     map[string]position{},
		failed:  map[string]bool{},
		broken:  map[string]bool{},
		merging: map[*yaml.Node]bool{},
		budget:  maxNodeVisits,
	}
}

func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	sortProblems(d.problems)
	return &Error{Problems: d.problems}
}

// add reports a problem at node n.
func (d *decoder) add(n *yaml.Node, key, msg string) {
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Column: n.Column, Key: key, Msg: msg})
	d.markFailed(key)
}

// note reports a problem that does not make the key's value unusable
// (unknown or repeated keys), so checks of the value still run.
func (d *decoder) note(n *yaml.Node, key, msg string) {
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Column: n.Column, Key: key, Msg: msg})
}

// addAt reports a problem at the recorded position of key, or of its
// nearest ancestor that appeared in the file (a missing key has no line of
// its own, its section does).
func (d *decoder) addAt(key, msg string) {
	p := d.lookup(key)
	d.problems = append(d.problems, Problem{File: d.file, Line: p.line, Column: p.col, Key: key, Msg: msg})
	d.markFailed(key)
}

func (d *decoder) warn(key, msg string) {
	p := d.lookup(key)
	d.warnings = append(d.warnings, Problem{File: d.file, Line: p.line, Column: p.col, Key: key, Msg: msg})
}

// warningLines renders the warnings in file order.
func (d *decoder) warningLines() []string {
	sortProblems(d.warnings)
	var out []string
	for _, w := range d.warnings {
		out = append(out, w.String())
	}
	return out
}

func (d *decoder) lookup(key string) position {
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := d.pos[k]; ok {
			return p
		}
	}
	return position{}
}

// skip reports whether checks of key should be skipped: part of its value
// did not decode, or the value of a section containing it did not (a
// "gitlab: x" has no url to complain about).
func (d *decoder) skip(key string) bool {
	if d.failed[key] {
		return true
	}
	for k := parentKey(key); k != ""; k = parentKey(k) {
		if d.broken[k] {
			return true
		}
	}
	return false
}

func (d *decoder) markFailed(key string) {
	d.broken[key] = true
	for k := key; k != ""; k = parentKey(k) {
		d.failed[k] = true
	}
}

// parentKey strips the last ".name" or "[i]" from a dotted key.
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
