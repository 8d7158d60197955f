package gitlabtest

import "strconv"

// The parts Job and Pipeline Hooks share, after GitLab's hook_attrs
// (lib/gitlab/data_builder/, see ../shared/gitlab-api/README.md §6).

type hookUserJSON struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url"`
	Email     string `json:"email"`
}

type hookProjectJSON struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	Description       string  `json:"description"`
	WebURL            string  `json:"web_url"`
	AvatarURL         *string `json:"avatar_url"`
	GitSSHURL         string  `json:"git_ssh_url"`
	GitHTTPURL        string  `json:"git_http_url"`
	Namespace         string  `json:"namespace"`
	VisibilityLevel   int     `json:"visibility_level"`
	PathWithNamespace string  `json:"path_with_namespace"`
	DefaultBranch     string  `json:"default_branch"`
}

type hookRunnerJSON struct {
	ID          int64    `json:"id"`
	Description string   `json:"description"`
	RunnerType  string   `json:"runner_type"`
	Active      bool     `json:"active"`
	IsShared    bool     `json:"is_shared"`
	Tags        []string `json:"tags"`
}

type sourcePipelineJSON struct {
	Project struct {
		ID                int64  `json:"id"`
		WebURL            string `json:"web_url"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
	JobID      int64 `json:"job_id"`
	PipelineID int64 `json:"pipeline_id"`
}

// visibilityPrivate is Gitlab::VisibilityLevel::PRIVATE; the fake's
// projects are private, as the REST answers say.
const visibilityPrivate = 0

// hookRenderer builds payloads under Server.mu, in one timestamp form.
type hookRenderer struct {
	renderer
	utc bool
}

func (r *hookRenderer) time(s stamp) hookTime { return hookTime{at: s, utc: r.utc} }

func (r *hookRenderer) hookUser(u *user) *hookUserJSON {
	return &hookUserJSON{
		ID: u.id, Name: u.name, Username: u.username,
		AvatarURL: "https://secure.gravatar.com/avatar/" + strconv.FormatInt(u.id, 16) + "?s=80&d=identicon",
		Email:     u.username + "@" + u.authorEmailDomain,
	}
}

func (r *hookRenderer) hookProject(p *project) hookProjectJSON {
	return hookProjectJSON{
		ID: p.id, Name: p.name, WebURL: r.projectURL(p),
		GitSSHURL: "git@" + hostOf(r.base) + ":" + p.path + ".git", GitHTTPURL: r.projectURL(p) + ".git",
		Namespace: p.group.name, VisibilityLevel: visibilityPrivate, PathWithNamespace: p.path,
		DefaultBranch: p.defaultBranch,
	}
}

func (r *hookRenderer) hookRunner(rn *runner) *hookRunnerJSON {
	if rn == nil {
		return nil
	}
	tags := rn.tags
	if tags == nil {
		tags = []string{}
	}
	return &hookRunnerJSON{
		ID: rn.id, Description: rn.description, RunnerType: rn.runnerType,
		Active: true, IsShared: rn.shared, Tags: tags,
	}
}

// sourcePipeline is set for child pipelines only, as GitLab adds the key
// only when a pipeline has a source pipeline.
func (r *hookRenderer) sourcePipeline(p *pipeline) *sourcePipelineJSON {
	b := p.upstream
	if b == nil {
		return nil
	}
	up := b.pipeline
	out := &sourcePipelineJSON{JobID: b.id, PipelineID: up.id}
	out.Project.ID = up.project.id
	out.Project.WebURL = r.projectURL(up.project)
	out.Project.PathWithNamespace = up.project.path
	return out
}

func (r *hookRenderer) pipelineURL(p *pipeline) string {
	return r.projectURL(p.project) + "/-/pipelines/" + strconv.FormatInt(p.id, 10)
}

// commitMessage is the message of the fake's commits, the same as the
// REST commit object's.
func commitMessage(p *pipeline) (title, message string) {
	title = "Update " + p.sourceRef()
	return title, title + "\n"
}

// mergeRequestTitle is the title of the fake's merge requests.
func mergeRequestTitle(mr *mergeRequest) string { return "Resolve " + mr.sourceBranch }

// nullSHA is the before_sha of a pipeline without a previous push, what
// the REST pipeline also shows.
const nullSHA = "0000000000000000000000000000000000000000"

// hookBase is X-Gitlab-Instance and the base of the payloads' URLs.
func (s *Server) hookBase() string {
	if b := s.URL(); b != "" {
		return b
	}
	return "http://gitlab.example.com"
}
