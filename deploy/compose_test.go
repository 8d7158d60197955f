// Package deploy_test checks deploy/docker-compose.yml, the Grafana
// provisioning it mounts, and the repository's Dockerfile.
package deploy_test

import (
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

type composeFile struct {
	Services map[string]struct {
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
			Target     string `yaml:"target"`
		} `yaml:"build"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Volumes []string `yaml:"volumes"`
		Secrets []string `yaml:"secrets"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, "docker-compose.yml", &c)
	return c
}

func TestComposeConfig(t *testing.T) {
	dc := deploytest.RequireTool(t, "docker-compose", deploytest.HintDockerCompose)
	if out, err := deploytest.Run(t, ".", dc, "-f", "docker-compose.yml", "config", "-q"); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// mounts maps a service's container paths to their sources; a bind mount's
// source is resolved against deploy/ as compose does.
func mounts(t *testing.T, c composeFile, service string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range c.Services[service].Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Errorf("service %s: volume %q has no container path", service, v)
			continue
		}
		src, dst := parts[0], parts[1]
		if strings.HasPrefix(src, ".") {
			if _, err := os.Stat(src); err != nil {
				t.Errorf("service %s mounts %s: %v", service, src, err)
			}
		} else if _, ok := c.Volumes[src]; !ok {
			t.Errorf("service %s uses volume %s, which is not declared", service, src)
		}
		out[dst] = src
	}
	return out
}

// flagValue returns --name=value or "--name value" from a command.
func flagValue(cmd []string, name string) string {
	for i, a := range cmd {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	return ""
}

func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"gitlab-sim", "gitlab-jobs-exporter", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %s", name)
		}
	}
	stages := dockerStages(t, parseDockerfile(t, filepath.Join(deploytest.RepoRoot(t), "Dockerfile")))
	for _, name := range []string{"gitlab-sim", "gitlab-jobs-exporter"} {
		b := c.Services[name].Build
		if b == nil {
			t.Errorf("service %s is not built from the repository", name)
			continue
		}
		if abs, _ := filepath.Abs(b.Context); abs != deploytest.RepoRoot(t) {
			t.Errorf("service %s builds from %s, want the repository root", name, b.Context)
		}
		if b.Target != "" && !slices.Contains(stages, b.Target) {
			t.Errorf("service %s builds target %q; the Dockerfile's stages are %v", name, b.Target, stages)
		}
	}
	if c.Services["gitlab-sim"].Build != nil && c.Services["gitlab-sim"].Build.Target == "" {
		t.Error("gitlab-sim builds the exporter image; it needs the gitlab-sim target")
	}
}

// TestComposeWiring follows the addresses and files between the services:
// exporter -> gitlab-sim (URL and token), Prometheus -> exporter and
// Alertmanager, Grafana -> Prometheus and the dashboards.
func TestComposeWiring(t *testing.T) {
	c := readCompose(t)

	// The exporter reads its config and token where compose puts them.
	exp := c.Services["gitlab-jobs-exporter"]
	expMounts := mounts(t, c, "gitlab-jobs-exporter")
	cfgSrc, ok := expMounts[flagValue(exp.Command, "config.file")]
	if !ok {
		t.Fatalf("the exporter's --config.file=%s is not mounted", flagValue(exp.Command, "config.file"))
	}
	if p := flagValue(exp.Command, "storage.path"); expMounts[p] == "" {
		t.Errorf("the exporter's --storage.path=%s is not a volume", p)
	}
	var cfg struct {
		Gitlab struct {
			URL       string `yaml:"url"`
			TokenFile string `yaml:"token_file"`
		} `yaml:"gitlab"`
		Webhook struct {
			Enabled         bool   `yaml:"enabled"`
			SecretTokenFile string `yaml:"secret_token_file"`
		} `yaml:"webhook"`
	}
	readYAML(t, cfgSrc, &cfg)

	sim := c.Services["gitlab-sim"]
	u, err := url.Parse(cfg.Gitlab.URL)
	if err != nil {
		t.Fatalf("gitlab.url %q: %v", cfg.Gitlab.URL, err)
	}
	_, simPort, _ := net.SplitHostPort(flagValue(sim.Command, "listen-address"))
	if u.Hostname() != "gitlab-sim" || u.Port() != simPort {
		t.Errorf("gitlab.url %s does not point at gitlab-sim's --listen-address %s", cfg.Gitlab.URL, flagValue(sim.Command, "listen-address"))
	}
	secret, ok := strings.CutPrefix(cfg.Gitlab.TokenFile, "/run/secrets/")
	if !ok || !slices.Contains(exp.Secrets, secret) {
		t.Fatalf("gitlab.token_file %s is not a secret given to the exporter (%v)", cfg.Gitlab.TokenFile, exp.Secrets)
	}
	tok, err := os.ReadFile(c.Secrets[secret].File)
	if err != nil {
		t.Fatalf("secret %s: %v", secret, err)
	}
	if strings.TrimSpace(string(tok)) != flagValue(sim.Command, "token") {
		t.Error("the exporter's token file does not hold the token gitlab-sim accepts (--token)")
	}

	// gitlab-sim sends its webhooks to the exporter's /webhook, with the
	// secret the exporter expects.
	hook, err := url.Parse(flagValue(sim.Command, "webhook-url"))
	if err != nil || hook.Hostname() != "gitlab-jobs-exporter" || hook.Path != "/webhook" || !cfg.Webhook.Enabled {
		t.Errorf("gitlab-sim's --webhook-url %v (%v) does not reach the exporter's /webhook, or webhook.enabled is off", hook, err)
	}
	hookSecret, ok := strings.CutPrefix(cfg.Webhook.SecretTokenFile, "/run/secrets/")
	simSecret, simOK := strings.CutPrefix(flagValue(sim.Command, "webhook-secret-file"), "/run/secrets/")
	if !ok || !simOK || hookSecret != simSecret || !slices.Contains(exp.Secrets, hookSecret) || !slices.Contains(sim.Secrets, simSecret) {
		t.Errorf("webhook secrets differ: the exporter reads %q (secrets %v), gitlab-sim %q (secrets %v)",
			cfg.Webhook.SecretTokenFile, exp.Secrets, flagValue(sim.Command, "webhook-secret-file"), sim.Secrets)
	}

	// Prometheus scrapes the exporter and alerts through Alertmanager.
	prom := c.Services["prometheus"]
	promCfgPath := flagValue(prom.Command, "config.file")
	promDir, ok := mounts(t, c, "prometheus")[path.Dir(promCfgPath)]
	if !ok {
		t.Fatalf("Prometheus's --config.file=%s is not in a mounted directory", promCfgPath)
	}
	var pc struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join(promDir, path.Base(promCfgPath)), &pc)
	var scraped, alerted []string
	for _, sc := range pc.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			if sc.JobName == "gitlab_jobs_exporter" {
				scraped = append(scraped, s.Targets...)
			}
		}
	}
	for _, am := range pc.Alerting.Alertmanagers {
		for _, s := range am.StaticConfigs {
			alerted = append(alerted, s.Targets...)
		}
	}
	if !slices.Contains(scraped, "gitlab-jobs-exporter:9835") {
		t.Errorf("Prometheus scrapes %v, want gitlab-jobs-exporter:9835", scraped)
	}
	if !slices.Contains(alerted, "alertmanager:9093") {
		t.Errorf("Prometheus alerts %v, want alertmanager:9093", alerted)
	}

	// Grafana reads the provisioning and the repository's dashboards.
	gm := mounts(t, c, "grafana")
	prov, ok := gm["/etc/grafana/provisioning"]
	if !ok {
		t.Fatal("Grafana's provisioning directory is not mounted")
	}
	var ds struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(prov, "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("Grafana datasources %+v, want one prometheus at http://prometheus:9090", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(prov, "dashboards", "gitlab-jobs-exporter.yml"), &dp)
	if len(dp.Providers) != 1 {
		t.Fatalf("Grafana dashboard providers %+v, want one", dp.Providers)
	}
	dashSrc, ok := gm[dp.Providers[0].Options.Path]
	if !ok {
		t.Fatalf("the dashboard provider reads %s, which is not mounted", dp.Providers[0].Options.Path)
	}
	if abs, _ := filepath.Abs(dashSrc); abs != filepath.Join(deploytest.RepoRoot(t), "dashboards") {
		t.Errorf("Grafana's dashboards come from %s, want the repository's dashboards/", dashSrc)
	}
}
