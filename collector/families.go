package collector

import (
	"slices"
	"strings"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

const fromPolling = " Gathered by background polling of the GitLab API, not at scrape time."

// Options configure the job metrics.
type Options struct {
	// Families by key (family.All); every family must be present.
	Families map[string]family.Options
	Refs     RefTracker
	// TagPools map a job's tag set (sorted, comma-joined) to the tags
	// label of the runner-pool families: the first rule that matches names
	// it, else OtherPool. None: the tag set itself. Untagged jobs stay "".
	TagPools []PoolRule
	// RunnerPools fold runner descriptions for the runner label: the first
	// rule that matches names it, else the description stays.
	RunnerPools []PoolRule
	// SeriesTTL: a series of an expiring family that has received nothing
	// for this long is dropped by Expire. 0 keeps series forever.
	SeriesTTL time.Duration
	// Now is the clock of created timestamps, exemplars and expiry; nil is
	// time.Now.
	Now func() time.Time
}

// configured is a family as configured: the labels it exports, by index, in the
// family's declared order.
type configured struct {
	family.Family
	family.Options
	labels []labelIndex
}

func newFamily(f family.Family, o family.Options) (*configured, error) {
	if err := f.Check(o); err != nil {
		return nil, err
	}
	fam := &configured{Family: f, Options: o}
	for _, name := range f.Labels {
		if slices.Contains(o.Labels, name) {
			i, _ := labelByName(name) // declared labels are known ones
			fam.labels = append(fam.labels, i)
		}
	}
	return fam, nil
}

// labelNames are the exported label names, plus extra ones.
func (f *configured) labelNames(extra ...string) []string {
	out := make([]string, 0, len(f.labels)+len(extra))
	for _, i := range f.labels {
		out = append(out, labelNames[i])
	}
	return append(out, extra...)
}

// has reports whether the family exports label i.
func (f *configured) has(i labelIndex) bool { return slices.Contains(f.labels, i) }

// key joins the values of the exported labels: the series' identity.
func (f *configured) key(v *labelValues) string {
	switch len(f.labels) {
	case 0:
		return ""
	case 1:
		return v[f.labels[0]]
	}
	n := len(f.labels) - 1
	for _, i := range f.labels {
		n += len(v[i])
	}
	var b strings.Builder
	b.Grow(n)
	for k, i := range f.labels {
		if k > 0 {
			b.WriteString(labelSep)
		}
		b.WriteString(v[i])
	}
	return b.String()
}

// position is where label i sits in a key's values, or -1.
func (f *configured) position(i labelIndex) int { return slices.Index(f.labels, i) }

const labelSep = "\xff" // cannot occur in UTF-8 label values

// splitKey returns a key's values. They point into the key, which series
// never change.
func splitKey(key string, n int) []string {
	if n == 0 {
		return nil
	}
	return strings.SplitN(key, labelSep, n)
}
