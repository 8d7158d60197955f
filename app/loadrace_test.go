//go:build race

package app

// Under the race detector a scrape costs about ten times the CPU, so the
// load test defaults to fewer series to stay within seconds on two cores;
// races do not need volume, only concurrency.
const (
	raceEnabled        = true
	defaultLoadSeries  = 3000
	defaultLoadSeconds = 3
)
