package gitlabtest

import (
	"encoding/json"
	"testing"
	"time"
)

// TestWorkloadSendsHooks: the workload's transitions go through the model,
// so a faultless webhook ends up agreeing with the ground truth: the last
// Job Hook of every build and the last Pipeline Hook of every pipeline
// carry its current status, and no bridge has a Job Hook.
func TestWorkloadSendsHooks(t *testing.T) {
	c := NewManualClock(t0)
	s := NewServer(Options{Clock: c})
	t.Cleanup(s.Close)
	rc := newReceiver(t)
	hook, err := s.AddWebhook(WebhookOptions{URL: rc.url(), Manual: true})
	must(t, err)
	opt := busy
	opt.JobsPerHour = 1200
	w := NewWorkload(s, c, opt)
	for range 20 {
		w.Step(time.Minute)
		flush(t, hook)
	}
	if w.errs != 0 {
		t.Fatalf("the model refused %d workload transitions", w.errs)
	}

	type hookBody struct {
		ObjectKind string `json:"object_kind"`
		Builds     []struct {
			Name        string `json:"name"`
			Stage       string `json:"stage"`
			Environment *struct {
				Name           string `json:"name"`
				DeploymentTier string `json:"deployment_tier"`
			} `json:"environment"`
		} `json:"builds"`
		BuildID        int64  `json:"build_id"`
		BuildStatus    string `json:"build_status"`
		SourcePipeline *struct {
			JobID int64 `json:"job_id"`
		} `json:"source_pipeline"`
		ObjectAttributes struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"object_attributes"`
	}
	lastJob, jobHooks := map[int64]string{}, map[int64]int{}
	lastPipeline := map[int64]string{}
	fromBridge := map[int64]int64{} // child pipeline → bridge, from source_pipeline
	deploys := 0
	for _, r := range rc.requests() {
		var b hookBody
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		switch b.ObjectKind {
		case "build":
			lastJob[b.BuildID] = b.BuildStatus
			jobHooks[b.BuildID]++
		case "pipeline":
			lastPipeline[b.ObjectAttributes.ID] = b.ObjectAttributes.Status
			for _, build := range b.Builds {
				env := build.Environment
				switch {
				case build.Stage == "deploy" && (env == nil || env.Name != "prod/eu" || env.DeploymentTier != "production"):
					t.Errorf("deploy build %q: environment %+v, want prod/eu in production", build.Name, env)
				case build.Stage != "deploy" && env != nil:
					t.Errorf("build %q deploys to %+v", build.Name, env)
				}
				deploys += boolInt(build.Stage == "deploy")
			}
			if b.SourcePipeline != nil {
				fromBridge[b.ObjectAttributes.ID] = b.SourcePipeline.JobID
			}
		}
	}

	var builds, bridges, changed int
	for _, j := range s.Jobs() {
		if j.IsBridge {
			bridges++
			if jobHooks[j.ID] != 0 {
				t.Errorf("bridge %d has %d Job Hooks", j.ID, jobHooks[j.ID])
			}
			continue
		}
		builds++
		if lastJob[j.ID] != j.Status {
			t.Errorf("job %d is %s, its last Job Hook says %q", j.ID, j.Status, lastJob[j.ID])
		}
		if jobHooks[j.ID] > 1 {
			changed++
		}
	}
	s.mu.RLock()
	var pipelines, children int
	for id, p := range s.m.pipelines {
		if p.upstream != nil && p.status != "created" {
			children++
			if fromBridge[id] != p.upstream.id {
				t.Errorf("child pipeline %d: source_pipeline.job_id %d, want bridge %d", id, fromBridge[id], p.upstream.id)
			}
		}
		if p.status == "created" {
			continue // never changed: no hook yet
		}
		pipelines++
		if lastPipeline[id] != p.status {
			t.Errorf("pipeline %d is %s, its last Pipeline Hook says %q", id, p.status, lastPipeline[id])
		}
	}
	s.mu.RUnlock()
	if builds < 50 || bridges == 0 || changed < builds/2 || pipelines < 20 || children == 0 || deploys == 0 {
		t.Errorf("%d builds (%d changed), %d bridges, %d pipelines, %d children, %d deploys: too little traffic to tell",
			builds, changed, bridges, pipelines, children, deploys)
	}
	if st := hook.Stats(); st.Sent != st.Events || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
