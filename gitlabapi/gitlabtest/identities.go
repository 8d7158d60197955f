package gitlabtest

// Users and runners are a small fixed cast: the exporter only reads them as
// labels, and sharing them keeps jobs small.

type user struct {
	id                int64
	username, name    string
	createdAt         stamp
	bot               bool
	authorEmailDomain string
}

var users = []*user{
	{id: 1, username: "root", name: "Administrator", createdAt: 1_600_000_000_000_000, authorEmailDomain: "example.com"},
	{id: 12, username: "alice", name: "Alice Example", createdAt: 1_650_000_000_000_000, authorEmailDomain: "example.com"},
	{id: 37, username: "project_7_bot_3b0d", name: "CI bot", createdAt: 1_700_000_000_000_000, bot: true, authorEmailDomain: "noreply.example.com"},
}

type runner struct {
	id          int64
	description string
	name        string // "" renders null, as for runners registered without one
	runnerType  string
	shared      bool
	tags        []string // the runner's own tags; webhooks show them
	runUntagged bool     // also takes jobs without tags (GitLab's run_untagged)
	createdAt   stamp
	manager     runnerManager
}

type runnerManager struct {
	id                 int64
	systemID, version  string
	revision, platform string
	architecture       string
	createdAt          stamp
}

var runners = []*runner{
	{id: 12270852, description: "1-green.saas-linux-small-amd64.runners-manager.example.com/default", name: "gitlab-runner",
		runnerType: "instance_type", shared: true, runUntagged: true, tags: []string{"docker", "linux", "saas-linux-small-amd64"}, createdAt: 1_636_998_534_243_000,
		manager: runnerManager{id: 74819383, systemID: "s_0e6850b2bce1", version: "18.3.0", revision: "b8a899e1", platform: "linux", architecture: "amd64", createdAt: 1_753_272_531_635_000}},
	{id: 12270853, description: "2-green.saas-linux-small-amd64.runners-manager.example.com/default", name: "gitlab-runner",
		runnerType: "instance_type", shared: true, runUntagged: true, tags: []string{"docker", "linux", "saas-linux-small-amd64"}, createdAt: 1_636_998_534_243_000,
		manager: runnerManager{id: 74819384, systemID: "s_1a2b3c4d5e6f", version: "18.3.0", revision: "b8a899e1", platform: "linux", architecture: "amd64", createdAt: 1_753_272_531_635_000}},
	{id: 40021, description: "group-runner-arm", name: "arm-builder",
		runnerType: "group_type", shared: false, tags: []string{"arm64", "docker", "linux"}, createdAt: 1_700_000_000_000_000,
		manager: runnerManager{id: 900001, systemID: "r_9f8e7d6c5b4a", version: "17.11.2", revision: "a1b2c3d4", platform: "linux", architecture: "arm64", createdAt: 1_720_000_000_000_000}},
	{id: 51234, description: "project-runner-windows", name: "",
		runnerType: "project_type", shared: false, tags: []string{"windows"}, createdAt: 1_710_000_000_000_000,
		manager: runnerManager{id: 900002, systemID: "s_77aa88bb99cc", version: "18.0.1", revision: "0f0e0d0c", platform: "windows", architecture: "amd64", createdAt: 1_730_000_000_000_000}},
}
