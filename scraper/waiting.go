package scraper

import (
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// noteWaiting keeps, while a job waits for a runner, what the gauges of
// its runner pool need, and forgets it once the job stops waiting. Bridges
// wait for no runner. Every followed job that is not manual or scheduled
// is brought up to date by every poll, so the entry follows its status.
func (p *poll) noteWaiting(j *gitlabapi.Job, bridge bool) {
	if bridge || j.Status != gitlabapi.StatusPending {
		p.st.StopWaiting(j.ID)
		return
	}
	if p.st.IsWaiting(j.ID) {
		return // its tags and queue time do not change
	}
	p.st.Wait(j.ID, state.Waiting{Tags: j.TagSet(), QueuedAt: queuedAt(j, p.now)})
}

// queuedAt is when a pending job was queued: GitLab's queued_duration runs
// from then to the time of its answer, which the poll's start approximates
// (to within the poll's own duration). Without one, its creation.
func queuedAt(j *gitlabapi.Job, now time.Time) time.Time {
	if j.QueuedDuration == nil {
		return createdAt(j)
	}
	return now.Add(-time.Duration(*j.QueuedDuration * float64(time.Second))).Round(time.Millisecond)
}
