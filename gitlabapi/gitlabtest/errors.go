package gitlabtest

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// apiError is an error response with GitLab's body. Two shapes coexist:
// {"message": ...} from render_api_error! and {"error": "..."} from Grape's
// error! (validation, catch-all route, pagination).
type apiError struct {
	status int
	body   any
}

func errMessage(status int, msg any) *apiError {
	return &apiError{status: status, body: map[string]any{"message": msg}}
}

func errError(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]string{"error": msg}}
}

func errInvalid(param string) *apiError { return errError(400, param+" is invalid") }

func errNotValid(param string) *apiError { return errError(400, param+" does not have a valid value") }

var (
	errUnauthorized    = errMessage(401, "401 Unauthorized")
	errForbidden       = errMessage(403, "403 Forbidden")
	errNoRoute         = errError(404, "404 Not Found")
	errProjectNotFound = errMessage(404, "404 Project Not Found")
	errGroupNotFound   = errMessage(404, "404 Group Not Found")
	errRecordNotFound  = errMessage(404, "404 Not found")
	errMethod          = errError(405, "405 Not Allowed")
	errKeysetOrder     = errError(405, "Keyset pagination is not yet available for this type of request")
	errCursor          = errError(400, "cursor is invalid")
)

func errOffsetLimit(class string) *apiError {
	return errError(405, "Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type "+
		class+". Remaining records can be retrieved using keyset pagination.")
}

// writeJSON renders like Rails: no HTML escaping, no trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	body := []byte(`{"message":"500 Internal Server Error"}`)
	if err := enc.Encode(v); err == nil {
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	} else {
		status = 500 // only the fake's own types are encoded; this is a bug
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (e *apiError) write(w http.ResponseWriter) { writeJSON(w, e.status, e.body) }
