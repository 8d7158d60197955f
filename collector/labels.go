package collector

import (
	"regexp"
	"strings"
)

// The labels job families can carry. Each family supports a subset (see
// Families) and exports the subset configured for it.
const (
	LabelProject       = "project"        // path_with_namespace
	LabelRef           = "ref"            // tracked branch or tag, else OtherRef
	LabelStage         = "stage"          // the job's stage
	LabelJobName       = "job_name"       // the job's name without parallel or matrix suffix
	LabelStatus        = "status"         // the job's status
	LabelFailureReason = "failure_reason" // GitLab's failure_reason of a failed job
	LabelAllowFailure  = "allow_failure"  // "true" or "false"
	LabelFileType      = "file_type"      // an artifact's file_type
	LabelTags          = "tags"           // the runner tags a job asks for, sorted and comma-joined, or their pool
	LabelRunnerType    = "runner_type"    // instance_type, group_type, project_type or unknown
	LabelRunner        = "runner"         // the runner's description, or its pool
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
	project:       LabelProject,
	ref:           LabelRef,
	stage:         LabelStage,
	jobName:       LabelJobName,
	status:        LabelStatus,
	failureReason: LabelFailureReason,
	allowFailure:  LabelAllowFailure,
	fileType:      LabelFileType,
	tags:          LabelTags,
	runnerType:    LabelRunnerType,
	runner:        LabelRunner,
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
