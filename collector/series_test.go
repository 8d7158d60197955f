package collector

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
)

// TestSeriesComeInTheRegistrysOrder checks that every family hands its
// series over in the order Gather sorts them into (label values compared
// in the order of the label names), each once, as series come, expire and
// go with their project: the registry's sort then costs one pass.
func TestSeriesComeInTheRegistrysOrder(t *testing.T) {
	labels := []string{family.LabelProject, family.LabelRef, family.LabelStage, family.LabelJobName, family.LabelStatus} // job_name sorts first
	f, err := newFamily(family.Family{Key: "test", Labels: labels, Histogram: true},
		family.Options{Enabled: true, Labels: labels, Form: family.Both, Buckets: []float64{1, 10}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	type kind struct {
		name    string
		collect func(chan<- prometheus.Metric)
		record  func(*labelValues)
		expire  func(time.Time)
		remove  func(project string)
		len     func() int
		per     int // metrics a series sends
	}
	hist := newHistogramVec(f, family.Metric{Name: "h", Help: "h"}, "job_id", clock)
	counter := newCounterVec(f, family.Metric{Name: "c", Help: "c"}, clock)
	lastFamily := &configured{Family: family.Family{Key: "last", Metrics: []family.Metric{{Name: "s", Help: "s"}, {Name: "d", Help: "d"}, {Name: "f", Help: "f"}}},
		Options: f.Options, labels: f.labels[:4]} // last_status adds status itself
	last := newLastJobs(lastFamily, clock)
	var id int64
	kinds := []kind{
		{"histogram", hist.collect, func(v *labelValues) { hist.observe(v, 3, 1) }, hist.expire, hist.deleteProject, hist.len, 1},
		{"counter", counter.collect, counter.inc, counter.expire, counter.deleteProject, counter.len, 1},
		{"last job", last.collect, func(v *labelValues) {
			id++
			last.record(v, lastJob{id: id, status: "success", duration: 1, finished: 1})
		}, last.expire, last.deleteProject, last.len, 3},
	}

	// Values that are prefixes of each other, empty, or differ only in a
	// later label: where joined keys and label-by-label order disagree.
	words := []string{"", "a", "ab", "a b", "b", "main", "x/y"}
	rng := rand.New(rand.NewPCG(1, 2))
	randomValues := func() *labelValues {
		var v labelValues
		for _, i := range []labelIndex{project, ref, stage, jobName, status} {
			v[i] = words[rng.IntN(len(words))]
		}
		return &v
	}

	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			check := func(step string) {
				t.Helper()
				ch := make(chan prometheus.Metric, 100_000)
				k.collect(ch)
				close(ch)
				var prev *dto.Metric
				byDesc := map[string]*dto.Metric{}
				n := 0
				for m := range ch {
					var out dto.Metric
					if err := m.Write(&out); err != nil {
						t.Fatal(err)
					}
					desc := m.Desc().String()
					prev = byDesc[desc]
					if prev != nil && compareLabels(prev, &out) >= 0 {
						t.Fatalf("%s: %s came after %s", step, labelString(&out), labelString(prev))
					}
					byDesc[desc] = &out
					n++
				}
				if n == 0 || n != k.per*k.len() {
					t.Fatalf("%s: %d metrics for %d series", step, n, k.len())
				}
			}
			for range 200 {
				k.record(randomValues())
			}
			check("first scrape")
			had := k.len()
			for range 100 {
				k.record(randomValues())
			}
			check("series added")
			now = now.Add(time.Hour)
			for range 50 {
				k.record(randomValues()) // some of them again: kept
			}
			k.expire(now.Add(-time.Minute))
			k.remove("ab")
			if k.len() >= had {
				t.Fatalf("%d series after expiry, %d before", k.len(), had)
			}
			check("expired and removed")
			for range 100 {
				k.record(randomValues()) // some come back
			}
			check("added again")
		})
	}
}

// compareLabels orders two metrics as client_golang's registry does.
func compareLabels(a, b *dto.Metric) int {
	if c := len(a.Label) - len(b.Label); c != 0 {
		return c
	}
	for i := range a.Label {
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}

func labelString(m *dto.Metric) string {
	return fmt.Sprint(slices.Collect(func(yield func(string) bool) {
		for _, l := range m.Label {
			if !yield(l.GetName() + "=" + l.GetValue()) {
				return
			}
		}
	}))
}
