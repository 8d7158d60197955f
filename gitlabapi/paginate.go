package gitlabapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	maxPerPage = 100
	// maxOffsetPages stops a server that never reports a last page; at 100
	// rows a page it is far beyond any real pipeline or group.
	maxOffsetPages = 10000
)

// decodeBody unmarshals a 2xx body; unknown keys are ignored so newer
// GitLab releases keep working.
func decodeBody(endpoint string, u *url.URL, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &DecodeError{Endpoint: endpoint, Path: u.EscapedPath(), Err: err}
	}
	return nil
}

func linkError(endpoint string, u *url.URL, err error) error {
	return fmt.Errorf("gitlab GET %s (%s): %w", endpoint, u.EscapedPath(), err)
}

// getOne fetches and decodes a single object.
func getOne[T any](ctx context.Context, c *Client, endpoint, escapedPath string) (*T, error) {
	u, err := c.endpointURL(escapedPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.get(ctx, endpoint, u)
	if err != nil {
		return nil, err
	}
	var v T
	if err := decodeBody(endpoint, u, resp.body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// offsetList walks an offset-paginated list. GitLab sends X-Next-Page on
// every page, empty on the last; X-Total is omitted above 10,000 rows, so it
// is never used. The next request is our own URL with page=N, which keeps
// the token's destination fixed. If a proxy stripped X-Next-Page, the Link
// rel="next" URL (same origin only) is followed instead. maxPages 0 = all.
func offsetList[T any](ctx context.Context, c *Client, endpoint, escapedPath string, q query, maxPages int) ([]T, error) {
	q = q.clone()
	q.set("per_page", strconv.Itoa(maxPerPage))
	u, err := c.endpointURL(escapedPath, q)
	if err != nil {
		return nil, err
	}
	var all []T
	page := 1
	for n := 1; ; n++ {
		resp, err := c.get(ctx, endpoint, u)
		if err != nil {
			return nil, err
		}
		var items []T
		if err := decodeBody(endpoint, u, resp.body, &items); err != nil {
			return nil, err
		}
		all = append(all, items...)
		if maxPages > 0 && n >= maxPages {
			return all, nil
		}
		next, err := c.nextOffsetURL(escapedPath, q, u, resp.header, &page)
		if err != nil {
			return nil, linkError(endpoint, u, err)
		}
		if next == nil {
			return all, nil
		}
		if n >= maxOffsetPages {
			return nil, linkError(endpoint, u, fmt.Errorf("%w: still more pages after %d pages", ErrBadLink, n))
		}
		u = next
	}
}

// nextOffsetURL returns the URL of the page after *page, or nil at the end.
func (c *Client) nextOffsetURL(escapedPath string, q query, cur *url.URL, h http.Header, page *int) (*url.URL, error) {
	if vals, ok := h[http.CanonicalHeaderKey("X-Next-Page")]; ok {
		s := ""
		if len(vals) > 0 {
			s = strings.TrimSpace(vals[0])
		}
		if s == "" {
			return nil, nil
		}
		next, err := strconv.Atoi(s)
		if err != nil || next <= *page {
			return nil, fmt.Errorf("%w: X-Next-Page %q after page %d", ErrBadLink, s, *page)
		}
		*page = next
		q.set("page", strconv.Itoa(next))
		return c.endpointURL(escapedPath, q)
	}
	link, ok := parseNextLink(strings.Join(h.Values("Link"), ", "))
	if !ok {
		return nil, nil
	}
	next, err := c.nextURL(cur, link)
	if err != nil {
		return nil, err
	}
	if next.String() == cur.String() {
		return nil, fmt.Errorf("%w: next-page link repeats the current URL", ErrBadLink)
	}
	return next, nil
}
