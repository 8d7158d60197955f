package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/app"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/collector"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// BenchmarkParkedJobMemory measures what the exporter keeps for each
// manual job nobody plays, which it follows for poll.parked_max_age (14
// days: about 200,000 jobs at the large scenario's traffic). Pipelines of
// five jobs as the scenarios make them (build, lint, two rspec, deploy) are
// polled, then polled again past poll.retry_window, once with the deploy
// manual and never played, once with it finished; the difference of the
// exporter's live heap (scraper state and metrics, without the fake), per
// deploy, is the cost of a parked job.
//
//	go test -run '^$' -bench ParkedJobMemory -benchtime 1x ./bench/
func BenchmarkParkedJobMemory(b *testing.B) {
	const projects, pipelines = 20, 250
	for b.Loop() {
		parked := exporterHeap(b, projects, pipelines, true)
		finished := exporterHeap(b, projects, pipelines, false)
		perJob := float64(int64(parked)-int64(finished)) / (projects * pipelines)
		b.ReportMetric(perJob, "B/parked-job")
		b.ReportMetric(perJob*200_000/(1<<20), "MiB/200k-parked")
		fmt.Fprintf(b.Output(), "exporter's live heap with %d deploys: parked %d KiB, finished %d KiB; %.0f bytes a parked job, %.1f MiB for 200,000\n",
			projects*pipelines, parked>>10, finished>>10, perJob, perJob*200_000/(1<<20))
	}
}

// exporterHeap returns the live heap the exporter holds (scraper, client
// and metrics, as the shipped configuration builds them) after polling
// the pipelines, once at once and once past the retry window.
func exporterHeap(b *testing.B, projects, pipelines int, manualDeploy bool) uint64 {
	clock := gitlabtest.NewManualClock(Epoch)
	gl := gitlabtest.NewHandler(gitlabtest.Options{Token: Token, Clock: clock})
	gl.SetBaseURL("http://gitlab.test")
	paths := make([]string, projects)
	for i := range projects {
		paths[i] = fmt.Sprintf("group/project-%d", i)
		id := gl.CreateProject(paths[i], gitlabtest.ProjectOptions{})
		for range pipelines {
			pl := gl.CreatePipeline(id, "main", gitlabtest.PipelineOptions{})
			for _, spec := range []gitlabtest.JobSpec{
				{Name: "build", Stage: "build"}, {Name: "lint", Stage: "test"}, {Name: "rspec 1/2", Stage: "test"},
				{Name: "rspec 2/2", Stage: "test"}, {Name: "deploy", Stage: "deploy"},
			} {
				if spec.Name == "deploy" && manualDeploy {
					spec.When = "manual"
					gl.CreateJob(pl, spec)
					continue
				}
				job := gl.CreateJob(pl, spec)
				must(b, gl.Enqueue(job))
				must(b, gl.Start(job))
				must(b, gl.Finish(job, "success", gitlabtest.FinishOptions{}))
			}
			clock.Advance(time.Second)
		}
	}
	cfg, _, err := config.Parse([]byte("gitlab:\n  url: "+gl.URL()+"\ngroups:\n  - path: group\n"), "parked.yml",
		func(string) string { return Token })
	must(b, err)
	metrics, err := collector.New(app.MetricsOptions(cfg))
	must(b, err)
	client, err := gitlabapi.New(gitlabapi.Options{BaseURL: gl.URL(), Token: Token, RequestsPerSecond: 1e6, Burst: 1e6,
		MaxConcurrent: cfg.GitLab.MaxConcurrentRequests, Timeout: time.Minute, MaxRetries: 0,
		HTTPClient: &http.Client{Transport: gl.Transport()}, Observer: metrics})
	must(b, err)
	opts := app.ScraperOptions(cfg)
	opts.Now = clock.Now
	s, err := scraper.New(client, metrics, opts)
	must(b, err)
	s.Cycle(context.Background())
	clock.Advance(time.Duration(cfg.Poll.RetryWindow) + time.Minute)
	s.Cycle(context.Background())
	with := liveHeapNow()
	runtime.KeepAlive(s)
	runtime.KeepAlive(metrics)
	without := liveHeapNow() // the scraper, client and metrics are garbage now
	runtime.KeepAlive(gl)
	return with - without
}

func liveHeapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
