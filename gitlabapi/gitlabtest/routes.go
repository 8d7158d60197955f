package gitlabtest

import (
	"net/url"
	"strings"
)

// Endpoint templates, as used by faults, the request log and RequestCount.
const (
	EndpointProjectJobs   = "/projects/:id/jobs"
	EndpointProjectJob    = "/projects/:id/jobs/:job_id"
	EndpointProject       = "/projects/:id"
	EndpointProjects      = "/projects"
	EndpointPipelines     = "/projects/:id/pipelines"
	EndpointPipeline      = "/projects/:id/pipelines/:pipeline_id"
	EndpointPipelineJobs  = "/projects/:id/pipelines/:pipeline_id/jobs"
	EndpointBridges       = "/projects/:id/pipelines/:pipeline_id/bridges"
	EndpointGroupProjects = "/groups/:id/projects"
	EndpointMetadata      = "/metadata"
	EndpointVersion       = "/version"
)

const apiPrefix = "/api/v4/"

// route is a matched endpoint with its decoded path parameters.
type route struct {
	endpoint   string // "" when nothing matched
	id         string // decoded :id (project or group)
	pipelineID string
	jobID      string
}

// matchRoute matches the escaped request path. Path parameters are split on
// the raw "/" before decoding, so "group%2Fproj" is one :id while an
// unencoded slash adds a segment and matches nothing, as in Grape.
func matchRoute(escapedPath string) route {
	rest, ok := strings.CutPrefix(escapedPath, apiPrefix)
	if !ok {
		return route{}
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil || d == "" {
			return route{}
		}
		segs[i] = d
	}
	switch len(segs) {
	case 1:
		switch segs[0] {
		case "version":
			return route{endpoint: EndpointVersion}
		case "metadata":
			return route{endpoint: EndpointMetadata}
		case "projects":
			return route{endpoint: EndpointProjects}
		}
	case 2:
		if segs[0] == "projects" {
			return route{endpoint: EndpointProject, id: segs[1]}
		}
	case 3:
		switch {
		case segs[0] == "projects" && segs[2] == "jobs":
			return route{endpoint: EndpointProjectJobs, id: segs[1]}
		case segs[0] == "projects" && segs[2] == "pipelines":
			return route{endpoint: EndpointPipelines, id: segs[1]}
		case segs[0] == "groups" && segs[2] == "projects":
			return route{endpoint: EndpointGroupProjects, id: segs[1]}
		}
	case 4:
		if segs[0] == "projects" && segs[2] == "jobs" {
			return route{endpoint: EndpointProjectJob, id: segs[1], jobID: segs[3]}
		}
		if segs[0] == "projects" && segs[2] == "pipelines" {
			return route{endpoint: EndpointPipeline, id: segs[1], pipelineID: segs[3]}
		}
	case 5:
		if segs[0] == "projects" && segs[2] == "pipelines" {
			switch segs[4] {
			case "jobs":
				return route{endpoint: EndpointPipelineJobs, id: segs[1], pipelineID: segs[3]}
			case "bridges":
				return route{endpoint: EndpointBridges, id: segs[1], pipelineID: segs[3]}
			}
		}
	}
	return route{}
}

// projectScoped reports whether :id names a project.
func (rt route) projectScoped() bool {
	return rt.endpoint != "" && strings.HasPrefix(rt.endpoint, "/projects/")
}
