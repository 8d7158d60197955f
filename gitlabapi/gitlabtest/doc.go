// Package gitlabtest is an in-memory GitLab served over HTTP, for tests,
// benchmarks and the demo (cmd/gitlab-sim).
//
// It models groups, projects, pipelines, jobs and bridges, renders them with
// GitLab's JSON shapes and answers the REST endpoints the exporter uses the
// way the real API does (see /work/shared/gitlab-api/README.md for the
// sources): offset and keyset pagination with their exact header sets,
// GitLab's error bodies, Rack::Attack rate-limit headers, %2F-encoded project
// paths. Tests drive the model by hand (CreateJob, Start, Finish, ...) with a
// ManualClock, inject faults (429s, 5xx, slow or broken bodies, connection
// resets), and compare what a client collected against Jobs(), the ground
// truth. A Workload generates realistic traffic for benchmarks and the demo.
//
// Webhooks: AddWebhook sends a Job Hook for every status change of every
// build (a new job's first status included; none for bridges, as GitLab)
// and a Pipeline Hook for every pipeline status change, with GitLab's
// headers and payloads rendered under the model lock at the change, in the
// docs' ISO or gitlab.com's "2006-01-02 15:04:05 UTC" timestamps. Seeded
// faults lose, duplicate (same X-Gitlab-Event-UUID and Idempotency-Key),
// delay, reorder or mis-sign deliveries. A goroutine per webhook sends in
// real time (a full queue drops, the model never waits); with Manual set,
// Flush sends what is due on the Server's Clock, for deterministic runs.
// Deliveries and Stats record each event's fate for comparison with what a
// receiver saw; Close stops delivery. Pipeline Hooks' builds[] leave
// bridges out, as GitLab's latest_builds does. A pipeline's creation is not
// a status change: its first hook comes when its status first moves.
//
// Deliberate simplifications, each noted where it is implemented:
//   - Timestamps are stored with microsecond precision (PostgreSQL) and
//     rendered with milliseconds, so durations cannot be recomputed exactly
//     from the rendered timestamps, as with the real API.
//   - Keyset per_page is clamped to 100 (GitLab documents the maximum but does
//     not clamp in the cursor path); a bad cursor answers 400 {"error":"cursor
//     is invalid"}, while real GitLab's answer is undetermined (likely 500).
//   - A pipeline's updated_at moves only when its status changes (inferred
//     from GitLab's state machine); a job changing inside a running pipeline
//     does not touch it.
//   - The authenticated throttle applies only to requests with a valid
//     token, per user (Options.Users adds users with tokens of their own);
//     requests with a wrong token get 401 without RateLimit headers.
//   - Token query parameters (private_token, job_token, access_token) are
//     accepted but never echoed into Link headers or the request log. A job
//     token is accepted on every endpoint, not only on job_token_allowed ones.
//   - As in GitLab, queued_duration runs from queued_at to started_at or now,
//     so a job canceled while pending keeps a growing queued_duration.
//   - Pipeline status follows Gitlab::Ci::Status::Composite without DAG
//     details; unknown job statuses count as running.
//   - Besides the endpoints the exporter needs, GET /projects (offset and
//     id_after/id_before keyset) and GET /projects/:id/pipelines/:pipeline_id
//     are served.
//   - A job's coverage is set when it finishes (FinishOptions.Coverage);
//     GitLab parses it from the log in BuildFinishedWorker, a moment later.
//   - Merge requests exist only as far as merge request pipelines need them
//     (PipelineOptions.SourceBranch): open, mergeable, on the default branch.
//
// For pipeline metrics, PipelineFinishes (after TrackPipelineFinishes) lists
// every pipeline finish with the duration and coverage the single-pipeline
// endpoint shows at that moment.
package gitlabtest
