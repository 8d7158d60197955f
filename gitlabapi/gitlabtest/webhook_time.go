package gitlabtest

import "fmt"

// TimestampForm is how a webhook payload writes its timestamps. GitLab's
// docs show ISO 8601 with milliseconds while real gitlab.com payloads carry
// Ruby's Time#to_s in UTC; a receiver must read both.
type TimestampForm int

const (
	// TimestampsISO writes "2021-02-23T02:41:37.886Z", as GitLab's docs.
	TimestampsISO TimestampForm = iota
	// TimestampsUTC writes "2023-01-10 13:50:02 UTC", as gitlab.com does.
	TimestampsUTC
	// TimestampsMixed picks one of the two per event, from the seed.
	TimestampsMixed
)

// The layouts of the two forms, for receivers' tests.
const (
	WebhookTimeLayoutISO = jsonTimeLayout            // "2006-01-02T15:04:05.000Z"
	WebhookTimeLayoutUTC = "2006-01-02 15:04:05 UTC" // Ruby Time#to_s in UTC
	// isoFieldLayout is the *_iso fields' form (Time#iso8601), the same in
	// every payload: GitLab added them to give receivers a stable form.
	isoFieldLayout = "2006-01-02T15:04:05Z"
)

func (f TimestampForm) String() string {
	switch f {
	case TimestampsISO:
		return "iso"
	case TimestampsUTC:
		return "utc"
	case TimestampsMixed:
		return "mixed"
	}
	return fmt.Sprintf("TimestampForm(%d)", int(f))
}

// ParseTimestampForm reads "iso", "utc" or "mixed".
func ParseTimestampForm(s string) (TimestampForm, error) {
	for _, f := range []TimestampForm{TimestampsISO, TimestampsUTC, TimestampsMixed} {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("timestamp form %q is not iso, utc or mixed", s)
}

// hookTime is a payload timestamp in one form (ISO or UTC), or null.
type hookTime struct {
	at  stamp
	utc bool
}

func (t hookTime) MarshalJSON() ([]byte, error) {
	if !t.at.valid() {
		return []byte("null"), nil
	}
	layout := WebhookTimeLayoutISO
	if t.utc {
		layout = WebhookTimeLayoutUTC
	}
	return appendQuotedTime(t.at, layout), nil
}

// isoTime is a *_iso field, or null.
type isoTime stamp

func (t isoTime) MarshalJSON() ([]byte, error) {
	if !stamp(t).valid() {
		return []byte("null"), nil
	}
	return appendQuotedTime(stamp(t), isoFieldLayout), nil
}

func appendQuotedTime(s stamp, layout string) []byte {
	b := make([]byte, 0, len(layout)+2)
	b = append(b, '"')
	b = s.time().AppendFormat(b, layout)
	return append(b, '"')
}
