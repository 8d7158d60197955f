package gitlabapi

import "time"

// Observer receives one call per HTTP attempt (retries included). endpoint is the route template such as
// "/projects/:id/jobs", "/projects/:id/pipelines/:pipeline_id/jobs", "/projects/:id/jobs/:job_id", "/projects/:id",
// "/projects/:id/pipelines", "/projects/:id/pipelines/:pipeline_id/bridges", "/groups/:id/projects", "/metadata".
// code is the HTTP status, or 0 when no response arrived (timeout, reset, DNS...). duration runs from sending
// the request to reading the whole body, measured with Options.Clock.
type Observer interface {
	ObserveRequest(endpoint string, code int, duration time.Duration)
	ObserveRateLimitRemaining(remaining float64) // each response carrying a parsable RateLimit-Remaining header
}

// Endpoint templates, as passed to Observer and stored in errors.
const (
	EndpointProjectJobs      = "/projects/:id/jobs"
	EndpointPipelineJobs     = "/projects/:id/pipelines/:pipeline_id/jobs"
	EndpointPipelineBridges  = "/projects/:id/pipelines/:pipeline_id/bridges"
	EndpointJob              = "/projects/:id/jobs/:job_id"
	EndpointProject          = "/projects/:id"
	EndpointProjectPipelines = "/projects/:id/pipelines"
	EndpointPipeline         = "/projects/:id/pipelines/:pipeline_id"
	EndpointGroupProjects    = "/groups/:id/projects"
	EndpointMetadata         = "/metadata"
)

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, int, time.Duration) {}
func (nopObserver) ObserveRateLimitRemaining(float64)         {}
