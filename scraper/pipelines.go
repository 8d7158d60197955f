package scraper

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// A pipeline is counted from the pipeline object (its duration, queued
// duration and coverage are nowhere else), fetched once its jobs say it
// may have a result: a job of it moved and none of its jobs or bridges is
// active any more (or a Pipeline Hook says it finished). So a finished
// pipeline costs one request, an idle project none.

// pipelineMoved records what a job row says of its pipeline: its status,
// and that it may have a new result, unless the job finished, or waited
// for a person, no later than the result counted last (a Pipeline Hook
// counted the pipeline before a walk saw its jobs). A job whose pipeline
// is not remembered (a state saved before pipelines were counted, when a
// manual job did not keep its pipeline) leaves it untracked: creating it
// here would skip loading its earlier attempts, which recognises retries.
func (p *poll) pipelineMoved(j *gitlabapi.Job) {
	pl := p.st.Pipelines[j.Pipeline.ID]
	if pl == nil {
		return
	}
	pl.LastActivity = p.now
	if p.opts.SkipPipelines {
		return
	}
	if j.Pipeline.Status != "" {
		pl.Status = statusString(gitlabapi.JobStatus(j.Pipeline.Status))
	}
	if !pl.FinishedAt.IsZero() && !finishedAt(j).After(pl.FinishedAt) && (j.Status.Finished() || j.Status.Blocked()) {
		return // finished, or waiting for a person, when the result counted last came: it is in it
	}
	pl.Moved()
}

// checkPipelines fetches the pipelines that may have a new result: those
// a job of which moved and none of whose jobs and bridges is active now,
// and those a delivery says finished that have no counted result or moved
// since. A pipeline found still active although none of its jobs the
// scraper follows is (a job it has not seen yet, or GitLab not done
// updating the pipeline) is fetched again on a later walk, at most once
// per poll.parked_recheck_interval.
func (p *poll) checkPipelines() error {
	if p.opts.SkipPipelines {
		return nil
	}
	active := map[int64]bool{}
	for _, f := range p.st.Followed {
		if !gitlabapi.JobStatus(f.Status).Blocked() {
			active[f.PipelineID] = true
		}
	}
	var due []int64
	for id, pl := range p.st.Pipelines {
		// A delivery's claim is worth a fetch unless the pipeline was
		// counted with that result and nothing of it moved since: then it
		// is a duplicate, or the delivery of a result already counted. A
		// parent whose child was retried finishes again without a job of
		// its own moving (its bridge keeps its id): its delivery claims
		// another result, or the child's new result opens it.
		claimed, named := p.hints.finished[id]
		hinted := named && (pl.Open || pl.First == "" || string(claimed) != pl.Status)
		settled := pl.Open && !active[id] &&
			(pl.CheckedAt.IsZero() || (p.walk && p.now.Sub(pl.CheckedAt) >= p.opts.ParkedRecheckInterval))
		if hinted || settled {
			due = append(due, id)
		}
	}
	slices.Sort(due)
	var errs []error
	for _, id := range due {
		api, err := p.client.Pipeline(p.ctx, p.key, id)
		switch {
		case errors.Is(err, gitlabapi.ErrNotFound):
			pl := p.st.Pipelines[id]
			pl.Open, pl.Status = false, "" // deleted: nothing more to count, nor to show
		case err != nil:
			errs = append(errs, fmt.Errorf("pipeline %d: %w", id, err))
			if p.ctx.Err() != nil {
				return errors.Join(errs...)
			}
		default:
			p.applyPipeline(p.st.Pipelines[id], api)
		}
	}
	return errors.Join(errs...)
}

// applyPipeline counts a pipeline's result the first time it is found:
// the first result once, each later result once. A pipeline waiting for a
// person or a clock is not fetched again until a job of it moves.
func (p *poll) applyPipeline(pl *state.Pipeline, api *gitlabapi.Pipeline) {
	opened := pl.Open
	status := gitlabapi.JobStatus(api.Status)
	pl.Status, pl.CheckedAt = statusString(status), p.now
	switch {
	case status.Blocked():
		pl.Open = false
		return
	case !status.Finished():
		return // still open: fetched again later
	}
	pl.Open = false
	if pl.First == "" && p.namedOnly[pl.ID] && p.isFirstWalk() && api.CreatedAt != nil && api.CreatedAt.Before(p.lookbackFrom) {
		// History a delivery named before any job of it told when it was
		// created (later polls tell history by its id: pipeline).
		pl.First = state.UnknownFirst
	}
	at := api.Finished()
	if at.Equal(pl.FinishedAt) {
		return // counted when it was found with this result before
	}
	pl.FinishedAt = at
	first := pl.First
	if first == "" {
		pl.First = pl.Status
		p.emit(at, func(r event.Recorder) { r.PipelineFinished(p.info, api) })
		return
	}
	if !opened && first == state.UnknownFirst {
		// An old pipeline only a delivery named: no job of it moved, so
		// nothing says it ran again; its result is history's.
		return
	}
	repeat := slices.Contains(pl.Later, pl.Status)
	if !repeat {
		pl.Later = append(pl.Later, pl.Status)
	}
	p.emit(at, func(r event.Recorder) { r.PipelineRerun(p.info, api, first, repeat) })
	p.parentMoved(pl.ID)
}

// parentMoved opens the pipeline whose bridge triggered child, which has a
// new result: the parent finishes again with it, though no job of its own
// moves (a retried child reopens the parent's bridge under its id).
func (p *poll) parentMoved(child int64) {
	for _, pl := range p.st.Pipelines {
		if slices.Contains(pl.Children, child) {
			pl.Moved()
		}
	}
}

// unfinishedPipelines counts the pipelines remembered without a result
// now, by status.
func unfinishedPipelines(st *state.Project) map[string]int {
	out := map[string]int{}
	for _, pl := range st.Pipelines {
		if pl.Status != "" && !gitlabapi.JobStatus(pl.Status).Finished() {
			out[pl.Status]++
		}
	}
	return out
}
