package config

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
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
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	if p.Key != "" {
		s += ": " + p.Key
	}
	return s + ": " + p.Msg
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
	line := func(p Problem) int { return cmp.Or(p.Line, math.MaxInt) }
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(line(a), line(b)), cmp.Compare(a.Column, b.Column))
	})
}

// decoder collects the problems of one config file, placed by an index of
// its keys built from the node tree.
type decoder struct {
	file               string
	problems, warnings []Problem
	places             []*place          // in file order
	byKey              map[string]*place // the first place of each key
	// marked holds the keys whose value did not decode or check, and
	// markedUnder the keys with a marked key at or below them; skip
	// consults them so that nothing is reported twice.
	marked, markedUnder map[string]bool
	root                *yaml.Node
	// shard replaces ShardPlaceholder in gitlab.token_file;
	// tokenFilePerShard records that it did.
	shard             int
	tokenFilePerShard bool
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
	if n == nil {
		n = d.at(key)
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Column: n.Column, Key: key, Msg: msg})
	if marks {
		d.mark(key)
	}
}

func (d *decoder) mark(key string) {
	if d.marked == nil {
		d.marked, d.markedUnder = map[string]bool{}, map[string]bool{}
	}
	d.marked[key] = true
	for k := key; ; k = parentKey(k) {
		d.markedUnder[k] = true
		if k == "" {
			return
		}
	}
}

// addAt reports a problem where key is in the file, or its nearest
// ancestor (a missing key has no line of its own, its section does).
func (d *decoder) addAt(key, msg string) { d.problem(nil, key, msg, true) }

func (d *decoder) warn(key, msg string) {
	n := d.at(key)
	d.warnings = append(d.warnings, Problem{File: d.file, Line: n.Line, Column: n.Column, Key: key, Msg: msg})
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

func (d *decoder) place(key string) *place { return d.byKey[key] }

// at is the node of key, or of its nearest ancestor in the file.
func (d *decoder) at(key string) *yaml.Node {
	for k := key; k != ""; k = parentKey(k) {
		if p := d.place(k); p != nil {
			return p.at
		}
	}
	return &yaml.Node{}
}

// given reports whether the file sets key (null sets nothing).
func (d *decoder) given(key string) bool {
	v := d.lookup(key)
	return v != nil && !isNull(v)
}

var keyPart = regexp.MustCompile(`([^.\[\]]+)|\[([0-9]+)\]`)

// lookup returns the node yaml.v3 decodes for key, following aliases and
// merge keys as it does; nil when the file does not set it.
func (d *decoder) lookup(key string) *yaml.Node {
	n := d.root
	for _, m := range keyPart.FindAllStringSubmatch(key, -1) {
		if n == nil {
			return nil
		}
		if m[1] != "" {
			n = valueIn(n, m[1], 0)
			continue
		}
		i, _ := strconv.Atoi(m[2])
		if n = target(n); n.Kind != yaml.SequenceNode || i >= len(n.Content) {
			return nil
		}
		n = target(n.Content[i])
	}
	return n
}

// valueIn returns the value of key name in mapping m: its own, else that
// of the first merge source that has it.
func valueIn(m *yaml.Node, name string, depth int) *yaml.Node {
	if m = target(m); m.Kind != yaml.MappingNode || depth > maxMergeDepth {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Value == name && k.ShortTag() != "!!merge" {
			return target(m.Content[i+1])
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].ShortTag() != "!!merge" {
			continue
		}
		sources := []*yaml.Node{target(m.Content[i+1])}
		if sources[0].Kind == yaml.SequenceNode {
			sources = sources[0].Content
		}
		for _, src := range sources {
			if v := valueIn(src, name, depth+1); v != nil {
				return v
			}
		}
	}
	return nil
}

// maxMergeDepth bounds merges of merges; index has rejected cycles.
const maxMergeDepth = 32

// skip reports whether checks of key should be skipped: part of its value
// did not decode, or the value of a section containing it did not (a
// "gitlab: x" has no url to complain about).
func (d *decoder) skip(key string) bool {
	if d.markedUnder[key] {
		return true
	}
	for k := key; ; k = parentKey(k) {
		if d.marked[k] {
			return true
		}
		if k == "" {
			return false
		}
	}
}

// strict rejects a value yaml.v3 takes but the config does not: a float
// for an integer (yaml.v3 truncates it), yes/no/on/off for a boolean.
func (d *decoder) strict(key, tag, want string) bool {
	if d.skip(key) {
		return false
	}
	v := d.lookup(key)
	if v == nil || v.Kind != yaml.ScalarNode || isNull(v) || v.ShortTag() == tag {
		return true
	}
	d.problem(v, key, fmt.Sprintf("want %s, got %s", want, describe(v)), true)
	return false
}

// items returns the keys of a list's n decoded items, reporting null items
// as not what it wants. yaml.v3 leaves out an item that does not decode,
// so item i of the list need not be the file's item i.
func (d *decoder) items(key string, n int, want string) []string {
	var keys []string
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s[%d]", key, i)
		p := d.place(k)
		switch {
		case p == nil:
			for len(keys) < n { // a list from an alias has no places
				keys = append(keys, fmt.Sprintf("%s[%d]", key, len(keys)))
			}
			return keys[:n]
		case isNull(target(p.value)):
			d.problem(p.value, k, want+", got null", true)
		case !d.marked[k]:
			keys = append(keys, k)
		}
	}
}

// parentKey strips the last ".name" or "[i]" from a dotted key.
func parentKey(k string) string {
	return k[:max(strings.LastIndexAny(k, ".["), 0)]
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
