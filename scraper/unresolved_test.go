package scraper_test

import (
	"testing"
	"time"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/event"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi/gitlabtest"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// A configured project that cannot be resolved is not polled, but it is
// visible: project_up 0 and poll_errors_total{reason} under its configured
// name, again at every discovery, until it resolves; then it is polled and
// counted like any other, and a configured name that is not its path goes.
func TestUnresolvedProjectIsVisibleAndRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		// configured is the entry under projects, for the fake's g/late,
		// project 2 (project 1 is g/good).
		configured string
		// breakIt makes the lookup of g/late fail from the start; fix
		// repairs it.
		breakIt func(f *faultEnv) (fix func())
		reason  string
	}{
		{
			name: "typo or rename (404)", configured: "g/late", reason: event.ReasonNotFound,
			breakIt: func(f *faultEnv) func() {
				return func() { f.gl.CreateProject("g/late", gitlabtest.ProjectOptions{}) }
			},
		},
		{
			// GitLab itself answers 404 for a project the token cannot see;
			// a 403 comes from a token without read_api, or a proxy.
			name: "refused (403)", configured: "g/late", reason: event.ReasonForbidden,
			breakIt: lookupFails(403),
		},
		{
			name: "configured by id, refused (403)", configured: "2", reason: event.ReasonForbidden,
			breakIt: lookupFails(403),
		},
		{
			name: "GitLab failing (502)", configured: "g/late", reason: event.ReasonServerError,
			breakIt: lookupFails(502),
		},
		{
			name: "token revoked (401)", configured: "g/late", reason: event.ReasonUnauthorized,
			breakIt: func(f *faultEnv) func() {
				f.gl.CreateProject("g/late", gitlabtest.ProjectOptions{})
				f.gl.RevokeToken()
				return f.gl.RestoreToken
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaultEnv(t, []string{"g/good"}, 2*time.Second)
			defer f.close()
			fix := tc.breakIt(f)
			f.reconfigure(func(o *scraper.Options) {
				o.Projects = []string{"g/good", tc.configured}
				o.DiscoveryInterval = 5 * time.Minute
			})

			for discovery := 1; discovery <= 2; discovery++ {
				f.cycle(5 * time.Minute) // discovery is due each time
				if v, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": tc.configured}); !ok || v != 0 {
					t.Fatalf("discovery %d: project_up{project=%q} = %v (present %v), want 0", discovery, tc.configured, v, ok)
				}
				errs, _ := f.value("gitlab_jobs_exporter_poll_errors_total", map[string]string{"project": tc.configured, "reason": tc.reason})
				if errs != float64(discovery) {
					t.Errorf("discovery %d: poll_errors_total{reason=%s} = %v, want %d (one per discovery)", discovery, tc.reason, errs, discovery)
				}
			}
			if tc.reason != event.ReasonUnauthorized {
				if v, _ := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "g/good"}); v != 1 {
					t.Errorf("project_up{g/good} = %v while another project is unresolved, want 1", v)
				}
			}

			fix()
			jobs := f.finishedJobs(2, 2, "late")
			f.cycle(5 * time.Minute)
			if v, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "g/late"}); !ok || v != 1 {
				t.Errorf("after the fix: project_up{g/late} = %v (present %v), want 1", v, ok)
			}
			for _, id := range jobs {
				if n := f.rec.finished[id]; n != 1 {
					t.Errorf("job %d of the project resolved late counted %d times, want 1", id, n)
				}
			}
			_, left := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": tc.configured})
			if tc.configured != "g/late" && left {
				t.Errorf("project_up{project=%q} still exported once the project resolved as g/late", tc.configured)
			}
		})
	}
}

// A polled project whose lookup fails at a discovery is not reported as
// unresolved: it stays polled, and its polls tell how it is.
func TestPolledProjectLookupFailureIsNotUnresolved(t *testing.T) {
	f := newFaultEnv(t, []string{"g/good", "g/late"}, 2*time.Second)
	defer f.close()
	f.reconfigure(func(o *scraper.Options) {
		o.Projects = []string{"g/good", "2"}
		o.DiscoveryInterval = 5 * time.Minute
	})
	f.cycle(time.Second)
	f.gl.InjectFault(gitlabtest.Fault{Endpoint: gitlabtest.EndpointProject, ProjectID: 2, Kind: gitlabtest.FaultServerError, Status: 502})
	f.cycle(5 * time.Minute)
	if _, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "2"}); ok {
		t.Errorf("a polled project configured by id is reported unresolved under its id")
	}
	if v, _ := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "g/late"}); v != 1 {
		t.Errorf("project_up{g/late} = %v, want 1: its polls succeed", v)
	}
	if f.rec.lastPoll(t, "g/late").Err != nil {
		t.Errorf("g/late is no longer polled successfully")
	}
}

// An unresolved project taken out of the configuration takes its series
// with it.
func TestUnresolvedProjectRemovedFromConfig(t *testing.T) {
	f := newFaultEnv(t, []string{"g/good"}, 2*time.Second)
	defer f.close()
	f.reconfigure(func(o *scraper.Options) { o.Projects = []string{"g/good", "g/typo"} })
	f.cycle(time.Second)
	if _, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "g/typo"}); !ok {
		t.Fatal("the unresolved project is not exported")
	}
	f.reconfigure(func(o *scraper.Options) { o.Projects = []string{"g/good"} })
	f.cycle(time.Second)
	for _, name := range []string{"gitlab_jobs_exporter_project_up", "gitlab_jobs_exporter_poll_errors_total"} {
		if _, ok := f.value(name, map[string]string{"project": "g/typo"}); ok {
			t.Errorf("%s{project=g/typo} still exported after it left the configuration", name)
		}
	}
	if v, _ := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "g/good"}); v != 1 {
		t.Errorf("project_up{g/good} = %v, want 1", v)
	}
}

// A configured project deleted while polled stays visible as down: its
// job series go, project_up 0 with reason not_found stays.
func TestDeletedConfiguredProjectStaysVisible(t *testing.T) {
	f := newFaultEnv(t, []string{"g/good", "g/gone"}, 2*time.Second)
	defer f.close()
	f.reconfigure(func(o *scraper.Options) { o.DiscoveryInterval = 5 * time.Minute })
	f.finishedJobs(2, 1, "x")
	f.cycle(time.Second)
	if v, _ := f.value("gitlab_ci_job_duration_seconds", map[string]string{"project": "g/gone"}); v != 1 {
		t.Fatalf("g/gone: %v jobs counted, want 1", v)
	}
	f.gl.DeleteProject(2)
	f.cycle(5 * time.Minute)
	if _, ok := f.value("gitlab_ci_job_duration_seconds", map[string]string{"project": "g/gone"}); ok {
		t.Errorf("job series of the deleted project are still exported")
	}
	if v, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "g/gone"}); !ok || v != 0 {
		t.Errorf("project_up{g/gone} = %v (present %v), want 0", v, ok)
	}
	if v, _ := f.value("gitlab_jobs_exporter_poll_errors_total", map[string]string{"project": "g/gone", "reason": "not_found"}); v != 1 {
		t.Errorf("poll_errors_total{g/gone, not_found} = %v, want 1", v)
	}
}

// Every configured group has group_up; one that cannot be listed is 0 and
// counted in group_errors_total until it can, and a group taken out of the
// configuration takes its series with it.
func TestGroupListingIsVisible(t *testing.T) {
	f := newFaultEnv(t, []string{"g/good"}, 2*time.Second)
	defer f.close()
	f.reconfigure(func(o *scraper.Options) {
		o.Groups = []scraper.Group{{Path: "g"}, {Path: "team"}}
		o.DiscoveryInterval = 5 * time.Minute
	})
	for discovery := 1; discovery <= 2; discovery++ {
		f.cycle(5 * time.Minute)
		if v, ok := f.value("gitlab_jobs_exporter_group_up", map[string]string{"group": "team"}); !ok || v != 0 {
			t.Fatalf("discovery %d: group_up{team} = %v (present %v), want 0", discovery, v, ok)
		}
		if v, _ := f.value("gitlab_jobs_exporter_group_errors_total", map[string]string{"group": "team", "reason": "not_found"}); v != float64(discovery) {
			t.Errorf("discovery %d: group_errors_total{team, not_found} = %v, want %d", discovery, v, discovery)
		}
		if v, _ := f.value("gitlab_jobs_exporter_group_up", map[string]string{"group": "g"}); v != 1 {
			t.Errorf("discovery %d: group_up{g} = %v, want 1", discovery, v)
		}
	}
	f.gl.CreateProject("team/api", gitlabtest.ProjectOptions{})
	f.cycle(5 * time.Minute)
	if v, _ := f.value("gitlab_jobs_exporter_group_up", map[string]string{"group": "team"}); v != 1 {
		t.Errorf("group_up{team} = %v once it exists, want 1", v)
	}
	if v, ok := f.value("gitlab_jobs_exporter_project_up", map[string]string{"project": "team/api"}); !ok || v != 1 {
		t.Errorf("project_up{team/api} = %v (present %v): the group's project is not polled", v, ok)
	}
	f.reconfigure(func(o *scraper.Options) { o.Groups = []scraper.Group{{Path: "g"}} })
	f.cycle(time.Second)
	for _, name := range []string{"gitlab_jobs_exporter_group_up", "gitlab_jobs_exporter_group_errors_total"} {
		if _, ok := f.value(name, map[string]string{"group": "team"}); ok {
			t.Errorf("%s{group=team} still exported after it left the configuration", name)
		}
	}
}

// lookupFails creates g/late and makes GET /projects/:id answer status for
// it until fixed.
func lookupFails(status int) func(f *faultEnv) func() {
	return func(f *faultEnv) func() {
		id := f.gl.CreateProject("g/late", gitlabtest.ProjectOptions{})
		fault := f.gl.InjectFault(gitlabtest.Fault{Endpoint: gitlabtest.EndpointProject, ProjectID: id,
			Kind: gitlabtest.FaultServerError, Status: status})
		return func() { f.gl.RemoveFault(fault) }
	}
}

// reconfigure changes the scraper's options as a reload does.
func (f *faultEnv) reconfigure(change func(o *scraper.Options)) {
	f.t.Helper()
	change(&f.opts)
	if err := f.s.Reconfigure(f.opts); err != nil {
		f.t.Fatal(err)
	}
}
