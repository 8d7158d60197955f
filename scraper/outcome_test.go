package scraper

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&gitlabapi.APIError{StatusCode: 404}, event.ReasonNotFound},
		{&gitlabapi.APIError{StatusCode: 401}, event.ReasonUnauthorized},
		{&gitlabapi.APIError{StatusCode: 403}, event.ReasonForbidden},
		{&gitlabapi.APIError{StatusCode: 429}, event.ReasonRateLimited},
		{fmt.Errorf("walking: %w", &gitlabapi.APIError{StatusCode: 503}), event.ReasonServerError},
		{&gitlabapi.DecodeError{Err: errors.New("unexpected EOF")}, event.ReasonDecode},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), event.ReasonTimeout},
		{errors.New("boom"), event.ReasonOther},
	} {
		if got := failureReason(tc.err); got != tc.want {
			t.Errorf("failureReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
