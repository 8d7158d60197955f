package config

import (
	"cmp"
	"fmt"
	"math"
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
	// marked holds the keys whose value did not decode or check; skip
	// consults it so that nothing is reported twice.
	marked []string
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
		d.marked = append(d.marked, key)
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

// given reports whether the file sets key, itself or through a merge key
// ("<<") of the mapping that holds it; null sets nothing. Explicit keys
// win over merged ones, and earlier merge sources over later ones.
func (d *decoder) given(key string) bool {
	if p := d.place(key); p != nil {
		return !isNull(p.value)
	}
	merge := d.place(joinKey(parentKey(key), "<<"))
	if merge == nil {
		return false
	}
	name := key[strings.LastIndexByte(key, '.')+1:]
	sources := []*yaml.Node{target(merge.value)}
	if sources[0].Kind == yaml.SequenceNode {
		sources = sources[0].Content
	}
	for _, src := range sources {
		src = target(src)
		for i := 0; i+1 < len(src.Content); i += 2 {
			if src.Content[i].Value == name {
				return !isNull(target(src.Content[i+1]))
			}
		}
	}
	return false
}

// skip reports whether checks of key should be skipped: part of its value
// did not decode, or the value of a section containing it did not (a
// "gitlab: x" has no url to complain about).
func (d *decoder) skip(key string) bool {
	return slices.ContainsFunc(d.marked, func(k string) bool { return under(k, key) || under(key, k) })
}

// under reports whether key is k or lies in k's value.
func under(key, k string) bool {
	return k == "" || key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[")
}

// strict rejects a value yaml.v3 takes but the config does not: a float
// for an integer (yaml.v3 truncates it), yes/no/on/off for a boolean.
func (d *decoder) strict(key, tag, want string) bool {
	if d.skip(key) {
		return false
	}
	p := d.place(key)
	if p == nil || p.value.Kind != yaml.ScalarNode || isNull(p.value) || p.value.ShortTag() == tag {
		return true
	}
	d.problem(p.value, key, fmt.Sprintf("want %s, got %s", want, describe(p.value)), true)
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
		case isNull(p.value):
			d.problem(p.value, k, want+", got null", true)
		case !slices.Contains(d.marked, k):
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
