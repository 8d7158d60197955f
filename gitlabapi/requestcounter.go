package gitlabapi

import (
	"context"
	"sync/atomic"
)

type requestCounterKey struct{}

// WithRequestCounter returns a context under which every HTTP attempt the
// client makes (retries included) adds one to n. The scraper uses it to
// report what each project's poll cost.
func WithRequestCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, requestCounterKey{}, n)
}

func countRequest(ctx context.Context) {
	if n, ok := ctx.Value(requestCounterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
