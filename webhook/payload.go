package webhook

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/gitlabapi"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/scraper"
)

// delivery is the part of a Job or Pipeline Hook the hints come from: ids
// and statuses. Timestamps are not read; both forms GitLab sends
// (2021-02-23T02:41:37.886Z, 2023-01-10 13:50:02 UTC) are fine here.
type delivery struct {
	ObjectKind string `json:"object_kind"`

	// Job Hook ("build").
	BuildID     int64               `json:"build_id"`
	BuildStatus gitlabapi.JobStatus `json:"build_status"`
	PipelineID  int64               `json:"pipeline_id"`
	ProjectID   int64               `json:"project_id"`

	// Pipeline Hook ("pipeline").
	ObjectAttributes struct {
		ID     int64               `json:"id"`
		Status gitlabapi.JobStatus `json:"status"`
	} `json:"object_attributes"`
	Project struct {
		ID int64 `json:"id"`
	} `json:"project"`
	SourcePipeline *struct {
		Project struct {
			ID int64 `json:"id"`
		} `json:"project"`
		PipelineID int64 `json:"pipeline_id"`
	} `json:"source_pipeline"`
}

func bridgeMayHaveMoved(childStatus gitlabapi.JobStatus) bool {
	switch childStatus {
	case gitlabapi.StatusCreated, gitlabapi.StatusPending:
		return true
	}
	return childStatus.Finished()
}

var errNotObject = errors.New("the body is not a JSON object")

// parse reads a delivery's hints and its kind (EventJob, EventPipeline or
// EventOther). Events other than jobs and pipelines give no hint.
func parse(body []byte) ([]scraper.Hint, string, error) {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, "", errNotObject
	}
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, "", err
	}
	switch d.ObjectKind {
	case "build":
		if d.ProjectID == 0 || d.BuildID == 0 {
			return nil, EventJob, nil
		}
		return []scraper.Hint{{ProjectID: d.ProjectID, JobID: d.BuildID, PipelineID: d.PipelineID,
			JobStatus: d.BuildStatus}}, EventJob, nil
	case "pipeline":
		var hints []scraper.Hint
		if d.Project.ID != 0 && d.ObjectAttributes.ID != 0 {
			hints = append(hints, scraper.Hint{ProjectID: d.Project.ID, PipelineID: d.ObjectAttributes.ID,
				JobStatus: d.ObjectAttributes.Status})
		}
		// A child pipeline was created or finished: its parent's bridge
		// may have moved too (it finishes with the child, or as soon as
		// the child exists). In between the bridge only runs.
		if sp := d.SourcePipeline; sp != nil && sp.Project.ID != 0 && sp.PipelineID != 0 && bridgeMayHaveMoved(d.ObjectAttributes.Status) {
			hints = append(hints, scraper.Hint{ProjectID: sp.Project.ID, BridgesOf: sp.PipelineID})
		}
		return hints, EventPipeline, nil
	}
	return nil, EventOther, nil
}
