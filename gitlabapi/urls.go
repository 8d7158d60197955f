package gitlabapi

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// pathID encodes a numeric id or a full path ("group/sub/proj") as one URL
// path segment; GitLab's routes require "/" as %2F.
func pathID(kind, id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", fmt.Errorf("gitlab: %s id or path is empty", kind)
	}
	if strings.TrimSpace(id) != id || strings.HasPrefix(id, "/") || strings.HasSuffix(id, "/") || id == "." || id == ".." {
		return "", fmt.Errorf("gitlab: %s %q: want a numeric id or a path like group/project, without surrounding spaces or slashes", kind, id)
	}
	return url.PathEscape(id), nil
}

func positiveID(kind string, id int64) (string, error) {
	if id <= 0 {
		return "", fmt.Errorf("gitlab: %s id must be positive, got %d", kind, id)
	}
	return strconv.FormatInt(id, 10), nil
}

// endpointURL joins the API base and an already-escaped path and query.
func (c *Client) endpointURL(escapedPath string, q query) (*url.URL, error) {
	raw := c.base.String() + escapedPath
	if enc := q.encode(); enc != "" {
		raw += "?" + enc
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("gitlab: building URL for %s: %w", escapedPath, err)
	}
	return u, nil
}

// query is an ordered-by-key parameter set whose "[]" array suffixes stay
// literal, as in GitLab's documentation (scope[]=pending&scope[]=running).
type query map[string][]string

func (q query) set(k, v string)        { q[k] = []string{v} }
func (q query) add(k string, v string) { q[k] = append(q[k], v) }

func (q query) encode() string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		ek := url.QueryEscape(strings.TrimSuffix(k, "[]"))
		if strings.HasSuffix(k, "[]") {
			ek += "[]"
		}
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

func (q query) clone() query {
	out := make(query, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func addScopes(q query, scopes []JobStatus) error {
	for i, s := range scopes {
		if strings.TrimSpace(string(s)) == "" {
			return fmt.Errorf("gitlab: scope %d is empty", i)
		}
		q.add("scope[]", string(s))
	}
	return nil
}

// nextURL resolves a next-page link against the current request and
// refuses other origins, so the token never leaves the configured GitLab.
func (c *Client) nextURL(cur *url.URL, link string) (*url.URL, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("%w: next-page link is not a URL: %v", ErrBadLink, err)
	}
	u := cur.ResolveReference(ref)
	if !sameOrigin(u, c.base) {
		return nil, fmt.Errorf("%w: next-page link goes to %s://%s, not to BaseURL's %s://%s (set BaseURL to GitLab's external URL)",
			ErrBadLink, u.Scheme, u.Host, c.base.Scheme, c.base.Host)
	}
	return u, nil
}

// ErrBadLink is matched by errors caused by a next-page link that cannot be
// followed (other host, loop, garbage).
var ErrBadLink = errors.New("gitlab: bad pagination link")
