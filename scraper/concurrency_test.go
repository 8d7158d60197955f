package scraper_test

import (
	"context"
	"iter"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// inFlight wraps the client and records how many job walks are open at
// once; a poll has at most one open, so this is the number of polls under way.
type inFlight struct {
	scraper.GitLab
	mu       sync.Mutex
	now, max int
}

func (c *inFlight) ProjectJobPages(ctx context.Context, project string, opt gitlabapi.ListJobsOptions) iter.Seq2[[]gitlabapi.Job, error] {
	return func(yield func([]gitlabapi.Job, error) bool) {
		c.mu.Lock()
		c.now++
		c.max = max(c.max, c.now)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.now--
			c.mu.Unlock()
		}()
		time.Sleep(20 * time.Millisecond) // let the other polls pile up
		for page, err := range c.GitLab.ProjectJobPages(ctx, project, opt) {
			if !yield(page, err) {
				return
			}
		}
	}
}

func TestConcurrentPollsAreBounded(t *testing.T) {
	var projects []string
	for i := range 12 {
		projects = append(projects, "g/p"+strconv.Itoa(i))
	}
	for _, tc := range []struct{ limit, want int }{{3, 3}, {100, 12}} {
		t.Run(strconv.Itoa(tc.limit), func(t *testing.T) {
			e := newEnv(t, projects, scraper.Options{MaxConcurrentPolls: tc.limit})
			for id := range int64(len(projects)) {
				for _, job := range e.pipelineOfJobs(id+1, 2) {
					e.run(job, "success")
				}
			}
			client := &inFlight{GitLab: e.client}
			e.s = e.newScraper(client, e.rec)
			e.cycle(time.Second)
			if client.max != tc.want {
				t.Errorf("MaxConcurrentPolls %d: %d polls under way at once, want %d", tc.limit, client.max, tc.want)
			}
			if got := e.totalFinished(); got != 24 {
				t.Errorf("counted %d jobs, want 24", got)
			}
			e.assertExactlyOnce(epoch)
		})
	}
}
