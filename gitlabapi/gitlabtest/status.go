package gitlabtest

// Job statuses GitLab knows (Ci::HasStatus::AVAILABLE_STATUSES), in its order.
// They are also the values scope[] accepts.
var jobStatuses = []string{
	"created", "waiting_for_resource", "preparing", "waiting_for_callback",
	"pending", "running", "success", "failed", "canceling",
	"canceled", "skipped", "manual", "scheduled",
}

var knownStatus = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range jobStatuses {
		m[s] = true
	}
	return m
}()

// completed reports GitLab's COMPLETED_STATUSES.
func completed(s string) bool {
	switch s {
	case "success", "failed", "canceled", "skipped":
		return true
	}
	return false
}

// statusBit indexes the composite-status set; unknown statuses count as
// running, so that a status from a newer GitLab never reads as finished.
type statusBit uint32

const (
	bitCreated statusBit = 1 << iota
	bitWaitingForResource
	bitPreparing
	bitWaitingForCallback
	bitPending
	bitRunning
	bitSuccess
	bitFailed
	bitCanceling
	bitCanceled
	bitSkipped
	bitManual
	bitScheduled
	bitSuccessWithWarnings
	bitIgnored
)

var statusBits = map[string]statusBit{
	"created": bitCreated, "waiting_for_resource": bitWaitingForResource, "preparing": bitPreparing,
	"waiting_for_callback": bitWaitingForCallback, "pending": bitPending, "running": bitRunning,
	"success": bitSuccess, "failed": bitFailed, "canceling": bitCanceling, "canceled": bitCanceled,
	"skipped": bitSkipped, "manual": bitManual, "scheduled": bitScheduled,
}

func jobBit(j *job) statusBit {
	if j.allowFailure {
		// Gitlab::Ci::Status::Composite: allowed failures warn, allowed
		// cancels and optional manual jobs are ignored.
		switch j.status {
		case "failed":
			return bitSuccessWithWarnings
		case "canceled", "manual":
			return bitIgnored
		}
	}
	if b, ok := statusBits[j.status]; ok {
		return b
	}
	return bitRunning
}

// compositeStatus derives a pipeline's status from its latest jobs the way
// Gitlab::Ci::Status::Composite does (without DAG and stage details; the
// canceling and waiting_for_callback branches follow newer releases). An
// empty pipeline stays "created".
func compositeStatus(jobs []*job) string {
	var set statusBit
	for _, j := range jobs {
		if !j.retried {
			set |= jobBit(j)
		}
	}
	only := func(allowed statusBit) bool { return set&^allowed == 0 }
	anyOf := func(b statusBit) bool { return set&b != 0 }
	switch {
	case set == 0:
		return "created"
	case only(bitSkipped | bitIgnored):
		return "skipped"
	case only(bitSuccess | bitSkipped | bitSuccessWithWarnings | bitIgnored):
		return "success"
	case only(bitCreated | bitSuccessWithWarnings | bitIgnored):
		return "created"
	case only(bitPreparing | bitSuccessWithWarnings | bitIgnored):
		return "preparing"
	case only(bitCanceled | bitSuccess | bitSkipped | bitSuccessWithWarnings | bitIgnored):
		return "canceled"
	case only(bitPending | bitCreated | bitSkipped | bitSuccessWithWarnings | bitIgnored):
		return "pending"
	case anyOf(bitRunning | bitPending):
		return "running"
	case anyOf(bitCanceling):
		return "canceling"
	case anyOf(bitWaitingForResource):
		return "waiting_for_resource"
	case anyOf(bitWaitingForCallback):
		return "waiting_for_callback"
	case anyOf(bitManual):
		return "manual"
	case anyOf(bitScheduled):
		return "scheduled"
	case anyOf(bitPreparing):
		return "preparing"
	case anyOf(bitCreated):
		return "running"
	}
	return "failed"
}

// updatePipeline recomputes p's status after one of its jobs moved, keeps
// its timestamps and passes the result up to the bridge that triggered it.
func (m *model) updatePipeline(p *pipeline, now stamp) {
	st := compositeStatus(p.jobs)
	if st != p.status {
		if st == "running" && !p.startedAt.valid() {
			p.startedAt = now
		}
		switch st {
		case "success", "failed", "canceled":
			p.finishedAt = now
		default:
			p.finishedAt = 0
		}
		p.status = st
		p.updatedAt = now
		p.project.lastActivity = now
		m.pipelineChanged(p, now)
	}
	if p.upstream != nil {
		m.inheritFromDownstream(p.upstream, p, now)
	}
}

// inheritFromDownstream makes a bridge follow its child pipeline (trigger
// strategy: depend), like Ci::Bridge#inherit_status_from_downstream!: a
// finished bridge never changes again; an active child keeps it running.
func (m *model) inheritFromDownstream(b *job, child *pipeline, now stamp) {
	if b.retried || completed(b.status) {
		return
	}
	switch child.status {
	case "created":
		return
	case "success":
		b.status = "success"
		b.finishedAt = now
	case "canceled":
		b.status = "canceled"
		b.finishedAt = now
	case "failed", "skipped":
		b.status = "failed"
		b.failureReason = "unknown_failure" // drop! without a reason
		b.finishedAt = now
	default:
		if b.status == "running" {
			return
		}
		b.status = "running"
		if !b.queuedAt.valid() {
			b.queuedAt = now
		}
		b.startedAt = now
	}
	m.jobChanged(b, now)
	m.updatePipeline(b.pipeline, now)
}
