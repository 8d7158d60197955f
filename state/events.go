package state

import "time"

// PollResult says how one poll of one project went.
type PollResult struct {
	Err      error // nil on success
	Requests int   // HTTP attempts made, retries included
	Duration time.Duration
	Time     time.Time
}
