package gitlabapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

var allSentinels = []error{ErrNotFound, ErrUnauthorized, ErrForbidden, ErrRateLimited, ErrServer, ErrBadRequest}

// Every error case GitLab documents, served as GitLab serves it.
func TestErrorBodiesFixture(t *testing.T) {
	var fx struct {
		Cases []struct {
			Case        string          `json:"case"`
			Status      int             `json:"status"`
			Body        json.RawMessage `json:"body"`
			BodyText    string          `json:"body_text"`
			ContentType string          `json:"content_type"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(fixture(t, "error_bodies.json"), &fx); err != nil {
		t.Fatal(err)
	}
	sentinel := map[int]error{
		400: ErrBadRequest, 401: ErrUnauthorized, 403: ErrForbidden, 404: ErrNotFound,
		405: ErrBadRequest, 409: ErrBadRequest, 410: ErrBadRequest, 429: ErrRateLimited, 500: ErrServer,
	}
	// In fixture order.
	wantMessages := []string{
		"401 Unauthorized",
		"invalid_token: Token is expired. You can either do re-authorization or token refresh.",
		"invalid_token: Token was revoked. You have to re-authorize from the user.",
		"insufficient_scope: The request requires higher privileges than provided by the access token.",
		"404 Project Not Found",
		"404 Not found",
		"404 Not Found",
		"403 Forbidden",
		"403 Forbidden - Job is not retryable",
		"scope does not have a valid value",
		"Scope contains invalid value(s)",
		`400 (Bad request) "title" not given`,
		"bio: is too long (maximum is 255 characters)",
		"Keyset pagination is not yet available for this type of request",
		"Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type Ci::Build. Remaining records can be retrieved using keyset pagination.",
		"This endpoint has been requested too many times. Try again later.",
		"Retry later",
		"500 Internal Server Error",
		"409 Conflict: Resource lock",
		"API V3 is no longer supported. Use API V4 instead.",
	}
	if len(fx.Cases) != len(wantMessages) {
		t.Fatalf("fixture has %d cases, test expects %d", len(fx.Cases), len(wantMessages))
	}
	for i, tc := range fx.Cases {
		t.Run(tc.Case, func(t *testing.T) {
			env := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.BodyText != "" {
					writeRaw(w, tc.Status, tc.ContentType, tc.BodyText)
					return
				}
				writeRaw(w, tc.Status, "application/json", string(tc.Body))
			}), func(o *Options) { o.MaxRetries = 0 })
			_, err := env.c.Job(context.Background(), "group/proj", 7)
			want, ok := sentinel[tc.Status]
			if !ok {
				t.Fatalf("test has no sentinel for status %d", tc.Status)
			}
			for _, s := range allSentinels {
				if errors.Is(err, s) != (s == want) {
					t.Errorf("errors.Is(err, %v) = %v", s, !(s == want))
				}
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %v is not an *APIError", err)
			}
			if ae.Message != wantMessages[i] {
				t.Errorf("Message = %q, want %q", ae.Message, wantMessages[i])
			}
			if ae.StatusCode != tc.Status || ae.Endpoint != EndpointJob || ae.Path != "/api/v4/projects/group%2Fproj/jobs/7" {
				t.Errorf("APIError = %+v", ae)
			}
			if !strings.Contains(err.Error(), EndpointJob) || !strings.Contains(err.Error(), ae.Path) {
				t.Errorf("Error() = %q lacks endpoint or path", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"nginx 502 page", 502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>", "502 Bad Gateway"},
		{"html without title", 503, "<html><style>p{}</style><body><p>GitLab is\n   under maintenance</p></body></html>", "GitLab is under maintenance"},
		{"plain text", 429, "  Retry later\n", "Retry later"},
		{"empty body", 503, "", "Service Unavailable"},
		{"empty JSON object", 500, "{}", "{}"},
		{"message null", 404, `{"message": null}`, `{"message": null}`},
		{"message array", 400, `{"message": ["a", "b"]}`, "a, b"},
		{"nested field errors", 400, `{"message": {"name": ["has already been taken"], "base": ["x", "y"]}}`, "base: x, y; name: has already been taken"},
		{"error without description", 400, `{"error": "per_page is invalid"}`, "per_page is invalid"},
		{"unknown status, no text", 599, "", "no message"},
		{"invalid UTF-8", 500, "bad \xff\xfe bytes", "bad bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorMessage(tt.status, []byte(tt.body)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorMessageIsCapped(t *testing.T) {
	for _, body := range []string{
		strings.Repeat("é", 1000),
		`{"message": "` + strings.Repeat("x", 5000) + `"}`,
		"<html><body>" + strings.Repeat("word ", 2000) + "</body></html>",
	} {
		got := errorMessage(500, []byte(body))
		if len(got) > maxMessageLen+len("…") || !utf8.ValidString(got) || got == "" {
			t.Errorf("message of %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
	}
}

func TestAPIErrorIs(t *testing.T) {
	for status := 400; status <= 599; status++ {
		e := &APIError{StatusCode: status}
		n := 0
		for _, s := range allSentinels {
			if errors.Is(e, s) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("status %d matches %d sentinels, want exactly 1", status, n)
		}
	}
	if errors.Is(&APIError{StatusCode: 302}, ErrBadRequest) {
		t.Error("302 matched ErrBadRequest")
	}
}
