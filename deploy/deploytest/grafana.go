package deploytest

import "regexp"

// grafanaVarRef matches Grafana's three variable syntaxes: ${name} (with an
// optional :format), $name and [[name]].
var grafanaVarRef = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)\]\]`)

// SubstituteVariables replaces each Grafana variable reference in expr by
// what value returns for its name, as Grafana does before sending a query.
// The first error value returns is returned; the reference is then kept.
func SubstituteVariables(expr string, value func(name string) (string, error)) (string, error) {
	var first error
	out := grafanaVarRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := grafanaVarRef.FindStringSubmatch(ref)
		v, err := value(m[1] + m[2] + m[3])
		if err != nil {
			if first == nil {
				first = err
			}
			return ref
		}
		return v
	})
	return out, first
}
