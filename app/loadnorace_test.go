//go:build !race

package app

const (
	raceEnabled        = false
	defaultLoadSeries  = 20000
	defaultLoadSeconds = 5
)
