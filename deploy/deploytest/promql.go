package deploytest

import (
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Selector is one series selector (of a vector or range selector, inside a
// subquery or not) of a PromQL expression.
type Selector struct {
	// Names are the metric names it selects: its metric name, or what a
	// __name__ matcher with = or =~ matches (a regex that is not a plain
	// alternation of names is kept as it is, and so matches no name).
	Names  []string
	Labels []string // the label names of its other matchers, in order
}

// promql parses as Prometheus (Prometheus3Version) does without feature
// flags, as the shipped deployments run it: experimental functions are
// rejected.
var promql = parser.NewParser(parser.Options{})

// Selectors parses expr with Prometheus's own PromQL parser and returns its
// series selectors, in the order they appear.
func Selectors(expr string) ([]Selector, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []Selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		var s Selector
		for _, m := range vs.LabelMatchers {
			switch {
			case m.Name != labels.MetricName:
				s.Labels = append(s.Labels, m.Name)
			case m.Type == labels.MatchEqual:
				s.Names = append(s.Names, m.Value)
			case m.Type == labels.MatchRegexp:
				if set := m.SetMatches(); set != nil {
					s.Names = append(s.Names, set...)
				} else {
					s.Names = append(s.Names, m.Value)
				}
			}
		}
		out = append(out, s)
		return nil
	})
	return out, nil
}
