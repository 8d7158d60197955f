package gitlabtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWorkloadRunnerPools: the jobs ask for tag sets and are run by
// runners that have those tags, of every runner type; untagged jobs run on
// the shared runners. The scenarios' five-job pipelines already use shared
// and group runners; pipelines of 15 add the Windows build, for the project runner.
func TestWorkloadRunnerPools(t *testing.T) {
	byTags := map[string][]string{} // runner tags by description
	for _, r := range runners {
		byTags[r.description] = r.tags
	}
	for _, tc := range []struct {
		jobsPerPipeline int
		wantTypes       []string
	}{
		{5, []string{"group_type", "instance_type"}},
		{15, []string{"group_type", "instance_type", "project_type"}}, // three builds: linux, arm64, windows
	} {
		t.Run(fmt.Sprintf("%d jobs per pipeline", tc.jobsPerPipeline), func(t *testing.T) {
			opt := WorkloadOptions{Projects: 5, JobsPerHour: 2000, JobsPerPipeline: tc.jobsPerPipeline, ManualRate: 0.25,
				ChildPipelineRate: 0.2, Seed: 7}
			s, _ := runWorkload(t, opt, time.Hour)
			types, tagSets := map[string]int{}, map[string]int{}
			for _, r := range s.Jobs() {
				if r.IsBridge {
					if r.Tags != nil || r.RunnerType != "" {
						t.Errorf("bridge %d has tags %q or runner %q", r.ID, r.Tags, r.RunnerDescription)
					}
					continue
				}
				tagSets[strings.Join(r.Tags, ",")]++
				if (r.StartedAt != nil) != (r.RunnerType != "") {
					t.Errorf("job %d (%s): started %v, runner %q", r.ID, r.Status, r.StartedAt != nil, r.RunnerDescription)
				}
				if r.RunnerType == "" {
					continue
				}
				types[r.RunnerType]++
				has := byTags[r.RunnerDescription]
				for _, tag := range r.Tags {
					if !slices.Contains(has, tag) {
						t.Errorf("job %d asks for %q, ran on %s with tags %q", r.ID, r.Tags, r.RunnerDescription, has)
					}
				}
				if len(r.Tags) == 0 && r.RunnerType != "instance_type" {
					t.Errorf("untagged job %d ran on %s runner %s, which takes no untagged jobs", r.ID, r.RunnerType, r.RunnerDescription)
				}
			}
			if got := slices.Sorted(maps.Keys(types)); !slices.Equal(got, tc.wantTypes) {
				t.Errorf("runner types %v, want %v", types, tc.wantTypes)
			}
			if tagSets[""] == 0 || len(tagSets) < 3 {
				t.Errorf("tag sets %v: want untagged jobs and at least two tag sets", tagSets)
			}
		})
	}
}
