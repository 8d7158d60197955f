package collector

import (
	"regexp"
	"strings"
)

// OtherRef is the ref label of jobs on refs that are not tracked, so that
// totals stay complete while the number of series stays bounded.
const OtherRef = "other"

var (
	// GitLab names parallel jobs "rspec 2/5".
	parallelSuffix = regexp.MustCompile(` \d+/\d+$`)
	// GitLab names matrix jobs "deploy: [eu, prod]".
	matrixSuffix = regexp.MustCompile(`:? \[[^\[\]]*\]$`)
)

// JobName returns the job name without GitLab's parallel and matrix
// suffixes, so that all instances of one job share a series.
func JobName(name string) string {
	for {
		trimmed := parallelSuffix.ReplaceAllString(name, "")
		trimmed = matrixSuffix.ReplaceAllString(trimmed, "")
		if trimmed == name {
			return strings.TrimSpace(name)
		}
		name = trimmed
	}
}

// RefTracker decides which refs get their own label value.
type RefTracker struct {
	tracked *regexp.Regexp // nil: only default branches
}

// NewRefTracker tracks the default branch of each project and the refs
// matching re (which may be nil).
func NewRefTracker(re *regexp.Regexp) RefTracker { return RefTracker{tracked: re} }

// Tracked reports whether ref gets its own label value in a project whose
// default branch is defaultBranch.
func (t RefTracker) Tracked(ref, defaultBranch string) bool {
	return ref == defaultBranch || (t.tracked != nil && t.tracked.MatchString(ref))
}

// Label returns the ref label value: the ref itself when tracked, else OtherRef.
func (t RefTracker) Label(ref, defaultBranch string) string {
	if t.Tracked(ref, defaultBranch) {
		return ref
	}
	return OtherRef
}
