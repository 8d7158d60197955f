package app

import (
	"fmt"
	"io"
	"net/http"
	httppprof "net/http/pprof"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

// maxScrapesInFlight bounds concurrent scrapes: each gathers every series.
const maxScrapesInFlight = 10

// maxReloadBody bounds what a client may send to /-/reload; the body is
// ignored, but reading it lets keep-alive connections be reused.
const maxReloadBody = 4 << 10

// serverTimeouts bound how long a client may hold a connection, so that
// slow or stalled clients (slowloris) cannot exhaust the server.
type serverTimeouts struct {
	readHeader time.Duration // to send the request headers
	read       time.Duration // to send the whole request, body included
	write      time.Duration // to take the response; covers a large /metrics and a pprof profile
	idle       time.Duration // between requests on a keep-alive connection
}

var defaultServerTimeouts = serverTimeouts{
	readHeader: 10 * time.Second,
	read:       30 * time.Second,
	write:      2 * time.Minute,
	idle:       2 * time.Minute,
}

// maxHeaderBytes is far above what Prometheus or a browser sends, and far
// below net/http's 1 MiB default.
const maxHeaderBytes = 64 << 10

// NewHTTPServer returns the server for the exporter's handler, hardened
// against clients that send slowly, never finish or send huge headers. Serve
// it with exporter-toolkit's web.ListenAndServe for TLS and basic auth.
func NewHTTPServer(h http.Handler) *http.Server {
	return newHTTPServer(h, defaultServerTimeouts)
}

func newHTTPServer(h http.Handler, t serverTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// Handler returns the exporter's HTTP routes: the landing page, metrics,
// health, readiness and reload.
func (a *App) Handler(metricsPath string, pprof bool) (http.Handler, error) {
	mux := http.NewServeMux()
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	}
	mux.Handle(metricsPath, promhttp.InstrumentMetricHandler(a.Registry, promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{
		ErrorLog:            errorLogger{a},
		EnableOpenMetrics:   true,
		MaxRequestsInFlight: maxScrapesInFlight,
		Registry:            a.Registry, // promhttp_metric_handler_errors_total
	})))
	// GitLab's Job and Pipeline Hooks: 404 while webhook.enabled is off.
	mux.Handle("/webhook", a.webhook)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "Healthy\n")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.Ready() {
			http.Error(w, "Not ready: the first poll of every project has not finished\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "Ready\n")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Use POST or PUT to reload the configuration\n", http.StatusMethodNotAllowed)
			return
		}
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxReloadBody))
		if err := a.Reload(); err != nil {
			http.Error(w, "Reload failed; the previous configuration stays in use: "+err.Error()+"\n", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "Configuration reloaded\n")
	})
	if metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "GitLab Jobs Exporter",
			Description: "Prometheus exporter for GitLab CI jobs: durations, queue times, failures, artifacts, and what is pending or running now. Values come from background polling of the GitLab API.",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: metricsPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}

// errorLogger passes promhttp's errors to the application logger.
type errorLogger struct{ a *App }

func (e errorLogger) Println(v ...any) {
	_ = level.Error(e.a.logger).Log("msg", "serving metrics", "err", fmt.Sprint(v...))
}
