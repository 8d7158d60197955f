package deploytest

import (
	"fmt"
	"strings"
)

// Selector is one vector selector found in a PromQL expression.
type Selector struct {
	Metric string   // empty for a selector made only of label matchers
	Labels []string // label names used in its matchers, in order (__name__ left out)
	// Names are the metric names a `__name__="a"` or `__name__=~"a|b"`
	// matcher selects, alternatives split; such a selector has no Metric.
	Names []string
}

// keywords are PromQL words that are neither metric names nor functions.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true,
	"inf": true, "nan": true,
}

// aggregators may be followed by a by/without clause before their
// parenthesised argument, so they are never metric names.
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true,
	"stddev": true, "stdvar": true, "count": true, "count_values": true,
	"bottomk": true, "topk": true, "quantile": true, "limitk": true,
	"limit_ratio": true,
}

// labelListKeywords take a parenthesised list of label names, which must not
// be mistaken for metric names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// Selectors returns the vector selectors of a PromQL expression. It is a
// scanner, not a parser: it assumes the expression is valid PromQL (promtool
// checks that) and only needs to tell metric names apart from function names,
// keywords, label lists, strings, numbers and durations.
func Selectors(expr string) ([]Selector, error) {
	s := &scanner{src: expr}
	var out []Selector
	for {
		s.skipSpace()
		if s.eof() {
			return out, nil
		}
		c := s.peek()
		switch {
		case c == '"' || c == '\'' || c == '`':
			if err := s.skipString(); err != nil {
				return nil, err
			}
		case c == '[':
			if err := s.skipUntil(']'); err != nil {
				return nil, err
			}
		case c == '{':
			labels, names, err := s.matchers()
			if err != nil {
				return nil, err
			}
			out = append(out, Selector{Labels: labels, Names: names})
		case isIdentStart(c):
			word := s.ident()
			s.skipSpace()
			lower := strings.ToLower(word)
			switch {
			case labelListKeywords[lower]:
				if !s.eof() && s.peek() == '(' {
					if err := s.skipUntil(')'); err != nil {
						return nil, err
					}
				}
			case keywords[lower], aggregators[lower]:
			case !s.eof() && s.peek() == '(':
				// A function or aggregation call; its arguments are
				// scanned as the loop goes on.
			case !s.eof() && s.peek() == '{':
				labels, _, err := s.matchers()
				if err != nil {
					return nil, err
				}
				out = append(out, Selector{Metric: word, Labels: labels})
			default:
				out = append(out, Selector{Metric: word})
			}
		case isDigit(c) || c == '.':
			s.number()
		default:
			s.pos++
		}
	}
}

type scanner struct {
	src string
	pos int
}

func (s *scanner) eof() bool  { return s.pos >= len(s.src) }
func (s *scanner) peek() byte { return s.src[s.pos] }

func (s *scanner) skipSpace() {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.pos++
		case c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

func (s *scanner) skipString() error {
	quote := s.peek()
	start := s.pos
	s.pos++
	for !s.eof() {
		c := s.peek()
		s.pos++
		if c == '\\' && quote != '`' {
			s.pos++
			continue
		}
		if c == quote {
			return nil
		}
	}
	return fmt.Errorf("unterminated string starting at offset %d", start)
}

// skipUntil skips past the closing character, minding strings and nesting.
func (s *scanner) skipUntil(closing byte) error {
	open := s.peek()
	start := s.pos
	depth := 0
	for !s.eof() {
		c := s.peek()
		switch {
		case c == '"' || c == '\'' || c == '`':
			if err := s.skipString(); err != nil {
				return err
			}
			continue
		case c == open:
			depth++
		case c == closing:
			depth--
			if depth == 0 {
				s.pos++
				return nil
			}
		}
		s.pos++
	}
	return fmt.Errorf("unbalanced %q starting at offset %d", open, start)
}

// matchers reads `{name op "value", ...}` and returns the label names, and
// the metric names of a __name__ matcher (= or =~ with alternatives).
func (s *scanner) matchers() (labels, names []string, err error) {
	start := s.pos
	s.pos++ // '{'
	var label, op string
	for {
		s.skipSpace()
		if s.eof() {
			return nil, nil, fmt.Errorf("unterminated label matchers starting at offset %d", start)
		}
		c := s.peek()
		switch {
		case c == '}':
			s.pos++
			return labels, names, nil
		case c == ',':
			s.pos++
			label, op = "", ""
		case c == '"' || c == '\'' || c == '`':
			from := s.pos
			if err := s.skipString(); err != nil {
				return nil, nil, err
			}
			if label == "__name__" && (op == "=" || op == "=~") {
				names = append(names, strings.Split(s.src[from+1:s.pos-1], "|")...)
			}
		case isIdentStart(c):
			label = s.ident()
			if label != "__name__" {
				labels = append(labels, label)
			}
		case c == '=' || c == '!' || c == '~':
			op += string(c)
			s.pos++
		default:
			return nil, nil, fmt.Errorf("unexpected %q in label matchers at offset %d", c, s.pos)
		}
	}
}

func (s *scanner) ident() string {
	start := s.pos
	for !s.eof() && (isIdentStart(s.peek()) || isDigit(s.peek())) {
		s.pos++
	}
	return s.src[start:s.pos]
}

// number skips a number or duration literal (1, 0.95, 1e3, 0x1f, 5m, 1h30m).
func (s *scanner) number() {
	for !s.eof() {
		c := s.peek()
		if !(isDigit(c) || isIdentStart(c) || c == '.') {
			return
		}
		// An exponent sign belongs to the number: 1e-3.
		if (c == 'e' || c == 'E') && s.pos+1 < len(s.src) && (s.src[s.pos+1] == '-' || s.src[s.pos+1] == '+') {
			s.pos++
		}
		s.pos++
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
