// Package webhook receives GitLab's Job and Pipeline Hooks on POST /webhook
// and turns each delivery into a hint for the scraper: which project's poll
// to wake, and what that poll should fetch. A delivery is never data; what
// is counted comes from the API, so lost, duplicated, reordered, replayed
// or forged deliveries cannot change a count.
package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// MaxBody bounds a delivery. A Pipeline Hook lists the pipeline's jobs; one
// for a pipeline of 1,000 jobs is 0.5 MiB as the fake GitLab renders it
// (TestMaxBodyFitsABigPipeline), and real ones carry a little more per
// job (user and runner objects): 4 MiB holds it with room to spare.
const MaxBody = 4 << 20

// Results of a delivery, the result label of the deliveries counter.
const (
	Accepted     = "accepted"     // a hint for a polled project
	Ignored      = "ignored"      // authenticated and well-formed, but nothing to do: another event, or a project not polled
	Forwarded    = "forwarded"    // about a project another shard polls: passed on to it
	Unauthorized = "unauthorized" // X-Gitlab-Token missing or wrong
	BadRequest   = "bad_request"  // not POST, or the body is not a JSON object
	TooLarge     = "too_large"    // the body is over MaxBody
)

// Events, the event label: GitLab's X-Gitlab-Event without " Hook",
// lower-cased for the two that carry hints, else "other".
const (
	EventJob      = "job"
	EventPipeline = "pipeline"
	EventOther    = "other"
)

// Sink takes the hints; *scraper.Scraper is one. Neither method may block.
type Sink interface {
	Hint(h scraper.Hint) (polled bool)
	// Configured reports whether any shard polls the project.
	Configured(projectID int64) bool
}

// Observer counts deliveries by event and result.
type Observer interface {
	WebhookDelivery(event, result string)
}

// Handler serves POST /webhook.
type Handler struct {
	sink   Sink
	obs    Observer
	secret atomic.Pointer[[sha256.Size]byte] // nil: the webhook is off
	// forwarder, in a sharded exporter, passes deliveries about other
	// shards' projects on to them; nil when not sharded.
	forwarder *Forwarder
}

// SetForwarder makes a sharded exporter's handler keep only the hints of
// the projects its shard owns and pass the others' deliveries on with f.
// Call it before serving.
func (h *Handler) SetForwarder(f *Forwarder) { h.forwarder = f }

// NewHandler returns a handler that hands hints to sink. It answers 404
// until SetSecret turns it on.
func NewHandler(sink Sink, obs Observer) *Handler {
	return &Handler{sink: sink, obs: obs}
}

// SetSecret sets the secret token deliveries must carry; "" turns the
// webhook off. Only a digest is kept: comparing digests takes the same
// time whatever the token's length or content.
func (h *Handler) SetSecret(secret string) {
	if secret == "" {
		h.secret.Store(nil)
		return
	}
	sum := sha256.Sum256([]byte(secret))
	h.secret.Store(&sum)
}

// ServeHTTP answers at once: the work a delivery asks for happens in the
// project's poll, after the answer. GitLab disables webhooks that keep
// failing or time out.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secret := h.secret.Load()
	if secret == nil {
		http.NotFound(w, r)
		return
	}
	event := eventOf(r.Header.Get("X-Gitlab-Event"))
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, event, BadRequest, http.StatusMethodNotAllowed)
		return
	}
	token := sha256.Sum256([]byte(r.Header.Get("X-Gitlab-Token")))
	if subtle.ConstantTimeCompare(token[:], secret[:]) != 1 {
		// Closing the connection spares reading the unread body to keep
		// it alive: a flood of guesses costs a digest each, not a body.
		w.Header().Set("Connection", "close")
		h.answer(w, event, Unauthorized, http.StatusUnauthorized)
		return
	}
	if r.ContentLength > MaxBody {
		w.Header().Set("Connection", "close")
		h.answer(w, event, TooLarge, http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		w.Header().Set("Connection", "close")
		h.answer(w, event, TooLarge, http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		h.answer(w, event, BadRequest, http.StatusBadRequest)
		return
	}
	hints, kind, err := parse(body)
	if err != nil {
		h.answer(w, event, BadRequest, http.StatusBadRequest)
		return
	}
	if event == EventOther {
		event = kind // a delivery without the header (a replay by hand)
	}
	result := Ignored
	var owners []int // other shards the delivery concerns
	for _, hint := range hints {
		if f := h.forwarder; f != nil && !f.owns(hint.ProjectID) {
			if !h.sink.Configured(hint.ProjectID) {
				continue // no shard polls it
			}
			if owner := f.ownerOf(hint.ProjectID); !slices.Contains(owners, owner) {
				owners = append(owners, owner)
			}
			continue
		}
		if h.sink.Hint(hint) {
			result = Accepted
		}
	}
	// Passed on once: a delivery that was passed on already is not (a
	// receiver that counts shards differently, mid-reshard, ignores it).
	if len(owners) > 0 && h.forwarder.enabled() && r.Header.Get(ForwardedHeader) == "" {
		for _, owner := range owners {
			h.forwarder.enqueue(owner, r.Header, body)
		}
		if result == Ignored {
			result = Forwarded
		}
	}
	h.answer(w, event, result, http.StatusAccepted)
}

// answer writes the status with no detail: an unauthenticated caller
// learns nothing.
func (h *Handler) answer(w http.ResponseWriter, event, result string, code int) {
	h.obs.WebhookDelivery(event, result)
	w.WriteHeader(code)
}

func eventOf(header string) string {
	switch header {
	case "Job Hook":
		return EventJob
	case "Pipeline Hook":
		return EventPipeline
	}
	return EventOther
}
