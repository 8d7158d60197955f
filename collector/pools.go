package collector

import (
	"regexp"
	"strconv"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// PoolRule names a runner pool: a value Match matches becomes Pool, in
// which $1 or ${name} stand for Match's groups (regexp.Expand). Match is
// used as given; the configuration anchors it.
type PoolRule struct {
	Match *regexp.Regexp
	Pool  string
}

// OtherPool is the tags label of a tagged job no TagPools rule matches,
// so that free-form tags cannot make the runner-pool families unbounded.
const OtherPool = "other"

// UnknownRunnerType is the runner_type label when GitLab does not say:
// the runner was deleted since, or the release sends only is_shared and
// the runner is not shared (a group or a project runner).
const UnknownRunnerType = "unknown"

// pools turns a job's tags and runner into label values.
type pools struct {
	tags    []PoolRule // empty: the tag set is the label
	runners []PoolRule // no match: the runner's own name
}

// tagsLabel is the tags label of a job with this tag set
// (gitlabapi.Job.TagSet). An untagged job is "" whatever the rules: it is
// one bounded value, the jobs any runner that runs untagged jobs takes.
func (p pools) tagsLabel(tagSet string) string {
	if tagSet == "" || len(p.tags) == 0 {
		return tagSet
	}
	if pool, ok := poolOf(p.tags, tagSet); ok {
		return pool
	}
	return OtherPool
}

// runnerLabel is the runner label: its description (GitLab lets it be
// empty; then "#id", as GitLab's pages name runners), or the pool the
// rules fold it into.
func (p pools) runnerLabel(r *gitlabapi.Runner) string {
	name := r.Description
	if name == "" {
		name = "#" + strconv.FormatInt(r.ID, 10)
	}
	if pool, ok := poolOf(p.runners, name); ok {
		return pool
	}
	return name
}

// runnerTypeLabel is GitLab's runner_type of the job's runner; releases
// that send only is_shared still tell the instance runners apart.
func runnerTypeLabel(r *gitlabapi.Runner) string {
	switch {
	case r == nil:
		return UnknownRunnerType
	case r.RunnerType != "":
		return r.RunnerType
	case r.IsShared:
		return "instance_type"
	}
	return UnknownRunnerType
}

// poolOf returns the pool of the first rule that matches value.
func poolOf(rules []PoolRule, value string) (string, bool) {
	for _, r := range rules {
		if m := r.Match.FindStringSubmatchIndex(value); m != nil {
			return string(r.Match.ExpandString(nil, r.Pool, value, m)), true
		}
	}
	return "", false
}
