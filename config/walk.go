package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodeVisits bounds the walk: aliases let a small file expand to an
// exponential number of nodes ("billion laughs"), and yaml.v3 only guards
// against that when decoding into Go values, not when we walk nodes.
const maxNodeVisits = 1_000_000

// decodeDocument fills cfg from data. It returns false when the document
// could not be walked at all (syntax error, empty, not a mapping), in which
// case further checks would only add noise.
func (d *decoder) decodeDocument(data []byte, cfg *Config) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.problems = append(d.problems, Problem{File: d.file, Msg: emptyMsg})
		} else {
			d.syntaxError(data, err)
		}
		return false
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = d.resolve(doc.Content[0])
	}
	if root == nil || isNull(root) {
		d.problems = append(d.problems, Problem{File: d.file, Line: doc.Line, Msg: emptyMsg})
		return false
	}
	if root.Kind != yaml.MappingNode {
		d.add(root, "", "want a mapping of settings at the top level, got "+describeKind(root))
		return false
	}
	d.decodeValue(root, reflect.ValueOf(cfg).Elem(), "")

	// yaml.v3 silently ignores documents after the first; a second one is
	// almost certainly a mistake that would drop settings.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.problems = append(d.problems, Problem{File: d.file, Line: extra.Line, Msg: "more than one YAML document; put the whole config in one"})
	case !errors.Is(err, io.EOF):
		d.syntaxError(data, err)
	}
	return true
}

const emptyMsg = "config is empty: want a mapping with at least gitlab and projects or groups"

// resolve follows aliases and charges the visit budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if d.exhausted {
		return nil
	}
	d.budget--
	if d.budget < 0 {
		d.exhausted = true
		d.problems = append(d.problems, Problem{File: d.file, Msg: "document expands to too many nodes (aliases nested too deeply?)"})
		return nil
	}
	// YAML cannot anchor an alias, so one step reaches the value.
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// decodeValue decodes n into v and reports whether it fully succeeded.
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, key string) bool {
	n = d.resolve(n)
	if n == nil {
		return false
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			if err := nd.decodeNode(n); err != nil {
				d.add(n, key, err.Error())
				return false
			}
			return true
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if !d.decodeValue(n, nv.Elem(), key) {
			return false
		}
		v.Set(nv)
		return true
	case reflect.Struct:
		return d.decodeMapping(n, v, key)
	case reflect.Slice:
		return d.decodeSequence(n, v, key)
	default:
		return d.decodeScalar(n, v, key)
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, key string) bool {
	var want string
	ok := n.Kind == yaml.ScalarNode && !isNull(n)
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		want = "a string"
		if ok {
			// The raw text, not a re-rendering: a token like 0x1F or 00123
			// must arrive exactly as written.
			v.SetString(n.Value)
			return true
		}
	case reflect.Bool:
		want = "true or false"
		var b bool
		if ok && tag == "!!bool" && n.Decode(&b) == nil {
			v.SetBool(b)
			return true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		want = "an integer"
		var i int64
		if ok && tag == "!!int" && n.Decode(&i) == nil {
			if v.OverflowInt(i) {
				d.add(n, key, fmt.Sprintf("integer %s is out of range", n.Value))
				return false
			}
			v.SetInt(i)
			return true
		}
	case reflect.Float32, reflect.Float64:
		want = "a number"
		var f float64
		if ok && (tag == "!!int" || tag == "!!float") && n.Decode(&f) == nil {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				d.add(n, key, fmt.Sprintf("want a finite number, got %s", describe(n)))
				return false
			}
			v.SetFloat(f)
			return true
		}
	default:
		// Only reachable if a field of an unsupported type is added to Config.
		d.add(n, key, fmt.Sprintf("internal error: cannot decode into %s", v.Type()))
		return false
	}
	d.add(n, key, fmt.Sprintf("want %s, got %s", want, describe(n)))
	return false
}

func (d *decoder) decodeSequence(n *yaml.Node, v reflect.Value, key string) bool {
	if n.Kind != yaml.SequenceNode {
		d.add(n, key, "want a list, got "+describe(n))
		return false
	}
	ok := true
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		ik := fmt.Sprintf("%s[%d]", key, i)
		d.pos[ik] = position{item.Line, item.Column}
		ev := reflect.New(v.Type().Elem()).Elem()
		if !d.decodeValue(item, ev, ik) {
			ok = false
		}
		// Failed items are kept so that index i still matches key[i] in
		// the checks that follow.
		s = reflect.Append(s, ev)
	}
	v.Set(s)
	return ok
}

type mapEntry struct{ key, value *yaml.Node }

func (d *decoder) decodeMapping(n *yaml.Node, v reflect.Value, prefix string) bool {
	if n.Kind != yaml.MappingNode {
		d.add(n, prefix, "want a mapping, got "+describeKind(n))
		return false
	}
	fields := fieldsByName(v.Type())
	seen := map[string]int{}
	ok := true
	for _, e := range d.mappingEntries(n, prefix) {
		k := d.resolve(e.key)
		if k == nil {
			return false
		}
		if k.Kind != yaml.ScalarNode {
			d.add(k, prefix, "want a plain key, got "+describeKind(k))
			ok = false
			continue
		}
		key := joinKey(prefix, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.note(k, key, fmt.Sprintf("duplicate key (first set at line %d)", first))
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		idx, known := fields[k.Value]
		if !known {
			d.note(k, key, "unknown key")
			ok = false
			continue
		}
		d.pos[key] = position{k.Line, k.Column}
		val := d.resolve(e.value)
		if val == nil {
			return false
		}
		// An explicit null means "not set", so the default stays.
		if isNull(val) {
			continue
		}
		if !d.decodeValue(val, v.Field(idx), key) {
			ok = false
		}
	}
	return ok
}

// mappingEntries returns n's key/value pairs with YAML merge keys ("<<")
// expanded; explicit keys win over merged ones, and earlier merge sources
// win over later ones, as the merge-key spec says.
func (d *decoder) mappingEntries(n *yaml.Node, prefix string) []mapEntry {
	if d.merging[n] {
		d.add(n, joinKey(prefix, "<<"), "merge key includes the mapping it is in")
		return nil
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	var explicit, merged []mapEntry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(v, prefix)...)
			continue
		}
		explicit = append(explicit, mapEntry{k, v})
	}
	if len(merged) == 0 {
		return explicit
	}
	have := map[string]bool{}
	for _, e := range explicit {
		have[e.key.Value] = true
	}
	for _, e := range merged {
		if !have[e.key.Value] {
			have[e.key.Value] = true
			explicit = append(explicit, e)
		}
	}
	return explicit
}

func (d *decoder) mergeSources(v *yaml.Node, prefix string) []mapEntry {
	v = d.resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.mappingEntries(v, prefix)
	case yaml.SequenceNode:
		var out []mapEntry
		for _, item := range v.Content {
			out = append(out, d.mergeSources(item, prefix)...)
		}
		return out
	default:
		d.add(v, joinKey(prefix, "<<"), "want a mapping or a list of mappings to merge, got "+describeKind(v))
		return nil
	}
}

// fieldsByName maps YAML key names to struct field indexes.
func fieldsByName(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}
