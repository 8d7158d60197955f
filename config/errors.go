package config

import (
	"fmt"
	"sort"
	"strings"
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
