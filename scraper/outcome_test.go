package scraper

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&gitlabapi.APIError{StatusCode: 404}, ReasonNotFound},
		{&gitlabapi.APIError{StatusCode: 401}, ReasonUnauthorized},
		{&gitlabapi.APIError{StatusCode: 403}, ReasonForbidden},
		{&gitlabapi.APIError{StatusCode: 429}, ReasonRateLimited},
		{fmt.Errorf("walking: %w", &gitlabapi.APIError{StatusCode: 503}), ReasonServerError},
		{&gitlabapi.DecodeError{Err: errors.New("unexpected EOF")}, ReasonDecode},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), ReasonTimeout},
		{errors.New("boom"), ReasonOther},
	} {
		if got := failureReason(tc.err); got != tc.want {
			t.Errorf("failureReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
