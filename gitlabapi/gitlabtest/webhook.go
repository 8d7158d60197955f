package gitlabtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// WebhookOptions configures AddWebhook. Zero values take the defaults noted.
type WebhookOptions struct {
	URL string // where deliveries are POSTed; required
	// SecretToken is sent as X-Gitlab-Token; "" sends no such header.
	SecretToken string
	// JobEvents and PipelineEvents pick the hooks, like GitLab's hook
	// settings; when both are false, both are sent.
	JobEvents, PipelineEvents bool
	Timestamps                TimestampForm
	Faults                    WebhookFaults
	// Seed drives the faults, the mixed timestamp form, the webhook's UUID
	// and its idempotency keys: the same seed and history give the same
	// deliveries.
	Seed int64
	// Manual holds deliveries until Flush, with delays measured on the
	// Server's Clock, so a simulation on a ManualClock delivers
	// deterministically. Otherwise a goroutine sends them in real time.
	Manual bool
	// QueueSize bounds the deliveries waiting to be sent (default 10000);
	// beyond it events are dropped and counted, never blocking the model.
	QueueSize int
	// Timeout bounds each request (default 10s, GitLab's default webhook
	// timeout). GitLab does not retry a failed delivery by itself here.
	Timeout time.Duration
	// RecordLimit caps the records Deliveries keeps, dropping the oldest
	// (0 = all); WebhookStats keeps counting. For long runs.
	RecordLimit int
}

// WebhookFaults make deliveries misbehave. Shares are in [0, 1].
type WebhookFaults struct {
	Loss float64 // share of events never delivered
	// Duplicate is the share delivered twice with the same
	// X-Gitlab-Event-UUID and Idempotency-Key, as GitLab's retries are.
	Duplicate  float64
	WrongToken float64       // share sent with a wrong X-Gitlab-Token (1 = all)
	Delay      time.Duration // every delivery waits this long
	Jitter     time.Duration // and a uniform random time below this
	// Reorder is the share held back until a delivery of a later event
	// has been sent, or MaxHold has passed (default 10s).
	Reorder float64
	MaxHold time.Duration
}

// Event header values (X-Gitlab-Event).
const (
	JobHookEvent      = "Job Hook"
	PipelineHookEvent = "Pipeline Hook"
)

const (
	defaultQueueSize   = 10_000
	defaultHookTimeout = 10 * time.Second
	defaultMaxHold     = 10 * time.Second
)

// ErrClosed is returned by Flush once the Server is closed.
var ErrClosed = errors.New("gitlabtest: server closed")

// Webhook delivers the Server's Job and Pipeline Hooks to one URL. Its
// record tells what was generated and what became of each event.
type Webhook struct {
	s      *Server
	opt    WebhookOptions
	index  uint64
	uuid   string
	client *http.Client

	mu         sync.Mutex
	rng        *rand.Rand
	queue      deliveryQueue
	held       []*delivery // queued by the reorder fault, waiting to be overtaken
	seq        uint64
	maxSentSeq uint64
	sending    bool // a delivery is on its way (outside mu)
	closed     bool
	log        deliveryLog
	changed    chan struct{} // closed and replaced whenever the record changes

	flushMu sync.Mutex    // one Flush at a time keeps deliveries in order
	wake    chan struct{} // real time: a delivery was queued
	done    chan struct{} // real time: closed when the sender has stopped
}

// AddWebhook registers a webhook; deliveries start with the next status
// change. In real-time mode its sender runs until the Server is closed.
func (s *Server) AddWebhook(opt WebhookOptions) (*Webhook, error) {
	if err := validateWebhook(&opt); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	index := uint64(len(s.webhooks)) + 1
	w := &Webhook{
		s: s, opt: opt, index: index,
		uuid:    derivedUUID(uuidWebhook, index, uint64(opt.Seed)),
		rng:     rand.New(rand.NewPCG(uint64(opt.Seed), index^0x5851f42d4c957f2d)),
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		client:  &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
	w.log.limit = opt.RecordLimit
	w.closed = s.hookCtx.Err() != nil
	s.webhooks = append(s.webhooks, w)
	if opt.Manual || w.closed {
		close(w.done)
		return w, nil
	}
	s.hookWG.Add(1)
	go func() {
		defer s.hookWG.Done()
		w.run(s.hookCtx)
	}()
	return w, nil
}

func validateWebhook(o *WebhookOptions) error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("gitlabtest: webhook URL %q is not an http(s) URL", o.URL)
	}
	f := &o.Faults
	for name, share := range map[string]float64{
		"Loss": f.Loss, "Duplicate": f.Duplicate, "WrongToken": f.WrongToken, "Reorder": f.Reorder,
	} {
		if !(share >= 0 && share <= 1) {
			return fmt.Errorf("gitlabtest: webhook fault %s = %g, want a share in [0, 1]", name, share)
		}
	}
	if f.Delay < 0 || f.Jitter < 0 || f.MaxHold < 0 || o.Timeout < 0 || o.QueueSize < 0 || o.RecordLimit < 0 {
		return errors.New("gitlabtest: webhook durations and sizes must not be negative")
	}
	if o.Timestamps < TimestampsISO || o.Timestamps > TimestampsMixed {
		return fmt.Errorf("gitlabtest: unknown webhook timestamp form %d", o.Timestamps)
	}
	if !o.JobEvents && !o.PipelineEvents {
		o.JobEvents, o.PipelineEvents = true, true
	}
	if o.QueueSize == 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.Timeout == 0 {
		o.Timeout = defaultHookTimeout
	}
	if f.MaxHold == 0 {
		f.MaxHold = defaultMaxHold
	}
	return nil
}

// UUID is the webhook's X-Gitlab-Webhook-UUID.
func (w *Webhook) UUID() string { return w.uuid }

func (w *Webhook) wants(event string) bool {
	if event == JobHookEvent {
		return w.opt.JobEvents
	}
	return w.opt.PipelineEvents
}

// now is the time delays are measured on: the fake's clock for manual
// delivery, real time otherwise.
func (w *Webhook) now() time.Time {
	if w.opt.Manual {
		return w.s.clock.Now()
	}
	return time.Now()
}
