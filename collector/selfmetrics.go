package collector

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
)

// SelfMetrics holds the exporter's metrics about itself: what it asks of
// GitLab, and how each project's polls go. It implements gitlabapi.Observer
// and the poll half of the scraper's Recorder.
type SelfMetrics struct {
	apiRequests *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec
	polls       *prometheus.CounterVec
	pollReqs    *prometheus.CounterVec
	pollErrors  *prometheus.CounterVec
	pollTime    prometheus.Histogram
	projectUp   *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	projects    prometheus.Gauge
	groupUp     *prometheus.GaugeVec
	groupErrors *prometheus.CounterVec
	stateErrors *prometheus.CounterVec

	webhookDeliveries *prometheus.CounterVec
	webhookPolls      prometheus.Counter
	webhookPollReqs   prometheus.Counter
	webhookPollErrors *prometheus.CounterVec
	webhookForwards   *prometheus.CounterVec
	webhookLatency    prometheus.Histogram

	rateLimitDesc *prometheus.Desc
	mu            sync.Mutex
	rateLimit     float64 // NaN until GitLab sent a RateLimit-Remaining header
}

// NewSelfMetrics builds the self-metrics.
func NewSelfMetrics() *SelfMetrics {
	const ns = "gitlab_jobs_exporter_"
	return &SelfMetrics{
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "webhook_deliveries_total",
			Help: "GitLab webhook deliveries to POST /webhook by event (job, pipeline, other) and result (accepted, ignored, forwarded, unauthorized, bad_request, too_large).",
		}, []string{"event", "result"}),
		webhookPolls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: ns + "webhook_polls_total",
			Help: "Polls that served webhook deliveries alone, without walking the job list (not in polls_total, which counts the scheduled polls).",
		}),
		webhookPollReqs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: ns + "webhook_poll_requests_total",
			Help: "GitLab API requests made by the polls that served webhook deliveries, retries included.",
		}),
		webhookPollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "webhook_poll_errors_total",
			Help: fmt.Sprintf("Failed polls that served webhook deliveries, by reason (as poll_errors_total); their hints are tried again %s later and by the next scheduled poll.", event.HintRetry),
		}, []string{"reason"}),
		webhookForwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "webhook_forwards_total",
			Help: "Webhook deliveries about another shard's projects passed on to it, by the shard that owns the project and result (ok, failed: no 2xx answer, dropped: too many waiting); never retried, the owner's scheduled poll repairs.",
		}, []string{"owner_shard", "result"}),
		webhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    ns + "webhook_delivery_to_count_seconds",
			Help:    "Time from a delivery saying a job finished to the job being counted.",
			Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 600},
		}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "api_requests_total",
			Help: "HTTP requests to the GitLab API by route template and status code (0: no response), retries included.",
		}, []string{"endpoint", "code"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    ns + "api_request_duration_seconds",
			Help:    "Duration of HTTP requests to the GitLab API by route template.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "polls_total",
			Help: "Scheduled polls of each project, successful or not.",
		}, []string{"project"}),
		pollReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "poll_requests_total",
			Help: "GitLab API requests made by the scheduled polls of each project, retries included.",
		}, []string{"project"}),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "poll_errors_total",
			Help: "Failed scheduled polls by project and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).",
		}, []string{"project", "reason"}),
		pollTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    ns + "poll_duration_seconds",
			Help:    "Duration of one scheduled poll of one project.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		projectUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ns + "project_up",
			Help: "1 if the last scheduled poll of the project succeeded, else 0.",
		}, []string{"project"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ns + "project_last_success_timestamp_seconds",
			Help: "Time of the last successful scheduled poll of the project.",
		}, []string{"project"}),
		projects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: ns + "projects",
			Help: "Projects being polled: those this shard owns (all of them unless sharded).",
		}),
		groupUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ns + "group_up",
			Help: "1 if the last listing of the configured group's projects succeeded, else 0.",
		}, []string{"group"}),
		groupErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "group_errors_total",
			Help: "Failed listings of a configured group's projects by group and reason (not_found, unauthorized, forbidden, rate_limited, server_error, timeout, decode, other).",
		}, []string{"group", "reason"}),
		stateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ns + "state_errors_total",
			Help: "Failures to load (a corrupt or incompatible state file: the project started fresh) or save the scraper's state.",
		}, []string{"op"}),
		rateLimitDesc: prometheus.NewDesc(ns+"rate_limit_remaining",
			"Requests left in GitLab's rate-limit window, from the last RateLimit-Remaining header seen.", nil, nil),
		rateLimit: math.NaN(),
	}
}

// ObserveRequest implements gitlabapi.Observer.
func (e *SelfMetrics) ObserveRequest(endpoint string, code int, d time.Duration) {
	e.apiRequests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	e.apiDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// ObserveRateLimitRemaining implements gitlabapi.Observer.
func (e *SelfMetrics) ObserveRateLimitRemaining(remaining float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rateLimit = remaining
}

// PollFinished records one poll's outcome and cost. Only scheduled polls
// say whether a project is up: a poll serving webhook deliveries reads
// what they named, not the job list, and must not hide a project whose
// scheduled polls fail.
func (e *SelfMetrics) PollFinished(p event.Project, r event.PollResult) {
	for _, d := range r.HintLatencies {
		e.webhookLatency.Observe(d.Seconds())
	}
	if r.Hinted {
		e.webhookPolls.Inc()
		e.webhookPollReqs.Add(float64(r.Requests))
		if r.Reason != "" {
			e.webhookPollErrors.WithLabelValues(r.Reason).Inc()
		}
		return
	}
	e.polls.WithLabelValues(p.Path).Inc()
	e.pollReqs.WithLabelValues(p.Path).Add(float64(r.Requests))
	e.pollTime.Observe(r.Duration.Seconds())
	if r.Reason != "" {
		e.pollErrors.WithLabelValues(p.Path, r.Reason).Inc()
		e.projectUp.WithLabelValues(p.Path).Set(0)
		return
	}
	e.projectUp.WithLabelValues(p.Path).Set(1)
	e.lastSuccess.WithLabelValues(p.Path).Set(float64(r.Time.UnixMilli()) / 1000)
}

// WebhookForward counts a delivery passed on to the shard that owns its
// project (webhook.ForwardObserver).
func (e *SelfMetrics) WebhookForward(owner int, result string) {
	e.webhookForwards.WithLabelValues(strconv.Itoa(owner), result).Inc()
}

// WebhookDelivery counts a webhook delivery (webhook.Observer).
func (e *SelfMetrics) WebhookDelivery(event, result string) {
	e.webhookDeliveries.WithLabelValues(event, result).Inc()
}

// ProjectUnresolved shows a configured project that discovery could not
// resolve as down, under its configured name.
func (e *SelfMetrics) ProjectUnresolved(ref, reason string) {
	e.pollErrors.WithLabelValues(ref, reason).Inc()
	e.projectUp.WithLabelValues(ref).Set(0)
}

// GroupListed records one listing of a configured group.
func (e *SelfMetrics) GroupListed(group, reason string) {
	if reason != "" {
		e.groupErrors.WithLabelValues(group, reason).Inc()
		e.groupUp.WithLabelValues(group).Set(0)
		return
	}
	e.groupUp.WithLabelValues(group).Set(1)
}

// GroupRemoved drops the group's series.
func (e *SelfMetrics) GroupRemoved(group string) {
	match := prometheus.Labels{"group": group}
	e.groupUp.DeletePartialMatch(match)
	e.groupErrors.DeletePartialMatch(match)
}

// ProjectsPolled sets the number of projects polled.
func (e *SelfMetrics) ProjectsPolled(n int) { e.projects.Set(float64(n)) }

// StateFailed counts a failure to load or save the scraper's state.
func (e *SelfMetrics) StateFailed(op string) { e.stateErrors.WithLabelValues(op).Inc() }

// ProjectRemoved drops the project's series.
func (e *SelfMetrics) ProjectRemoved(path string) {
	match := prometheus.Labels{"project": path}
	e.polls.DeletePartialMatch(match)
	e.pollReqs.DeletePartialMatch(match)
	e.pollErrors.DeletePartialMatch(match)
	e.projectUp.DeletePartialMatch(match)
	e.lastSuccess.DeletePartialMatch(match)
}

func (e *SelfMetrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{e.apiRequests, e.apiDuration, e.polls, e.pollReqs, e.pollErrors,
		e.pollTime, e.projectUp, e.lastSuccess, e.projects, e.groupUp, e.groupErrors, e.stateErrors,
		e.webhookDeliveries, e.webhookPolls, e.webhookPollReqs, e.webhookPollErrors, e.webhookForwards, e.webhookLatency}
}

// Describe implements prometheus.Collector.
func (e *SelfMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range e.vecs() {
		c.Describe(ch)
	}
	ch <- e.rateLimitDesc
}

// Collect implements prometheus.Collector.
func (e *SelfMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range e.vecs() {
		c.Collect(ch)
	}
	e.mu.Lock()
	remaining := e.rateLimit
	e.mu.Unlock()
	if !math.IsNaN(remaining) {
		ch <- prometheus.MustNewConstMetric(e.rateLimitDesc, prometheus.GaugeValue, remaining)
	}
}
