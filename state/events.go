package state

import "time"

// ProjectInfo names the project an event belongs to.
type ProjectInfo struct {
	ID            int64
	Path          string
	DefaultBranch string
}

// PollResult says how one poll of one project went.
type PollResult struct {
	Err      error // nil on success
	Requests int   // HTTP attempts made, retries included
	Duration time.Duration
	Time     time.Time
}
