package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// ForwardedHeader marks a delivery that one shard passed on to another,
// with the index of the shard that passed it on. A delivery carrying it is
// never passed on again: it travels at most one hop.
const ForwardedHeader = "X-Gitlab-Jobs-Exporter-Forwarded-By"

// Results of passing a delivery on, the result label of the forwards
// counter.
const (
	ForwardOK      = "ok"      // the owner answered 2xx
	ForwardFailed  = "failed"  // no answer, or not 2xx, or the owner failed within 10 s; never retried
	ForwardDropped = "dropped" // too much was waiting to be passed on
)

// ForwardObserver counts deliveries passed on, by the owner's index and
// the result.
type ForwardObserver interface {
	WebhookForward(owner int, result string)
}

// Forwarder passes deliveries about projects another shard owns to that
// shard, in the background: at most once (never retried, never passed on
// again), within a bound on the bytes waiting. A delivery that does not
// arrive costs nothing but time: the owner's scheduled poll counts
// whatever it announced.
type Forwarder struct {
	self   shard.Shard
	client *http.Client
	obs    ForwardObserver
	logger log.Logger
	// urlFor is the owner's URL; nil: deliveries are not passed on.
	urlFor atomic.Pointer[func(owner int) string]

	queue    chan *forward
	queued   atomic.Int64 // bytes of the bodies in queue
	maxBytes int64

	// failedAt is when passing on to each owner last failed: for
	// forwardPause after, its deliveries fail at once, so that an owner
	// that does not answer cannot hold the workers the others need.
	mu       sync.Mutex
	failedAt map[int]time.Time
}

type forward struct {
	owner  int
	header http.Header
	body   []byte
}

const (
	// forwardQueueBytes bounds the bodies waiting to be passed on, so that
	// an unreachable owner cannot make memory grow: a burst of ordinary
	// deliveries is a few KiB each.
	forwardQueueBytes = 32 << 20
	forwardQueueLen   = 4096
	forwardWorkers    = 4
	// forwardTimeout is a request's whole time: the owner answers at once
	// (its work happens after the answer).
	forwardTimeout = 5 * time.Second
	forwardPause   = 10 * time.Second
)

// NewForwarder returns a forwarder for shard self; client nil is a client
// of its own. Run sends what it queues.
func NewForwarder(self shard.Shard, client *http.Client, obs ForwardObserver, logger log.Logger) *Forwarder {
	if client == nil {
		client = newForwardClient()
	}
	return &Forwarder{self: self, client: client, obs: obs, logger: logger,
		queue: make(chan *forward, forwardQueueLen), maxBytes: forwardQueueBytes, failedAt: map[int]time.Time{}}
}

// newForwardClient reaches the shards directly: never through the proxy
// the environment may set for reaching GitLab (it would see the token),
// and never following a redirect elsewhere.
func newForwardClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return &http.Client{
		Transport:     t,
		Timeout:       forwardTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SetURL sets where the owner of a project is reached (config
// webhook.forward_url); nil stops passing deliveries on.
func (f *Forwarder) SetURL(urlFor func(owner int) string) {
	if urlFor == nil {
		f.urlFor.Store(nil)
		return
	}
	f.urlFor.Store(&urlFor)
}

// owns reports whether this shard polls the project.
func (f *Forwarder) owns(projectID int64) bool { return f.self.Owns(projectID) }

// ownerOf is the shard that polls the project.
func (f *Forwarder) ownerOf(projectID int64) int { return shard.Of(projectID, f.self.Total) }

// enabled reports whether a forward URL is set.
func (f *Forwarder) enabled() bool { return f.urlFor.Load() != nil }

// enqueue queues a delivery for owner, or counts it dropped. The body is
// shared, read-only, between the owners of one delivery.
func (f *Forwarder) enqueue(owner int, header http.Header, body []byte) {
	if f.queued.Add(int64(len(body))) > f.maxBytes {
		f.queued.Add(-int64(len(body)))
		f.obs.WebhookForward(owner, ForwardDropped)
		return
	}
	select {
	case f.queue <- &forward{owner: owner, header: forwardedHeader(header, f.self.Index), body: body}:
	default:
		f.queued.Add(-int64(len(body)))
		f.obs.WebhookForward(owner, ForwardDropped)
	}
}

// forwardedHeader keeps what the owner's handler reads (GitLab's headers,
// the token, credentials for a web config's basic auth) and marks the
// delivery as passed on.
func forwardedHeader(in http.Header, self int) http.Header {
	out := http.Header{}
	for k, v := range in {
		if strings.HasPrefix(k, "X-Gitlab-") || k == "Authorization" || k == "Content-Type" {
			out[k] = v
		}
	}
	out.Set(ForwardedHeader, strconv.Itoa(self))
	return out
}

// Run passes queued deliveries on until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	done := make(chan struct{})
	for range forwardWorkers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case fw := <-f.queue:
					f.queued.Add(-int64(len(fw.body)))
					f.send(ctx, fw)
				}
			}
		}()
	}
	for range forwardWorkers {
		<-done
	}
}

func (f *Forwarder) send(ctx context.Context, fw *forward) {
	p := f.urlFor.Load()
	if p == nil {
		f.obs.WebhookForward(fw.owner, ForwardDropped)
		return
	}
	url := (*p)(fw.owner)
	if f.paused(fw.owner) {
		f.obs.WebhookForward(fw.owner, ForwardFailed)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(fw.body))
	if err != nil {
		f.failed(fw.owner, url, err.Error())
		return
	}
	req.Header = fw.header
	req.Header.Set("User-Agent", "gitlab_jobs_exporter")
	resp, err := f.client.Do(req)
	if err != nil {
		f.failed(fw.owner, url, err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		f.failed(fw.owner, url, resp.Status)
		return
	}
	f.obs.WebhookForward(fw.owner, ForwardOK)
}

// paused reports whether passing on to owner failed within forwardPause.
func (f *Forwarder) paused(owner int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.failedAt[owner]
	return ok && time.Since(at) < forwardPause
}

// failed counts and logs a delivery that did not reach its owner. The
// request's headers (the token) are never logged.
func (f *Forwarder) failed(owner int, url, why string) {
	f.mu.Lock()
	f.failedAt[owner] = time.Now()
	f.mu.Unlock()
	f.obs.WebhookForward(owner, ForwardFailed)
	_ = level.Debug(f.logger).Log("msg", "passing a webhook delivery on to its project's shard failed; its next scheduled poll counts what it announced",
		"shard", owner, "url", url, "err", why)
}
