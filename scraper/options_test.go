package scraper_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// The scraper has no defaults of its own: an option left out is an error
// naming it, not a value chosen here.
func TestNewRejectsOptionsLeftOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(o *scraper.Options)
		want  string
	}{
		{"complete", func(*scraper.Options) {}, ""},
		{"no interval", func(o *scraper.Options) { o.Interval = 0 }, "Interval must be greater than 0"},
		{"no parked recheck", func(o *scraper.Options) { o.ParkedRecheckInterval = 0 }, "ParkedRecheckInterval"},
		{"no parked max age", func(o *scraper.Options) { o.ParkedMaxAge = 0 }, "ParkedMaxAge"},
		{"no pipeline TTL", func(o *scraper.Options) { o.PipelineTTL = 0 }, "PipelineTTL"},
		{"no discovery interval", func(o *scraper.Options) { o.DiscoveryInterval = 0 }, "DiscoveryInterval"},
		{"negative lookback", func(o *scraper.Options) { o.InitialLookback = -time.Second }, "InitialLookback"},
		{"no poll slots", func(o *scraper.Options) { o.MaxConcurrentPolls = 0 }, "MaxConcurrentPolls must be at least 1"},
		{"no lookback is fine", func(o *scraper.Options) { o.InitialLookback = 0 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts scraper.Options
			withTestDefaults(&opts)
			tc.tweak(&opts)
			s, err := scraper.New(nil, newRecorder(), opts)
			if tc.want == "" {
				if err != nil || s == nil {
					t.Fatalf("New: %v", err)
				}
				if err := s.Reconfigure(opts); err != nil {
					t.Errorf("Reconfigure: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: err = %v, want one naming %q", err, tc.want)
			}
			var good scraper.Options
			withTestDefaults(&good)
			s, err = scraper.New(nil, newRecorder(), good)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Reconfigure(opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Reconfigure: err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
