//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// promAPI queries a Prometheus server's HTTP API.
type promAPI struct{ base string }

// sample is one series of a query result: an instant value, or every value
// of a range query.
type sample struct {
	Metric map[string]string
	Values []float64
}

// hasNumber reports whether any value is a number (not NaN): a query whose
// every value is NaN shows nothing on a dashboard.
func hasNumber(samples []sample) bool {
	for _, s := range samples {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				return true
			}
		}
	}
	return false
}

// query evaluates expr at now.
func (p promAPI) query(expr string) ([]sample, error) {
	return p.get("/api/v1/query", url.Values{"query": {expr}})
}

// queryRange evaluates expr over [from, to] every step.
func (p promAPI) queryRange(expr string, from, to time.Time, step time.Duration) ([]sample, error) {
	return p.get("/api/v1/query_range", url.Values{
		"query": {expr},
		"start": {strconv.FormatFloat(float64(from.UnixMilli())/1000, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(float64(to.UnixMilli())/1000, 'f', 3, 64)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', 3, 64)},
	})
}

func (p promAPI) get(path string, params url.Values) ([]sample, error) {
	resp, err := httpClient.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: decoding answer (HTTP %d): %w", path, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s %q: %s", path, params.Get("query"), r.Error)
	}
	return decodeResult(r.Data.ResultType, r.Data.Result)
}

// point is Prometheus' [unix time, "value"] pair.
type point [2]any

func (pt point) value() (float64, error) {
	s, ok := pt[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", pt[1])
	}
	return strconv.ParseFloat(s, 64) // also reads NaN, +Inf, -Inf
}

func decodeResult(typ string, raw json.RawMessage) ([]sample, error) {
	switch typ {
	case "scalar":
		var pt point
		if err := json.Unmarshal(raw, &pt); err != nil {
			return nil, err
		}
		v, err := pt.value()
		return []sample{{Values: []float64{v}}}, err
	case "vector":
		var series []struct {
			Metric map[string]string `json:"metric"`
			Value  point             `json:"value"`
		}
		if err := json.Unmarshal(raw, &series); err != nil {
			return nil, err
		}
		out := make([]sample, 0, len(series))
		for _, s := range series {
			v, err := s.Value.value()
			if err != nil {
				return nil, err
			}
			out = append(out, sample{Metric: s.Metric, Values: []float64{v}})
		}
		return out, nil
	case "matrix":
		var series []struct {
			Metric map[string]string `json:"metric"`
			Values []point           `json:"values"`
		}
		if err := json.Unmarshal(raw, &series); err != nil {
			return nil, err
		}
		out := make([]sample, 0, len(series))
		for _, s := range series {
			smp := sample{Metric: s.Metric}
			for _, pt := range s.Values {
				v, err := pt.value()
				if err != nil {
					return nil, err
				}
				smp.Values = append(smp.Values, v)
			}
			out = append(out, smp)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected result type %q", typ)
}

// byLabel maps label's value to each series' (last) value.
func byLabel(samples []sample, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range samples {
		if len(s.Values) > 0 {
			out[s.Metric[label]] = s.Values[len(s.Values)-1]
		}
	}
	return out
}

// notification is the part of Alertmanager's webhook payload the test reads.
type notification struct {
	Receiver string  `json:"receiver"`
	Status   string  `json:"status"`
	Alerts   []alert `json:"alerts"`
}

type alert struct {
	Status   string            `json:"status"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
}

// receivedAlert is one alert of a notification, stamped with its arrival.
type receivedAlert struct {
	alert
	At time.Time
}

// webhook records every alert Alertmanager delivers to it.
type webhook struct {
	mu     sync.Mutex
	alerts []receivedAlert
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var n notification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range n.Alerts {
		w.alerts = append(w.alerts, receivedAlert{alert: a, At: now})
	}
}

// find returns the first alert received that matches.
func (w *webhook) find(match func(receivedAlert) bool) (receivedAlert, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.alerts {
		if match(a) {
			return a, true
		}
	}
	return receivedAlert{}, false
}

func (w *webhook) all() []receivedAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]receivedAlert(nil), w.alerts...)
}

// waitAlert waits for an alert matching status and labels.
func (w *webhook) waitAlert(t *testing.T, timeout time.Duration, status string, labels map[string]string, watch ...*process) receivedAlert {
	t.Helper()
	match := func(a receivedAlert) bool {
		if a.Status != status {
			return false
		}
		for k, v := range labels {
			if a.Labels[k] != v {
				return false
			}
		}
		return true
	}
	var got receivedAlert
	waitFor(t, timeout, fmt.Sprintf("a %s notification for %v", status, labels), func() (bool, string) {
		var ok bool
		got, ok = w.find(match)
		return ok, fmt.Sprintf("received %d alerts", len(w.all()))
	}, watch...)
	return got
}
