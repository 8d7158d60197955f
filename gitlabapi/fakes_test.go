package gitlabapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// toQuery mimics Rails' Hash#to_query, which GitLab uses for Link URLs:
// keys sorted, values CGI-escaped, arrays as key%5B%5D=v.
func toQuery(params map[string][]string, arrays map[string]bool) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range params[k] {
			name := url.QueryEscape(k)
			if arrays[k] {
				name += "%5B%5D"
			}
			parts = append(parts, name+"="+url.QueryEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// grapeParams folds "scope[]" keys back into Grape's array param "scope".
func grapeParams(q url.Values) (map[string][]string, map[string]bool) {
	params, arrays := map[string][]string{}, map[string]bool{}
	for k, v := range q {
		if strings.HasSuffix(k, "[]") {
			k = strings.TrimSuffix(k, "[]")
			arrays[k] = true
		}
		params[k] = append(params[k], v...)
	}
	return params, arrays
}

// keysetJobs serves GET /api/v4/projects/:id/jobs?pagination=keyset like
// GitLab's CursorPager: rows id desc, Link rel="next" only while more rows
// exist, an opaque base64url cursor, no X-* pagination headers.
type keysetJobs struct {
	projectPath string // decoded, e.g. "group/sub/proj"
	jobs        []Job  // id desc
	base        func() string

	mu    sync.Mutex
	links []string // every Link target sent, in order
}

func (k *keysetJobs) sentLinks() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.links...)
}

func (k *keysetJobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wantPath := "/api/v4/projects/" + url.PathEscape(k.projectPath) + "/jobs"
	if r.URL.EscapedPath() != wantPath {
		gitlabRouteNotFound(w)
		return
	}
	if r.Header.Get("PRIVATE-TOKEN") != testToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	q := r.URL.Query()
	if q.Get("pagination") != "keyset" ||
		(q.Get("order_by") != "" && q.Get("order_by") != "id") ||
		(q.Get("sort") != "" && q.Get("sort") != "desc") {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "Keyset pagination is not yet available for this type of request"})
		return
	}
	perPage := 20
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	before := int64(1) << 62
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.URLEncoding.DecodeString(c)
		var cur struct {
			ID string `json:"id"`
			KD string `json:"_kd"`
		}
		if err != nil || json.Unmarshal(raw, &cur) != nil || cur.KD != "n" {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "500 Internal Server Error"})
			return
		}
		before, _ = strconv.ParseInt(cur.ID, 10, 64)
	}
	scopes := map[string]bool{}
	for _, s := range q["scope[]"] {
		scopes[s] = true
	}
	var rows []Job
	for _, j := range k.jobs {
		if j.ID < before && (len(scopes) == 0 || scopes[string(j.Status)]) {
			rows = append(rows, j)
		}
	}
	page := rows[:min(perPage, len(rows))]
	if len(rows) > perPage {
		params, arrays := grapeParams(q)
		params["id"] = []string{k.projectPath} // Grape route param, as GitLab's Link shows
		cursor, _ := json.Marshal(map[string]string{"id": strconv.FormatInt(page[len(page)-1].ID, 10), "_kd": "n"})
		params["cursor"] = []string{base64.URLEncoding.EncodeToString(cursor)}
		link := k.base() + wantPath + "?" + toQuery(params, arrays)
		k.mu.Lock()
		k.links = append(k.links, link)
		k.mu.Unlock()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", link))
	}
	if page == nil {
		page = []Job{}
	}
	writeJSON(w, http.StatusOK, page)
}

// offsetPages serves a list with GitLab's offset headers as on the jobs
// endpoint or above 10,000 rows: X-Next-Page empty on the last page, no
// X-Total/X-Total-Pages and no rel="last".
type offsetPages struct {
	path  string // escaped request path
	items []any
	base  func() string
}

func (o *offsetPages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.EscapedPath() != o.path {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	q := r.URL.Query()
	perPage := 20
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	from := min((page-1)*perPage, len(o.items))
	to := min(from+perPage, len(o.items))
	next, prev := "", ""
	if to < len(o.items) {
		next = strconv.Itoa(page + 1)
	}
	if page > 1 {
		prev = strconv.Itoa(page - 1)
	}
	params, arrays := grapeParams(q)
	link := func(p int) string {
		params["page"] = []string{strconv.Itoa(p)}
		params["per_page"] = []string{strconv.Itoa(perPage)}
		return o.base() + o.path + "?" + toQuery(params, arrays)
	}
	var links []string
	if prev != "" {
		links = append(links, fmt.Sprintf("<%s>; rel=\"prev\"", link(page-1)))
	}
	if next != "" {
		links = append(links, fmt.Sprintf("<%s>; rel=\"next\"", link(page+1)))
	}
	links = append(links, fmt.Sprintf("<%s>; rel=\"first\"", link(1)))
	h := w.Header()
	h.Set("Link", strings.Join(links, ", "))
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)
	writeJSON(w, http.StatusOK, o.items[from:to])
}
