package baseurl

import "testing"

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://gitlab.example.com", "https://gitlab.example.com"},
		{"https://gitlab.example.com///", "https://gitlab.example.com"},
		{"HTTPS://gitlab.example.com/gitlab/", "https://gitlab.example.com/gitlab"},
		{"http://10.0.0.1:8080/my%20gitlab", "http://10.0.0.1:8080/my%20gitlab"},
	} {
		got, err := Canonical(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
