// Package kubernetes_test checks the kustomize manifests in deploy/kubernetes
// (the single exporter, base/ which it shares with the sharded variant, and
// sharded/): that every variant builds, that the pieces reference each other
// correctly, that the pods run under the restricted security profile, and
// that the PrometheusRule carries exactly the rules of
// deploy/prometheus/alerts.yml.
package kubernetes_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

type kustomization struct {
	Namespace          string   `yaml:"namespace"`
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Images []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
}

// object is the part of a manifest common to every kind; raw keeps the
// document for kind-specific decoding.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	raw *yaml.Node
}

func (o object) decode(t *testing.T, v any) {
	t.Helper()
	if err := o.raw.Decode(v); err != nil {
		t.Fatalf("decoding %s %s: %v", o.Kind, o.Metadata.Name, err)
	}
}

// decodeAll reads every YAML document of a stream.
func decodeAll(t *testing.T, name string, data []byte) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []object
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding %s: %v", name, err)
		}
		var o object
		if err := n.Decode(&o); err != nil {
			t.Fatalf("decoding %s: %v", name, err)
		}
		o.raw = &n
		out = append(out, o)
	}
}

func readKustomization(t *testing.T) kustomization { return readKustomizationIn(t, ".") }

func readKustomizationIn(t *testing.T, dir string) kustomization {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("decoding %s/kustomization.yaml: %v", dir, err)
	}
	return k
}

// resourceFiles lists the files of the resources of the kustomization in
// dir, those of the kustomizations it includes (base) too.
func resourceFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, r := range readKustomizationIn(t, dir).Resources {
		path := filepath.Join(dir, r)
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			out = append(out, resourceFiles(t, path)...)
			continue
		}
		out = append(out, path)
	}
	return out
}

// manifests returns the objects of every resource of the single exporter's
// kustomization (base included).
func manifests(t *testing.T) map[string]object {
	t.Helper()
	byKind := map[string]object{}
	for _, r := range resourceFiles(t, ".") {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatalf("resource %s listed in a kustomization.yaml: %v", r, err)
		}
		for _, o := range decodeAll(t, r, b) {
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: a document lacks apiVersion, kind or metadata.name", r)
			}
			if _, dup := byKind[o.Kind]; dup {
				t.Errorf("%s: a second %s; the tests expect one of each kind", r, o.Kind)
			}
			byKind[o.Kind] = o
		}
	}
	return byKind
}

func TestResources(t *testing.T) {
	k := readKustomization(t)
	if k.Namespace == "" {
		t.Error("kustomization.yaml sets no namespace")
	}
	got := manifests(t)
	want := map[string]string{
		"Namespace":             "v1",
		"Secret":                "v1",
		"Deployment":            "apps/v1",
		"Service":               "v1",
		"PersistentVolumeClaim": "v1",
		"ServiceMonitor":        "monitoring.coreos.com/v1",
		"PrometheusRule":        "monitoring.coreos.com/v1",
	}
	for kind, api := range want {
		o, ok := got[kind]
		if !ok {
			t.Errorf("no %s manifest", kind)
			continue
		}
		if o.APIVersion != api {
			t.Errorf("%s apiVersion = %q, want %q", kind, o.APIVersion, api)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("configMapGenerator %s: %v", g.Name, err)
			}
		}
	}
}

type container struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	Args            []string `yaml:"args"`
	Ports           []port   `yaml:"ports"`
	LivenessProbe   *probe   `yaml:"livenessProbe"`
	ReadinessProbe  *probe   `yaml:"readinessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type port struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Port          int    `yaml:"port"`
	TargetPort    any    `yaml:"targetPort"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
	EmptyDir              any `yaml:"emptyDir"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
}

type deployment struct {
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
					SeccompProfile struct {
						Type string `yaml:"type"`
					} `yaml:"seccompProfile"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []volume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readDeployment(t *testing.T, objs map[string]object) (deployment, container) {
	t.Helper()
	o, ok := objs["Deployment"]
	if !ok {
		t.Fatal("no Deployment manifest")
	}
	var d deployment
	o.decode(t, &d)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment has %d containers, want 1", n)
	}
	return d, d.Spec.Template.Spec.Containers[0]
}

func isTrue(b *bool) bool { return b != nil && *b }

func TestDeploymentIsRestricted(t *testing.T) {
	d, c := readDeployment(t, manifests(t))
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	sc := c.SecurityContext
	checks := []struct {
		what string
		ok   bool
	}{
		{"pod or container runAsNonRoot: true", isTrue(pod.SecurityContext.RunAsNonRoot) || isTrue(sc.RunAsNonRoot)},
		{"seccompProfile RuntimeDefault", pod.SecurityContext.SeccompProfile.Type == "RuntimeDefault" || sc.SeccompProfile.Type == "RuntimeDefault"},
		{"allowPrivilegeEscalation: false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"readOnlyRootFilesystem: true", isTrue(sc.ReadOnlyRootFilesystem)},
		{"capabilities.drop [ALL]", slices.Contains(sc.Capabilities.Drop, "ALL")},
		{"liveness probe GET /-/healthy", c.LivenessProbe != nil && c.LivenessProbe.HTTPGet.Path == "/-/healthy"},
		{"readiness probe GET /-/ready", c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path == "/-/ready"},
		{"port 9835 named http-metrics", slices.Contains(c.Ports, port{Name: "http-metrics", ContainerPort: 9835})},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("container %s: want %s", c.Name, ch.what)
		}
	}
	for _, res := range []string{"cpu", "memory"} {
		if c.Resources.Requests[res] == "" || c.Resources.Limits[res] == "" {
			t.Errorf("container %s: want requests and limits for %s, got %+v", c.Name, res, c.Resources)
		}
	}
	checkMemoryLimit(t, c)
	for _, p := range []*probe{c.LivenessProbe, c.ReadinessProbe} {
		if p != nil && p.HTTPGet.Port != "http-metrics" && p.HTTPGet.Port != 9835 {
			t.Errorf("probe port %v is not the metrics port", p.HTTPGet.Port)
		}
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
}

// TestWiring follows the references between the manifests: volumes, mounts,
// flags, the Secret holding the token, the Service and the ServiceMonitor.
func TestWiring(t *testing.T) {
	k := readKustomization(t)
	objs := manifests(t)
	d, c := readDeployment(t, objs)
	volumes := map[string]volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	mountOf := map[string]volume{} // mount path -> volume
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("volumeMount %s names no volume", m.Name)
			continue
		}
		mountOf[m.MountPath] = v
	}
	flag := func(name string) string {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		t.Errorf("container args %v lack --%s", c.Args, name)
		return ""
	}

	// The state outlives the pod: an emptyDir would make a rescheduled pod
	// walk back the lookback and count it twice.
	if v, ok := mountOf["/data"]; !ok || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != objs["PersistentVolumeClaim"].Metadata.Name {
		t.Errorf("/data is not a volume of the PersistentVolumeClaim %s", objs["PersistentVolumeClaim"].Metadata.Name)
	}
	if got := flag("storage.path"); got != "/data" {
		t.Errorf("--storage.path=%s, want /data", got)
	}

	// The config file comes from the generated ConfigMap.
	cfgPath := flag("config.file")
	cfgVol := mountOf[path.Dir(cfgPath)]
	if cfgVol.ConfigMap == nil || len(k.ConfigMapGenerator) == 0 || cfgVol.ConfigMap.Name != k.ConfigMapGenerator[0].Name {
		t.Errorf("--config.file=%s is not in a volume of the generated ConfigMap", cfgPath)
	} else if !slices.Contains(k.ConfigMapGenerator[0].Files, path.Base(cfgPath)) {
		t.Errorf("the ConfigMap has no key %s (files %v)", path.Base(cfgPath), k.ConfigMapGenerator[0].Files)
	}

	// gitlab.token_file points into the mounted Secret, at a key it has.
	var cfg struct {
		Gitlab struct {
			URL       string `yaml:"url"`
			TokenFile string `yaml:"token_file"`
		} `yaml:"gitlab"`
	}
	b, err := os.ReadFile(path.Base(cfgPath))
	if err != nil {
		t.Fatalf("reading the exporter configuration: %v", err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("decoding the exporter configuration: %v", err)
	}
	if cfg.Gitlab.URL == "" {
		t.Error("config.yaml sets no gitlab.url")
	}
	var secret struct {
		Metadata   struct{ Name string }
		StringData map[string]string `yaml:"stringData"`
		Data       map[string]string `yaml:"data"`
	}
	objs["Secret"].decode(t, &secret)
	tokVol := mountOf[path.Dir(cfg.Gitlab.TokenFile)]
	key := path.Base(cfg.Gitlab.TokenFile)
	switch {
	case tokVol.Secret == nil || tokVol.Secret.SecretName != secret.Metadata.Name:
		t.Errorf("gitlab.token_file %s is not in a volume of Secret %s", cfg.Gitlab.TokenFile, secret.Metadata.Name)
	case secret.StringData[key] == "" && secret.Data[key] == "":
		t.Errorf("Secret %s has no key %s for gitlab.token_file", secret.Metadata.Name, key)
	}

	if len(k.Images) == 0 || k.Images[0].Name != c.Image {
		t.Errorf("container image %q is not set by kustomization.yaml images", c.Image)
	}

	// Service -> pods.
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []port            `yaml:"ports"`
		} `yaml:"spec"`
	}
	objs["Service"].decode(t, &svc)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service selector %s=%s matches no pod label", k, v)
		}
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p port) bool {
		return p.Name == "http-metrics" && p.Port == 9835 && (p.TargetPort == "http-metrics" || p.TargetPort == 9835)
	}) {
		t.Errorf("Service ports %+v lack 9835 named http-metrics", svc.Spec.Ports)
	}

	// ServiceMonitor -> Service, scraped under the job name the rules use.
	var sm struct {
		Spec struct {
			ScrapeProtocols []string `yaml:"scrapeProtocols"`
			ConvertToNHCB   bool     `yaml:"convertClassicHistogramsToNHCB"`
			Selector        struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port        string `yaml:"port"`
				Path        string `yaml:"path"`
				HonorLabels bool   `yaml:"honorLabels"`
				Relabelings []struct {
					Action      string `yaml:"action"`
					TargetLabel string `yaml:"targetLabel"`
					Replacement string `yaml:"replacement"`
				} `yaml:"relabelings"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	objs["ServiceMonitor"].decode(t, &sm)
	svcLabels := objs["Service"].Metadata.Labels
	if len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Error("ServiceMonitor selects no Service")
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svcLabels[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match the Service's labels %v", k, v, svcLabels)
		}
	}
	// Native histograms travel only over protobuf; NHCB stores the classic
	// ones compactly.
	if len(sm.Spec.ScrapeProtocols) == 0 || sm.Spec.ScrapeProtocols[0] != "PrometheusProto" || !sm.Spec.ConvertToNHCB {
		t.Errorf("ServiceMonitor scrapeProtocols %v, convertClassicHistogramsToNHCB %v; want PrometheusProto first and true",
			sm.Spec.ScrapeProtocols, sm.Spec.ConvertToNHCB)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != "http-metrics" {
		t.Errorf("ServiceMonitor endpoint port %q, want http-metrics", ep.Port)
	}
	if ep.HonorLabels {
		t.Error("ServiceMonitor endpoint sets honorLabels: the exporter's labels (job_name) need no such override")
	}
	if !slices.ContainsFunc(ep.Relabelings, func(r struct {
		Action      string `yaml:"action"`
		TargetLabel string `yaml:"targetLabel"`
		Replacement string `yaml:"replacement"`
	}) bool {
		return r.TargetLabel == "job" && r.Replacement == "gitlab_jobs_exporter" && (r.Action == "" || r.Action == "replace")
	}) {
		t.Error(`ServiceMonitor does not set job="gitlab_jobs_exporter", which the alert rules select`)
	}
}

// TestKustomizeBuild builds every variant with kubectl's kustomize, as CI
// does, and checks that the generated ConfigMap's name reached the
// workload and that every object landed in the namespace.
func TestKustomizeBuild(t *testing.T) {
	for _, tc := range []struct {
		dir, workload string
		kinds         []string
	}{
		{".", "Deployment", []string{"Namespace", "Secret", "ConfigMap", "Deployment", "PersistentVolumeClaim", "Service", "ServiceMonitor", "PrometheusRule"}},
		{"sharded", "StatefulSet", []string{"Namespace", "Secret", "ConfigMap", "StatefulSet", "Service", "ServiceMonitor", "PrometheusRule",
			"PodDisruptionBudget", "Ingress"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			out := kustomize(t, tc.dir)
			k := readKustomizationIn(t, tc.dir)
			var cmName string
			kinds := map[string]bool{}
			for _, o := range decodeAll(t, "kustomize output", []byte(out)) {
				kinds[o.Kind] = true
				if o.Kind != "Namespace" && o.Metadata.Namespace != k.Namespace {
					t.Errorf("%s %s is in namespace %q, want %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace, k.Namespace)
				}
				if o.Kind == "ConfigMap" {
					cmName = o.Metadata.Name
				}
			}
			if got := slices.Sorted(maps.Keys(kinds)); !slices.Equal(got, slices.Sorted(slices.Values(tc.kinds))) {
				t.Errorf("kustomize output has %v, want %v", got, slices.Sorted(slices.Values(tc.kinds)))
			}
			if !strings.HasPrefix(cmName, k.ConfigMapGenerator[0].Name+"-") {
				t.Fatalf("generated ConfigMap is named %q, want %s-<hash>", cmName, k.ConfigMapGenerator[0].Name)
			}
			if !strings.Contains(out, "name: "+cmName+"\n") || strings.Count(out, cmName) < 2 {
				t.Errorf("the %s does not mount the generated ConfigMap %s", tc.workload, cmName)
			}
		})
	}
}

// kustomize renders the kustomization in dir.
func kustomize(t *testing.T, dir string) string {
	t.Helper()
	kubectl := deploytest.RequireTool(t, "kubectl", deploytest.HintKubectl)
	out, err := deploytest.Run(t, ".", kubectl, "kustomize", dir)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
	}
	return out
}

var update = os.Getenv("UPDATE_PROMETHEUSRULE") == "1"

const ruleHeader = `# Generated from deploy/prometheus/alerts.yml; do not edit. Regenerate with
#   UPDATE_PROMETHEUSRULE=1 go test ./deploy/kubernetes/ -run TestPrometheusRuleMatchesAlerts
# Add the labels your Prometheus's ruleSelector expects (for example
# release: prometheus).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: gitlab-jobs-exporter
  labels:
    app.kubernetes.io/name: gitlab-jobs-exporter
spec:
`

// generatePrometheusRule wraps alerts.yml's groups, comments included, in a
// PrometheusRule.
func generatePrometheusRule(alerts []byte) ([]byte, error) {
	text := string(alerts)
	i := strings.Index(text, "\ngroups:")
	if i < 0 {
		return nil, errors.New("alerts.yml has no top-level groups: key")
	}
	var b strings.Builder
	b.WriteString(ruleHeader)
	for _, line := range strings.SplitAfter(text[i+1:], "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	return []byte(b.String()), nil
}

func TestPrometheusRuleMatchesAlerts(t *testing.T) {
	alertsPath := filepath.Join("..", "prometheus", "alerts.yml")
	alerts, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	if update {
		gen, err := generatePrometheusRule(alerts)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("base", "prometheusrule.yaml"), gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want struct {
		Groups any `yaml:"groups"`
	}
	if err := yaml.Unmarshal(alerts, &want); err != nil {
		t.Fatalf("decoding %s: %v", alertsPath, err)
	}
	var got struct {
		Spec struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	manifests(t)["PrometheusRule"].decode(t, &got)
	if want.Groups == nil {
		t.Fatalf("%s has no groups", alertsPath)
	}
	wantYAML, _ := yaml.Marshal(want.Groups)
	gotYAML, _ := yaml.Marshal(got.Spec.Groups)
	if !bytes.Equal(wantYAML, gotYAML) {
		t.Errorf("base/prometheusrule.yaml's groups differ from %s; regenerate with\n  UPDATE_PROMETHEUSRULE=1 go test ./deploy/kubernetes/ -run TestPrometheusRuleMatchesAlerts", alertsPath)
	}
}

func TestGeneratePrometheusRule(t *testing.T) {
	in := "# comment\ngroups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          up\n\n          == 0\n"
	gen, err := generatePrometheusRule([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kind string
		Spec struct {
			Groups []struct {
				Name  string
				Rules []map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(gen, &got); err != nil {
		t.Fatalf("generated YAML does not decode: %v\n%s", err, gen)
	}
	if got.Kind != "PrometheusRule" || len(got.Spec.Groups) != 1 || got.Spec.Groups[0].Rules[0]["expr"] != "up\n\n== 0\n" {
		t.Errorf("generated %+v from\n%s", got, gen)
	}
	if _, err := generatePrometheusRule([]byte("rules: []\n")); err == nil {
		t.Error("no error for a file without groups")
	}
}

// checkMemoryLimit wants GOMEMLIMIT set below the container's memory limit,
// with room for what the Go runtime does not count (stacks, binary).
func checkMemoryLimit(t *testing.T, c container) {
	t.Helper()
	var soft string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			soft = e.Value
		}
	}
	limit, ok := mebibytes(c.Resources.Limits["memory"])
	goLimit, goOK := mebibytes(soft)
	switch {
	case !ok || !goOK:
		t.Errorf("container %s: want GOMEMLIMIT and limits.memory in MiB (Mi), got %q and %q", c.Name, soft, c.Resources.Limits["memory"])
	case goLimit >= limit || goLimit < limit*8/10:
		t.Errorf("container %s: GOMEMLIMIT %d MiB, want 80-99 %% of limits.memory %d MiB", c.Name, goLimit, limit)
	}
}

// mebibytes reads "256Mi" (Kubernetes) or "230MiB" (Go).
func mebibytes(s string) (int, bool) {
	for _, unit := range []string{"MiB", "Mi"} {
		if n, found := strings.CutSuffix(s, unit); found {
			v, err := strconv.Atoi(n)
			return v, err == nil
		}
	}
	return 0, false
}
