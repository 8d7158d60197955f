package gitlabapi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

func TestParseNextLink(t *testing.T) {
	const a, b = "https://gitlab.example.com/api/v4/projects/42/jobs?cursor=eyJpZCI6IjEifQ%3D%3D&pagination=keyset&per_page=100", "https://gitlab.example.com/api/v4/x?page=1"
	tests := []struct {
		name   string
		header string
		want   string
		wantOK bool
	}{
		{"keyset single next", `<` + a + `>; rel="next"`, a, true},
		{"offset set, next second", `<` + b + `>; rel="prev", <` + a + `>; rel="next", <` + b + `>; rel="first", <` + b + `>; rel="last"`, a, true},
		{"next last", `<` + b + `>; rel="first", <` + a + `>; rel="next"`, a, true},
		{"unquoted rel", `<` + a + `>; rel=next`, a, true},
		{"upper case and spaces", `  < ` + a + ` >  ;  REL = "Next"  `, a, true},
		{"extra params before rel", `<` + a + `>; title="a, b; c"; type="application/json"; rel="next"`, a, true},
		{"several relation types", `<` + a + `>; rel="last next"`, a, true},
		{"comma inside the URL", `<https://h/x?a=1,2>; rel="next"`, "https://h/x?a=1,2", true},
		{"no separator spaces", `<` + b + `>;rel="prev",<` + a + `>;rel="next"`, a, true},
		{"first of two next links", `<` + a + `>; rel="next", <` + b + `>; rel="next"`, a, true},
		{"garbage entry skipped", `garbage; rel="next", <` + a + `>; rel="next"`, a, true},
		{"tab separated", "<" + a + ">;\trel=\"next\"", a, true},
		{"escaped quote in a param", `<` + b + `>; title="x\", rel=\"next"; rel="prev", <` + a + `>; rel="next"`, a, true},
		{"only prev and first", `<` + b + `>; rel="prev", <` + b + `>; rel="first"`, "", false},
		{"rel nextpage is not next", `<` + b + `>; rel="nextpage"`, "", false},
		{"next in another param", `<` + b + `>; title="next"`, "", false},
		{"empty", ``, "", false},
		{"unterminated", `<` + a + `; rel="next"`, "", false},
		{"empty target", `<>; rel="next"`, "", false},
		{"rel without value", `<` + a + `>; rel`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseNextLink(tt.header)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseNextLink(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// Every Link header in GitLab's documented header sets parses.
func TestParseNextLinkFixtureHeaders(t *testing.T) {
	var sets map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, "headers_examples.json"), &sets); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"offset_pagination_with_counts":             "https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=3&per_page=3",
		"offset_pagination_project_jobs_first_page": "https://gitlab.example.com/api/v4/projects/42/jobs?id=42&page=2&per_page=2",
		"keyset_project_jobs_page_with_next":        "https://gitlab.example.com/api/v4/projects/42/jobs?cursor=eyJpZCI6IjExMjE1ODIxMDQ4IiwiX2tkIjoibiJ9&id=42&pagination=keyset&per_page=1",
		"keyset_project_jobs_last_page":             "",
		"keyset_projects_list":                      "https://gitlab.example.com/api/v4/projects?pagination=keyset&per_page=50&order_by=id&sort=asc&id_after=42",
		"keyset_groups_list":                        "https://gitlab.example.com/api/v4/groups?pagination=keyset&per_page=50&order_by=name&sort=asc&cursor=eyJuYW1lIjoiRmxpZ2h0anMiLCJpZCI6IjI2IiwiX2tkIjoibiJ9",
	}
	for name, w := range want {
		var set struct {
			Headers map[string]string `json:"headers"`
		}
		if err := json.Unmarshal(sets[name], &set); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, ok := parseNextLink(set.Headers["link"])
		if got != w || ok != (w != "") {
			t.Errorf("%s: got %q, %v; want %q", name, got, ok, w)
		}
	}
}

func FuzzParseNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://gitlab.example.com/api/v4/projects/42/jobs?cursor=abc&pagination=keyset>; rel="next"`,
		`<https://h/p?page=1>; rel="prev", <https://h/p?page=3>; rel="next", <https://h/p?page=1>; rel="first", <https://h/p?page=9>; rel="last"`,
		`<a>; rel=next`, `<a>;rel="prev next"`, `x, <b>; rel="next"`, `<a>; title="\"q\", rel=\"next\""; rel=prev`,
		`<`, `<>`, `;;;,,,`, `<a>; rel="`, `<a>; rel=`, `"<a>; rel=next"`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, ok := parseNextLink(h)
		if !ok {
			if got != "" {
				t.Fatalf("not ok but returned %q", got)
			}
			return
		}
		if got == "" || strings.ContainsAny(got, "<>") {
			t.Fatalf("returned %q", got)
		}
		// The URL sat between < and > (GitLab never pads, but blanks are
		// trimmed), and a rel parameter naming "next" followed it.
		for i := 0; ; {
			j := strings.Index(h[i:], got)
			if j < 0 {
				t.Fatalf("%q is not inside <...> followed by rel=next in %q", got, h)
			}
			start, end := i+j, i+j+len(got)
			before := strings.TrimRightFunc(h[:start], unicode.IsSpace)
			after := strings.TrimLeftFunc(h[end:], unicode.IsSpace)
			if strings.HasSuffix(before, "<") && strings.HasPrefix(after, ">") {
				rest := strings.ToLower(after)
				if r := strings.Index(rest, "rel"); r >= 0 && strings.Contains(rest[r:], "next") {
					return
				}
			}
			i = start + 1
		}
	})
}
