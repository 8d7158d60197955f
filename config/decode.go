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

const emptyMsg = "config is empty: want a mapping with at least gitlab and projects or groups"

// decode fills cfg from data with yaml.v3, strictly, and turns what yaml.v3
// reports by line alone into problems at a line and dotted key, found in
// the node tree. It returns false when the document could not be decoded
// at all, in which case further checks would only add noise.
func (d *decoder) decode(data []byte, cfg *Config) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(nil, "", emptyMsg)
		} else {
			d.syntaxError(data, err)
		}
		return false
	}
	root := doc.Content[0]
	if isNull(root) {
		d.add(nil, "", emptyMsg)
		return false
	}
	if root.Kind != yaml.MappingNode {
		d.add(root, "", "want a mapping of settings at the top level, got "+describeKind(root))
		return false
	}
	// yaml.v3 silently ignores documents after the first; a second one is
	// almost certainly a mistake that would drop settings.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.add(&extra, "", "more than one YAML document; put the whole config in one")
	case !errors.Is(err, io.EOF):
		d.syntaxError(data, err)
	}
	if !d.index(root, "", nil) {
		return false // yaml.v3 would stop at the bad merge, with no line
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var te *yaml.TypeError
	switch err := strict.Decode(cfg); {
	case errors.As(err, &te):
		for _, e := range te.Errors {
			d.translate(e)
		}
	case err != nil: // "document contains excessive aliasing"
		d.add(nil, "", strings.TrimPrefix(err.Error(), "yaml: "))
		return false
	}
	return true
}

// place is where a key, or a list item, sits in the file.
type place struct {
	key   string
	at    *yaml.Node // the key's node, or the item
	value *yaml.Node
	used  bool // a message of yaml.v3's has been put here
}

// index records the place of every key and list item under n, reports
// duplicate keys and the merges yaml.v3 would abort on, and returns false
// after such a merge. It does not follow aliases: their nodes are indexed
// where their anchors are, and an alias bomb stays small.
func (d *decoder) index(n *yaml.Node, key string, within []*yaml.Node) bool {
	ok := true
	switch n.Kind {
	case yaml.MappingNode:
		within = append(within, n)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.add(k, key, "want a plain key, got "+describeKind(k))
				continue
			}
			ck := joinKey(key, k.Value)
			if first, dup := seen[k.Value]; dup {
				// yaml.v3 then decodes nothing of the mapping.
				d.note(k, ck, fmt.Sprintf("duplicate key (first set at line %d)", first))
				d.broken[key] = true
				continue
			}
			seen[k.Value] = k.Line
			d.record(&place{key: ck, at: k, value: v})
			if k.ShortTag() == "!!merge" {
				ok = d.checkMerge(v, ck, within) && ok
			}
			ok = d.index(v, ck, within) && ok
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			ik := fmt.Sprintf("%s[%d]", key, i)
			d.record(&place{key: ik, at: item, value: item})
			ok = d.index(item, ik, within) && ok
		}
	}
	return ok
}

func (d *decoder) record(p *place) {
	if _, dup := d.places[p.key]; !dup {
		d.places[p.key] = p
	}
	d.order = append(d.order, p)
}

// checkMerge wants a mapping or a list of them after "<<", none of them
// the mapping the merge is in: yaml.v3 would fail on the whole document.
func (d *decoder) checkMerge(v *yaml.Node, key string, within []*yaml.Node) bool {
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, s := range sources {
		target := s
		if s.Kind == yaml.AliasNode {
			target = s.Alias
		}
		switch {
		case target.Kind != yaml.MappingNode:
			d.add(s, key, "want a mapping or a list of mappings to merge, got "+describeKind(target))
		case slices.Contains(within, target):
			d.add(s, key, "merge key includes the mapping it is in")
		default:
			continue
		}
		return false
	}
	return true
}

var (
	yamlLine     = regexp.MustCompile(`(?s)^line (\d+): (?:column (\d+): )?(.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	wrongType    = regexp.MustCompile("(?s)^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// translate reports one of yaml.v3's decoding errors, which name their
// node by line and value alone, at the place it is about. Duplicate keys
// were reported by index.
func (d *decoder) translate(e string) {
	m := yamlLine.FindStringSubmatch(e)
	if m == nil {
		d.problems = append(d.problems, Problem{File: d.file, Msg: e})
		return
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[3]
	if m[2] != "" { // one of typeError's
		col, _ := strconv.Atoi(m[2])
		d.report(line, true, func(p *place) bool { return p.target().Line == line && p.target().Column == col },
			func(*place) string { return msg })
		return
	}
	if f := unknownField.FindStringSubmatch(msg); f != nil {
		d.report(line, false, func(p *place) bool { return p.at != p.value && p.at.Line == line && p.at.Value == f[1] },
			func(p *place) string {
				valid := keysOf[f[2]]
				if spec, ok := family.ByKey(strings.TrimPrefix(parentKey(p.key), "metrics.")); ok && p != nil {
					valid = familyKeys(spec)
				}
				return "unknown key" + suggest(f[1], valid)
			})
		return
	}
	if t := wrongType.FindStringSubmatch(msg); t != nil {
		want := wantFor(t[3])
		d.report(line, true, func(p *place) bool { return p.target().Line == line && shows(p.target(), t[1], t[2]) },
			func(p *place) string {
				switch {
				case p == nil:
					return "want " + want
				case want == "a mapping":
					return "want a mapping, got " + describeKind(p.target())
				}
				return "want " + want + ", got " + describe(p.target())
			})
	}
}

// report puts a message at the first place that matches and has none of
// yaml.v3's yet, so that two identical messages go to two places (an
// anchor's and an alias's); without one, at the line alone unless index
// reported something there. text is given the place, or nil.
func (d *decoder) report(line int, marks bool, match func(*place) bool, text func(*place) string) {
	for _, p := range d.order {
		if p.used || !match(p) {
			continue
		}
		p.used = true
		n := p.value
		if !marks {
			n = p.at
		}
		d.problem(n, p.key, text(p), marks)
		return
	}
	if !slices.ContainsFunc(d.problems, func(p Problem) bool { return p.Line == line }) {
		d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: text(nil)})
	}
}

// target is the node yaml.v3 decodes at p, and names in its messages.
func (p *place) target() *yaml.Node {
	if p.value.Kind == yaml.AliasNode {
		return p.value.Alias
	}
	return p.value
}

// shows reports whether n is what yaml.v3 quotes as `value` (cut to 7
// characters and "...") of tag.
func shows(n *yaml.Node, tag, value string) bool {
	switch n.Kind {
	case yaml.SequenceNode:
		return tag == "seq"
	case yaml.MappingNode:
		return tag == "map"
	}
	return n.Value == value || len(n.Value) > 10 && value == n.Value[:7]+"..."
}

// wantFor says what a Go type, as yaml.v3 names it, wants.
func wantFor(goType string) string {
	switch {
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string", goType == "config.Secret":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return "a mapping"
}

// typeError is how UnmarshalYAML methods report: yaml.v3 collects a
// *yaml.TypeError and goes on, and the column finds the node again.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: ", n.Line, n.Column) + fmt.Sprintf(format, args...)}}
}

// keysOf maps each struct type of the config, named as yaml.v3 names it,
// to the keys it takes.
var keysOf = map[string][]string{}

func init() { collectKeys(reflect.TypeOf(Config{})) }

func collectKeys(t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if _, done := keysOf[t.String()]; done || t.Kind() != reflect.Struct {
		return
	}
	keysOf[t.String()] = nil
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keysOf[t.String()] = append(keysOf[t.String()], name)
		}
		if f.IsExported() {
			collectKeys(f.Type)
		}
	}
}

// suggest returns ` (did you mean "x"?)` for the valid key closest to name
// if it is close enough to be a typo.
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
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// syntaxError reports a YAML syntax error. yaml.v3's line is 0-based for
// some errors, the enclosing construct's for others and missing on the
// first line, so the line is that of the shortest prefix of whole lines
// that fails the same way; bisecting keeps this linear-logarithmic.
func (d *decoder) syntaxError(data []byte, err error) {
	message := func(err error) string {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return m[3]
		}
		return msg
	}
	msg := message(err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	ends := make([]int, len(lines))
	for i, end := 0, 0; i < len(lines); i++ {
		end += len(lines[i])
		ends[i] = end
	}
	line := 1 + sort.Search(len(lines), func(i int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(data[:ends[i]]))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				return !errors.Is(err, io.EOF) && message(err) == msg
			}
		}
	})
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: "invalid YAML: " + msg})
}
