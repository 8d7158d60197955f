package gitlabapi

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Project returns GET /projects/:id.
func (c *Client) Project(ctx context.Context, project string) (*Project, error) {
	id, err := pathID("project", project)
	if err != nil {
		return nil, err
	}
	return getOne[Project](ctx, c, EndpointProject, "/projects/"+id)
}

// ListPipelinesOptions filters GET /projects/:id/pipelines. Empty strings
// are not sent, leaving GitLab's defaults (order_by=id, sort=desc).
type ListPipelinesOptions struct {
	UpdatedAfter *time.Time // inclusive on GitLab's side: expect the boundary pipeline again
	OrderBy      string     // id, status, ref, updated_at, user_id
	Sort         string     // asc, desc
	Ref          string
	Status       string
	Scope        string // running, pending, finished, branches, tags
	Source       string
	MaxPages     int // 0 = all pages
}

// ProjectPipelines lists a project's pipelines (child pipelines only with
// Source "parent_pipeline", as GitLab filters them out otherwise).
func (c *Client) ProjectPipelines(ctx context.Context, project string, opt ListPipelinesOptions) ([]PipelineBasic, error) {
	id, err := pathID("project", project)
	if err != nil {
		return nil, err
	}
	if opt.MaxPages < 0 {
		return nil, fmt.Errorf("gitlab: ListPipelinesOptions.MaxPages must not be negative, got %d", opt.MaxPages)
	}
	q := query{}
	if opt.UpdatedAfter != nil {
		// UTC avoids a "+hh:mm" offset, whose "+" GitLab would read as a space.
		q.set("updated_after", opt.UpdatedAfter.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range map[string]string{
		"order_by": opt.OrderBy, "sort": opt.Sort, "ref": opt.Ref,
		"status": opt.Status, "scope": opt.Scope, "source": opt.Source,
	} {
		if v != "" {
			q.set(k, v)
		}
	}
	return offsetList[PipelineBasic](ctx, c, EndpointProjectPipelines, "/projects/"+id+"/pipelines", q, opt.MaxPages)
}

// Pipeline returns one pipeline with its duration, queued duration and
// coverage (GET /projects/:id/pipelines/:pipeline_id), which the list and
// the jobs' pipeline objects do not carry.
func (c *Client) Pipeline(ctx context.Context, project string, pipelineID int64) (*Pipeline, error) {
	path, err := pipelinePath(project, pipelineID, "")
	if err != nil {
		return nil, err
	}
	return getOne[Pipeline](ctx, c, EndpointPipeline, strings.TrimSuffix(path, "/"))
}

// GroupProjectsOptions filters GET /groups/:id/projects.
type GroupProjectsOptions struct {
	IncludeSubgroups bool
	IncludeArchived  bool // false sends archived=false
}

// GroupProjects lists a group's projects (offset pagination: this endpoint
// has no keyset mode). Projects shared into the group from elsewhere are
// included, as GitLab does by default.
func (c *Client) GroupProjects(ctx context.Context, group string, opt GroupProjectsOptions) ([]Project, error) {
	id, err := pathID("group", group)
	if err != nil {
		return nil, err
	}
	q := query{}
	q.set("include_subgroups", fmt.Sprint(opt.IncludeSubgroups))
	if !opt.IncludeArchived {
		q.set("archived", "false")
	}
	// GitLab's default order is created_at desc; a project created during
	// the walk would shift every page and repeat a row. Ascending ids put
	// new projects at the end instead.
	q.set("order_by", "id")
	q.set("sort", "asc")
	return offsetList[Project](ctx, c, EndpointGroupProjects, "/groups/"+id+"/projects", q, 0)
}

// Metadata returns GET /metadata (GitLab 15.2+).
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) {
	return getOne[Metadata](ctx, c, EndpointMetadata, "/metadata")
}
