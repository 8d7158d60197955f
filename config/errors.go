package config

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config file. Line is 0 when the problem
// is not tied to a place in the file (for example a missing token).
type Problem struct {
	File   string
	Line   int
	Column int
	// Key is the dotted path of the offending key, e.g. "poll.interval" or
	// "groups[1].include"; empty for problems with the document as a whole.
	Key string
	Msg string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error carries every problem found in a config so that users can fix them
// all in one go instead of one per restart.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return "invalid config"
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems as they appear in the file; problems without
// a line (whole-config checks) go last, keeping their relative order.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		switch {
		case a.Line == 0 || b.Line == 0:
			return a.Line != 0 && b.Line == 0
		case a.Line != b.Line:
			return a.Line < b.Line
		default:
			return a.Column < b.Column
		}
	})
}

// decoder collects the problems of one config file, placed by the key
// index built from its node tree.
type decoder struct {
	file               string
	problems, warnings []Problem
	places             map[string]*place // by dotted key
	order              []*place          // as in the file
	// failed holds keys whose value, or part of it, did not decode or
	// check, and broken those whose own value did not; skip consults them
	// so that a key is not reported twice.
	failed, broken map[string]bool
	// shard replaces ShardPlaceholder in gitlab.token_file;
	// tokenFilePerShard records that it did.
	shard             int
	tokenFilePerShard bool
}

func newDecoder(file string, shard int) *decoder {
	return &decoder{file: file, shard: shard, places: map[string]*place{}, failed: map[string]bool{}, broken: map[string]bool{}}
}

func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	sortProblems(d.problems)
	return &Error{Problems: d.problems}
}

// problem reports msg about key at node n, or where key is when n is nil.
// marks is false for problems that leave the value usable (unknown or
// repeated keys), so checks of it still run.
func (d *decoder) problem(n *yaml.Node, key, msg string, marks bool) {
	line, col := d.lookup(key)
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Column: col, Key: key, Msg: msg})
	if marks {
		d.broken[key] = true
		for k := key; k != ""; k = parentKey(k) {
			d.failed[k] = true
		}
	}
}

func (d *decoder) add(n *yaml.Node, key, msg string)  { d.problem(n, key, msg, true) }
func (d *decoder) note(n *yaml.Node, key, msg string) { d.problem(n, key, msg, false) }

// addAt reports a problem where key is, or its nearest ancestor in the
// file (a missing key has no line of its own, its section does).
func (d *decoder) addAt(key, msg string) { d.add(nil, key, msg) }

func (d *decoder) warn(key, msg string) {
	line, col := d.lookup(key)
	d.warnings = append(d.warnings, Problem{File: d.file, Line: line, Column: col, Key: key, Msg: msg})
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

func (d *decoder) lookup(key string) (line, col int) {
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := d.places[k]; ok {
			return p.at.Line, p.at.Column
		}
	}
	return 0, 0
}

// given reports whether the file sets key (null sets nothing).
func (d *decoder) given(key string) bool {
	p, ok := d.places[key]
	return ok && !isNull(p.value)
}

// skip reports whether checks of key should be skipped: part of its value
// did not decode, or the value of a section containing it did not (a
// "gitlab: x" has no url to complain about).
func (d *decoder) skip(key string) bool {
	if d.failed[key] {
		return true
	}
	for k := key; k != ""; {
		k = parentKey(k)
		if d.broken[k] {
			return true
		}
	}
	return false
}

// strict rejects a value yaml.v3 takes but the config does not: a float
// for an integer (yaml.v3 truncates it), yes/no/on/off for a boolean.
func (d *decoder) strict(key, tag, want string) bool {
	if d.skip(key) {
		return false
	}
	p, ok := d.places[key]
	if !ok || p.value.Kind != yaml.ScalarNode || isNull(p.value) || p.value.ShortTag() == tag {
		return true
	}
	d.add(p.value, key, fmt.Sprintf("want %s, got %s", want, describe(p.value)))
	return false
}

// items returns the keys of a list's n decoded items, reporting null
// items as not what it wants. yaml.v3 leaves out an item that did not
// decode, so item i of the list need not be the file's item i.
func (d *decoder) items(key string, n int, want string) []string {
	var keys []string
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s[%d]", key, i)
		p, ok := d.places[k]
		if !ok {
			break
		}
		switch {
		case isNull(p.value):
			d.add(p.value, k, want+", got null")
		case !d.broken[k]:
			keys = append(keys, k)
		}
	}
	for len(keys) < n { // a list from an alias has no places
		keys = append(keys, fmt.Sprintf("%s[%d]", key, len(keys)))
	}
	return keys[:n]
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
