package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// decode fills cfg from data with yaml.v3, strictly, and reports what
// yaml.v3 finds at the line and dotted key of the node it is about. It
// returns false when the document could not be decoded at all, in which
// case further checks would only add noise.
func (d *decoder) decode(data []byte, cfg *Config) bool {
	const empty = "config is empty: want a mapping with at least gitlab and projects or groups"
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.addAt("", empty)
		} else {
			d.syntaxError(data, err)
		}
		return false
	}
	d.root = doc.Content[0]
	switch root := d.root; {
	case isNull(root):
		d.addAt("", empty)
		return false
	case root.Kind != yaml.MappingNode:
		d.problem(root, "", "want a mapping of settings at the top level, got "+describeKind(root), true)
		return false
	case !d.index(root, "", nil):
		return false // a bad merge, on which yaml.v3 would stop without a line
	}
	// yaml.v3 ignores documents after the first; a second one is almost
	// certainly a mistake that would drop settings.
	if err := dec.Decode(&extra); err == nil {
		d.problem(&extra, "", "more than one YAML document; put the whole config in one", false)
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(data, err)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var te *yaml.TypeError
	if err := strict.Decode(cfg); errors.As(err, &te) {
		for _, e := range te.Errors {
			d.translate(e)
		}
	} else if err != nil {
		// yaml.v3 stops at an alias bomb, or at a value its explicit tag
		// does not fit ("!!int glpat-…"), whose message quotes the value:
		// it may be a secret, so only the tag is named.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if strings.Contains(msg, "aliasing") {
			d.addAt("", msg)
		} else if n := taggedMismatch(d.root); n != nil {
			d.problem(n, "", fmt.Sprintf("the value does not fit its explicit tag %s; remove the tag", n.Tag), true)
		} else {
			d.addAt("", "cannot decode the document")
		}
		return false
	}
	return true
}

// place is where a key, or a list item, is in the file.
type place struct {
	key       string
	at, value *yaml.Node // at is the key's node, or the item
	used      bool       // one of yaml.v3's messages is about it
}

// index records the place of every key and list item under n, and reports
// duplicate keys and the merges yaml.v3 would stop on (then it returns
// false). It does not follow aliases, so an alias bomb stays small: what
// they stand for is indexed where their anchors are.
func (d *decoder) index(n *yaml.Node, key string, within []*yaml.Node) bool {
	ok, seen := true, map[string]int{}
	within = append(within, n)
	for i := 0; i < len(n.Content); i++ {
		k, v, ik := n.Content[i], n.Content[i], fmt.Sprintf("%s[%d]", key, i)
		if n.Kind == yaml.MappingNode {
			i++
			k, v = target(k), n.Content[i]
			ik = joinKey(key, k.Value)
			switch first, dup := seen[k.Value]; {
			case k.Kind != yaml.ScalarNode:
				d.problem(k, key, "want a plain key, got "+describeKind(k), true)
				continue
			case isNull(k): // yaml.v3 passes over what names no field
				d.problem(k, ik, "unknown key", false)
				continue
			case dup: // yaml.v3 then decodes nothing of the mapping
				d.problem(k, ik, fmt.Sprintf("duplicate key (first set at line %d)", first), false)
				d.mark(key)
				continue
			case k.ShortTag() == "!!merge":
				ok = d.checkMerge(v, ik, within) && ok
			}
			seen[k.Value] = k.Line
		}
		p := &place{key: ik, at: k, value: v}
		if d.places = append(d.places, p); d.byKey[ik] == nil {
			d.byKey[ik] = p
		}
		ok = d.index(v, ik, within) && ok
	}
	return ok
}

// checkMerge wants a mapping or a list of them after "<<", none of them
// the mapping the merge is in.
func (d *decoder) checkMerge(v *yaml.Node, key string, within []*yaml.Node) bool {
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, s := range sources {
		switch t := target(s); {
		case t.Kind != yaml.MappingNode:
			d.problem(s, key, "want a mapping or a list of mappings to merge, got "+describeKind(t), true)
		case slices.Contains(within, t):
			d.problem(s, key, "merge key includes the mapping it is in", true)
		default:
			continue
		}
		return false
	}
	return true
}

// target is the node yaml.v3 decodes for n, and names in its messages.
func target(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

var (
	yamlLine     = regexp.MustCompile(`(?s)^line (\d+): (?:column (\d+): )?(.*)$`)
	unknownField = regexp.MustCompile(`(?s)^field (.*) not found in type (\S+)$`)
	wrongType    = regexp.MustCompile("(?s)^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// translate reports one of yaml.v3's decoding errors, which names its node
// by line and value alone, at the first place it fits that has none of
// its messages yet: two alike are about two places, an anchor's and an
// alias's. Duplicate keys were reported by index.
func (d *decoder) translate(e string) {
	m := yamlLine.FindStringSubmatch(e)
	if m == nil {
		m = []string{e, "0", "", e}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	f, t := unknownField.FindStringSubmatch(m[3]), wrongType.FindStringSubmatch(m[3])
	fits := func(p *place) bool {
		v := target(p.value)
		switch {
		case f != nil:
			return p.at != p.value && p.at.Line == line && p.at.Value == f[1]
		case t != nil:
			return v.Line == line && shows(v, t[1], t[2])
		}
		return v.Line == line && v.Column == col
	}
	// Places of the type yaml.v3 names first: a list and its first item
	// can start on the same line.
	i := slices.IndexFunc(d.places, func(p *place) bool {
		return !p.used && fits(p) && (t == nil || fmt.Sprint(typeAt(p.key)) == t[3])
	})
	if i < 0 {
		i = slices.IndexFunc(d.places, func(p *place) bool { return !p.used && fits(p) })
	}
	if i < 0 {
		if !slices.ContainsFunc(d.problems, func(p Problem) bool { return p.Line == line }) {
			d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: m[3]})
		}
		return
	}
	p := d.places[i]
	p.used = true
	switch {
	case f != nil:
		var valid []string
		if t := typeAt(parentKey(p.key)); f[2] == "config.FamilyConfig" {
			spec, _ := family.ByKey(strings.TrimPrefix(parentKey(p.key), "metrics."))
			valid = familyKeys(spec)
		} else if t != nil && t.Kind() == reflect.Struct {
			valid = keysOf(t)
		}
		d.problem(p.at, p.key, "unknown key"+suggest(f[1], valid), false)
	case t == nil: // one of typeError's
		d.problem(p.value, p.key, m[3], true)
	case wantFor(t) == "a mapping":
		d.problem(p.value, p.key, "want a mapping, got "+describeKind(target(p.value)), true)
	default:
		d.problem(p.value, p.key, "want "+wantFor(t)+", got "+describe(target(p.value)), true)
	}
}

// shows reports whether yaml.v3 names n as value (cut to 7 characters and
// "...") of tag.
func shows(n *yaml.Node, tag, value string) bool {
	switch n.Kind {
	case yaml.SequenceNode:
		return tag == "seq"
	case yaml.MappingNode:
		return tag == "map"
	}
	return n.Value == value || len(n.Value) > 10 && value == n.Value[:7]+"..."
}

// wantFor says what the Go type of a "cannot unmarshal" wants.
func wantFor(t []string) string {
	for _, w := range [][2]string{{"bool", "true or false"}, {"int", "an integer"}, {"uint", "an integer"},
		{"float", "a number"}, {"string", "a string"}, {"config.Secret", "a string"}, {"[]", "a list"}} {
		if strings.HasPrefix(t[3], w[0]) {
			return w[1]
		}
	}
	return "a mapping"
}

// typeError is how UnmarshalYAML methods report: yaml.v3 collects a
// *yaml.TypeError and goes on, and the column tells translate the node.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: ", n.Line, n.Column) + fmt.Sprintf(format, args...)}}
}

// typeAt is the Go type key's value decodes into, or nil: the key's
// names walk struct fields by their yaml names (or into the families'
// inline map), its [i] into list items.
func typeAt(key string) reflect.Type {
	t := reflect.TypeOf(Config{})
	for _, name := range strings.FieldsFunc(key, func(r rune) bool { return r == '.' || r == '[' }) {
		switch {
		case name == "<<": // a merge's keys are its mapping's
		case strings.HasSuffix(name, "]") && t.Kind() == reflect.Slice:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			var next reflect.Type
			for _, f := range reflect.VisibleFields(t) {
				if tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name {
					next = f.Type
					break
				} else if opts == "inline" {
					next = f.Type.Elem()
				}
			}
			if t = next; t == nil {
				return nil
			}
		default:
			return nil
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return t
}

// keysOf lists the keys a struct type takes.
func keysOf(t reflect.Type) []string {
	var keys []string
	for _, f := range reflect.VisibleFields(t) {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// suggest returns ` (did you mean "x"?)` for the valid key closest to
// name, if it is close enough to be a typo.
func suggest(name string, valid []string) string {
	best, bestDist := "", 3
	for _, v := range valid {
		if dist := editDistance(name, v); dist < bestDist && 3*dist <= len(name) {
			best, bestDist = v, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := range len(a) {
		diag := row[0]
		row[0] = i + 1
		for j := range len(b) {
			diag, row[j+1] = row[j+1], min(row[j+1]+1, row[j]+1, diag+btoi(a[i] != b[j]))
		}
	}
	return row[len(b)]
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// syntaxError reports a YAML syntax error. yaml.v3's line is 0-based for
// some errors, the enclosing construct's for others and missing on the
// first line, so the line is that of the shortest prefix of whole lines
// that fails the same way (bisected, as longer prefixes fail too).
func (d *decoder) syntaxError(data []byte, err error) {
	message := func(err error) string {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return m[3]
		}
		return msg
	}
	msg, lines := message(err), bytes.SplitAfter(data, []byte("\n"))
	// yaml.v3 names the line of the construct the error is in: the
	// offending token is never above it.
	below := 0
	if m := yamlLine.FindStringSubmatch(strings.TrimPrefix(err.Error(), "yaml: ")); m != nil {
		below, _ = strconv.Atoi(m[1])
		below = max(below-1, 0) // some of its lines are 0-based
	}
	line := 1 + below + sort.Search(len(lines)-below, func(i int) bool {
		i += below
		dec := yaml.NewDecoder(bytes.NewReader(bytes.Join(lines[:i+1], nil)))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				return !errors.Is(err, io.EOF) && message(err) == msg
			}
		}
	})
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: "invalid YAML: " + msg})
}

// taggedMismatch returns the first scalar with an explicit tag that its
// value does not fit, or nil.
func taggedMismatch(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Style&yaml.TaggedStyle != 0 {
		var v any
		if n.Decode(&v) != nil {
			return n
		}
	}
	for _, c := range n.Content {
		if m := taggedMismatch(c); m != nil {
			return m
		}
	}
	return nil
}
