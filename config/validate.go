package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/baseurl"
)

// validate checks values that decoded fine but make no sense. Keys that
// failed to decode are skipped: they were already reported.
func (d *decoder) validate(c *Config) {
	d.validateGitLab(&c.GitLab)
	atLeast(d, "poll.interval", c.Poll.Interval, Duration(time.Second))
	atLeast(d, "poll.initial_lookback", c.Poll.InitialLookback, 0)
	atLeast(d, "poll.parked_recheck_interval", c.Poll.ParkedRecheckInterval, Duration(time.Second))
	atLeast(d, "poll.retry_window", c.Poll.RetryWindow, Duration(time.Second))
	d.validateParkedMaxAge(c.Poll)
	atLeast(d, "discovery.interval", c.Discovery.Interval, Duration(time.Second))
	d.validateProjects(c.Projects)
	d.validateGroups(c.Groups)
	if len(c.Projects) == 0 && len(c.Groups) == 0 && !d.skip("projects") && !d.skip("groups") {
		d.addAt("projects", "no projects or groups configured: list at least one entry under projects or groups")
	}
	d.validateMetrics(&c.Metrics)
	d.validateWebhook(&c.Webhook)
}

func (d *decoder) validateGitLab(g *GitLab) {
	d.validateURL(g)
	if !d.skip("gitlab.auth_mode") && g.AuthMode != AuthPrivateToken && g.AuthMode != AuthBearer {
		d.addAt("gitlab.auth_mode", fmt.Sprintf("unknown auth_mode %q: want %q or %q", g.AuthMode, AuthPrivateToken, AuthBearer))
	}
	switch r := g.RequestsPerSecond; {
	case d.skip("gitlab.requests_per_second"):
	case math.IsInf(r, 0) || math.IsNaN(r):
		d.addAt("gitlab.requests_per_second", "want a finite number, got "+d.describe("gitlab.requests_per_second", r))
	case r <= 0:
		d.addAt("gitlab.requests_per_second", fmt.Sprintf("must be greater than 0, got %v", r))
	}
	// A burst or concurrency of 0 would block every request forever.
	atLeast(d, "gitlab.burst", g.Burst, 1)
	atLeast(d, "gitlab.max_concurrent_requests", g.MaxConcurrentRequests, 1)
	atLeast(d, "gitlab.max_retries", g.MaxRetries, 0)
	atLeast(d, "gitlab.timeout", g.Timeout, Duration(time.Millisecond))
	if d.strict("gitlab.insecure_skip_verify", "!!bool", "true or false") && g.InsecureSkipVerify {
		d.warn("gitlab.insecure_skip_verify", "TLS certificate verification is disabled")
	}
}

func (d *decoder) validateURL(g *GitLab) {
	const key = "gitlab.url"
	if d.skip(key) {
		return
	}
	if g.URL == "" {
		d.addAt(key, `required: the base URL of the GitLab instance, e.g. "https://gitlab.com"`)
		return
	}
	// The client's rule, so that a URL the config accepts is one the
	// client accepts; it never echoes a URL carrying credentials.
	canonical, err := baseurl.Canonical(g.URL)
	if err != nil {
		d.addAt(key, err.Error())
		return
	}
	if strings.HasPrefix(canonical, "http:") {
		d.warn(key, "plain http sends the token unencrypted")
	}
	g.URL = canonical
}

// validateParkedMaxAge wants the age at least one recheck interval: a
// manual job dropped before its first recheck could never be seen played.
func (d *decoder) validateParkedMaxAge(p Poll) {
	const key = "poll.parked_max_age"
	if d.skip(key) || d.skip("poll.parked_recheck_interval") {
		return
	}
	if p.ParkedMaxAge < p.ParkedRecheckInterval {
		d.addAt(key, fmt.Sprintf("must be at least poll.parked_recheck_interval (%s), got %s", p.ParkedRecheckInterval, p.ParkedMaxAge))
	}
}

// atLeast wants v at least lowest ("not negative" for 0), and an int
// written as an integer.
func atLeast[T int | Duration](d *decoder, key string, v, lowest T) {
	if _, isInt := any(v).(int); isInt && !d.strict(key, "!!int", "an integer") || d.skip(key) || v >= lowest {
		return
	}
	if lowest == 0 {
		d.addAt(key, fmt.Sprintf("must not be negative, got %v", v))
		return
	}
	d.addAt(key, fmt.Sprintf("must be at least %v, got %v", lowest, v))
}

func (d *decoder) validateProjects(ps []ProjectRef) {
	keys := d.items("projects", len(ps), wantProject)
	first := map[string]string{}
	for i, p := range ps {
		if d.skip(keys[i]) {
			continue
		}
		// GitLab resolves paths case-insensitively, so "A/b" and "a/B" are
		// the same project and would be polled twice.
		id := strings.ToLower(p.String())
		if k, dup := first[id]; dup {
			d.addAt(keys[i], fmt.Sprintf("project %q is listed twice (first at line %d)", p.String(), d.at(k).Line))
			continue
		}
		first[id] = keys[i]
	}
}

func (d *decoder) validateGroups(gs []Group) {
	keys := d.items("groups", len(gs), "want a mapping")
	first := map[string]string{}
	for i, g := range gs {
		pathKey := keys[i] + ".path"
		d.strict(keys[i]+".include_subgroups", "!!bool", "true or false")
		if d.skip(pathKey) {
			continue
		}
		if g.Path == "" && !d.given(pathKey) {
			d.addAt(pathKey, "required: the group's full path or numeric id")
			continue
		}
		if _, isID := parseID(g.Path); !isID {
			if strings.Trim(g.Path, "0123456789") == "" {
				d.addAt(pathKey, fmt.Sprintf("want a group path or a positive numeric id, got %q", g.Path))
				continue
			}
			if msg := checkPath(g.Path, false); msg != "" {
				d.addAt(pathKey, fmt.Sprintf("want a group path or a positive numeric id, got %q: %s", g.Path, msg))
				continue
			}
		}
		id := strings.ToLower(g.Path)
		if k, dup := first[id]; dup {
			d.addAt(pathKey, fmt.Sprintf("group %q is listed twice (first at line %d)", g.Path, d.at(k).Line))
			continue
		}
		first[id] = keys[i]
	}
}

func (d *decoder) validateBuckets(key string, b []float64) {
	keys := d.items(key, len(b), "want a number")
	if d.skip(key) {
		return
	}
	if len(b) == 0 {
		d.addAt(key, "must not be empty; leave the key out to use the defaults")
		return
	}
	for i, v := range b {
		switch {
		case math.IsInf(v, 0) || math.IsNaN(v):
			d.addAt(keys[i], "want a finite number, got "+d.describe(keys[i], v))
		case v < 0:
			d.addAt(keys[i], fmt.Sprintf("must not be negative, got %v", v))
		case i > 0 && v <= b[i-1]:
			d.addAt(keys[i], fmt.Sprintf("buckets must be strictly increasing, but %v follows %v", v, b[i-1]))
		}
	}
}

// describe renders key's value as written, for "got ...".
func (d *decoder) describe(key string, v any) string {
	if p := d.place(key); p != nil {
		return describe(p.value)
	}
	return strconv.Quote(fmt.Sprint(v))
}
