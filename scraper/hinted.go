package scraper

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// serveHintedJobs serves the jobs hints name without walking the job list,
// whose requests GitLab limits separately: it fetches them (a pipeline's
// jobs when several of one pipeline are named, serving the pipeline's
// other jobs too, else the job) and serves what it finds as the walk
// would. A job it counts is marked handled, so the next walk passes it by;
// what it misses (a lost delivery) the next scheduled poll finds.
func (p *poll) serveHintedJobs() error {
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
		ids := byPipeline[pipelineID]
		cost := fetchCost(pipelineID, ids)
		if cost > p.hintBudgetLeft {
			// Left to the next poll: a burst of deliveries (or forged
			// ones) cannot spend the rate limit at once. Jobs fetched one
			// by one go as far as the budget does.
			affordable := 0
			if cost == len(ids) {
				affordable = p.hintBudgetLeft
			}
			for _, id := range ids[affordable:] {
				p.deferJob(id)
			}
			ids, cost = ids[:affordable], affordable
			if affordable == 0 {
				continue
			}
		}
		p.hintBudgetLeft -= cost
		others, err := p.fetchJobs(pipelineID, ids, func(_ int64, j *gitlabapi.Job) error {
			if j == nil {
				return nil // not in this project: deleted, or a forged delivery
			}
			_, err := p.serveJob(j)
			return err
		})
		if err != nil {
			return fmt.Errorf("fetching hinted jobs: %w", err)
		}
		// The pipeline's other jobs are the API's word too: serving them
		// counts those whose delivery is late or lost.
		for i := range others {
			if _, err := p.serveJob(&others[i]); err != nil {
				return fmt.Errorf("fetching hinted jobs: %w", err)
			}
		}
	}
	return nil
}

// firstPageFromPipelines: when deliveries name jobs of two pipelines or
// more, one page of the project's newest jobs usually carries them all,
// for one request instead of one per pipeline. GitLab limits the job list
// separately, and the scheduled polls use a fraction of that budget.
const firstPageFromPipelines = 2

// maxHintedFetches bounds the requests a poll spends on what deliveries
// named beyond its first page: jobs (manual jobs played far down the list,
// or jobs of a busy project below its newest hundred) and pipelines not
// known yet (usually none: their jobs are on the first page). What is over
// the bound waits for the next poll, which in a busy project the next
// delivery wakes soon.
const maxHintedFetches = 8

// serveFirstPage reads one page of the project's newest jobs and serves
// every row as a hinted job: the named ones, followed ones, and new ones
// alike (a row is the API's word, whoever named it). What is left to fetch
// is the named jobs still followed that a delivery said finished, or that
// were manual or scheduled (a delivery about one says it was played): a
// job the page counted is followed no more; below the newest hundred, a job
// not followed is old news or one GitLab does not have, which the scheduled
// poll settles; a running job waits for its finishing delivery.
func (p *poll) serveFirstPage(byPipeline map[int64][]int64) error {
	for page, err := range p.client.ProjectJobPages(p.ctx, p.key, gitlabapi.ListJobsOptions{PerPage: 100, Minimal: true}) {
		if err != nil {
			return err
		}
		for i := range page {
			if _, err := p.serveJob(&page[i]); err != nil {
				return err
			}
		}
		break // one page
	}
	for pipelineID, ids := range byPipeline {
		ids = slices.DeleteFunc(ids, func(id int64) bool {
			f := p.st.Followed[id]
			return f == nil || (p.hints.jobs[id].finished.IsZero() && !gitlabapi.JobStatus(f.Status).Blocked())
		})
		if len(ids) == 0 {
			delete(byPipeline, pipelineID)
		} else {
			byPipeline[pipelineID] = ids
		}
	}
	return nil
}

// knowHintedPipelines lists the bridges of the pipelines deliveries named
// that the exporter does not know yet: a pipeline made only of bridges has
// no job a walk could find it by. The pipeline is remembered only once
// GitLab has answered for it, so a delivery naming a pipeline GitLab does
// not have leaves no trace.
func (p *poll) knowHintedPipelines() error {
	for _, id := range slices.Sorted(maps.Keys(p.hints.pipelines)) {
		if p.st.Pipelines[id] != nil {
			continue
		}
		if p.hintBudgetLeft == 0 {
			p.deferPipeline(id)
			continue
		}
		p.hintBudgetLeft--
		bridges, err := p.client.PipelineBridges(p.ctx, p.key, id, nil)
		switch {
		case errors.Is(err, gitlabapi.ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("hinted pipeline %d: %w", id, err)
		}
		pl, err := p.pipeline(id, nil)
		if err != nil {
			return fmt.Errorf("hinted pipeline %d: %w", id, err)
		}
		p.namedOnly[id] = true
		for i := range bridges {
			if b := &bridges[i].Job; pl.First == "" && !p.isFirstWalk() && p.st.Handled(b.ID, createdAt(b)) {
				// A bridge older than the last walk: an old pipeline,
				// forgotten, whose jobs (if any) did not tell.
				pl.First = state.UnknownFirst
			}
		}
		p.applyBridges(pl, bridges)
	}
	return nil
}

func (p *poll) deferJob(id int64) {
	if p.deferred.jobs == nil {
		p.deferred.jobs = map[int64]jobHint{}
	}
	p.deferred.jobs[id] = p.hints.jobs[id]
}

func (p *poll) deferPipeline(id int64) {
	if p.deferred.pipelines == nil {
		p.deferred.pipelines = map[int64]bool{}
	}
	p.deferred.pipelines[id] = true
	if status, ok := p.hints.finished[id]; ok {
		if p.deferred.finished == nil {
			p.deferred.finished = map[int64]gitlabapi.JobStatus{}
		}
		p.deferred.finished[id] = status
	}
}

// fetchCost is the requests fetchJobs makes for ids of one pipeline.
func fetchCost(pipelineID int64, ids []int64) int {
	if len(ids) == 1 || pipelineID == 0 {
		return len(ids)
	}
	return 1
}

// fetchJobs fetches jobs of one pipeline: the pipeline's jobs (retried
// attempts included) in one request when several are named, else each
// job (also when the pipeline is not known, 0). got is called for every id,
// with nil for a job GitLab does not have in this project. When it listed
// the pipeline, it returns the pipeline's jobs that were not named.
func (p *poll) fetchJobs(pipelineID int64, ids []int64, got func(id int64, j *gitlabapi.Job) error) (others []gitlabapi.Job, err error) {
	if fetchCost(pipelineID, ids) == len(ids) {
		for _, id := range ids {
			j, err := p.client.Job(p.ctx, p.key, id)
			switch {
			case errors.Is(err, gitlabapi.ErrNotFound):
				j = nil
			case err != nil:
				return nil, err
			}
			if err := got(id, j); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	list, err := p.client.PipelineJobs(p.ctx, p.key, pipelineID, gitlabapi.PipelineJobsOptions{IncludeRetried: true, Minimal: true})
	if err != nil && !errors.Is(err, gitlabapi.ErrNotFound) {
		return nil, err
	}
	named := setOf(ids)
	byID := make(map[int64]*gitlabapi.Job, len(list))
	for i := range list {
		if named[list[i].ID] {
			byID[list[i].ID] = &list[i]
		} else {
			others = append(others, list[i])
		}
	}
	for _, id := range ids {
		if err := got(id, byID[id]); err != nil {
			return nil, err
		}
	}
	return others, nil
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
