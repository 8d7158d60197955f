package scraper

import (
	"context"
	"errors"
	"net"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// failureReason classifies an error of the GitLab client.
func failureReason(err error) string {
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, gitlabapi.ErrNotFound):
		return event.ReasonNotFound
	case errors.Is(err, gitlabapi.ErrUnauthorized):
		return event.ReasonUnauthorized
	case errors.Is(err, gitlabapi.ErrForbidden):
		return event.ReasonForbidden
	case errors.Is(err, gitlabapi.ErrRateLimited):
		return event.ReasonRateLimited
	case errors.Is(err, gitlabapi.ErrServer):
		return event.ReasonServerError
	case errors.Is(err, gitlabapi.ErrDecode):
		return event.ReasonDecode
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return event.ReasonTimeout
	}
	return event.ReasonOther
}
