package gitlabtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	defaultPerPage = 20
	maxPerPage     = 100   // Kaminari max_per_page
	maxCountRows   = 10000 // Kaminari MAX_COUNT_LIMIT: above it, no counts
	maxOffset      = 50000 // offset_pagination_limit default
	// maxPage bounds the page used for slicing, so that offsets cannot
	// overflow; any page that large is past the end anyway.
	maxPage = 1 << 30
)

// pageParams are page/per_page as Grape hands them over (raw) and as
// Kaminari applies them.
type pageParams struct {
	rawPage, rawPerPage int
	page, perPage       int
}

func parsePage(q url.Values) (pageParams, *apiError) {
	pp, e := intParam(q, "per_page", defaultPerPage)
	if e != nil {
		return pageParams{}, e
	}
	pg, e := intParam(q, "page", 1)
	if e != nil {
		return pageParams{}, e
	}
	out := pageParams{rawPage: pg, rawPerPage: pp, page: min(max(pg, 1), maxPage), perPage: clampPerPage(pp)}
	return out, nil
}

func clampPerPage(n int) int {
	switch {
	case n < 1:
		return defaultPerPage
	case n > maxPerPage:
		return maxPerPage
	}
	return n
}

// offsetLimitExceeded is pagination_strategies' check, made on the raw
// params before Kaminari clamps them.
func (p pageParams) offsetLimitExceeded() bool {
	// page*per_page > limit, written to survive absurdly large pages.
	return p.rawPerPage > 0 && p.rawPage > maxOffset/p.rawPerPage
}

func (p pageParams) offset() int { return (p.page - 1) * p.perPage }

// pageOf slices one offset page out of rows already in response order.
func pageOf[T any](rows []T, p pageParams) (page []T, hasNext bool) {
	start := p.offset()
	if start >= len(rows) {
		return nil, false
	}
	end := min(start+p.perPage, len(rows))
	return rows[start:end], end < len(rows)
}

// offsetPage describes the page for OffsetHeaderBuilder.
type offsetPage struct {
	pageParams
	rows    int  // rows on this page
	hasNext bool // a row exists after this page
	counted bool // X-Total/X-Total-Pages/rel="last" are sent
	total   int
}

// setOffsetHeaders writes Gitlab::Pagination::OffsetHeaderBuilder's headers.
// X-Next-Page and X-Prev-Page are always present, empty at the ends.
func setOffsetHeaders(h http.Header, linkBase string, prm params, pg offsetPage) {
	next, prev := "", ""
	if pg.hasNext {
		next = strconv.Itoa(pg.page + 1)
	}
	// Kaminari has no prev page on the first page or out of range.
	if pg.page > 1 && pg.rows > 0 {
		prev = strconv.Itoa(pg.page - 1)
	}
	h.Set("X-Per-Page", strconv.Itoa(pg.perPage))
	h.Set("X-Page", strconv.Itoa(pg.page))
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)
	href := func(page string) string {
		prm.set("page", page)
		prm.set("per_page", strconv.Itoa(pg.perPage))
		return "<" + linkBase + "?" + prm.toQuery() + ">"
	}
	var links []string
	if prev != "" {
		links = append(links, href(prev)+`; rel="prev"`)
	}
	if next != "" {
		links = append(links, href(next)+`; rel="next"`)
	}
	links = append(links, href("1")+`; rel="first"`)
	if pg.counted {
		pages := max(1, (pg.total+pg.perPage-1)/pg.perPage)
		links = append(links, href(strconv.Itoa(pages))+`; rel="last"`)
		h.Set("X-Total", strconv.Itoa(pg.total))
		h.Set("X-Total-Pages", strconv.Itoa(pages))
	}
	h.Set("Link", strings.Join(links, ", "))
}

// countedPage pages rows the way plain `paginate` does: counts only up to
// 10,000 rows.
func countedPage[T any](rows []T, p pageParams) ([]T, offsetPage) {
	page, hasNext := pageOf(rows, p)
	return page, offsetPage{pageParams: p, rows: len(page), hasNext: hasNext, counted: len(rows) <= maxCountRows, total: len(rows)}
}

// jobCursor is the keyset cursor for Ci::Build: urlsafe base64 (with
// padding) of the last row's id as a string plus the direction.
type jobCursor struct {
	ID string `json:"id"`
	KD string `json:"_kd"`
}

func encodeCursor(id int64) string {
	b, _ := json.Marshal(jobCursor{ID: strconv.FormatInt(id, 10), KD: "n"})
	return base64.URLEncoding.EncodeToString(b)
}

// decodeCursor accepts only forward cursors: the fake never hands out
// others.
func decodeCursor(s string) (int64, bool) {
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return 0, false
		}
	}
	var c jobCursor
	if json.Unmarshal(raw, &c) != nil || c.KD != "n" {
		return 0, false
	}
	return parseID(c.ID)
}

// linkBase is the request URL without its query, on the server's own host.
func linkBase(req *request) string {
	return req.base + req.r.URL.EscapedPath()
}
