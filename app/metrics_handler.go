package app

import (
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
)

const maxScrapesInFlight = 10

// metricsHandler serves /metrics. In the formats Prometheus asks for (text,
// OpenMetrics, delimited protobuf) collector.Metrics.Write writes the job
// histograms — nearly all the lines — straight from their series, and the
// rest of the registry with expfmt; other formats go through promhttp over
// the whole registry. At 2,000 projects that is the difference between
// 2.8 s and a fraction of it per scrape.
func (a *App) metricsHandler() http.Handler {
	opts := promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorLog: errorLogger{a}}
	fallback := promhttp.HandlerFor(a.Registry, opts)
	inFlight := make(chan struct{}, maxScrapesInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			// promhttp's answer, so clients see one behaviour whatever the format.
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", maxScrapesInFlight),
				http.StatusServiceUnavailable)
			return
		}
		format := expfmt.NegotiateIncludingOpenMetrics(r.Header)
		if !collector.Writes(format) {
			fallback.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", string(format))
		w.Header().Add("Vary", "Accept-Encoding")
		out := http.ResponseWriter(w)
		var gz *gzip.Writer
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			// BestSpeed: the exposition can be 100+ MB of text, and
			// compressing it harder costs seconds of CPU each scrape.
			gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
			out = gzipResponse{w, gz}
		}
		if err := a.metrics.Write(out, format, a.restRegistry); err != nil {
			_ = level.Error(a.logger).Log("msg", "serving metrics", "err", err)
			if gz == nil {
				// Without gzip the error is usually before the first byte
				// (gathering the registry); otherwise the body ends short,
				// which a scraper reports as a parse error.
				http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			}
			return
		}
		if gz != nil {
			_ = gz.Close()
		}
	})
}

type gzipResponse struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (g gzipResponse) Write(b []byte) (int, error) { return g.gz.Write(b) }

// acceptsGzip reads Accept-Encoding: gzip listed without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
