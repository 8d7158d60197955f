package scraper

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// PollResult says how one poll of one project went.
type PollResult struct {
	// Reason is "" when the poll succeeded, else why it failed: one of
	// the Reason values, so that a recorder can count failures without
	// knowing the GitLab client's errors.
	Reason   string
	Err      error // the failure itself, for logs; nil on success
	Requests int   // HTTP attempts made, retries included
	Duration time.Duration
	Time     time.Time
	// Hinted: the poll served webhook hints alone, without walking.
	Hinted bool
	// HintLatencies are, for each job this poll counted finished that a
	// delivery had announced finished, the time from that delivery.
	HintLatencies []time.Duration
}

// Why a poll, or resolving a configured project or group, failed.
const (
	ReasonNotFound     = "not_found"
	ReasonUnauthorized = "unauthorized"
	ReasonForbidden    = "forbidden"
	ReasonRateLimited  = "rate_limited"
	ReasonServerError  = "server_error"
	ReasonTimeout      = "timeout"
	ReasonDecode       = "decode"
	ReasonOther        = "other"
)

// failureReason classifies an error of the GitLab client.
func failureReason(err error) string {
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, gitlabapi.ErrNotFound):
		return ReasonNotFound
	case errors.Is(err, gitlabapi.ErrUnauthorized):
		return ReasonUnauthorized
	case errors.Is(err, gitlabapi.ErrForbidden):
		return ReasonForbidden
	case errors.Is(err, gitlabapi.ErrRateLimited):
		return ReasonRateLimited
	case errors.Is(err, gitlabapi.ErrServer):
		return ReasonServerError
	case errors.Is(err, gitlabapi.ErrDecode):
		return ReasonDecode
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	}
	return ReasonOther
}
