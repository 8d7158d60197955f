// Package logging builds the exporter's go-kit logger from the --log.level
// and --log.format flags, and the slog logger exporter-toolkit wants, both
// writing lines of one shape.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// Levels and Formats are the accepted flag values.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"logfmt", "json"}
)

// New returns the exporter's logger, and an slog.Logger for libraries that
// log with slog (exporter-toolkit). Both write to w, dropping lines below
// lvl, in one shape: level, ts, caller (the logging call site), msg, then
// the line's own keys.
func New(w io.Writer, lvl, format string) (log.Logger, *slog.Logger, error) {
	var lines log.Logger
	switch format {
	case "logfmt":
		lines = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		lines = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, nil, fmt.Errorf("unknown log format %q (want one of %v)", format, Formats)
	}
	var opt level.Option
	var slogLevel slog.Level
	switch lvl {
	case "debug":
		opt, slogLevel = level.AllowDebug(), slog.LevelDebug
	case "info":
		opt, slogLevel = level.AllowInfo(), slog.LevelInfo
	case "warn":
		opt, slogLevel = level.AllowWarn(), slog.LevelWarn
	case "error":
		opt, slogLevel = level.AllowError(), slog.LevelError
	default:
		return nil, nil, fmt.Errorf("unknown log level %q (want one of %v)", lvl, Levels)
	}
	lines = level.NewFilter(lines, opt)
	// slog records carry their own time and call site: binding ts and
	// caller below the slog bridge would print both twice, the caller
	// being the bridge's.
	kit := log.With(lines, tsKey, log.DefaultTimestampUTC, callerKey, log.DefaultCaller)
	return kit, slog.New(sloggokit.NewGoKitHandler(slogLines{lines}, slogLevel)), nil
}
