package scraper_test

import (
	"context"
	"iter"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// gatedWalks wraps the client: every job walk waits at a gate before its
// first request and is counted while open. A poll has at most one walk
// open, so the count is the number of polls under way.
type gatedWalks struct {
	scraper.GitLab
	gate chan struct{} // closed to let the walks through

	mu       sync.Mutex
	now, max int
}

func (c *gatedWalks) ProjectJobPages(ctx context.Context, project string, opt gitlabapi.ListJobsOptions) iter.Seq2[[]gitlabapi.Job, error] {
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
		<-c.gate
		for page, err := range c.GitLab.ProjectJobPages(ctx, project, opt) {
			if !yield(page, err) {
				return
			}
		}
	}
}

func (c *gatedWalks) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// TestConcurrentPollsAreBounded holds every poll at its job walk until no
// goroutine of the cycle can move (synctest.Wait): the polls then under
// way are all the bound lets start, and the others wait for a slot.
func TestConcurrentPollsAreBounded(t *testing.T) {
	var projects []string
	for i := range 12 {
		projects = append(projects, "g/p"+strconv.Itoa(i))
	}
	for _, tc := range []struct{ limit, want int }{{3, 3}, {100, 12}} {
		t.Run(strconv.Itoa(tc.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newInProcessEnv(t, projects, scraper.Options{MaxConcurrentPolls: tc.limit})
				for id := range int64(len(projects)) {
					for _, job := range e.pipelineOfJobs(id+1, 2) {
						e.run(job, "success")
					}
				}
				client := &gatedWalks{GitLab: e.client, gate: make(chan struct{})}
				e.s = e.newScraper(client, e.rec)
				cycled := make(chan struct{})
				go func() {
					defer close(cycled)
					e.cycle(time.Second)
				}()
				synctest.Wait()
				if got := client.open(); got != tc.want {
					t.Errorf("MaxConcurrentPolls %d: %d polls under way while all are held, want %d", tc.limit, got, tc.want)
				}
				close(client.gate)
				<-cycled
				if client.max != tc.want {
					t.Errorf("MaxConcurrentPolls %d: at most %d polls under way at once, want %d", tc.limit, client.max, tc.want)
				}
				if got := e.totalFinished(); got != 24 {
					t.Errorf("counted %d jobs, want 24", got)
				}
				e.assertExactlyOnce(epoch)
			})
		})
	}
}
