package gitlabapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinels matched by *APIError (via errors.Is) according to its status.
var (
	ErrNotFound     = errors.New("gitlab: not found")
	ErrUnauthorized = errors.New("gitlab: unauthorized")
	ErrForbidden    = errors.New("gitlab: forbidden")
	ErrRateLimited  = errors.New("gitlab: rate limited")
	ErrServer       = errors.New("gitlab: server error")
	ErrBadRequest   = errors.New("gitlab: bad request")
	// ErrDecode is matched by *DecodeError.
	ErrDecode = errors.New("gitlab: cannot decode response")
)

// APIError is a non-2xx answer from GitLab.
type APIError struct {
	Endpoint   string        // route template, e.g. "/projects/:id/jobs"
	Path       string        // escaped request path, e.g. "/api/v4/projects/g%2Fp/jobs"
	StatusCode int           // HTTP status
	Message    string        // GitLab's message, or a short excerpt of a non-JSON body
	RetryAfter time.Duration // for 429: the pause the client applied
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("gitlab GET %s (%s): HTTP %d: %s", e.Endpoint, e.Path, e.StatusCode, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Is maps the status to one of the sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	case ErrBadRequest:
		switch e.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
			return false
		}
		return e.StatusCode >= 400 && e.StatusCode <= 499
	}
	return false
}

// DecodeError is a 2xx answer whose body is not the expected JSON.
type DecodeError struct {
	Endpoint, Path string
	Err            error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("gitlab GET %s (%s): decoding response: %v", e.Endpoint, e.Path, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDecode) true.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

const maxMessageLen = 200

// errorMessage extracts GitLab's message from an error body. GitLab uses
// {"message": string|object} (render_api_error!) and {"error": ...,
// "error_description": ...} (Grape, OAuth); proxies in front of it answer
// with HTML or plain text.
func errorMessage(status int, body []byte) string {
	var v struct {
		Message          json.RawMessage `json:"message"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription json.RawMessage `json:"error_description"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		if m := flatten(v.Message); m != "" {
			msg = m
		} else if e := flatten(v.Error); e != "" {
			msg = e
			if d := flatten(v.ErrorDescription); d != "" {
				msg += ": " + d
			}
		}
	}
	if msg == "" {
		msg = textExcerpt(body)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if msg == "" {
		msg = "no message"
	}
	return truncate(msg, maxMessageLen)
}

// flatten turns a JSON message into one line: strings as is, {"error": s}
// as s, field errors as "field: a, b; other: c", arrays joined.
func flatten(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return ""
	}
	return flattenValue(x)
}

func flattenValue(x any) string {
	switch t := x.(type) {
	case string:
		return strings.TrimSpace(t)
	case float64, bool:
		return fmt.Sprint(t)
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			if s := flattenValue(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if e, ok := t["error"].(string); ok && strings.TrimSpace(e) != "" {
			return strings.TrimSpace(e)
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if s := flattenValue(t[k]); s != "" {
				parts = append(parts, k+": "+s)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

var (
	titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	dropRE  = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// textExcerpt gives a readable excerpt of an HTML or plain-text body.
func textExcerpt(body []byte) string {
	if len(body) > 4096 {
		body = body[:4096]
	}
	s := strings.ToValidUTF8(string(body), "")
	if strings.Contains(s, "<") {
		if m := titleRE.FindStringSubmatch(s); m != nil && strings.TrimSpace(m[1]) != "" {
			s = m[1]
		} else {
			s = tagRE.ReplaceAllString(dropRE.ReplaceAllString(s, " "), " ")
		}
	}
	return strings.Join(strings.Fields(s), " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
