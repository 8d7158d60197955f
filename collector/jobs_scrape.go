package collector

import (
	"bufio"
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/state"
)

// Describe implements prometheus.Collector.
func (j *Jobs) Describe(ch chan<- *prometheus.Desc) {
	for _, h := range j.histograms() {
		h.Describe(ch)
	}
	for _, fs := range j.sampleFamilies() {
		ch <- fs.family.desc
	}
	j.describeRest(ch)
}

// Collect implements prometheus.Collector.
func (j *Jobs) Collect(ch chan<- prometheus.Metric) {
	for _, h := range j.histograms() {
		h.Collect(ch)
	}
	for _, fs := range j.sampleFamilies() {
		for s := range fs.samples {
			ch <- fs.family.constMetric(s) // copies the values it keeps
		}
	}
	j.collectRest(ch)
}

// describeRest and collectRest are the job metrics Write leaves to a
// registry: two single series.
func (j *Jobs) describeRest(ch chan<- *prometheus.Desc) {
	j.observed.Describe(ch)
	ch <- j.followedDesc
}

func (j *Jobs) collectRest(ch chan<- prometheus.Metric) {
	j.observed.Collect(ch)
	j.mu.Lock()
	followed := 0
	for _, jobs := range j.followed {
		followed += len(jobs)
	}
	j.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(j.followedDesc, prometheus.GaugeValue, float64(followed))
}

func (j *Jobs) histograms() []*histogramVec {
	return []*histogramVec{j.duration, j.queued, j.artifacts}
}

// write writes the job families but the two of collectRest, in format f,
// one that Writes accepts.
func (j *Jobs) write(w *bufio.Writer, f expfmt.Format) error {
	openMetrics := f.FormatType() == expfmt.TypeOpenMetrics
	proto := f.FormatType() == expfmt.TypeProtoDelim
	for _, fs := range j.sampleFamilies() {
		var err error
		if proto {
			err = fs.family.writeProto(w, fs.samples)
		} else {
			err = fs.family.writeText(w, fs.samples, openMetrics)
		}
		if err != nil {
			return err
		}
	}
	for _, h := range j.histograms() {
		var err error
		if proto {
			err = h.writeProto(w)
		} else {
			err = h.writeText(w, openMetrics)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// familySamples is a family with its samples of this scrape.
type familySamples struct {
	family  *sampleFamily
	samples iter.Seq[sample]
}

type lastRow struct {
	lastKey
	lastJob
}

// sampleFamilies lists the counters, and the gauges computed from what
// the scraper last reported, each with its samples in the order
// client_golang's Gather sorts them.
func (j *Jobs) sampleFamilies() []familySamples {
	// Copy under the lock and write without it, so that a slow scrape never
	// holds up the scraper recording jobs.
	j.mu.Lock()
	followed := maps.Clone(j.followed) // ProjectActive replaces slices, never mutates them
	last := make([]lastRow, 0, len(j.last))
	for k, l := range j.last {
		last = append(last, lastRow{k, l})
	}
	j.mu.Unlock()
	projects := slices.Sorted(maps.Keys(followed))
	// Labels sorted by name: job, project, ref, stage (then status).
	slices.SortFunc(last, func(a, b lastRow) int {
		return cmp.Or(cmp.Compare(a.job, b.job), cmp.Compare(a.project, b.project),
			cmp.Compare(a.ref, b.ref), cmp.Compare(a.stage, b.stage))
	})
	lastSamples := func(value func(l lastRow) (float64, bool), withStatus bool) iter.Seq[sample] {
		return func(yield func(sample) bool) {
			values := make([]string, 5)
			for _, l := range last {
				v, ok := value(l)
				if !ok {
					continue
				}
				values[0], values[1], values[2], values[3], values[4] = l.project, l.ref, l.stage, l.job, l.status
				if !yield(sample{values: values[:4+btoi(withStatus)], value: v}) {
					return
				}
			}
		}
	}
	return []familySamples{
		{&j.failures.sampleFamily, j.failures.samples()},
		{&j.retries.sampleFamily, j.retries.samples()},
		{&j.active, func(yield func(sample) bool) {
			values := make([]string, 2)
			for _, project := range projects {
				counts, _ := activeCounts(followed[project])
				for _, status := range slices.Sorted(maps.Keys(counts)) {
					values[0], values[1] = project, status
					if !yield(sample{values: values, value: float64(counts[status])}) {
						return
					}
				}
			}
		}},
		{&j.oldestPending, func(yield func(sample) bool) {
			for _, project := range projects {
				if _, oldest := activeCounts(followed[project]); !oldest.IsZero() {
					if !yield(sample{values: []string{project}, value: float64(oldest.UnixMilli()) / 1000}) {
						return
					}
				}
			}
		}},
		{&j.lastStatus, lastSamples(func(lastRow) (float64, bool) { return 1, true }, true)},
		{&j.lastDuration, lastSamples(func(l lastRow) (float64, bool) { return l.duration, true }, false)},
		{&j.lastFinish, lastSamples(func(l lastRow) (float64, bool) { return l.finished, l.finished > 0 }, false)},
	}
}

// activeCounts counts a project's followed jobs by status (every
// unfinished status present, 0 when none is in it) and finds the creation
// time of its oldest pending job.
func activeCounts(jobs []state.FollowedJob) (map[string]int, time.Time) {
	counts := make(map[string]int, len(unfinishedStatuses))
	for _, s := range unfinishedStatuses {
		counts[string(s)] = 0
	}
	var oldest time.Time
	for _, f := range jobs {
		counts[f.Status]++
		if f.Status == string(gitlabapi.StatusPending) && (oldest.IsZero() || f.CreatedAt.Before(oldest)) {
			oldest = f.CreatedAt
		}
	}
	return counts, oldest
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
