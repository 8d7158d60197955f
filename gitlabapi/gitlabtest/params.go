package gitlabtest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenParams carry credentials; they are never echoed into Link headers or
// the request log.
var tokenParams = map[string]bool{"private_token": true, "job_token": true, "access_token": true}

// parseID accepts what Grape treats as a numeric :id.
func parseID(s string) (int64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// params is the request's parameter hash as Grape sees it after coercion,
// used to rebuild Link URLs. Rails' to_query sorts the encoded pairs and
// renders arrays as key[]=v.
type params map[string][]string // key "scope[]" holds an array

func requestParams(q url.Values) params {
	p := params{}
	for k, vs := range q {
		if tokenParams[k] || len(vs) == 0 {
			continue
		}
		if strings.HasSuffix(k, "[]") {
			p[k] = slices.Clone(vs)
			continue
		}
		p[k] = []string{vs[len(vs)-1]} // Rack keeps the last of repeated keys
	}
	return p
}

func (p params) set(k, v string) { p[k] = []string{v} }

func (p params) toQuery() string {
	pairs := make([]string, 0, len(p))
	for k, vs := range p {
		for _, v := range vs {
			pairs = append(pairs, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// last returns the value Rack would keep for a scalar key.
func last(q url.Values, k string) (string, bool) {
	vs := q[k]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// intParam parses an optional Grape Integer.
func intParam(q url.Values, k string, def int) (int, *apiError) {
	v, ok := last(q, k)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errInvalid(k)
	}
	return n, nil
}

// boolParam parses an optional Grape Boolean.
func boolParam(q url.Values, k string) (val, set bool, e *apiError) {
	v, ok := last(q, k)
	if !ok || v == "" {
		return false, false, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "t", "yes", "y":
		return true, true, nil
	case "false", "0", "f", "no", "n":
		return false, true, nil
	}
	return false, false, errInvalid(k)
}

// enumParam validates an optional string against Grape values.
func enumParam(q url.Values, k, def string, allowed ...string) (string, *apiError) {
	v, ok := last(q, k)
	if !ok || v == "" {
		return def, nil
	}
	if !slices.Contains(allowed, v) {
		return "", errNotValid(k)
	}
	return v, nil
}

// timeParam parses an optional Grape DateTime. A "+" sent unescaped arrives
// as a space, which GitLab fails to parse as well.
func timeParam(q url.Values, k string) (stamp, *apiError) {
	v, ok := last(q, k)
	if !ok || v == "" {
		return 0, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return stampOf(t), nil
		}
	}
	return 0, errInvalid(k)
}

// scopeParam reads scope / scope[] (string or array of job statuses, as
// jobs.rb declares it). Empty values mean no filter.
func scopeParam(q url.Values) ([]string, *apiError) {
	var vals []string
	vals = append(vals, q["scope[]"]...)
	if v, ok := last(q, "scope"); ok {
		vals = append(vals, v)
	}
	out := vals[:0]
	for _, v := range vals {
		if v == "" {
			continue
		}
		if !knownStatus[v] {
			return nil, errNotValid("scope")
		}
		out = append(out, v)
	}
	return out, nil
}

// normalizeScope renders scope the way Grape hands it to to_query after
// coercing a string into an array.
func (p params) normalizeScope(scope []string) {
	delete(p, "scope")
	delete(p, "scope[]")
	if len(scope) > 0 {
		p["scope[]"] = scope
	}
}

func scopeSet(scope []string) map[string]bool {
	if len(scope) == 0 {
		return nil
	}
	m := make(map[string]bool, len(scope))
	for _, s := range scope {
		m[s] = true
	}
	return m
}
