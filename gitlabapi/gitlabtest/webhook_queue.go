package gitlabtest

import (
	"container/heap"
	"time"
)

// delivery is a queued event: its body, rendered when the status changed,
// and when it may go out.
type delivery struct {
	rec   *WebhookDelivery
	body  []byte
	ready time.Time // generated + delay
	due   time.Time // ready, or later while held back
	index int       // in deliveryQueue
}

// deliveryQueue is a min-heap on (due, Seq): equal times go out in the
// order the events happened.
type deliveryQueue []*delivery

func (q deliveryQueue) Len() int { return len(q) }
func (q deliveryQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].rec.Seq < q[j].rec.Seq
}
func (q deliveryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *deliveryQueue) Push(x any) {
	d := x.(*delivery)
	d.index = len(*q)
	*q = append(*q, d)
}
func (q *deliveryQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return d
}

// hookEvent is one status change, as every webhook sees it.
type hookEvent struct {
	event                        string // JobHookEvent or PipelineHookEvent
	seq                          uint64 // server-wide
	uuid                         string
	jobID, pipelineID, projectID int64
	status                       string
	at                           stamp
}

// accept records ev, draws its faults and queues it. It runs under
// Server.mu and never blocks: a full queue drops the event. body renders
// the payload in the chosen form.
func (w *Webhook) accept(ev hookEvent, body func(utc bool) []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.notifyLocked()
	// Every event draws the same numbers whatever the options, so that
	// changing one fault leaves the others' choices alone.
	r := w.rng
	lossX, dupX, tokenX, holdX, jitterX, formX := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64()
	utc := w.opt.Timestamps == TimestampsUTC || (w.opt.Timestamps == TimestampsMixed && formX < 0.5)
	w.seq++
	rec := &WebhookDelivery{
		Seq: w.seq, Event: ev.event, JobID: ev.jobID, PipelineID: ev.pipelineID, ProjectID: ev.projectID,
		Status: ev.status, Time: ev.at.time(), Timestamps: TimestampsISO, EventUUID: ev.uuid,
		IdempotencyKey: derivedUUID(uuidIdempotency, w.index, uint64(w.opt.Seed), ev.seq),
	}
	if utc {
		rec.Timestamps = TimestampsUTC
	}
	w.log.add(rec)
	st := &w.log.stats
	f := w.opt.Faults
	switch {
	case w.closed:
		rec.State = DeliveryCanceled
		st.Canceled++
		return
	case lossX < f.Loss:
		rec.State = DeliveryLost
		st.Lost++
		return
	case len(w.queue) >= w.opt.QueueSize:
		rec.State = DeliveryDropped
		st.Dropped++
		return
	}
	rec.Duplicated = dupX < f.Duplicate
	rec.WrongToken = tokenX < f.WrongToken
	rec.Held = holdX < f.Reorder
	rec.Delay = f.Delay + time.Duration(jitterX*float64(f.Jitter))
	count := func(on bool, n *int) {
		if on {
			*n++
		}
	}
	count(rec.Duplicated, &st.Duplicated)
	count(rec.WrongToken, &st.WrongToken)
	count(rec.Held, &st.Held)
	count(rec.Delay > 0, &st.Delayed)
	d := &delivery{rec: rec, body: body(utc), ready: w.now().Add(rec.Delay)}
	d.due = d.ready
	if rec.Held {
		d.due = d.ready.Add(f.MaxHold)
		w.held = append(w.held, d)
	}
	heap.Push(&w.queue, d)
	st.Queued++
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// takeLocked removes the next delivery due by now, or tells how long until
// one is (negative: none queued). Taking a delivery releases the held ones
// it overtakes: they are due now (or when their delay ends), after it.
func (w *Webhook) takeLocked(now time.Time) (*delivery, time.Duration) {
	if len(w.queue) == 0 {
		return nil, -1
	}
	d := w.queue[0]
	if d.due.After(now) {
		return nil, d.due.Sub(now)
	}
	heap.Pop(&w.queue)
	w.sending = true
	if d.rec.Seq < w.maxSentSeq {
		d.rec.Reordered = true
		w.log.stats.Reordered++
	}
	w.maxSentSeq = max(w.maxSentSeq, d.rec.Seq)
	kept := w.held[:0]
	for _, h := range w.held {
		switch {
		case h == d:
		case h.rec.Seq < d.rec.Seq:
			h.due = h.ready
			if h.due.Before(now) {
				h.due = now
			}
			heap.Fix(&w.queue, h.index)
		default:
			kept = append(kept, h)
		}
	}
	clear(w.held[len(kept):])
	w.held = kept
	return d, 0
}

// closeLocked cancels what is still queued; later events are canceled as
// they come.
func (w *Webhook) closeLocked() {
	w.closed = true
	for _, d := range w.queue {
		d.rec.State = DeliveryCanceled
		w.log.stats.Canceled++
		w.log.stats.Queued--
	}
	w.queue, w.held = nil, nil
	w.notifyLocked()
}
