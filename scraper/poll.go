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
	plan
	// opts are the options when the poll began: a reload during the poll
	// takes effect at the next one.
	opts   Options
	client GitLab
	ctx    context.Context
	st     *state.Project
	info   event.Project
	key    string // the project id as the API wants it
	now    time.Time

	highWaterAtStart   int64
	maxPipelineAtStart int64
	blockedAtStart     bool

	// refreshed are followed jobs whose current state a walk page carried:
	// applied once the walk is complete, so that a walk that fails on a
	// later page counts nothing it read.
	refreshed map[int64]*gitlabapi.Job
	// hintBudgetLeft is what remains of the plan's hintBudget.
	hintBudgetLeft int
	// changed are pipelines with a new job or a status change in this poll;
	// discovered are pipelines first remembered in this poll.
	changed    map[int64]bool
	discovered map[int64]bool
	// bridgesListed are pipelines whose bridges this poll has listed.
	bridgesListed map[int64]bool
	// namedOnly are the pipelines first remembered because a delivery
	// named them, before any job of theirs was seen.
	namedOnly map[int64]bool
	// deferred are the hinted jobs and pipelines the hint budget could not
	// afford, for the next poll.
	deferred hintSet
	// finishedIDs are the jobs this poll counted finished.
	finishedIDs []int64

	// events wait until the state that records them has been saved, so
	// that a crash can lose a poll but never count a job twice.
	events []func(event.Recorder)
}

func (s *Scraper) newPoll(ctx context.Context, opts Options, st *state.Project, pl plan, now time.Time) *poll {
	return &poll{
		plan:               pl,
		opts:               opts,
		client:             s.currentClient(),
		ctx:                ctx,
		st:                 st,
		info:               event.Project{ID: st.ID, Path: st.Path, DefaultBranch: st.DefaultBranch},
		key:                strconv.FormatInt(st.ID, 10),
		now:                now,
		highWaterAtStart:   st.HighWater,
		maxPipelineAtStart: st.MaxPipelineID,
		blockedAtStart:     st.HasBlocked(),
		refreshed:          map[int64]*gitlabapi.Job{},
		hintBudgetLeft:     pl.hintBudget,
		changed:            map[int64]bool{},
		discovered:         map[int64]bool{},
		bridgesListed:      map[int64]bool{},
		namedOnly:          map[int64]bool{},
	}
}

// run performs the poll, the same steps for every plan: new jobs (walked,
// or the ones hints name), the unfinished ones followed (when walking),
// the pipelines hints name, bridges, then what is no longer needed is
// forgotten.
func (p *poll) run() error {
	if p.walk {
		if err := p.walkNewJobs(); err != nil {
			return fmt.Errorf("walking jobs: %w", err)
		}
		if err := p.followJobs(); err != nil {
			return fmt.Errorf("following unfinished jobs: %w", err)
		}
	} else if err := p.serveHintedJobs(); err != nil {
		return err
	}
	if err := p.knowHintedPipelines(); err != nil {
		return err
	}
	if err := p.refreshBridges(); err != nil {
		return fmt.Errorf("refreshing bridges: %w", err)
	}
	// A pipeline that could not be fetched stays open for the next poll;
	// the others and the housekeeping below go on.
	errPipelines := p.checkPipelines()
	// The recheck clock moves only when a walk's recheck was due (and done:
	// the first page or the scoped walk showed every blocked job, the
	// bridge lists every blocked bridge) or when a walk starts following a
	// blocked job, whose first recheck then comes an interval later. It
	// stays put on every other poll, so that an idle poll leaves the saved
	// state byte for byte as it was and costs no write.
	if p.walk && (p.parkedDue || (!p.blockedAtStart && p.st.HasBlocked())) {
		p.st.LastParkedCheck = p.now
	}
	p.st.DropStaleParked(p.now.Add(-p.opts.ParkedMaxAge))
	p.st.ForgetPipelines(p.now.Add(-p.opts.PipelineTTL), !p.opts.SkipPipelines)
	if errPipelines != nil {
		return fmt.Errorf("checking pipelines: %w", errPipelines)
	}
	return nil
}

// emit holds a job's event until the poll is committed (Scraper.commit),
// if the plan's cut-offs count it: a job's start by its started_at, its
// end by its finished_at, a retry by the retry's creation.
func (p *poll) emit(at time.Time, e func(event.Recorder)) {
	if p.counts(at) {
		p.events = append(p.events, e)
	}
}

func (p *poll) emitStarted(j *gitlabapi.Job) {
	p.emit(startedAt(j), func(r event.Recorder) { r.JobStarted(p.info, j) })
}

func (p *poll) emitFinished(j *gitlabapi.Job) {
	p.emit(finishedAt(j), func(r event.Recorder) { r.JobFinished(p.info, j) })
}

// emitRetried: j is the retry, so its creation is when the retry happened.
func (p *poll) emitRetried(j *gitlabapi.Job) {
	p.emit(createdAt(j), func(r event.Recorder) { r.JobRetried(p.info, j) })
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
			if !stop && (p.st.BelowWindow(j.ID, created) || (p.isFirstWalk() && created.Before(p.lookbackFrom))) {
				stop = true
			}
			if stop {
				if p.isFirstWalk() {
					// History before the lookback is never counted; remember
					// the jobs of this page, or the next walk would take those
					// inside the late-commit window of the newest one for
					// late commits, and their pipelines as old ones.
					p.st.MarkHandled(j.ID, created)
					p.st.SawPipeline(j.Pipeline.ID)
				}
				p.refresh(j) // a row tells a followed job's status for free
				continue
			}
			isNew, err := p.serveJob(j)
			if err != nil {
				return err
			}
			if isNew {
				sawNew = true
				news++
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

// serveJob brings a job as GitLab answered it (a row of a page, or a
// fetched job) into the counts, whatever read it: a followed job moves on,
// a job not handled yet is new, and one already counted is left alone. It
// reports whether the job was new.
func (p *poll) serveJob(j *gitlabapi.Job) (isNew bool, err error) {
	if p.refresh(j) {
		return false, nil
	}
	created := createdAt(j)
	if p.st.Handled(j.ID, created) {
		return false, nil
	}
	pl, err := p.pipeline(j.Pipeline.ID, j.Pipeline.CreatedAt)
	if err != nil {
		return false, err
	}
	if retried := pl.RecordAttempt(j.Name, j.ID); retried != 0 {
		p.emitRetried(p.retryOf(j, retried, pl))
	}
	p.apply(j, nil, false)
	p.st.MarkHandled(j.ID, created)
	if p.walk && p.st.Followed[j.ID] != nil {
		p.refreshed[j.ID] = j // nothing to apply again, nothing to look for
	}
	return true, nil
}

// refresh brings a followed job up to date, once the walk is complete
// when walking, and reports whether it was one.
func (p *poll) refresh(j *gitlabapi.Job) bool {
	f := p.st.Followed[j.ID]
	if f == nil || f.Bridge {
		return false
	}
	if p.walk {
		p.refreshed[j.ID] = j
	} else {
		p.apply(j, f, false)
	}
	return true
}

// retryOf returns the attempt that retried another, for JobRetried. A walk
// newest first that meets both attempts for the first time handles the
// retry before the attempt it retried, and so recognises the retry when it
// reaches the older job j; the event then names the retry, whose creation
// (kept since the walk handled it) is when the retry happened.
func (p *poll) retryOf(j *gitlabapi.Job, retried int64, pl *state.Pipeline) *gitlabapi.Job {
	if retried != j.ID {
		return j
	}
	newer := pl.Attempts[j.Name]
	created, ok := p.st.Recent[newer]
	if !ok {
		return j
	}
	return &gitlabapi.Job{ID: newer, Name: j.Name, Stage: j.Stage, Ref: j.Ref, Tag: j.Tag,
		Pipeline: j.Pipeline, CreatedAt: &created}
}

// pipeline returns the memory of a pipeline. A pipeline older than the last
// poll that is not remembered any more gets its earlier attempts loaded, so
// that a retry or a late manual play in it is still recognised; if the
// scraper had handled one of them, it knew the pipeline and forgot it, and
// so does not know its first result. Nor does it for a pipeline created
// (at createdOn, when known) before the first walk's lookback.
func (p *poll) pipeline(id int64, createdOn *time.Time) (*state.Pipeline, error) {
	pl, created := p.st.Pipeline(id, p.highWaterAtStart, p.now)
	if !created {
		return pl, nil
	}
	p.discovered[id] = true
	if p.isFirstWalk() && createdOn != nil && createdOn.Before(p.lookbackFrom) {
		pl.First = state.UnknownFirst
	}
	if !p.isFirstWalk() && id <= p.maxPipelineAtStart {
		jobs, err := p.client.PipelineJobs(p.ctx, p.key, id, gitlabapi.PipelineJobsOptions{IncludeRetried: true, Minimal: true})
		if err != nil && !errors.Is(err, gitlabapi.ErrNotFound) {
			p.st.ForgetPipeline(id) // load it again next time
			return nil, err
		}
		for i := range jobs {
			if p.st.Handled(jobs[i].ID, createdAt(&jobs[i])) {
				pl.RecordAttempt(jobs[i].Name, jobs[i].ID)
				pl.First = state.UnknownFirst
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
		p.emitStarted(j)
		startSeen = true
	}
	if f == nil || f.Status != string(j.Status) {
		p.changed[j.Pipeline.ID] = true
		p.pipelineMoved(j)
	}
	if j.Status.Finished() {
		p.emitFinished(j)
		p.finishedIDs = append(p.finishedIDs, j.ID)
		p.st.Unfollow(j.ID)
		return
	}
	p.st.Follow(&state.FollowedJob{
		ID: j.ID, PipelineID: j.Pipeline.ID, Status: statusString(j.Status),
		CreatedAt: createdAt(j), StartSeen: startSeen, Bridge: bridge,
	})
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
	if pl := p.st.Pipelines[f.PipelineID]; pl != nil {
		pl.Moved()
	}
	p.st.Unfollow(f.ID)
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
		scheduled := p.walk && ((pl.HasBridges && p.changed[id]) || activeBridges[id])
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
		p.st.ForgetPipeline(pl.ID)
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
		if d := b.DownstreamPipeline; d != nil && d.ID != 0 && !slices.Contains(pl.Children, d.ID) {
			pl.Children = append(pl.Children, d.ID)
		}
		if b.ID <= pl.BridgeFloor || pl.Bridges[b.ID] {
			continue
		}
		j := b.AsJob()
		if p.isFirstWalk() && createdAt(&j).Before(p.lookbackFrom) {
			pl.CountBridge(b.ID) // history before the first walk
			continue
		}
		f := p.st.Followed[b.ID]
		if f == nil && pl.RecordAttempt(j.Name, j.ID) != 0 {
			p.emitRetried(&j)
		}
		p.apply(&j, f, true)
		if j.Status.Finished() {
			pl.CountBridge(b.ID)
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

func startedAt(j *gitlabapi.Job) time.Time {
	if j.StartedAt != nil {
		return *j.StartedAt
	}
	return createdAt(j)
}

// finishedAt is when the job finished. GitLab sets no finished_at on a
// skipped job; it finished no earlier than it was created.
func finishedAt(j *gitlabapi.Job) time.Time {
	if j.FinishedAt != nil {
		return *j.FinishedAt
	}
	return createdAt(j)
}
