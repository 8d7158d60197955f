// Package gitlabapi is a small client for the parts of the GitLab REST API
// (v4) that gitlab_jobs_exporter reads: project jobs, pipeline jobs and
// bridges, pipelines, projects of a group, and instance metadata. It speaks
// plain net/http and knows nothing about Prometheus.
//
// # Pagination
//
// GET /projects/:id/jobs is walked with keyset pagination
// (pagination=keyset), newest job first, by following the Link rel="next"
// URL verbatim; GitLab omits the Link on the last page. The pipeline and
// group endpoints only offer offset pagination; they are walked by
// following X-Next-Page until it is empty, never trusting X-Total or
// X-Total-Pages, which GitLab omits above 10,000 rows. A next-page URL that
// points to another scheme or host than Options.BaseURL is refused, so the
// token is never sent anywhere else.
//
// # Limits and retries
//
// Every request of a Client, from any goroutine, first waits for:
//
//  1. the end of a server-imposed pause: after a 429 the whole client stops
//     talking to GitLab for Retry-After seconds (or until RateLimit-Reset /
//     RateLimit-ResetTime; the backoff delay when none is present), capped
//     at 10 minutes, because GitLab's throttles count per user or IP, not per
//     request stream;
//  2. a token bucket (Options.RequestsPerSecond, Options.Burst), so the
//     exporter stays well below GitLab's own limits instead of discovering
//     them through 429s;
//  3. a free slot among Options.MaxConcurrent in-flight requests.
//
// Each attempt has its own timeout (Options.Timeout). Responses 429 and
// 5xx, timeouts and connection errors are retried up to Options.MaxRetries
// times; 5xx and transport errors back off exponentially from 500ms up to
// 30s, with jitter so that many exporters do not retry in lockstep. Other
// 4xx answers are final. Cancelling the context stops at once, also during a
// wait. All waits go through Options.Clock, so tests can observe them
// without sleeping.
//
// # Errors
//
// Non-2xx answers become *APIError, which matches ErrNotFound,
// ErrUnauthorized, ErrForbidden, ErrRateLimited, ErrServer or ErrBadRequest
// with errors.Is and carries GitLab's message. Malformed 2xx bodies become
// *DecodeError (errors.Is(err, ErrDecode)). Errors name the endpoint template
// and request path, never the token.
package gitlabapi
