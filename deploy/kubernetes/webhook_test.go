package kubernetes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/config"
	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// TestWebhookComponent builds the base with the webhook component, as its
// comment says to, and checks that the Ingress routes /webhook alone to the
// exporter's Service port, and that the settings the comment gives load.
func TestWebhookComponent(t *testing.T) {
	kubectl := deploytest.RequireTool(t, "kubectl", deploytest.HintKubectl)
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, root) // kustomize takes no absolute roots
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(
		"resources:\n  - "+rel+"\ncomponents:\n  - "+filepath.Join(rel, "components", "webhook")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := deploytest.Run(t, ".", kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone", dir)
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	var ingress ingressObject
	var service, port string
	found := false
	for _, o := range decodeAll(t, "kustomize output", []byte(out)) {
		switch o.Kind {
		case "Ingress":
			o.decode(t, &ingress)
			found = true
		case "Service":
			service = o.Metadata.Name
			port = "http-metrics"
		}
	}
	if !found {
		t.Fatal("no Ingress in the build with the webhook component")
	}
	for _, r := range ingress.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			if p.Path != "/webhook" || p.PathType != "Exact" {
				t.Errorf("the Ingress routes %s (%s); want /webhook, Exact, alone", p.Path, p.PathType)
			}
			if p.Backend.Service.Name != service || p.Backend.Service.Port.Name != port {
				t.Errorf("the Ingress sends /webhook to %s:%s, want %s:%s", p.Backend.Service.Name, p.Backend.Service.Port.Name, service, port)
			}
		}
	}

	// The settings the component's comment gives, added to the shipped
	// config, load (the secret file lives in the pod: the env wins here).
	base, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	comp, err := os.ReadFile(filepath.Join("components", "webhook", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "config.yaml: "
	i := strings.Index(string(comp), marker)
	if i < 0 {
		t.Fatal("the component's comment gives no config.yaml setting")
	}
	setting := strings.TrimSpace(strings.SplitN(string(comp)[i+len(marker):], "\n", 2)[0])
	getenv := func(k string) string {
		return map[string]string{config.EnvToken: "tok", config.EnvWebhookSecret: "secret"}[k]
	}
	cfg, _, err := config.Parse(append(base, []byte("\n"+setting+"\n")...), "config.yaml", getenv)
	if err != nil {
		t.Fatalf("config.yaml with %q: %v", setting, err)
	}
	if !cfg.Webhook.Enabled || !strings.HasPrefix(cfg.Webhook.SecretTokenFile, "/var/run/secrets/gitlab/") {
		t.Errorf("webhook settings %+v: want enabled, the secret beside the token", cfg.Webhook)
	}
}

// ingressObject is what the tests read of an Ingress.
type ingressObject struct {
	Spec struct {
		Rules []struct {
			HTTP struct {
				Paths []struct {
					Path     string `yaml:"path"`
					PathType string `yaml:"pathType"`
					Backend  struct {
						Service struct {
							Name string `yaml:"name"`
							Port struct {
								Name string `yaml:"name"`
							} `yaml:"port"`
						} `yaml:"service"`
					} `yaml:"backend"`
				} `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}
