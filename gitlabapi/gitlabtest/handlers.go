package gitlabtest

import (
	"strings"
)

func (s *Server) dispatch(req *request) (*response, *apiError) {
	switch req.rt.endpoint {
	case EndpointVersion:
		return ok(versionJSON{Version: s.version, Revision: "ceb07b24cb0"}), nil
	case EndpointMetadata:
		return ok(s.metadata()), nil
	case EndpointProjects:
		return s.listProjects(req)
	case EndpointGroupProjects:
		return s.groupProjects(req)
	case EndpointProject:
		return s.getProject(req)
	case EndpointProjectJobs:
		return s.listProjectJobs(req)
	case EndpointProjectJob:
		return s.getProjectJob(req)
	case EndpointPipelines:
		return s.listPipelines(req)
	case EndpointPipeline:
		return s.getPipeline(req)
	case EndpointPipelineJobs:
		return s.listPipelineJobs(req, false)
	case EndpointBridges:
		return s.listPipelineJobs(req, true)
	}
	return nil, errNoRoute
}

type versionJSON struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
}

type kasJSON struct {
	Enabled             bool    `json:"enabled"`
	ExternalURL         *string `json:"externalUrl"`
	ExternalK8sProxyURL *string `json:"externalK8sProxyUrl"`
	Version             *string `json:"version"`
}

type metadataJSON struct {
	Version    string  `json:"version"`
	Revision   string  `json:"revision"`
	KAS        kasJSON `json:"kas"`
	Enterprise bool    `json:"enterprise"`
}

func (s *Server) metadata() metadataJSON {
	return metadataJSON{Version: s.version, Revision: "ceb07b24cb0", Enterprise: strings.HasSuffix(s.version, "-ee")}
}

// renderer returns a renderer for this request; use it under s.mu.
func (s *Server) renderer(req *request) *renderer {
	return &renderer{m: &s.m, base: req.base, now: s.now()}
}

// projectFor resolves :id under s.mu. readCI asks for the guest check that
// jobs and pipelines endpoints make (authorize_read_builds!).
func (s *Server) projectFor(req *request, readCI bool) (*project, *apiError) {
	p := s.m.findProject(req.rt.id)
	if p == nil {
		return nil, errProjectNotFound
	}
	if readCI && p.forbidden {
		return nil, errForbidden
	}
	return p, nil
}

// routeParams starts the Link parameter hash: the request's parameters
// plus the route's (Grape merges both into params).
func routeParams(req *request) params {
	p := requestParams(req.q)
	if req.rt.id != "" {
		p.set("id", req.rt.id)
	}
	if req.rt.pipelineID != "" {
		p.set("pipeline_id", req.rt.pipelineID)
	}
	return p
}

// withDefault adds a declared parameter's default when the request did not
// send it, as Grape does.
func (p params) withDefault(k, v string) params {
	if _, ok := p[k]; !ok {
		p.set(k, v)
	}
	return p
}
