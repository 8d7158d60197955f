package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// yaml.v3's syntax-error lines are unreliable: parser errors print a 0-based
// line, the line is that of the enclosing construct rather than the offending
// token, and anything on the first line gets no line at all. So the line is
// recomputed by finding the shortest prefix of whole lines that fails with
// the same message.

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserMessages are the problems libyaml's parser (as opposed to its
// scanner) reports; yaml.v3 prints their line 0-based.
var parserMessages = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

func (d *decoder) syntaxError(data []byte, err error) {
	msg, line := splitYAMLError(err)
	if parserMessages[msg] && line > 0 {
		line++
	}
	// The offending token is never before the construct yaml.v3 names.
	if l := locateError(data, msg); l > 0 && l >= line {
		line = l
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: "invalid YAML: " + msg})
}

func splitYAMLError(err error) (msg string, line int) {
	s := err.Error()
	if m := yamlLine.FindStringSubmatch(s); m != nil {
		line, _ = strconv.Atoi(m[1])
		return m[2], line
	}
	if len(s) > len("yaml: ") && s[:len("yaml: ")] == "yaml: " {
		s = s[len("yaml: "):]
	}
	return s, 0
}

// locateError returns the 1-based number of the first line at which a
// prefix of data fails with msg, or 0. It bisects: once the offending line
// is included every longer prefix fails the same way, and a linear scan
// would be quadratic in the file's length.
func locateError(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	ends := make([]int, len(lines))
	end := 0
	for i, l := range lines {
		end += len(l)
		ends[i] = end
	}
	i := sort.Search(len(lines), func(i int) bool {
		err := parseAll(data[:ends[i]])
		if err == nil {
			return false
		}
		m, _ := splitYAMLError(err)
		return m == msg
	})
	if i == len(lines) {
		return 0
	}
	return i + 1
}

func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
