package gitlabtest

import (
	"context"
	"slices"
	"time"
)

// DeliveryState is what became of an event's delivery.
type DeliveryState int

const (
	DeliveryQueued   DeliveryState = iota // waiting: delay, hold or Flush
	DeliverySent                          // its requests were made; Attempts has the answers
	DeliveryLost                          // the loss fault: never sent
	DeliveryDropped                       // the queue was full: never sent
	DeliveryCanceled                      // the Server closed before it was sent
)

func (s DeliveryState) String() string {
	return [...]string{"queued", "sent", "lost", "dropped", "canceled"}[s]
}

// WebhookDelivery is one event generated for a webhook and what became of
// it.
type WebhookDelivery struct {
	Seq        uint64 // 1, 2, ... in the order the webhook's events were generated
	Event      string // JobHookEvent or PipelineHookEvent
	JobID      int64  // Job Hooks only
	PipelineID int64
	ProjectID  int64
	Status     string        // build_status, or object_attributes.status
	Time       time.Time     // the fake's clock at the status change
	Timestamps TimestampForm // of this payload: TimestampsISO or TimestampsUTC

	EventUUID      string // X-Gitlab-Event-UUID, shared by every webhook
	IdempotencyKey string // Idempotency-Key, shared by the copies of a duplicate

	// The faults drawn for it.
	Duplicated, WrongToken, Held bool
	Delay                        time.Duration

	State DeliveryState
	// Reordered: its first request went out after a later event's.
	Reordered bool
	Attempts  []DeliveryAttempt
}

// DeliveryAttempt is one HTTP request of a delivery.
type DeliveryAttempt struct {
	SentAt     time.Time // the fake's clock
	StatusCode int       // 0 when no answer came
	Err        string    // e.g. a timeout or a refused connection
}

// WebhookStats counts a webhook's events and requests since it was added.
type WebhookStats struct {
	Events    int // generated
	Queued    int // waiting, or on their way, now
	Sent      int // events whose requests were made
	Requests  int // HTTP requests, both copies of duplicates included
	Succeeded int // requests answered 2xx
	Failed    int // requests answered otherwise, or not at all

	Lost, Dropped, Canceled                          int
	Duplicated, WrongToken, Delayed, Held, Reordered int
}

type deliveryLog struct {
	limit   int
	records []*WebhookDelivery
	stats   WebhookStats
}

func (l *deliveryLog) add(r *WebhookDelivery) {
	l.stats.Events++
	l.records = append(l.records, r)
	if l.limit > 0 && len(l.records) >= 2*l.limit {
		l.records = slices.Clone(l.records[len(l.records)-l.limit:])
	}
}

// Deliveries returns the record, oldest event first.
func (w *Webhook) Deliveries() []WebhookDelivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	recs := w.log.records
	if w.log.limit > 0 && len(recs) > w.log.limit {
		recs = recs[len(recs)-w.log.limit:]
	}
	out := make([]WebhookDelivery, len(recs))
	for i, r := range recs {
		out[i] = *r
		out[i].Attempts = slices.Clone(r.Attempts)
	}
	return out
}

// Stats returns the counters.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.stats
}

// Wait blocks until done holds for the counters or ctx ends, e.g.
// Wait(ctx, func(s WebhookStats) bool { return s.Queued == 0 }).
func (w *Webhook) Wait(ctx context.Context, done func(WebhookStats) bool) error {
	for {
		w.mu.Lock()
		st, changed := w.log.stats, w.changed
		w.mu.Unlock()
		if done(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// notifyLocked wakes Wait and Flush callers; call with w.mu held after
// changing the record.
func (w *Webhook) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}
