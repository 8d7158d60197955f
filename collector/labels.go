package collector

import (
	"regexp"
	"strings"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// labelIndex numbers the labels so that an observation carries all its
// values in one array and each family picks the ones it exports.
type labelIndex uint8

const (
	project labelIndex = iota
	ref
	stage
	jobName
	status
	failureReason
	allowFailure
	fileType
	tags
	runnerType
	runner
	numLabels
)

var labelNames = [numLabels]string{
	project:       family.LabelProject,
	ref:           family.LabelRef,
	stage:         family.LabelStage,
	jobName:       family.LabelJobName,
	status:        family.LabelStatus,
	failureReason: family.LabelFailureReason,
	allowFailure:  family.LabelAllowFailure,
	fileType:      family.LabelFileType,
	tags:          family.LabelTags,
	runnerType:    family.LabelRunnerType,
	runner:        family.LabelRunner,
}

func labelByName(name string) (labelIndex, bool) {
	for i, n := range labelNames {
		if n == name {
			return labelIndex(i), true
		}
	}
	return 0, false
}

// labelValues holds the value of every label for one observation; a family
// reads the ones it exports. Values are given by label, never by position,
// so a family with another label set cannot get a short or shifted list.
type labelValues [numLabels]string

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
