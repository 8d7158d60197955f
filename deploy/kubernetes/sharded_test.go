package kubernetes_test

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// rendered builds the kustomization in dir and returns its objects by kind.
func rendered(t *testing.T, dir string) map[string][]object {
	t.Helper()
	byKind := map[string][]object{}
	for _, o := range decodeAll(t, "kustomize "+dir, []byte(kustomize(t, dir))) {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	return byKind
}

func one(t *testing.T, objs map[string][]object, kind string) object {
	t.Helper()
	if n := len(objs[kind]); n != 1 {
		t.Fatalf("%d %s objects, want 1", n, kind)
	}
	return objs[kind][0]
}

type statefulSet struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas            *int   `yaml:"replicas"`
		ServiceName         string `yaml:"serviceName"`
		PodManagementPolicy string `yaml:"podManagementPolicy"`
		UpdateStrategy      struct {
			Type string `yaml:"type"`
		} `yaml:"updateStrategy"`
		RetentionPolicy struct {
			WhenScaled  string `yaml:"whenScaled"`
			WhenDeleted string `yaml:"whenDeleted"`
		} `yaml:"persistentVolumeClaimRetentionPolicy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []container `yaml:"containers"`
				Volumes    []volume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type service struct {
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
		Ports     []port            `yaml:"ports"`
	} `yaml:"spec"`
}

// matches reports whether every label of sel is in labels.
func matches(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func argValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestShardedVariant checks the rendered sharded variant: the flags agree
// with the replica count, every pod gets its shard from its index, a volume
// and a token, the ServiceMonitor scrapes every pod once through the
// headless Service, the webhook path reaches the pods, and a disruption
// takes one shard at a time.
func TestShardedVariant(t *testing.T) {
	objs := rendered(t, "sharded")
	if n := len(objs["Deployment"]) + len(objs["PersistentVolumeClaim"]); n != 0 {
		t.Errorf("the sharded variant keeps %d of the single exporter's Deployment and volume", n)
	}
	var ss statefulSet
	one(t, objs, "StatefulSet").decode(t, &ss)
	spec := ss.Spec
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	podLabels := spec.Template.Metadata.Labels
	if spec.Replicas == nil || *spec.Replicas < 2 {
		t.Fatalf("replicas %v: a sharded variant has at least two shards", spec.Replicas)
	}
	replicas := *spec.Replicas

	t.Run("flags agree with the replica count, the shard is the pod index", func(t *testing.T) {
		if got, _ := argValue(c.Args, "total-shards"); got != strconv.Itoa(replicas) {
			t.Errorf("--total-shards=%s with %d replicas", got, replicas)
		}
		got, _ := argValue(c.Args, "shard")
		name, ok := strings.CutPrefix(got, "$(")
		name = strings.TrimSuffix(name, ")")
		found := false
		for _, e := range c.Env {
			if ok && e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.labels['apps.kubernetes.io/pod-index']" {
				found = true
			}
		}
		if !found {
			t.Errorf("--shard=%s is not an environment variable set from the pod-index label: %+v", got, c.Env)
		}
		// All shards restart together: see the StatefulSet's comments.
		if spec.PodManagementPolicy != "Parallel" || spec.UpdateStrategy.Type != "OnDelete" {
			t.Errorf("podManagementPolicy %q, updateStrategy %q; want Parallel and OnDelete", spec.PodManagementPolicy, spec.UpdateStrategy.Type)
		}
	})

	t.Run("every pod gets a volume for its state", func(t *testing.T) {
		storage, _ := argValue(c.Args, "storage.path")
		claims := map[string]bool{}
		for _, v := range spec.VolumeClaimTemplates {
			claims[v.Metadata.Name] = true
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			if m.MountPath == storage && claims[m.Name] {
				mounted = true
			}
		}
		if storage == "" || !mounted {
			t.Errorf("--storage.path=%s is not a mount of a volumeClaimTemplate (%v)", storage, claims)
		}
		// A shard that comes back after a scale-down must not find a stale state.
		if spec.RetentionPolicy.WhenScaled != "Delete" {
			t.Errorf("persistentVolumeClaimRetentionPolicy.whenScaled %q, want Delete", spec.RetentionPolicy.WhenScaled)
		}
	})

	t.Run("every pod gets a token of its own", func(t *testing.T) {
		cfgPath, _ := argValue(c.Args, "config.file")
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		one(t, objs, "ConfigMap").decode(t, &cm)
		var cfg struct {
			Gitlab struct {
				TokenFile string `yaml:"token_file"`
			} `yaml:"gitlab"`
		}
		if err := yaml.Unmarshal([]byte(cm.Data[path.Base(cfgPath)]), &cfg); err != nil {
			t.Fatalf("the ConfigMap's %s: %v", path.Base(cfgPath), err)
		}
		if !strings.Contains(cfg.Gitlab.TokenFile, "{shard}") {
			t.Fatalf("gitlab.token_file %q does not name the shard ({shard})", cfg.Gitlab.TokenFile)
		}
		var secret struct {
			Metadata   struct{ Name string }
			StringData map[string]string `yaml:"stringData"`
			Data       map[string]string `yaml:"data"`
		}
		one(t, objs, "Secret").decode(t, &secret)
		volumes := map[string]volume{}
		for _, v := range spec.Template.Spec.Volumes {
			volumes[v.Name] = v
		}
		var tokenVolume volume
		for _, m := range c.VolumeMounts {
			if m.MountPath == path.Dir(cfg.Gitlab.TokenFile) {
				tokenVolume = volumes[m.Name]
			}
		}
		if tokenVolume.Secret == nil || tokenVolume.Secret.SecretName != secret.Metadata.Name {
			t.Fatalf("gitlab.token_file %s is not in a volume of Secret %s", cfg.Gitlab.TokenFile, secret.Metadata.Name)
		}
		for k := range replicas {
			key := path.Base(strings.ReplaceAll(cfg.Gitlab.TokenFile, "{shard}", strconv.Itoa(k)))
			if secret.StringData[key] == "" && secret.Data[key] == "" {
				t.Errorf("shard %d of %d has no token: Secret %s lacks key %s", k, replicas, secret.Metadata.Name, key)
			}
		}
	})

	services := map[string]service{}
	for _, o := range objs["Service"] {
		var s service
		o.decode(t, &s)
		services[s.Metadata.Name] = s
	}

	t.Run("a webhook delivery is passed on to its owner's stable name", func(t *testing.T) {
		cfgPath, _ := argValue(c.Args, "config.file")
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		one(t, objs, "ConfigMap").decode(t, &cm)
		var cfg struct {
			Webhook struct {
				ForwardURL string `yaml:"forward_url"`
			} `yaml:"webhook"`
		}
		if err := yaml.Unmarshal([]byte(cm.Data[path.Base(cfgPath)]), &cfg); err != nil {
			t.Fatalf("the ConfigMap's %s: %v", path.Base(cfgPath), err)
		}
		headless := services[spec.ServiceName]
		for k := range replicas {
			u, err := url.Parse(strings.ReplaceAll(cfg.Webhook.ForwardURL, "{shard}", strconv.Itoa(k)))
			if err != nil {
				t.Fatalf("webhook.forward_url %q: %v", cfg.Webhook.ForwardURL, err)
			}
			// <statefulset>-<K>.<headless service>, resolved in the pods' namespace.
			if want := fmt.Sprintf("%s-%d.%s", ss.Metadata.Name, k, spec.ServiceName); u.Hostname() != want {
				t.Errorf("shard %d is reached at %s, its stable name is %s", k, u.Hostname(), want)
			}
			if u.Path != "/webhook" || !slices.ContainsFunc(headless.Spec.Ports, func(p port) bool { return strconv.Itoa(p.Port) == u.Port() }) {
				t.Errorf("webhook.forward_url %s: not /webhook on a port of the headless Service %v", u, headless.Spec.Ports)
			}
		}
	})

	t.Run("the ServiceMonitor scrapes every pod once, through the headless Service", func(t *testing.T) {
		headless, ok := services[spec.ServiceName]
		if !ok || headless.Spec.ClusterIP != "None" {
			t.Fatalf("the StatefulSet's serviceName %q is not a headless Service (%v)", spec.ServiceName, slices.Sorted(maps.Keys(services)))
		}
		if !matches(headless.Spec.Selector, podLabels) {
			t.Errorf("the headless Service selects %v, not the pods %v", headless.Spec.Selector, podLabels)
		}
		var sm struct {
			Spec struct {
				Selector struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"selector"`
				Endpoints []struct {
					Port string `yaml:"port"`
				} `yaml:"endpoints"`
			} `yaml:"spec"`
		}
		one(t, objs, "ServiceMonitor").decode(t, &sm)
		for name, s := range services {
			selected := matches(sm.Spec.Selector.MatchLabels, s.Metadata.Labels)
			if selected != (name == spec.ServiceName) {
				t.Errorf("ServiceMonitor selector %v selects Service %s: %v; it must select the headless Service only, or pods are scraped twice",
					sm.Spec.Selector.MatchLabels, name, selected)
			}
		}
		for _, ep := range sm.Spec.Endpoints {
			if !portNamed(headless.Spec.Ports, ep.Port) {
				t.Errorf("ServiceMonitor endpoint port %q is not a port of %s", ep.Port, headless.Metadata.Name)
			}
		}
	})

	t.Run("the webhook path reaches the pods", func(t *testing.T) {
		var ing ingressObject
		one(t, objs, "Ingress").decode(t, &ing)
		n := 0
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				n++
				s, ok := services[p.Backend.Service.Name]
				if !ok || !matches(s.Spec.Selector, podLabels) || !portNamed(s.Spec.Ports, p.Backend.Service.Port.Name) {
					t.Errorf("Ingress path %s goes to Service %s port %s, which does not reach the pods", p.Path, p.Backend.Service.Name, p.Backend.Service.Port.Name)
				}
				if p.Path == "/metrics" || p.Path == "/" {
					t.Errorf("Ingress exposes %s", p.Path)
				}
			}
		}
		if n == 0 {
			t.Error("the Ingress has no path")
		}
	})

	t.Run("a disruption takes one shard at a time", func(t *testing.T) {
		var pdb struct {
			Spec struct {
				MaxUnavailable any `yaml:"maxUnavailable"`
				Selector       struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"selector"`
			} `yaml:"spec"`
		}
		one(t, objs, "PodDisruptionBudget").decode(t, &pdb)
		if pdb.Spec.MaxUnavailable != 1 || !matches(pdb.Spec.Selector.MatchLabels, podLabels) {
			t.Errorf("PodDisruptionBudget maxUnavailable %v, selector %v; want 1, selecting the pods %v", pdb.Spec.MaxUnavailable, pdb.Spec.Selector.MatchLabels, podLabels)
		}
	})

	t.Run("the pod is the single Deployment's, restricted", func(t *testing.T) {
		var single, sharded deployment
		one(t, rendered(t, "."), "Deployment").decode(t, &single)
		one(t, objs, "StatefulSet").decode(t, &sharded)
		if a, b := single.Spec.Template.Spec.SecurityContext, sharded.Spec.Template.Spec.SecurityContext; !reflect.DeepEqual(a, b) {
			t.Errorf("the StatefulSet's pod securityContext %+v differs from the Deployment's %+v", b, a)
		}
		sc, dc := c, single.Spec.Template.Spec.Containers[0]
		checkMemoryLimit(t, sc)
		for _, cc := range []*container{&sc, &dc} {
			// They differ on purpose, and so does the memory: a shard holds
			// a share of the series (both are checked by checkMemoryLimit).
			cc.Args, cc.Env, cc.VolumeMounts = nil, nil, nil
			cc.Resources.Limits = maps.Clone(cc.Resources.Limits)
			delete(cc.Resources.Limits, "memory")
		}
		if !reflect.DeepEqual(sc, dc) {
			t.Errorf("the StatefulSet's container differs from the Deployment's:\n%+v\n%+v", sc, dc)
		}
	})
}

func portNamed(ports []port, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TestShardCountIsOneValue changes the number of shards where the sharded
// kustomization says to, and checks that the replicas and --total-shards
// follow it.
func TestShardCountIsOneValue(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "sharded", "kustomization.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "    count: 3\n", "    count: 7\n"
	if !strings.Contains(string(b), from) {
		t.Fatalf("sharded/kustomization.yaml does not set %q", strings.TrimSpace(from))
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), from, to, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var ss statefulSet
	one(t, rendered(t, filepath.Join(dir, "sharded")), "StatefulSet").decode(t, &ss)
	got, _ := argValue(ss.Spec.Template.Spec.Containers[0].Args, "total-shards")
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 7 || got != "7" {
		t.Errorf("with count 7: replicas %v, --total-shards=%s", ss.Spec.Replicas, got)
	}
}
