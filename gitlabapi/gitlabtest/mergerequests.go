package gitlabtest

import (
	"strconv"
	"strings"
)

// mergeRequestRefPrefix starts the refs GitLab runs merge request
// pipelines on (MergeRequest#ref_path, #merge_ref_path, #train_ref_path).
const mergeRequestRefPrefix = "refs/merge-requests/"

// Kinds of merge request pipeline refs: detached merge request pipelines
// run on the source branch's head, merged results pipelines on the merge
// ref, merge train pipelines on the train ref. All have source
// merge_request_event.
const (
	MergeRequestHead  = "head"
	MergeRequestMerge = "merge"
	MergeRequestTrain = "train"
)

// MergeRequestRef returns the ref of a merge request pipeline, e.g.
// "refs/merge-requests/7/head" for MergeRequestRef(7, MergeRequestHead).
func MergeRequestRef(iid int64, kind string) string {
	return mergeRequestRefPrefix + strconv.FormatInt(iid, 10) + "/" + kind
}

// parseMergeRequestRef splits refs/merge-requests/<iid>/<kind>.
func parseMergeRequestRef(ref string) (iid int64, kind string, ok bool) {
	rest, found := strings.CutPrefix(ref, mergeRequestRefPrefix)
	if !found {
		return 0, "", false
	}
	num, kind, found := strings.Cut(rest, "/")
	if !found {
		return 0, "", false
	}
	switch kind {
	case MergeRequestHead, MergeRequestMerge, MergeRequestTrain:
	default:
		return 0, "", false
	}
	iid, valid := parseID(num)
	return iid, kind, valid
}

// mergeRequestFor returns the project's merge request iid, creating it
// with sourceBranch ("" = "mr-<iid>") on first use; later pipelines share
// it, whatever branch they name.
func (m *model) mergeRequestFor(p *project, iid int64, sourceBranch string) *mergeRequest {
	if mr := p.mergeRequests[iid]; mr != nil {
		return mr
	}
	if sourceBranch == "" {
		sourceBranch = "mr-" + strconv.FormatInt(iid, 10)
	}
	if p.mergeRequests == nil {
		p.mergeRequests = map[int64]*mergeRequest{}
	}
	m.nextMergeRequestID++
	mr := &mergeRequest{id: m.nextMergeRequestID, iid: iid, sourceBranch: sourceBranch}
	p.mergeRequests[iid] = mr
	return mr
}

// sourceRef is Ci::Pipeline#source_ref: the merge request's source branch
// for a merge request pipeline (and its children), the ref otherwise. It is
// what Pipeline Hooks send as object_attributes.ref; the REST API and the
// jobs (job.ref = pipeline.ref) show the ref itself.
func (p *pipeline) sourceRef() string {
	if p.mr != nil {
		return p.mr.sourceBranch
	}
	return p.ref
}
