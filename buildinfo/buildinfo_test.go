package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestComplete(t *testing.T) {
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-compiler", Value: "gc"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "e03ac7496be4d12ec4a09d856830ccbab320cef6"},
			{Key: "vcs.time", Value: "2026-11-22T02:57:10Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	type values struct{ version, revision, buildDate string }
	tests := []struct {
		name    string
		ldflags values // set at link time
		info    debug.BuildInfo
		want    values
	}{
		{
			name: "go build in a clean git checkout",
			info: debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261122025710-e03ac7496be4"}, Settings: vcs("false")},
			want: values{"v0.0.0-20261122025710-e03ac7496be4", "e03ac7496be4d12ec4a09d856830ccbab320cef6", "2026-11-22T02:57:10Z"},
		},
		{
			name: "go build with uncommitted changes",
			info: debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261122025710-e03ac7496be4+dirty"}, Settings: vcs("true")},
			want: values{"v0.0.0-20261122025710-e03ac7496be4+dirty", "e03ac7496be4d12ec4a09d856830ccbab320cef6-modified", "2026-11-22T02:57:10Z"},
		},
		{
			name: "go install of a tagged release",
			info: debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			want: values{version: "v1.2.3"},
		},
		{
			name: "go run, or go build without the repository",
			info: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "-compiler", Value: "gc"}}},
			want: values{version: "(devel)"},
		},
		{
			name:    "release build: -ldflags win",
			ldflags: values{"1.4.0", "0123abc", "20261201-10:00:00"},
			info:    debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			want:    values{"1.4.0", "0123abc", "20261201-10:00:00"},
		},
		{
			name:    "release build that set the version only",
			ldflags: values{version: "1.4.0"},
			info:    debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261122025710-e03ac7496be4"}, Settings: vcs("false")},
			want:    values{"1.4.0", "e03ac7496be4d12ec4a09d856830ccbab320cef6", "2026-11-22T02:57:10Z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.ldflags
			complete(fields{&got.version, &got.revision, &got.buildDate}, &tc.info)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
