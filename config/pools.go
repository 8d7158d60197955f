package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// poolReference finds what regexp.Expand would substitute in a pool name:
// $name or ${name}, where a name is letters, digits and underscores ($$ is
// a dollar).
var poolReference = regexp.MustCompile(`\$(\$|\{([^}]*)\}|[0-9A-Za-z_]*)`)

// validatePools wants a match and a pool in each rule, and every group a
// pool name refers to in its match: regexp.Expand silently drops unknown
// ones, so "$1_x" (the group named "1_x") would name every pool "".
func (d *decoder) validatePools(key string, rules []PoolRule) {
	keys := d.items(key, len(rules), "want a mapping")
	for i, r := range rules {
		ik := keys[i]
		if d.skip(ik) {
			continue
		}
		if r.Match == nil {
			d.addAt(ik+".match", "required: an (anchored) regular expression")
		}
		if r.Pool == "" {
			d.addAt(ik+".pool", `required: the pool's name, in which $1 or ${name} stand for the match's groups`)
			continue
		}
		if r.Match == nil {
			continue
		}
		for _, m := range poolReference.FindAllStringSubmatch(r.Pool, -1) {
			name := m[1]
			if name == "$" {
				continue
			}
			if strings.HasPrefix(name, "{") {
				name = m[2]
			}
			if name == "" {
				d.addAt(ik+".pool", fmt.Sprintf("pool %q has a $ without a group after it (write $$ for a dollar)", r.Pool))
				break
			}
			if !hasGroup(r.Match.Regexp, name) {
				d.addAt(ik+".pool", fmt.Sprintf("pool %q refers to group %q, which match %q does not have (write ${1}x for group 1 followed by x)", r.Pool, name, r.Match.Source))
				break
			}
		}
	}
}

// hasGroup reports whether re has the numbered or named group.
func hasGroup(re *regexp.Regexp, name string) bool {
	if n, err := strconv.Atoi(name); err == nil {
		// The anchoring adds a group that does not capture; group 0 is the
		// whole match.
		return n >= 0 && n <= re.NumSubexp()
	}
	return slices.Contains(re.SubexpNames(), name)
}
