package gitlabtest

import "time"

// stamp is a point in time in Unix microseconds, the precision PostgreSQL
// keeps; 0 means null. Eight bytes instead of time.Time's 24 keeps a job small
// when a workload holds hundreds of thousands of them.
type stamp int64

func stampOf(t time.Time) stamp {
	us := t.UnixMicro()
	if us == 0 {
		us = 1 // the Unix epoch itself would read as null
	}
	return stamp(us)
}

func (s stamp) valid() bool { return s != 0 }

func (s stamp) time() time.Time { return time.UnixMicro(int64(s)).UTC() }

// ptr returns the time or nil when null.
func (s stamp) ptr() *time.Time {
	if !s.valid() {
		return nil
	}
	t := s.time()
	return &t
}

// durationUntil returns (end or now) - s in seconds, GitLab's
// calculate_duration; nil when s is null.
func (s stamp) durationUntil(end, now stamp) *float64 {
	if !s.valid() {
		return nil
	}
	if !end.valid() {
		end = now
	}
	d := float64(end-s) / 1e6
	return &d
}

// jsonTimeLayout is how Rails renders timestamps in API responses.
const jsonTimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON renders GitLab's millisecond UTC form, or null.
func (s stamp) MarshalJSON() ([]byte, error) {
	if !s.valid() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(jsonTimeLayout)+2)
	b = append(b, '"')
	b = s.time().AppendFormat(b, jsonTimeLayout)
	return append(b, '"'), nil
}
