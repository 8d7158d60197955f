package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web"
)

// shutdownTimeout bounds how long requests under way may take to finish
// once the exporter is told to stop.
const shutdownTimeout = 10 * time.Second

// Serve polls GitLab and serves handler until ctx ends or the server fails:
// with the hardened server of NewHTTPServer, through exporter-toolkit on
// the addresses, TLS and basic auth of webConfig (its --web.* flags),
// reloading the configuration on SIGHUP as on POST /-/reload. It returns
// once polling has stopped: nil after ctx ended, else the server's error.
// The exporter and the demo both run this way.
func (a *App) Serve(ctx context.Context, handler http.Handler, webConfig *web.FlagConfig, toolkitLogger *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	polling := make(chan struct{})
	go func() {
		defer close(polling)
		a.Run(pollCtx)
	}()

	server := NewHTTPServer(handler)
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(server, webConfig, toolkitLogger) }()

	var err error
loop:
	for {
		select {
		case <-hup:
			_ = a.Reload()
		case err = <-served:
			break loop
		case <-ctx.Done():
			_ = level.Info(a.logger).Log("msg", "shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			_ = server.Shutdown(shutdownCtx)
			cancel()
			break loop
		}
	}
	stopPolling()
	<-polling
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
