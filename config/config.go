// Package config loads the exporter's YAML configuration: strict decoding
// (unknown keys are errors), defaults, validation and token resolution, with
// every problem reported at once as file:line: key: message.
package config

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// Config is the whole exporter configuration.
type Config struct {
	GitLab    GitLab       `yaml:"gitlab"`
	Poll      Poll         `yaml:"poll"`
	Discovery Discovery    `yaml:"discovery"`
	Projects  []ProjectRef `yaml:"projects"`
	Groups    []Group      `yaml:"groups"`
	Refs      Refs         `yaml:"refs"`
	Metrics   Metrics      `yaml:"metrics"`
	Webhook   Webhook      `yaml:"webhook"`

	// token and webhookSecret are behind pointers because fmt prints
	// nested pointers as addresses, so even %+v of a Config value cannot
	// reveal them.
	token, webhookSecret *string
}

// GitLab says how to reach the GitLab API.
type GitLab struct {
	URL       string `yaml:"url"`
	Token     Secret `yaml:"token,omitempty"`
	TokenFile string `yaml:"token_file,omitempty"`
	// AuthMode is AuthPrivateToken or AuthBearer.
	AuthMode              string   `yaml:"auth_mode"`
	RequestsPerSecond     float64  `yaml:"requests_per_second"`
	Burst                 int      `yaml:"burst"`
	MaxConcurrentRequests int      `yaml:"max_concurrent_requests"`
	Timeout               Duration `yaml:"timeout"`
	MaxRetries            int      `yaml:"max_retries"`
	CAFile                string   `yaml:"ca_file,omitempty"`
	InsecureSkipVerify    bool     `yaml:"insecure_skip_verify"`
}

// Values of GitLab.AuthMode.
const (
	AuthPrivateToken = "private-token" // PRIVATE-TOKEN header
	AuthBearer       = "bearer"        // Authorization: Bearer
)

// EnvToken is the environment variable that overrides any token in the file.
const EnvToken = "GITLAB_TOKEN"

// Poll controls how often jobs are fetched.
type Poll struct {
	Interval        Duration `yaml:"interval"`
	InitialLookback Duration `yaml:"initial_lookback"`
	// ParkedRecheckInterval is how often manual/scheduled jobs are rechecked.
	ParkedRecheckInterval Duration `yaml:"parked_recheck_interval"`
	// ParkedMaxAge is how long an unplayed manual or scheduled job is
	// followed; one played later is not counted.
	ParkedMaxAge Duration `yaml:"parked_max_age"`
	// RetryWindow is how long an idle pipeline's job names stay in memory.
	// A retry in a pipeline idle for longer is still recognised, at the
	// cost of one request listing that pipeline's jobs.
	RetryWindow Duration `yaml:"retry_window"`
}

// Discovery controls how often group membership is re-listed.
type Discovery struct {
	Interval Duration `yaml:"interval"`
}

// Group selects projects of a group (by path or numeric id).
type Group struct {
	Path             string `yaml:"path"`
	IncludeSubgroups *bool  `yaml:"include_subgroups"`
	// Include and Exclude match path_with_namespace, anchored at both ends.
	Include *Regexp `yaml:"include,omitempty"`
	Exclude *Regexp `yaml:"exclude,omitempty"`
}

// Refs selects which refs' jobs are exported.
type Refs struct {
	// Tracked is optional; the project's default branch is always tracked.
	Tracked *Regexp `yaml:"tracked,omitempty"`
}

// Load reads the file at path, decodes it strictly, applies defaults,
// validates it and resolves the token: env GITLAB_TOKEN (if non-empty) wins,
// then gitlab.token_file (trimmed contents), then gitlab.token. getenv may be
// nil (os.Getenv is used). Warnings are non-fatal findings, such as a token
// written inline. A returned error is an *Error listing every problem,
// except when the file cannot be read at all.
func Load(path string, getenv func(string) string) (cfg *Config, warnings []string, err error) {
	return LoadShard(path, getenv, 0)
}

// Parse is Load without reading the file. filename is used in messages, and
// relative gitlab.token_file and gitlab.ca_file paths are resolved against
// its directory (as Prometheus does), so a config can ship next to its
// secrets.
func Parse(data []byte, filename string, getenv func(string) string) (*Config, []string, error) {
	return ParseShard(data, filename, getenv, 0)
}

// ResolvedToken returns the token Load resolved; empty for a Config that
// was not built by Load or Parse.
func (c *Config) ResolvedToken() string {
	if c == nil || c.token == nil {
		return ""
	}
	return *c.token
}

// WebhookSecret returns the webhook's secret token Load resolved; empty
// when the webhook is off.
func (c *Config) WebhookSecret() string {
	if c == nil || c.webhookSecret == nil {
		return ""
	}
	return *c.webhookSecret
}

// String renders the effective config as YAML, with the token masked, for
// --config.check and logs.
func (c *Config) String() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return "# cannot render config: " + err.Error()
	}
	_ = enc.Close()
	return b.String()
}
