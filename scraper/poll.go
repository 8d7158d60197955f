package scraper

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/go-kit/log/level"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// activeScopes are the unfinished statuses a runner or GitLab moves on by
// itself; blockedScopes wait for a person or a clock and are rechecked on a
// slower schedule.
var (
	activeScopes = []gitlabapi.JobStatus{
		gitlabapi.StatusCreated, gitlabapi.StatusWaitingForResource, gitlabapi.StatusPreparing,
		gitlabapi.StatusWaitingForCallback, gitlabapi.StatusPending, gitlabapi.StatusRunning,
		gitlabapi.StatusCanceling,
	}
	blockedScopes = []gitlabapi.JobStatus{gitlabapi.StatusManual, gitlabapi.StatusScheduled}
)

// poll is one poll of one project. It mutates the project's state as it
// goes, so that whatever it counted stays counted if a later request fails.
type poll struct {
	// opts are the options when the poll began: a reload during the poll
	// takes effect at the next one.
	opts   Options
	client GitLab
	ctx    context.Context
	st     *state.Project
	info   event.Project
	key    string // the project id as the API wants it
	now    time.Time
	cutoff time.Time // on a first walk, jobs created before it are history

	highWaterAtStart   int64
	maxPipelineAtStart int64
	blockedAtStart     bool
	parkedDue          bool

	// refreshed are followed jobs whose current state a walk page carried.
	refreshed map[int64]*gitlabapi.Job
	// changed are pipelines with a new job or a status change in this poll;
	// discovered are pipelines first remembered in this poll.
	changed    map[int64]bool
	discovered map[int64]bool
	// bridgesListed are pipelines whose bridges this poll has listed.
	bridgesListed map[int64]bool
	// hintBudget is the requests left for what deliveries named beyond
	// the first page (maxHintedFetches); deferred, the named jobs and
	// pipelines it could not afford, for the next poll.
	hintBudget int
	deferred   hintSet

	// hints are the webhook hints this poll serves; hintedOnly: it serves
	// them alone (runHinted) instead of walking.
	hints      hintSet
	hintedOnly bool
	// finishedIDs are the jobs this poll counted finished.
	finishedIDs []int64

	// events wait until the state that records them has been saved, so
	// that a crash can lose a poll but never count a job twice.
	events []func(event.Recorder)
}

func (p *poll) emit(e func(event.Recorder)) { p.events = append(p.events, e) }

// flush hands the poll's events to the recorder.
func (p *poll) flush(r event.Recorder) {
	for _, e := range p.events {
		e(r)
	}
	p.events = nil
}

func (s *Scraper) newPoll(ctx context.Context, opts Options, st *state.Project, hints hintSet) *poll {
	p := &poll{
		hints:              hints,
		opts:               opts,
		client:             s.currentClient(),
		ctx:                ctx,
		st:                 st,
		info:               event.Project{ID: st.ID, Path: st.Path, DefaultBranch: st.DefaultBranch},
		key:                strconv.FormatInt(st.ID, 10),
		now:                opts.Now(),
		highWaterAtStart:   st.HighWater,
		maxPipelineAtStart: st.MaxPipelineID,
		refreshed:          map[int64]*gitlabapi.Job{},
		changed:            map[int64]bool{},
		discovered:         map[int64]bool{},
		bridgesListed:      map[int64]bool{},
		hintBudget:         maxHintedFetches,
	}
	if st.Fresh() {
		p.cutoff = p.now.Add(-opts.InitialLookback)
	}
	p.blockedAtStart = p.hasBlocked()
	p.parkedDue = p.blockedAtStart && p.now.Sub(st.LastParkedCheck) >= opts.ParkedRecheckInterval
	return p
}

// run performs the poll: walk new jobs, follow unfinished ones, refresh
// bridges, then forget what is no longer needed.
func (p *poll) run() error {
	if err := p.walkNewJobs(); err != nil {
		return fmt.Errorf("walking jobs: %w", err)
	}
	if err := p.followJobs(); err != nil {
		return fmt.Errorf("following unfinished jobs: %w", err)
	}
	if err := p.knowHintedPipelines(); err != nil {
		return err
	}
	if err := p.refreshBridges(); err != nil {
		return fmt.Errorf("refreshing bridges: %w", err)
	}
	// The recheck clock moves only when a recheck was due (and done: the
	// first page or the scoped walk showed every blocked job, the bridge
	// lists every blocked bridge) or when the project starts following a
	// blocked job, whose first recheck then comes an interval later. It
	// stays put on every other poll, so that an idle poll leaves the saved
	// state byte for byte as it was and costs no write.
	if p.parkedDue || (!p.blockedAtStart && p.hasBlocked()) {
		p.st.LastParkedCheck = p.now
	}
	p.dropStaleParked()
	p.st.ForgetPipelines(p.now.Add(-p.opts.PipelineTTL))
	return nil
}

// smallFirstPage is the first page of a quiet project's walk. Every poll
// reads at least one page, and decoding it is most of an idle poll's CPU;
// 20 rows still end an idle walk on its first request.
const smallFirstPage = 20

// firstPageSize is the per_page of the walk's first request: small when the
// project is quiet, 0 (a full page) otherwise. Busy projects keep the full
// page because it refreshes their followed jobs for free: a running job on
// it needs no scoped walk, and a burst of new jobs needs fewer requests.
// Quiet means the last walk found nothing new (then NextFirstPage also
// covers the followed manual jobs it showed, so a play is still seen at
// the next poll), no job but manual or scheduled ones is followed, and the
// newest job is older than the late-commit window, so a late commit below
// the first page is no more likely than before.
func (p *poll) firstPageSize() int {
	n := p.st.NextFirstPage
	if n == 0 || p.st.Fresh() || p.now.Sub(p.st.HighWaterCreated) <= state.LateCommitWindow {
		return 0
	}
	for _, f := range p.st.Followed {
		if !f.Bridge && !gitlabapi.JobStatus(f.Status).Blocked() {
			return 0
		}
	}
	return n
}

// walkNewJobs walks the project's jobs from the newest down and stops at the
// first job an earlier walk already covered. On a first walk it stops at
// the lookback cutoff instead.
func (p *poll) walkNewJobs() error {
	var (
		newestID      int64
		newestCreated time.Time
		first         = true
		news          int
		blockedDepth  int // rows of the first page down to its last followed manual or scheduled job
	)
	opt := gitlabapi.ListJobsOptions{PerPage: 100, FirstPage: p.firstPageSize(), Minimal: true}
	p.st.NextFirstPage = 0 // until this walk completes
	// Minimal: nothing here needs a job's user, commit or runner, and
	// decoding pages is most of a poll's CPU.
	for page, err := range p.client.ProjectJobPages(p.ctx, p.key, opt) {
		if err != nil {
			return err
		}
		firstPage := first
		if first && len(page) > 0 {
			newestID, newestCreated = page[0].ID, createdAt(&page[0])
			first = false
		}
		stop, sawNew := false, false
		for i := range page {
			j := &page[i]
			created := createdAt(j)
			if !stop && (p.st.BelowWindow(j.ID, created) || (!p.cutoff.IsZero() && created.Before(p.cutoff))) {
				stop = true
			}
			if stop && !p.cutoff.IsZero() {
				// History before the lookback is never counted; remember the
				// jobs of this page, or the next walk would take those inside
				// the late-commit window of the newest one for late commits.
				p.st.MarkHandled(j.ID, created)
			}
			if stop || p.st.Handled(j.ID, created) {
				// Already handled: the page still tells a followed job's status for free.
				if p.st.Followed[j.ID] != nil {
					p.refreshed[j.ID] = j
				}
				continue
			}
			if err := p.handleNew(j, false); err != nil {
				return err
			}
			sawNew = true
			news++
			p.st.MarkHandled(j.ID, created)
			if p.st.Followed[j.ID] != nil {
				p.refreshed[j.ID] = j
			}
		}
		if firstPage {
			for i := range page {
				if page[i].Status.Blocked() && p.st.Followed[page[i].ID] != nil {
					blockedDepth = i + 1
				}
			}
		}
		// A page with nothing new that reached the high-water mark ends the
		// walk even inside the late-commit window: after a burst of jobs the
		// window can span pages, and looking for late commits must not cost
		// an idle project more than its one request.
		if stop || (!sawNew && len(page) > 0 && page[len(page)-1].ID <= p.st.HighWater) {
			break
		}
	}
	p.st.CompleteWalk(newestID, newestCreated)
	if news == 0 {
		// Nothing new: the rows keep their places, so the manual jobs this
		// first page showed will be on a first page of that size again.
		p.st.NextFirstPage = max(smallFirstPage, blockedDepth)
	}
	return nil
}

// handleNew handles a job or bridge seen for the first time.
func (p *poll) handleNew(j *gitlabapi.Job, bridge bool) error {
	pl, err := p.pipeline(j.Pipeline.ID)
	if err != nil {
		return err
	}
	if retried := pl.RecordAttempt(j.Name, j.ID); retried != 0 {
		retry := p.retryOf(j, retried, pl)
		p.emit(func(r event.Recorder) { r.JobRetried(p.info, retry) })
	}
	p.apply(j, nil, bridge)
	return nil
}

// pipeline returns the memory of a pipeline. A pipeline older than the last
// poll that is not remembered any more gets its earlier attempts loaded, so
// that a retry or a late manual play in it is still recognised.
func (p *poll) pipeline(id int64) (*state.Pipeline, error) {
	pl, created := p.st.Pipeline(id, p.highWaterAtStart, p.now)
	if !created {
		return pl, nil
	}
	p.discovered[id] = true
	if p.cutoff.IsZero() && id <= p.maxPipelineAtStart {
		jobs, err := p.client.PipelineJobs(p.ctx, p.key, id, gitlabapi.PipelineJobsOptions{IncludeRetried: true, Minimal: true})
		if err != nil && !errors.Is(err, gitlabapi.ErrNotFound) {
			delete(p.st.Pipelines, id) // load it again next time
			return nil, err
		}
		for i := range jobs {
			if p.st.Handled(jobs[i].ID, createdAt(&jobs[i])) {
				if jobs[i].ID > pl.Attempts[jobs[i].Name] {
					pl.Attempts[jobs[i].Name] = jobs[i].ID
				}
			}
		}
	}
	return pl, nil
}

// apply brings a job's new state into the counts: its start once, its end
// once, and otherwise keeps following it. f is the followed entry, nil for
// a job seen for the first time.
func (p *poll) apply(j *gitlabapi.Job, f *state.FollowedJob, bridge bool) {
	p.noteWaiting(j, bridge)
	startSeen := f != nil && f.StartSeen
	if j.StartedAt != nil && !startSeen {
		p.emit(func(r event.Recorder) { r.JobStarted(p.info, j) })
		startSeen = true
	}
	if f == nil || f.Status != string(j.Status) {
		p.changed[j.Pipeline.ID] = true
		if pl := p.st.Pipelines[j.Pipeline.ID]; pl != nil {
			pl.LastActivity = p.now
		}
	}
	if j.Status.Finished() {
		p.emit(func(r event.Recorder) { r.JobFinished(p.info, j) })
		p.finishedIDs = append(p.finishedIDs, j.ID)
		delete(p.st.Followed, j.ID)
		return
	}
	p.st.Followed[j.ID] = &state.FollowedJob{
		ID: j.ID, PipelineID: j.Pipeline.ID, Status: statusString(j.Status),
		CreatedAt: createdAt(j), StartSeen: startSeen, Bridge: bridge,
	}
}

// followJobs brings every followed job up to date. Jobs the walk's pages
// showed cost nothing; the others are found with one scope-filtered walk,
// and those that left the unfinished statuses are fetched one pipeline (or
// one job) at a time.
func (p *poll) followJobs() error {
	var query, direct, parked []*state.FollowedJob
	queryBlocked := false
	for id, f := range p.st.Followed {
		if f.Bridge {
			continue
		}
		if j := p.refreshed[id]; j != nil {
			p.apply(j, f, false)
			continue
		}
		status := gitlabapi.JobStatus(f.Status)
		_, hinted := p.hints.jobs[id]
		switch {
		case !status.Known():
			direct = append(direct, f) // a scope filter cannot name it
		case status.Blocked() && hinted && !p.parkedDue:
			// A delivery says it moved: a played job keeps its id, so
			// below the walk's pages only this (or the slower parked
			// recheck) finds it.
			direct = append(direct, f)
		case status.Blocked():
			if p.parkedDue {
				query = append(query, f)
				queryBlocked = true
			} else {
				parked = append(parked, f)
			}
		default:
			query = append(query, f)
		}
	}
	if len(query) > 0 {
		gone, err := p.walkScoped(query, parked, queryBlocked)
		if err != nil {
			return err
		}
		direct = append(direct, gone...)
	}
	return p.fetchFinal(direct)
}

func (p *poll) hasBlocked() bool {
	for _, f := range p.st.Followed {
		if gitlabapi.JobStatus(f.Status).Blocked() {
			return true
		}
	}
	return false
}

// walkScoped lists the project's unfinished jobs down to the oldest one
// queried, applies what it finds, and returns the queried jobs it did not
// find: they have finished (or moved to a status not asked for).
//
// Parked jobs go along without making the walk longer: their scopes are
// asked for too, and a played one (it keeps its id) that the pages read
// anyway show, or that is missing above their last row (it has left the
// unfinished statuses), is brought up to date now rather than at the next
// parked recheck. Asking for their scopes adds only the manual and
// scheduled rows newer than the oldest queried job, which a page holds
// beside the active ones.
func (p *poll) walkScoped(query, parked []*state.FollowedJob, withBlocked bool) (gone []*state.FollowedJob, err error) {
	scopes := slices.Clone(activeScopes)
	if withBlocked || len(parked) > 0 {
		scopes = append(scopes, blockedScopes...)
	}
	minID := int64(math.MaxInt64)
	for _, f := range query {
		minID = min(minID, f.ID)
	}
	found := map[int64]*gitlabapi.Job{}
	var covered int64 // the walk saw every row in its scopes with an id at or above it
	const perPage = 100
	for page, err := range p.client.ProjectJobPages(p.ctx, p.key, gitlabapi.ListJobsOptions{Scopes: scopes, PerPage: perPage, Minimal: true}) {
		if err != nil {
			return nil, err
		}
		for i := range page {
			found[page[i].ID] = &page[i]
		}
		if len(page) < perPage {
			break // the list ends here: nothing in its scopes lies below
		}
		if last := page[len(page)-1].ID; last <= minID {
			covered = last
			break
		}
	}
	for _, f := range query {
		if j := found[f.ID]; j != nil {
			p.apply(j, f, false)
		} else {
			gone = append(gone, f)
		}
	}
	for _, f := range parked {
		switch j := found[f.ID]; {
		case j != nil:
			p.apply(j, f, false)
		case f.ID > covered:
			gone = append(gone, f)
		}
	}
	return gone, nil
}

// fetchFinal fetches the current state of jobs that left the unfinished
// statuses: one request per pipeline holding several of them, one per job
// otherwise. A job GitLab no longer has (erased pipeline) stops being followed.
func (p *poll) fetchFinal(jobs []*state.FollowedJob) error {
	byPipeline := map[int64][]int64{}
	for _, f := range jobs {
		byPipeline[f.PipelineID] = append(byPipeline[f.PipelineID], f.ID)
	}
	for pipelineID, ids := range byPipeline {
		_, err := p.fetchJobs(pipelineID, ids, func(id int64, j *gitlabapi.Job) error {
			if f := p.st.Followed[id]; j == nil {
				p.vanished(f)
			} else {
				p.apply(j, f, false)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *poll) vanished(f *state.FollowedJob) {
	delete(p.st.Followed, f.ID)
	p.st.StopWaiting(f.ID)
	_ = level.Debug(p.opts.Logger).Log("msg", "followed job no longer exists in GitLab; not counted", "project", p.info.Path, "job_id", f.ID)
}

// refreshBridges lists the bridges of pipelines that may have new or
// changed ones: pipelines first seen now, pipelines a delivery named,
// and on a scheduled poll pipelines with bridges whose jobs changed and
// pipelines with unfinished bridges (deliveries about a child pipeline
// name its parent when its bridge may have moved).
func (p *poll) refreshBridges() error {
	activeBridges, blockedBridges := map[int64]bool{}, map[int64]bool{}
	for _, f := range p.st.Followed {
		if !f.Bridge {
			continue
		}
		if gitlabapi.JobStatus(f.Status).Blocked() {
			blockedBridges[f.PipelineID] = true
		} else {
			activeBridges[f.PipelineID] = true
		}
	}
	ids := make([]int64, 0, len(p.st.Pipelines))
	for id, pl := range p.st.Pipelines {
		// A hinted poll lists them for a new pipeline and when a child
		// pipeline's delivery names its parent; the rest waits for the
		// scheduled poll.
		scheduled := !p.hintedOnly && ((pl.HasBridges && p.changed[id]) || activeBridges[id])
		if p.bridgesListed[id] {
			continue
		}
		if p.discovered[id] || p.hints.bridges[id] || scheduled || (blockedBridges[id] && p.parkedDue) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := p.refreshPipelineBridges(p.st.Pipelines[id]); err != nil {
			return err
		}
	}
	return nil
}

func (p *poll) refreshPipelineBridges(pl *state.Pipeline) error {
	bridges, err := p.client.PipelineBridges(p.ctx, p.key, pl.ID, nil)
	if errors.Is(err, gitlabapi.ErrNotFound) {
		for id, f := range p.st.Followed {
			if f.PipelineID == pl.ID {
				p.vanished(p.st.Followed[id])
			}
		}
		delete(p.st.Pipelines, pl.ID)
		return nil
	}
	if err != nil {
		return err
	}
	p.applyBridges(pl, bridges)
	return nil
}

// applyBridges brings a pipeline's bridges into the counts as apply does
// its jobs.
func (p *poll) applyBridges(pl *state.Pipeline, bridges []gitlabapi.Bridge) {
	p.bridgesListed[pl.ID] = true
	if len(bridges) > 0 {
		pl.HasBridges = true
	}
	for i := range bridges {
		b := &bridges[i]
		if b.ID <= pl.BridgeFloor || pl.Bridges[b.ID] {
			continue
		}
		j := b.AsJob()
		if !p.cutoff.IsZero() && createdAt(&j).Before(p.cutoff) {
			pl.Bridges[b.ID] = true // history before the first walk
			continue
		}
		f := p.st.Followed[b.ID]
		if f == nil && pl.RecordAttempt(j.Name, j.ID) != 0 {
			p.emit(func(r event.Recorder) { r.JobRetried(p.info, &j) })
		}
		p.apply(&j, f, true)
		if j.Status.Finished() {
			pl.Bridges[b.ID] = true
		}
	}
}

// dropStaleParked stops following manual and scheduled jobs older than
// ParkedMaxAge, so that pipelines whose manual jobs nobody plays do not
// make the state grow without bound.
func (p *poll) dropStaleParked() {
	cutoff := p.now.Add(-p.opts.ParkedMaxAge)
	for id, f := range p.st.Followed {
		if gitlabapi.JobStatus(f.Status).Blocked() && f.CreatedAt.Before(cutoff) {
			delete(p.st.Followed, id)
		}
	}
}

// statusString returns a known status as the constant's string, so that the
// many jobs followed for days share it instead of each keeping the copy
// decoding made.
func statusString(s gitlabapi.JobStatus) string {
	for _, k := range gitlabapi.KnownStatuses {
		if s == k {
			return string(k)
		}
	}
	return string(s)
}

func createdAt(j *gitlabapi.Job) time.Time {
	if j.CreatedAt == nil {
		return time.Time{}
	}
	return *j.CreatedAt
}
