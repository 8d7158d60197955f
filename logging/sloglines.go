package logging

import (
	"log/slog"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

const (
	tsKey     = "ts"
	callerKey = "caller"
)

// slogLines gives the lines of slog-gokit's handler the shape of the
// exporter's own: the handler passes level, caller and time (slog's key)
// ahead of msg; they go out as level, ts (formatted as
// log.DefaultTimestampUTC formats it) and caller.
type slogLines struct{ next log.Logger }

func (s slogLines) Log(keyvals ...any) error {
	var lvl, caller, ts any
	var others []any // pairs ahead of msg the handler may add one day
	rest := 0
	for ; rest+1 < len(keyvals) && keyvals[rest] != slog.MessageKey; rest += 2 {
		switch v := keyvals[rest+1]; keyvals[rest] {
		case level.Key():
			lvl = v
		case callerKey:
			caller = v
		case slog.TimeKey:
			if t, ok := v.(time.Time); ok {
				ts = t.UTC().Format(time.RFC3339Nano)
				break
			}
			fallthrough
		default:
			others = append(others, keyvals[rest], v)
		}
	}
	if ts == nil {
		ts = time.Now().UTC().Format(time.RFC3339Nano)
	}
	out := make([]any, 0, 6+len(others)+len(keyvals)-rest)
	if lvl != nil {
		out = append(out, level.Key(), lvl)
	}
	out = append(out, tsKey, ts)
	if caller != nil {
		out = append(out, callerKey, caller)
	}
	out = append(out, others...)
	return s.next.Log(append(out, keyvals[rest:]...)...)
}
