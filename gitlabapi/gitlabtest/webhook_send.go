package gitlabtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// wrongToken is what the wrong-token fault sends instead of the secret.
const wrongToken = "not-the-secret-token"

// run is the real-time sender: it posts deliveries as they come due, one
// at a time, until ctx (the Server) ends.
func (w *Webhook) run(ctx context.Context) {
	defer close(w.done)
	defer w.client.CloseIdleConnections()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		w.mu.Lock()
		d, wait := w.takeLocked(time.Now())
		w.mu.Unlock()
		if d != nil {
			w.deliver(ctx, d)
			continue
		}
		var due <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-due:
		}
		timer.Stop()
	}
}

// Flush sends, in manual mode, every delivery due on the Server's clock,
// in order, and returns how many requests it made. In real-time mode it
// waits until every delivery due by now has been sent. After Server.Close
// it returns ErrClosed.
func (w *Webhook) Flush(ctx context.Context) (int, error) {
	if !w.opt.Manual {
		return w.waitSent(ctx)
	}
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(w.s.hookCtx, cancel)
	defer stop()
	now := w.s.clock.Now()
	n := 0
	for {
		if w.s.hookCtx.Err() != nil {
			return n, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		w.mu.Lock()
		d, _ := w.takeLocked(now)
		w.mu.Unlock()
		if d == nil {
			return n, nil
		}
		n += w.deliver(ctx, d)
	}
}

// waitSent is Flush in real-time mode.
func (w *Webhook) waitSent(ctx context.Context) (int, error) {
	asOf := time.Now()
	w.mu.Lock()
	before := w.log.stats.Requests
	w.mu.Unlock()
	for {
		w.mu.Lock()
		idle := !w.sending && (len(w.queue) == 0 || w.queue[0].due.After(asOf))
		n, changed := w.log.stats.Requests-before, w.changed
		w.mu.Unlock()
		if idle {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-w.s.hookCtx.Done():
			return n, ErrClosed
		case <-changed:
		}
	}
}

// deliver makes d's requests (two for a duplicate) and records them; it
// returns how many it made.
func (w *Webhook) deliver(ctx context.Context, d *delivery) int {
	copies := 1
	if d.rec.Duplicated {
		copies = 2
	}
	made := 0
	for range copies {
		if ctx.Err() != nil {
			break
		}
		a := w.post(ctx, d)
		made++
		w.mu.Lock()
		d.rec.Attempts = append(d.rec.Attempts, a)
		st := &w.log.stats
		st.Requests++
		if a.StatusCode >= 200 && a.StatusCode < 300 {
			st.Succeeded++
		} else {
			st.Failed++
		}
		w.notifyLocked()
		w.mu.Unlock()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &w.log.stats
	st.Queued--
	if made > 0 {
		d.rec.State = DeliverySent
		st.Sent++
	} else {
		d.rec.State = DeliveryCanceled
		st.Canceled++
	}
	w.sending = false
	w.notifyLocked()
	return made
}

// post makes one request with GitLab's delivery headers
// (../shared/gitlab-api/README.md §6.3), written in GitLab's spelling.
func (w *Webhook) post(ctx context.Context, d *delivery) DeliveryAttempt {
	a := DeliveryAttempt{SentAt: w.s.clock.Now()}
	ctx, cancel := context.WithTimeout(ctx, w.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.opt.URL, bytes.NewReader(d.body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{"GitLab/" + w.s.version}
	h["Idempotency-Key"] = []string{d.rec.IdempotencyKey}
	h["X-Gitlab-Event"] = []string{d.rec.Event}
	h["X-Gitlab-Webhook-UUID"] = []string{w.uuid}
	h["X-Gitlab-Instance"] = []string{w.s.hookBase()}
	h["X-Gitlab-Event-UUID"] = []string{d.rec.EventUUID}
	switch {
	case d.rec.WrongToken:
		h["X-Gitlab-Token"] = []string{wrongToken}
	case w.opt.SecretToken != "":
		h["X-Gitlab-Token"] = []string{w.opt.SecretToken}
	}
	resp, err := w.client.Do(req)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	a.StatusCode = resp.StatusCode
	return a
}
