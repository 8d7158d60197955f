package gitlabapi

import "testing"

func TestTagSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags []string
		want string
	}{
		{"untagged", nil, ""},
		{"empty list", []string{}, ""},
		{"one tag", []string{"docker"}, "docker"},
		{"sorted as GitLab sends it", []string{"docker", "linux"}, "docker,linux"},
		{"unsorted", []string{"linux", "arm64", "docker"}, "arm64,docker,linux"},
		{"tags with spaces", []string{"docker runner", "ubuntu18"}, "docker runner,ubuntu18"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Job{TagList: tc.tags}
			if got := j.TagSet(); got != tc.want {
				t.Errorf("TagSet() of %q = %q, want %q", tc.tags, got, tc.want)
			}
		})
	}
	unsorted := []string{"b", "a"}
	(&Job{TagList: unsorted}).TagSet()
	if unsorted[0] != "b" {
		t.Errorf("TagSet sorted the job's own list: %q", unsorted)
	}
}
