package gitlabapi

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
)

// ListJobsOptions filters GET /projects/:id/jobs.
type ListJobsOptions struct {
	Scopes  []JobStatus // sent as scope[]=...; empty = all statuses
	PerPage int         // 0 = 100; never send >100
	// FirstPage is the per_page of the first request only; 0 = PerPage.
	// A caller that expects little news reads a short first page and, when
	// there is more, continues with full pages: the keyset cursor in
	// GitLab's Link names the last row's id, not an offset, so changing
	// per_page between pages neither skips nor repeats a job.
	FirstPage int
	// Minimal decodes only what an exporter needs: id, status, stage, name,
	// ref, tag, allow_failure, the timestamps but artifacts_expire_at,
	// duration, queued_duration, failure_reason, archived, source,
	// artifacts, tag_list, the runner's id, description, is_shared and
	// runner_type, and the pipeline's id, iid, project_id, ref, status and
	// source. Everything else (user, commit, the runner's other keys,
	// runner_manager, project, artifacts_file, coverage, web URLs) stays
	// zero. It roughly halves the CPU time of decoding a page.
	Minimal bool
}

// ProjectJobPages walks GET /projects/:id/jobs with pagination=keyset, per_page, scope[]=...; newest first (id desc).
// It yields one page at a time; the caller may break at any time and no further request is made. It follows the
// Link rel="next" URL verbatim, except that after a FirstPage of another size its per_page becomes PerPage; the last
// page has no Link. On error it yields (nil, err) once and stops.
// Empty pages are not yielded, so a project without jobs yields nothing.
func (c *Client) ProjectJobPages(ctx context.Context, project string, opt ListJobsOptions) iter.Seq2[[]Job, error] {
	return func(yield func([]Job, error) bool) {
		id, err := pathID("project", project)
		if err != nil {
			yield(nil, err)
			return
		}
		perPage, err := pageSize("PerPage", opt.PerPage, maxPerPage)
		if err != nil {
			yield(nil, err)
			return
		}
		firstPage, err := pageSize("FirstPage", opt.FirstPage, perPage)
		if err != nil {
			yield(nil, err)
			return
		}
		// order_by/sort are GitLab's defaults, but the docs call them
		// mandatory for keyset, so they are sent explicitly.
		q := query{}
		q.set("pagination", "keyset")
		q.set("order_by", "id")
		q.set("sort", "desc")
		q.set("per_page", strconv.Itoa(firstPage))
		if err := addScopes(q, opt.Scopes); err != nil {
			yield(nil, err)
			return
		}
		u, err := c.endpointURL("/projects/"+id+"/jobs", q)
		if err != nil {
			yield(nil, err)
			return
		}
		for {
			resp, err := c.get(ctx, EndpointProjectJobs, u)
			if err != nil {
				yield(nil, err)
				return
			}
			jobs, err := decodeJobs(EndpointProjectJobs, u, resp.body, opt.Minimal)
			if err != nil {
				yield(nil, err)
				return
			}
			link, hasNext := parseNextLink(strings.Join(resp.header.Values("Link"), ", "))
			if len(jobs) > 0 && !yield(jobs, nil) {
				return
			}
			if !hasNext {
				return
			}
			next, err := c.nextURL(u, link)
			if err == nil && firstPage != perPage {
				// GitLab's link repeats the request's per_page.
				next.RawQuery = withPerPage(next.RawQuery, perPage)
			}
			if err == nil && next.String() == u.String() {
				err = fmt.Errorf("%w: next-page link repeats the current URL", ErrBadLink)
			}
			if err != nil {
				yield(nil, linkError(EndpointProjectJobs, u, err))
				return
			}
			u = next
		}
	}
}

// pageSize validates a per_page option: 0 means def, above 100 is 100.
func pageSize(name string, n, def int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("gitlab: ListJobsOptions.%s must not be negative, got %d", name, n)
	case n == 0:
		return def, nil
	case n > maxPerPage:
		return maxPerPage, nil
	}
	return n, nil
}

// withPerPage sets per_page in a raw query and leaves every other parameter
// byte for byte as GitLab sent it (the cursor, scope[] spelled its way).
func withPerPage(rawQuery string, perPage int) string {
	param := "per_page=" + strconv.Itoa(perPage)
	var out []string
	set := false
	for _, part := range strings.Split(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		switch k, _ := url.QueryUnescape(key); {
		case part == "":
		case k != "per_page":
			out = append(out, part)
		case !set:
			out = append(out, param)
			set = true
		}
	}
	if !set {
		out = append(out, param)
	}
	return strings.Join(out, "&")
}

// PipelineJobsOptions filters GET /projects/:id/pipelines/:pipeline_id/jobs.
type PipelineJobsOptions struct {
	IncludeRetried bool        // also return earlier attempts of retried jobs
	Scopes         []JobStatus // empty = all statuses
	Minimal        bool        // as ListJobsOptions.Minimal
}

// PipelineJobs returns every job of a pipeline (bridges excluded), newest
// first. Offset pagination following X-Next-Page until it is empty (never use X-Total / X-Total-Pages), per_page=100.
func (c *Client) PipelineJobs(ctx context.Context, project string, pipelineID int64, opt PipelineJobsOptions) ([]Job, error) {
	path, err := pipelinePath(project, pipelineID, "jobs")
	if err != nil {
		return nil, err
	}
	q := query{}
	if opt.IncludeRetried {
		q.set("include_retried", "true")
	}
	if err := addScopes(q, opt.Scopes); err != nil {
		return nil, err
	}
	if opt.Minimal {
		ms, err := offsetList[minimalJob](ctx, c, EndpointPipelineJobs, path, q, 0)
		return minimalJobs(ms), err
	}
	return offsetList[Job](ctx, c, EndpointPipelineJobs, path, q, 0)
}

// PipelineBridges returns the trigger jobs of a pipeline. GitLab always
// returns only the latest attempt of each bridge.
func (c *Client) PipelineBridges(ctx context.Context, project string, pipelineID int64, scopes []JobStatus) ([]Bridge, error) {
	path, err := pipelinePath(project, pipelineID, "bridges")
	if err != nil {
		return nil, err
	}
	q := query{}
	if err := addScopes(q, scopes); err != nil {
		return nil, err
	}
	return offsetList[Bridge](ctx, c, EndpointPipelineBridges, path, q, 0)
}

// Job returns one job (GET /projects/:id/jobs/:job_id). A bridge id gives
// ErrNotFound: bridges are not builds.
func (c *Client) Job(ctx context.Context, project string, jobID int64) (*Job, error) {
	id, err := pathID("project", project)
	if err != nil {
		return nil, err
	}
	jid, err := positiveID("job", jobID)
	if err != nil {
		return nil, err
	}
	return getOne[Job](ctx, c, EndpointJob, "/projects/"+id+"/jobs/"+jid)
}

func pipelinePath(project string, pipelineID int64, tail string) (string, error) {
	id, err := pathID("project", project)
	if err != nil {
		return "", err
	}
	pid, err := positiveID("pipeline", pipelineID)
	if err != nil {
		return "", err
	}
	return "/projects/" + id + "/pipelines/" + pid + "/" + tail, nil
}
