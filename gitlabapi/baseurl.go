package gitlabapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// apiPrefix is what the client appends to the base URL.
const apiPrefix = "/api/v4"

// CanonicalBaseURL is the one rule for a GitLab base URL, shared by the
// configuration and the client: an http or https URL with a host, without
// credentials, query or fragment, and without "/api/v4" (the client adds
// it). A relative URL root such as "https://example.com/gitlab" is kept. It
// returns the URL without trailing slashes. Its errors never repeat a URL
// that carries credentials, and do not name the URL's owner: callers add
// "gitlab.url" or "BaseURL".
func CanonicalBaseURL(raw string) (string, error) {
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
	if strings.HasSuffix(path, apiPrefix) {
		return "", fmt.Errorf("want the GitLab base URL, without %q", apiPrefix)
	}
	return u.Scheme + "://" + u.Host + path, nil
}
