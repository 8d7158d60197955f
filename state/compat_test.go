package state

import (
	"os"
	"path/filepath"
	"testing"
)

// A state file written before followed jobs lost their name, stage and ref,
// and before jobs waiting for a runner were kept, still loads, with its
// followed jobs and none waiting (the next poll finds the pending ones).
func TestLoadsFollowedJobsWithTheirOldFields(t *testing.T) {
	dir := t.TempDir()
	const instance = "https://gitlab.example.com"
	s, err := OpenStore(dir, instance)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"version":1,"instance":"https://gitlab.example.com","project":{"id":7,"path":"g/app","default_branch":"main",` +
		`"high_water":12,"high_water_created":"2026-03-02T09:00:00Z","recent":{},"max_pipeline_id":3,` +
		`"followed":{"12":{"id":12,"pipeline_id":3,"name":"deploy","stage":"deploy","ref":"main","status":"manual","created_at":"2026-03-02T09:00:00Z"}},` +
		`"pipelines":{},"last_parked_check":"2026-03-02T09:00:00Z"}}`
	if err := os.WriteFile(filepath.Join(dir, "projects", "7.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := s.Load(7)
	if err != nil {
		t.Fatal(err)
	}
	if f := p.Followed[12]; f == nil || f.PipelineID != 3 || f.Status != "manual" || f.CreatedAt.IsZero() {
		t.Errorf("followed job 12 = %+v", f)
	}
	if p.Waiting != nil {
		t.Errorf("waiting = %v, want none", p.Waiting)
	}
}
