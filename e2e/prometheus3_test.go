//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/family"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
)

// classicJob scrapes the exporter whose histograms are classic only, with
// the shipped scrape settings.
const classicJob = "gitlab_jobs_exporter_classic"

// durationBounds are the default duration buckets.
var durationBounds = config.DefaultMetrics().Families[family.Duration].Buckets

// TestPrometheus3NativeHistograms runs a current Prometheus (3.x, built
// from its Go module) with the shipped scrape settings against two
// exporters over one fake GitLab: one serving its histograms native only
// (project acme/api), scraped as native histograms over protobuf, and one
// serving them classic only (acme/web), which Prometheus stores as native
// histograms with custom buckets (NHCB). Each polls one project, as
// dashboards sum one project's histograms and Prometheus cannot add an
// exponential histogram to a custom-bucket one. In both, counts and sums
// equal the fake's ground truth, the p95 of job durations lies in the
// bucket of the true p95, and every dashboard query returns data.
func TestPrometheus3NativeHistograms(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with Prometheus 3 takes about a minute; skipped in -short mode")
	}
	promBin := deploytest.Prometheus3Tool(t, "prometheus")
	t.Parallel()
	root := deploytest.RepoRoot(t)
	dir := t.TempDir()
	token := newToken(t)

	clock := gitlabtest.NewManualClock(time.Now())
	// A rate limit far above what the test uses, so that GitLab sends the
	// RateLimit-Remaining header the exporter exports.
	gl := gitlabtest.NewServer(gitlabtest.Options{Token: token, Clock: clock, FirstJobID: 9_000_000_000,
		RateLimit: &gitlabtest.RateLimitOptions{Limit: 1_000_000, Period: time.Minute}})
	t.Cleanup(gl.Close)
	c := &ci{t: t, gl: gl}
	api := gl.CreateProject("acme/api", gitlabtest.ProjectOptions{})
	web := gl.CreateProject("acme/web", gitlabtest.ProjectOptions{DefaultBranch: "master"})
	c.history(api, web)
	// Durations spread over many buckets, so that p95 means something.
	var timed []float64
	for i := range 40 {
		d := 20 * math.Pow(1.13, float64(i)) // 20 s to about 2 h
		for _, project := range []int64{api, web} {
			c.runTimed(clock, project, "timed", time.Duration(i)*time.Second, time.Duration(d*float64(time.Second)))
		}
		timed = append(timed, time.Duration(d*float64(time.Second)).Seconds())
	}

	// Each exporter polls its project, as listed and through the group
	// (for the dashboards' group panels).
	config := func(project, form string) string {
		return fmt.Sprintf("projects: [%s]\ngroups:\n  - {path: acme, include: %q}\n", project, project) +
			"metrics:\n  duration: {histogram: " + form + "}\n  queued_duration: {histogram: " + form + "}\n  artifact_size: {histogram: " + form + "}\n" +
			"  queue_by_pool: {histogram: " + form + "}\n  runners: {enabled: true, histogram: " + form + "}\n"
	}
	nativeCfg, classicCfg := filepath.Join(dir, "native.yml"), filepath.Join(dir, "classic.yml")
	writeFile(t, nativeCfg, exporterConfig(gl.URL(), config("acme/api", "native")))
	writeFile(t, classicCfg, exporterConfig(gl.URL(), config("acme/web", "classic")))
	native := startExporter(t, nativeCfg, token, "--storage.path="+filepath.Join(dir, "native-data"))
	classic := startExporter(t, classicCfg, token, "--storage.path="+filepath.Join(dir, "classic-data"))
	waitHTTP200(t, native.base+"/-/ready", 30*time.Second, native.process)
	waitHTTP200(t, classic.base+"/-/ready", 30*time.Second, classic.process)

	promAddr := freeAddr(t)
	promConfig := filepath.Join(dir, "prometheus.yml")
	writePrometheusConfig(t, promConfig, promSetup{root: root, self: promAddr, targets: map[string]string{
		exporterJob: strings.TrimPrefix(native.base, "http://"),
		classicJob:  strings.TrimPrefix(classic.base, "http://"),
	}})
	prom := start(t, "prometheus", promBin, nil,
		"--config.file="+promConfig, "--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr)
	waitHTTP200(t, "http://"+promAddr+"/-/ready", 30*time.Second, prom)
	p := promAPI{base: "http://" + promAddr}
	procs := []*process{native.process, classic.process, prom}

	liveStart := time.Now()
	waitFor(t, 30*time.Second, "Prometheus to scrape both exporters", func() (bool, string) {
		r, err := p.query(`up{job=~"gitlab_jobs_exporter.*"} == 1`)
		return err == nil && len(r) == 2, fmt.Sprint(r, err)
	}, procs...)

	// Live traffic, so that rates and the dashboards have data, and a
	// project forbidden for a while, for the error panels.
	gl.ForbidProject(web, true)
	for round := range 8 {
		junit := gitlabtest.Artifact{FileType: "junit", Size: int64(20_000 + 1000*round)}
		c.runTimed(clock, api, "unit", 3*time.Second, time.Duration(30+round)*time.Second, junit)
		c.runTimed(clock, web, "unit", 7*time.Second, time.Duration(90+round)*time.Second, junit)
		if round == 3 {
			gl.ForbidProject(web, false)
		}
		switch round {
		case 1, 5: // merge request pipelines, in two scrapes
			clock.Set(time.Now())
			mr := gl.CreatePipeline(api, gitlabtest.MergeRequestRef(int64(10+round), gitlabtest.MergeRequestHead), gitlabtest.PipelineOptions{Source: "merge_request_event"})
			c.run(mr, gitlabtest.JobSpec{Name: "unit", Stage: "test"}, "success", gitlabtest.FinishOptions{})
		case 4:
			clock.Set(time.Now())
			c.pipelineCountedThenRetried(p, clock, api, "acme/api", procs)
		}
		time.Sleep(time.Second) // spread over several scrapes
	}

	for _, tc := range []struct{ job, project string }{{exporterJob, "acme/api"}, {classicJob, "acme/web"}} {
		tr := c.histogramTruth(tc.project)
		waitFor(t, 30*time.Second, tc.job+": Prometheus to agree with GitLab's ground truth", func() (bool, string) {
			d := tr.diff(p, tc.job)
			return d == "", d
		}, procs...)
	}

	t.Log("native: histograms stored as one series each, exponential buckets")
	checkStoredAsHistograms(t, p, exporterJob, false)
	t.Log("classic: stored as NHCB, with the configured bounds")
	checkStoredAsHistograms(t, p, classicJob, true)

	sort.Float64s(timed)
	want := timed[int(math.Ceil(0.95*float64(len(timed))))-1] // the rank histogram_quantile interpolates at
	for _, tc := range []struct {
		job        string
		lower, upp float64
	}{
		{exporterJob, nativeBucketLower(want), nativeBucketUpper(want)},
		{classicJob, classicBucketLower(want), classicBucketUpper(want)},
	} {
		expr := `histogram_quantile(0.95, sum(gitlab_ci_job_duration_seconds{job="` + tc.job + `", job_name="timed", status="success"}))`
		r, err := p.query(expr)
		if err != nil || len(r) != 1 {
			t.Errorf("%s: %v %v", expr, r, err)
			continue
		}
		got := r[0].Values[0]
		t.Logf("%s: p95 %.1f s, true %.1f s, bucket (%.1f, %.1f]", tc.job, got, want, tc.lower, tc.upp)
		if !(got > tc.lower && got <= tc.upp) {
			t.Errorf("%s: p95 %.2f s outside the bucket (%.2f, %.2f] of the true p95 %.2f s", tc.job, got, tc.lower, tc.upp, want)
		}
	}

	t.Log("dashboards: every panel query returns data from Prometheus 3")
	checkDashboards(t, root, p, liveStart)
}

// runTimed runs a job on the project's default branch that waits queued
// for a runner and then runs for duration, as the fake's clock measures
// it; the clock is back at the wall clock afterwards.
func (c *ci) runTimed(clock *gitlabtest.ManualClock, project int64, name string, queued, duration time.Duration, artifacts ...gitlabtest.Artifact) float64 {
	c.t.Helper()
	clock.Set(time.Now())
	id := c.create(c.pipeline(project, ""), gitlabtest.JobSpec{Name: name, Stage: "test", Tags: c.tags[project]})
	c.must(c.gl.Enqueue(id))
	clock.Advance(queued)
	c.must(c.gl.Start(id))
	clock.Advance(duration)
	coverage := 60 + float64(duration/time.Second%40) // so that pipelines have a coverage
	c.must(c.gl.Finish(id, "success", gitlabtest.FinishOptions{Artifacts: artifacts, Coverage: &coverage}))
	clock.Set(time.Now())
	return duration.Seconds()
}

// histogramTruth is what the duration and queue-time histograms of a
// project must hold:
// every finished job and bridge (a bridge without a duration observes 0),
// and the queue time of every one that started with one; the same by
// runner pool (tags/runner type), and finished jobs by runner.
type histogramTruth struct {
	finished, started    int
	durations, queued    float64
	poolStarts, byRunner map[string]int
}

func (c *ci) histogramTruth(project string) histogramTruth {
	tr := histogramTruth{poolStarts: map[string]int{}, byRunner: map[string]int{}}
	for _, j := range c.gl.Jobs() {
		if j.ProjectPath != project {
			continue
		}
		if gitlabapi.JobStatus(j.Status).Finished() {
			tr.finished++
			if j.Duration != nil {
				tr.durations += *j.Duration
			}
			if j.RunnerDescription != "" {
				tr.byRunner[runnerLabel(j.RunnerDescription)]++
			}
		}
		if j.StartedAt != nil && j.QueuedDuration != nil {
			tr.started++
			tr.queued += *j.QueuedDuration
			if !j.IsBridge {
				tr.poolStarts[strings.Join(j.Tags, ",")+"/"+runnerTypeOf(j)]++
			}
		}
	}
	return tr
}

// diff compares the histograms Prometheus holds for scrape job job with
// the truth, and describes the differences ("" when there are none).
func (tr histogramTruth) diff(p promAPI, job string) string {
	var diffs []string
	scalar := func(expr string) float64 {
		r, err := p.query(expr)
		if err != nil || len(r) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s: %v %v", expr, r, err))
			return math.NaN()
		}
		return r[0].Values[0]
	}
	sel := `{job="` + job + `"}`
	if got := scalar(`sum(histogram_count(gitlab_ci_job_duration_seconds` + sel + `))`); got != float64(tr.finished) {
		diffs = append(diffs, fmt.Sprintf("%d finished jobs in GitLab, histogram_count %v", tr.finished, got))
	}
	if got := scalar(`sum(histogram_sum(gitlab_ci_job_duration_seconds` + sel + `))`); math.Abs(got-tr.durations) > 1e-6*tr.durations {
		diffs = append(diffs, fmt.Sprintf("durations sum to %v s in GitLab, histogram_sum %v", tr.durations, got))
	}
	if got := scalar(`sum(histogram_count(gitlab_ci_job_queued_duration_seconds` + sel + `))`); got != float64(tr.started) {
		diffs = append(diffs, fmt.Sprintf("%d started jobs in GitLab, queue histogram_count %v", tr.started, got))
	}
	if got := scalar(`sum(histogram_sum(gitlab_ci_job_queued_duration_seconds` + sel + `))`); math.Abs(got-tr.queued) > 1e-6*max(tr.queued, 1) {
		diffs = append(diffs, fmt.Sprintf("queue times sum to %v s in GitLab, histogram_sum %v", tr.queued, got))
	}
	counts := func(expr, label string) map[string]int {
		r, err := p.query(expr)
		if err != nil {
			diffs = append(diffs, err.Error())
			return nil
		}
		out := map[string]int{}
		for k, v := range byLabel(r, label) {
			out[k] = int(v)
		}
		return out
	}
	if got := counts(`label_join(histogram_count(gitlab_ci_runner_pool_queued_duration_seconds`+sel+`), "pool", "/", "tags", "runner_type")`, "pool"); !maps.Equal(got, tr.poolStarts) {
		diffs = append(diffs, fmt.Sprintf("starts by tags/runner type %v in GitLab, histogram_count %v", tr.poolStarts, got))
	}
	if got := counts(`histogram_count(gitlab_ci_runner_job_duration_seconds`+sel+`)`, "runner"); !maps.Equal(got, tr.byRunner) {
		diffs = append(diffs, fmt.Sprintf("finished jobs by runner %v in GitLab, histogram_count %v", tr.byRunner, got))
	}
	return strings.Join(diffs, "; ")
}

// checkStoredAsHistograms checks that the job histograms of scrape job job
// are stored as native histograms, with no classic series beside them, and
// whether their buckets are the configured bounds (NHCB) or exponential.
func checkStoredAsHistograms(t *testing.T, p promAPI, job string, customBounds bool) {
	t.Helper()
	for _, name := range []string{"gitlab_ci_job_duration_seconds", "gitlab_ci_job_queued_duration_seconds", "gitlab_ci_job_artifacts_size_bytes",
		"gitlab_ci_runner_pool_queued_duration_seconds", "gitlab_ci_runner_job_duration_seconds"} {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if r, err := p.query(name + suffix + `{job="` + job + `"}`); err != nil || len(r) > 0 {
				t.Errorf("%s: %d classic %s series stored (%v); want the histogram alone", job, len(r), name+suffix, err)
			}
		}
		hs, err := p.histograms(name + `{job="` + job + `"}`)
		if err != nil || len(hs) == 0 {
			t.Errorf("%s: no native histogram samples of %s (%v)", job, name, err)
			continue
		}
		if name != "gitlab_ci_job_duration_seconds" {
			continue
		}
		for _, h := range hs {
			for _, upper := range h.upperBounds {
				isConfigured := slices.Contains(durationBounds, upper) || math.IsInf(upper, +1)
				if isConfigured != customBounds && upper != 0 {
					t.Errorf("%s: bucket bound %v of %s; want the configured bounds %v: %v", job, upper, name, customBounds, durationBounds)
					break
				}
			}
		}
	}
}

// nativeBucketUpper and nativeBucketLower bound the exponential bucket
// (schema 3) holding v: (2^((i-1)/8), 2^(i/8)].
func nativeBucketUpper(v float64) float64 { return math.Pow(2, math.Ceil(math.Log2(v)*8)/8) }
func nativeBucketLower(v float64) float64 { return nativeBucketUpper(v) / math.Pow(2, 1.0/8) }

// classicBucketUpper and classicBucketLower bound the configured bucket
// holding v.
func classicBucketUpper(v float64) float64 {
	i := sort.SearchFloat64s(durationBounds, v)
	if i == len(durationBounds) {
		return math.Inf(+1)
	}
	return durationBounds[i]
}

func classicBucketLower(v float64) float64 {
	i := sort.SearchFloat64s(durationBounds, v)
	if i == 0 {
		return 0
	}
	return durationBounds[i-1]
}

// nativeSample is one native histogram of an instant query's result.
type nativeSample struct {
	metric      map[string]string
	upperBounds []float64
}

// histograms evaluates expr and returns its native histogram samples.
func (p promAPI) histograms(expr string) ([]nativeSample, error) {
	resp, err := httpClient.Get(p.base + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric    map[string]string `json:"metric"`
				Histogram []json.RawMessage `json:"histogram"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%q: %s", expr, r.Error)
	}
	var out []nativeSample
	for _, s := range r.Data.Result {
		if len(s.Histogram) != 2 {
			continue // a float sample
		}
		var h struct {
			Buckets [][4]json.RawMessage `json:"buckets"` // [boundary rule, lower, upper, count]
		}
		if err := json.Unmarshal(s.Histogram[1], &h); err != nil {
			return nil, err
		}
		ns := nativeSample{metric: s.Metric}
		for _, b := range h.Buckets {
			var upper string
			if err := json.Unmarshal(b[2], &upper); err != nil {
				return nil, err
			}
			v, err := strconv.ParseFloat(upper, 64)
			if err != nil {
				return nil, err
			}
			ns.upperBounds = append(ns.upperBounds, v)
		}
		out = append(out, ns)
	}
	return out, nil
}
