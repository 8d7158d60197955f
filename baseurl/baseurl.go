// Package baseurl holds the one rule for a GitLab base URL, shared by the
// configuration and the API client; it imports nothing of the exporter's.
package baseurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// APIPrefix is what the client appends to the base URL.
const APIPrefix = "/api/v4"

// Canonical checks a GitLab base URL: an http or https URL with a host,
// without credentials, query or fragment, and without "/api/v4" (the
// client adds it). A relative URL root such as "https://example.com/gitlab"
// is kept. It returns the URL without trailing slashes. Its errors never
// repeat a URL that carries credentials, and do not name the URL's owner:
// callers add "gitlab.url" or "BaseURL".
func Canonical(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("is empty")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("not a valid URL: want an http or https URL with a host")
	case u.User != nil:
		return "", errors.New("must not contain credentials; pass the token separately")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		msg := fmt.Sprintf("want an http or https URL with a host, got %q", raw)
		if u.Scheme == "" && !strings.HasPrefix(raw, "/") {
			msg += fmt.Sprintf(" (did you mean %q?)", "https://"+raw)
		}
		return "", errors.New(msg)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", errors.New("must not have a query or fragment")
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if strings.HasSuffix(path, APIPrefix) {
		return "", fmt.Errorf("want the GitLab base URL, without %q", APIPrefix)
	}
	return u.Scheme + "://" + u.Host + path, nil
}
