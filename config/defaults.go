package config

import "time"

// Defaults, kept in one place so config.yaml and the code can be compared.
const (
	defaultRequestsPerSecond     = 10
	defaultBurst                 = 20
	defaultMaxConcurrentRequests = 8
	defaultTimeout               = 30 * time.Second
	defaultMaxRetries            = 4

	defaultPollInterval          = 30 * time.Second
	defaultInitialLookback       = time.Hour
	defaultParkedRecheckInterval = 10 * time.Minute
	defaultParkedMaxAge          = 14 * 24 * time.Hour
	defaultRetryWindow           = time.Hour

	defaultDiscoveryInterval = 5 * time.Minute
)

func defaultDurationBuckets() []float64 {
	return []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}
}

func defaultQueuedDurationBuckets() []float64 {
	return []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
}

// defaultArtifactSizeBuckets are powers of 4 from 1 KiB to 4 GiB: artifact
// sizes span many orders of magnitude, so linear buckets would be useless.
func defaultArtifactSizeBuckets() []float64 {
	var b []float64
	for v := float64(1 << 10); v <= 4<<30; v *= 4 {
		b = append(b, v)
	}
	return b
}

// defaultConfig is the starting point that decoding overwrites, so every
// key left out of the file keeps its default.
func defaultConfig() *Config {
	return &Config{
		GitLab: GitLab{
			AuthMode:              AuthPrivateToken,
			RequestsPerSecond:     defaultRequestsPerSecond,
			Burst:                 defaultBurst,
			MaxConcurrentRequests: defaultMaxConcurrentRequests,
			Timeout:               Duration(defaultTimeout),
			MaxRetries:            defaultMaxRetries,
		},
		Poll: Poll{
			Interval:              Duration(defaultPollInterval),
			InitialLookback:       Duration(defaultInitialLookback),
			ParkedRecheckInterval: Duration(defaultParkedRecheckInterval),
			ParkedMaxAge:          Duration(defaultParkedMaxAge),
			RetryWindow:           Duration(defaultRetryWindow),
		},
		Discovery: Discovery{Interval: Duration(defaultDiscoveryInterval)},
		Metrics: Metrics{
			DurationBuckets:       defaultDurationBuckets(),
			QueuedDurationBuckets: defaultQueuedDurationBuckets(),
			ArtifactSizeBuckets:   defaultArtifactSizeBuckets(),
		},
	}
}

// applyDefaults fills defaults that live inside list items or behind
// pointers, which defaultConfig cannot pre-populate.
func applyDefaults(c *Config) {
	for i := range c.Groups {
		if c.Groups[i].IncludeSubgroups == nil {
			c.Groups[i].IncludeSubgroups = boolPtr(true)
		}
	}
	if c.Metrics.NativeHistograms == nil {
		c.Metrics.NativeHistograms = boolPtr(true)
	}
}

func boolPtr(b bool) *bool { return &b }
