package scraper

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
)

// runHinted serves the poll's hints without walking the job list, whose
// requests GitLab limits separately: it fetches the jobs the deliveries
// named (a pipeline's jobs when several of one pipeline are named, else the
// job) and lists the bridges of the pipelines named, and applies what it
// finds as the walk would. A job it counts is marked handled, so the next
// walk passes it by; what it misses (a lost delivery) the next scheduled
// poll finds.
func (p *poll) runHinted() error {
	byPipeline := map[int64][]int64{}
	for id, jh := range p.hints.jobs {
		byPipeline[jh.pipeline] = append(byPipeline[jh.pipeline], id)
	}
	if len(byPipeline) >= firstPageFromPipelines {
		if err := p.serveFirstPage(byPipeline); err != nil {
			return fmt.Errorf("reading the newest jobs: %w", err)
		}
	}
	for _, pipelineID := range slices.Sorted(maps.Keys(byPipeline)) {
		if err := p.fetchHinted(pipelineID, byPipeline[pipelineID]); err != nil {
			return fmt.Errorf("fetching hinted jobs: %w", err)
		}
	}
	if err := p.knowHintedPipelines(); err != nil {
		return err
	}
	if err := p.refreshBridges(); err != nil {
		return fmt.Errorf("refreshing bridges: %w", err)
	}
	p.dropStaleParked()
	p.st.ForgetPipelines(p.now.Add(-p.opts.PipelineTTL))
	return nil
}

// firstPageFromPipelines: when deliveries name jobs of two pipelines or
// more, one page of the project's newest jobs usually carries them all,
// for one request instead of one per pipeline. GitLab limits the job list
// separately, and the scheduled polls use a fraction of that budget.
const firstPageFromPipelines = 2

// serveFirstPage reads one page of the project's newest jobs and serves
// every row as a hinted job: the named ones, followed ones, and new ones
// alike (a row is the API's word, whoever named it). Named jobs the page
// carried are struck off byPipeline.
func (p *poll) serveFirstPage(byPipeline map[int64][]int64) error {
	for page, err := range p.client.ProjectJobPages(p.ctx, p.key, gitlabapi.ListJobsOptions{PerPage: 100, Minimal: true}) {
		if err != nil {
			return err
		}
		seen := map[int64]bool{}
		for i := range page {
			seen[page[i].ID] = true
			if err := p.serveHinted(&page[i]); err != nil {
				return err
			}
		}
		for pipelineID, ids := range byPipeline {
			ids = slices.DeleteFunc(ids, func(id int64) bool { return seen[id] })
			if len(ids) == 0 {
				delete(byPipeline, pipelineID)
			} else {
				byPipeline[pipelineID] = ids
			}
		}
		break // one page
	}
	return nil
}

// knowHintedPipelines remembers the pipelines deliveries named, so that
// refreshBridges lists the bridges of those first seen now: a pipeline
// made only of bridges has no job a walk could find it by.
func (p *poll) knowHintedPipelines() error {
	for _, id := range slices.Sorted(maps.Keys(p.hints.pipelines)) {
		if _, err := p.pipeline(id); err != nil {
			return fmt.Errorf("hinted pipeline %d: %w", id, err)
		}
	}
	return nil
}

// fetchHinted fetches the named jobs of one pipeline: the pipeline's jobs
// (retried attempts included) in one request when several are named or
// the pipeline is unknown, else the one job. A job or pipeline GitLab does
// not have in this project (deleted, or a forged delivery) is skipped.
func (p *poll) fetchHinted(pipelineID int64, ids []int64) error {
	if len(ids) == 1 || pipelineID == 0 {
		for _, id := range ids {
			j, err := p.client.Job(p.ctx, p.key, id)
			switch {
			case errors.Is(err, gitlabapi.ErrNotFound):
				continue
			case err != nil:
				return err
			}
			if err := p.serveHinted(j); err != nil {
				return err
			}
		}
		return nil
	}
	jobs, err := p.client.PipelineJobs(p.ctx, p.key, pipelineID, gitlabapi.PipelineJobsOptions{IncludeRetried: true, Minimal: true})
	switch {
	case errors.Is(err, gitlabapi.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	for i := range jobs {
		if err := p.serveHinted(&jobs[i]); err != nil {
			return err
		}
	}
	return nil
}

// serveHinted applies a job fetched for a hint exactly as the walk would:
// a followed job moves on, a job no walk has handled is new, and a job
// already counted is left alone.
func (p *poll) serveHinted(j *gitlabapi.Job) error {
	if f := p.st.Followed[j.ID]; f != nil && !f.Bridge {
		p.apply(j, f, false)
		return nil
	}
	created := createdAt(j)
	if p.st.Handled(j.ID, created) {
		return nil
	}
	if err := p.handleNew(j, false); err != nil {
		return err
	}
	p.st.MarkHandled(j.ID, created)
	return nil
}

// hintLatencies are the delivery-to-count times of the jobs this poll
// counted finished that a delivery had announced finished.
func (p *poll) hintLatencies(counted time.Time) []time.Duration {
	var out []time.Duration
	for _, id := range p.finishedIDs {
		if jh, ok := p.hints.jobs[id]; ok && !jh.finished.IsZero() {
			out = append(out, max(counted.Sub(jh.finished), 0))
		}
	}
	return out
}
