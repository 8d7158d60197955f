package scraper

import (
	"context"
	"iter"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// GitLab is the part of the GitLab API the scraper uses (*gitlabapi.Client).
type GitLab interface {
	ProjectJobPages(ctx context.Context, project string, opt gitlabapi.ListJobsOptions) iter.Seq2[[]gitlabapi.Job, error]
	PipelineJobs(ctx context.Context, project string, pipelineID int64, opt gitlabapi.PipelineJobsOptions) ([]gitlabapi.Job, error)
	PipelineBridges(ctx context.Context, project string, pipelineID int64, scopes []gitlabapi.JobStatus) ([]gitlabapi.Bridge, error)
	Job(ctx context.Context, project string, jobID int64) (*gitlabapi.Job, error)
	Pipeline(ctx context.Context, project string, pipelineID int64) (*gitlabapi.Pipeline, error)
	Project(ctx context.Context, project string) (*gitlabapi.Project, error)
	GroupProjects(ctx context.Context, group string, opt gitlabapi.GroupProjectsOptions) ([]gitlabapi.Project, error)
}
