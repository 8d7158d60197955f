package gitlabtest

import "regexp"

// jobWhen is a job's `when:` keyword, kept for webhooks (builds[].when and
// manual). One byte, as the model may hold hundreds of thousands of jobs.
type jobWhen uint8

const (
	whenOnSuccess jobWhen = iota
	whenAlways
	whenOnFailure
	whenManual
	whenDelayed
)

var whenNames = [...]string{"on_success", "always", "on_failure", "manual", "delayed"}

// parseWhen maps JobSpec.When ("" = on_success); ok is false for an unknown
// keyword.
func parseWhen(s string) (jobWhen, bool) {
	if s == "" {
		return whenOnSuccess, true
	}
	for i, n := range whenNames {
		if n == s {
			return jobWhen(i), true
		}
	}
	return 0, false
}

func (w jobWhen) String() string { return whenNames[w] }

// action reports Ci::Processable#action?: manual and delayed jobs wait for
// someone (or a timer) and render "manual": true in pipeline hooks.
func (w jobWhen) action() bool { return w == whenManual || w == whenDelayed }

// environment is where a deploy job deploys (`environment:` keyword).
type environment struct {
	name, tier string
}

// environmentFor interns the environment by name.
func (m *model) environmentFor(name string) *environment {
	if name == "" {
		return nil
	}
	if e := m.environments[name]; e != nil {
		return e
	}
	e := &environment{name: name, tier: guessTier(name)}
	m.environments[name] = e
	return e
}

// Patterns after GitLab's Environment#guess_tier, used when no tier is
// configured (recalled, not checked against its source here).
var tierPatterns = []struct {
	re   *regexp.Regexp
	tier string
}{
	{regexp.MustCompile(`(?i)(dev|review|trunk)`), "development"},
	{regexp.MustCompile(`(?i)(test|tst|int|ac(ce|)pt|qa|qc|control|quality)`), "testing"},
	{regexp.MustCompile(`(?i)(st(a|)g|mod(e|)l|pre|demo|non)`), "staging"},
	{regexp.MustCompile(`(?i)(pr(o|)d|live)`), "production"},
}

func guessTier(name string) string {
	for _, p := range tierPatterns {
		if p.re.MatchString(name) {
			return p.tier
		}
	}
	return "other"
}
