package gitlabtest

import (
	"strconv"
	"time"
)

// pipelineHookJSON is a Pipeline Hook body, after
// Gitlab::DataBuilder::Pipeline.
type pipelineHookJSON struct {
	ObjectKind       string                 `json:"object_kind"`
	ObjectAttributes pipelineHookAttrsJSON  `json:"object_attributes"`
	MergeRequest     *pipelineHookMRJSON    `json:"merge_request"` // null unless a merge request pipeline
	User             *hookUserJSON          `json:"user"`
	Project          hookProjectJSON        `json:"project"`
	Commit           pipelineHookCommitJSON `json:"commit"`
	SourcePipeline   *sourcePipelineJSON    `json:"source_pipeline,omitempty"`
	Builds           []pipelineHookBuild    `json:"builds"`
}

type pipelineHookAttrsJSON struct {
	ID             int64              `json:"id"`
	IID            int64              `json:"iid"`
	Name           *string            `json:"name"`
	Ref            string             `json:"ref"`
	Tag            bool               `json:"tag"`
	SHA            string             `json:"sha"`
	BeforeSHA      string             `json:"before_sha"`
	Source         string             `json:"source"`
	Status         string             `json:"status"`
	DetailedStatus string             `json:"detailed_status"`
	Stages         []string           `json:"stages"`
	CreatedAt      hookTime           `json:"created_at"`
	FinishedAt     hookTime           `json:"finished_at"`
	Duration       *int64             `json:"duration"`
	QueuedDuration *int64             `json:"queued_duration"`
	ProtectedRef   bool               `json:"protected_ref"`
	Variables      []hookVariableJSON `json:"variables"`
	URL            string             `json:"url"`
}

// pipelineHookMRJSON is DataBuilder::Pipeline#merge_request_attrs. The
// fake's merge requests are open, mergeable and target the default branch.
type pipelineHookMRJSON struct {
	ID                  int64  `json:"id"`
	IID                 int64  `json:"iid"`
	Title               string `json:"title"`
	SourceBranch        string `json:"source_branch"`
	SourceProjectID     int64  `json:"source_project_id"`
	TargetBranch        string `json:"target_branch"`
	TargetProjectID     int64  `json:"target_project_id"`
	State               string `json:"state"`
	MergeStatus         string `json:"merge_status"`
	DetailedMergeStatus string `json:"detailed_merge_status"`
	URL                 string `json:"url"`
}

type hookVariableJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// pipelineHookCommitJSON is Commit#hook_attrs: the git commit this time.
type pipelineHookCommitJSON struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	Title     string `json:"title"`
	Timestamp string `json:"timestamp"`
	URL       string `json:"url"`
	Author    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"author"`
}

type pipelineHookBuild struct {
	ID             int64                `json:"id"`
	Stage          string               `json:"stage"`
	Name           string               `json:"name"`
	Status         string               `json:"status"`
	CreatedAt      hookTime             `json:"created_at"`
	StartedAt      hookTime             `json:"started_at"`
	FinishedAt     hookTime             `json:"finished_at"`
	Duration       *float64             `json:"duration"`
	QueuedDuration *float64             `json:"queued_duration"`
	FailureReason  *string              `json:"failure_reason"`
	When           string               `json:"when"`
	Manual         bool                 `json:"manual"`
	AllowFailure   bool                 `json:"allow_failure"`
	User           *hookUserJSON        `json:"user"`
	Runner         *hookRunnerJSON      `json:"runner"`
	ArtifactsFile  hookArtifactsFile    `json:"artifacts_file"`
	Environment    *pipelineHookEnvJSON `json:"environment"`
}

type hookArtifactsFile struct {
	Filename *string `json:"filename"`
	Size     *int64  `json:"size"`
}

type pipelineHookEnvJSON struct {
	Name           string `json:"name"`
	Action         string `json:"action"`
	DeploymentTier string `json:"deployment_tier"`
}

// pipelineHook renders the Pipeline Hook of p as it is now.
func (r *hookRenderer) pipelineHook(p *pipeline) *pipelineHookJSON {
	u := r.hookUser(p.user)
	title, message := commitMessage(p)
	url := r.pipelineURL(p)
	out := &pipelineHookJSON{
		ObjectKind: "pipeline",
		ObjectAttributes: pipelineHookAttrsJSON{
			ID: p.id, IID: p.iid, Ref: p.sourceRef(), SHA: p.sha, BeforeSHA: nullSHA, Source: p.source,
			Status: p.status, DetailedStatus: detailedStatus(p.status, url).Label, Stages: stageNames(p),
			CreatedAt: r.time(p.createdAt), FinishedAt: r.time(p.finishedAt),
			ProtectedRef: p.ref == p.project.defaultBranch, Variables: []hookVariableJSON{}, URL: url,
		},
		User:    u,
		Project: r.hookProject(p.project),
		Commit: pipelineHookCommitJSON{
			ID: p.sha, Message: message, Title: title, Timestamp: commitTime(p).Format(time.RFC3339),
			URL: r.projectURL(p.project) + "/-/commit/" + p.sha,
		},
		SourcePipeline: r.sourcePipeline(p),
		Builds:         []pipelineHookBuild{},
	}
	if mr := p.mr; mr != nil {
		pr := p.project
		out.MergeRequest = &pipelineHookMRJSON{
			ID: mr.id, IID: mr.iid, Title: mergeRequestTitle(mr), SourceBranch: mr.sourceBranch,
			SourceProjectID: pr.id, TargetBranch: pr.defaultBranch, TargetProjectID: pr.id,
			State: "opened", MergeStatus: "can_be_merged", DetailedMergeStatus: "mergeable",
			URL: r.projectURL(pr) + "/-/merge_requests/" + strconv.FormatInt(mr.iid, 10),
		}
	}
	out.ObjectAttributes.Duration, out.ObjectAttributes.QueuedDuration = p.durations(r.now)
	out.Commit.Author.Name, out.Commit.Author.Email = u.Name, u.Email
	// builds[] is pipeline.latest_builds: Ci::Build rows only, so bridges
	// and retried attempts are left out (GL:lib/gitlab/data_builder/
	// pipeline.rb@017a6c12; the shared README does not say).
	for _, j := range p.jobs {
		if !j.isBridge && !j.retried {
			out.Builds = append(out.Builds, r.pipelineHookBuild(j, u))
		}
	}
	return out
}

func (r *hookRenderer) pipelineHookBuild(j *job, u *hookUserJSON) pipelineHookBuild {
	b := pipelineHookBuild{
		ID: j.id, Stage: j.stage, Name: j.name, Status: j.status,
		CreatedAt: r.time(j.createdAt), StartedAt: r.time(j.startedAt), FinishedAt: r.time(j.finishedAt),
		When: j.when.String(), Manual: j.when.action(), AllowFailure: j.allowFailure,
		User: u, Runner: r.hookRunner(j.runner),
	}
	b.Duration, b.QueuedDuration = j.durations(r.now)
	if reason := j.renderedFailureReason(); reason != "" {
		b.FailureReason = &reason
	}
	for _, a := range j.artifacts {
		if k := r.m.artifactKinds[a.kind]; k.fileType == "archive" {
			name, size := k.filename, a.size
			b.ArtifactsFile = hookArtifactsFile{Filename: &name, Size: &size}
			break
		}
	}
	if j.env != nil {
		b.Environment = &pipelineHookEnvJSON{Name: j.env.name, Action: "start", DeploymentTier: j.env.tier}
	}
	return b
}

// stageNames lists p's stages in the order its jobs use them.
func stageNames(p *pipeline) []string {
	names := []string{}
	for _, j := range p.jobs {
		seen := false
		for _, n := range names {
			if n == j.stage {
				seen = true
				break
			}
		}
		if !seen {
			names = append(names, j.stage)
		}
	}
	return names
}
