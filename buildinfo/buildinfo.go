// Package buildinfo completes prometheus/common/version, which release
// builds set with -ldflags (see the Dockerfile), from what the Go toolchain
// stamps into every binary, so that one built with plain `go build` or
// `go run` still says which code it is: in build_info, on the landing page,
// in --version and in the first log line.
package buildinfo

import (
	"runtime/debug"
	"sync"

	"github.com/prometheus/common/version"
)

var once sync.Once

// Init fills the version variables -ldflags left empty. Call it at startup,
// before anything reads them.
func Init() {
	once.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		complete(fields{&version.Version, &version.Revision, &version.BuildDate}, bi)
	})
}

// fields are the variables complete fills.
type fields struct {
	version, revision, buildDate *string
}

// complete fills each empty field from bi: the version from the main
// module's (a tag or pseudo-version when go build found the repository,
// "(devel)" when it did not), the revision from the commit, suffixed
// "-modified" for a work tree with uncommitted changes, as
// prometheus/common does, and the build date from the commit's time, the
// closest a reproducible build records.
func complete(f fields, bi *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	setIfEmpty(f.version, bi.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += "-modified"
		}
		setIfEmpty(f.revision, rev)
	}
	setIfEmpty(f.buildDate, settings["vcs.time"])
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}
