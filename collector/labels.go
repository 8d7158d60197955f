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
	source
	stage
	jobName
	status
	failureReason
	allowFailure
	fileType
	tags
	runnerType
	runner
	firstStatus
	numLabels
)

var labelNames = [numLabels]string{
	project:       family.LabelProject,
	ref:           family.LabelRef,
	source:        family.LabelSource,
	stage:         family.LabelStage,
	jobName:       family.LabelJobName,
	status:        family.LabelStatus,
	failureReason: family.LabelFailureReason,
	allowFailure:  family.LabelAllowFailure,
	fileType:      family.LabelFileType,
	tags:          family.LabelTags,
	runnerType:    family.LabelRunnerType,
	runner:        family.LabelRunner,
	firstStatus:   family.LabelFirstStatus,
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

// The ref label of jobs on refs that are not tracked, so that totals stay
// complete while the number of series stays bounded: a merge request
// pipeline's ref names the merge request, whose iid must not become a
// label value, so its kind does.
const (
	OtherRef        = "other"         // an untracked branch or tag
	MergeRequestRef = "merge_request" // refs/merge-requests/<iid>/head: a detached merge request pipeline
	MergedResultRef = "merged_result" // refs/merge-requests/<iid>/merge: a merged results pipeline
	MergeTrainRef   = "merge_train"   // refs/merge-requests/<iid>/train: a merge train pipeline
)

var mergeRequestRef = regexp.MustCompile(`^refs/merge-requests/[0-9]+/(head|merge|train)$`)

var mergeRequestRefs = map[string]string{"head": MergeRequestRef, "merge": MergedResultRef, "train": MergeTrainRef}

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
// default branch is defaultBranch. A merge request's ref never does.
func (t RefTracker) Tracked(ref, defaultBranch string) bool {
	if mergeRequestKind(ref) != "" {
		return false
	}
	return ref == defaultBranch || (t.tracked != nil && t.tracked.MatchString(ref))
}

// Label returns the ref label value: the ref itself when tracked, else its
// class (OtherRef, or the kind of merge request pipeline it names).
func (t RefTracker) Label(ref, defaultBranch string) string {
	if t.Tracked(ref, defaultBranch) {
		return ref
	}
	if kind := mergeRequestKind(ref); kind != "" {
		return kind
	}
	return OtherRef
}

// mergeRequestKind returns the ref label of a merge request pipeline's
// ref, or "" for any other ref; the prefix test spares the regexp the
// refs of every other job.
func mergeRequestKind(ref string) string {
	if !strings.HasPrefix(ref, "refs/merge-requests/") {
		return ""
	}
	if m := mergeRequestRef.FindStringSubmatch(ref); m != nil {
		return mergeRequestRefs[m[1]]
	}
	return ""
}

// pipelineSources are the pipeline sources GitLab documents (Ci::Pipeline
// sources, as its CI/CD analytics list them); any other value is "unknown",
// as GitLab calls a pipeline without one, so the label stays bounded.
var pipelineSources = map[string]bool{
	"push": true, "web": true, "trigger": true, "schedule": true, "api": true, "external": true,
	"pipeline": true, "chat": true, "webide": true, "merge_request_event": true,
	"external_pull_request_event": true, "parent_pipeline": true, "ondemand_dast_scan": true,
	"ondemand_dast_validation": true, "security_orchestration_policy": true,
	"container_registry_push": true, "duo_workflow": true, "pipeline_execution_policy_schedule": true,
}

// SourceLabel returns the source label value of a pipeline source.
func SourceLabel(s string) string {
	if pipelineSources[s] {
		return s
	}
	return "unknown"
}
