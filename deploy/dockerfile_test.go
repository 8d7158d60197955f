package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/deploy/deploytest"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
	Line int
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments
// and joining lines ending in a backslash, as Docker's parser does.
func parseDockerfile(t *testing.T, name string) []instruction {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatalf("opening %s: %v", name, err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends inside a continued instruction", name)
	}
	return out
}

// stages splits instructions by FROM; stage i starts with its FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.Cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

// dockerStages returns the stage names (FROM ... AS name).
func dockerStages(t *testing.T, ins []instruction) []string {
	t.Helper()
	var names []string
	for _, s := range stages(ins) {
		f := strings.Fields(s[0].Args)
		if len(f) == 3 && strings.EqualFold(f[1], "AS") {
			names = append(names, f[2])
		}
	}
	return names
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join(deploytest.RepoRoot(t), "Dockerfile"))
	st := stages(ins)
	if len(st) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a final stage", len(st))
	}
	builder, final := st[0], st[len(st)-1]
	if f := strings.Fields(builder[0].Args); len(f) != 3 || f[0] != "golang:1.26" || f[2] != "builder" {
		t.Errorf("first stage is FROM %s, want FROM golang:1.26 AS builder", builder[0].Args)
	}
	base := strings.Fields(final[0].Args)[0]
	if base != "gcr.io/distroless/static-debian12:nonroot" && !strings.HasPrefix(base, "busybox") {
		t.Errorf("final stage is FROM %s, want gcr.io/distroless/static-debian12:nonroot", base)
	}

	// The build: static, reproducible paths, version stamped from build args.
	var build, env string
	for _, in := range find(builder, "RUN") {
		build += in.Args + "\n"
	}
	for _, in := range find(builder, "ENV") {
		env += in.Args + "\n"
	}
	var args []string
	for _, in := range find(builder, "ARG") {
		name, _, _ := strings.Cut(in.Args, "=")
		args = append(args, name)
	}
	if !strings.Contains(env+build, "CGO_ENABLED=0") {
		t.Error("the builder does not set CGO_ENABLED=0")
	}
	for _, want := range []string{"-trimpath", "-o /out/gitlab_jobs_exporter .", "./cmd/gitlab-sim"} {
		if !strings.Contains(build, want) {
			t.Errorf("the builder's RUN lacks %q", want)
		}
	}
	xflag := regexp.MustCompile(`-X github\.com/prometheus/common/version\.(\w+)=\$\{?(\w+)\}?`)
	stamped := map[string]string{}
	for _, m := range xflag.FindAllStringSubmatch(build, -1) {
		stamped[m[1]] = m[2]
	}
	for _, v := range []string{"Version", "Revision", "Branch"} {
		arg, ok := stamped[v]
		switch {
		case !ok:
			t.Errorf("version.%s is not set with -X from a build arg", v)
		case !slices.Contains(args, arg):
			t.Errorf("version.%s comes from $%s, which is not an ARG of the builder stage", v, arg)
		}
	}

	// The final image.
	last := func(cmd string) string {
		f := find(final, cmd)
		if len(f) == 0 {
			t.Errorf("final stage has no %s", cmd)
			return ""
		}
		return f[len(f)-1].Args
	}
	if u := last("USER"); u != "nonroot" && u != "65532" && u != "65532:65532" {
		t.Errorf("USER %s, want nonroot", u)
	}
	if e := last("EXPOSE"); !slices.Contains(strings.Fields(e), "9835") {
		t.Errorf("EXPOSE %s, want 9835", e)
	}
	if v := last("VOLUME"); v != "/data" && v != `["/data"]` {
		t.Errorf("VOLUME %s, want /data", v)
	}
	var entry, cmd []string
	if err := json.Unmarshal([]byte(last("ENTRYPOINT")), &entry); err != nil || len(entry) != 1 || filepath.Base(entry[0]) != "gitlab_jobs_exporter" {
		t.Errorf("ENTRYPOINT %s, want the exec form running gitlab_jobs_exporter", last("ENTRYPOINT"))
	}
	if err := json.Unmarshal([]byte(last("CMD")), &cmd); err != nil || !slices.Equal(cmd, []string{"--config.file=/etc/gitlab_jobs_exporter/config.yml", "--storage.path=/data"}) {
		t.Errorf("CMD %s, want [\"--config.file=/etc/gitlab_jobs_exporter/config.yml\", \"--storage.path=/data\"]", last("CMD"))
	}
	var labels string
	for _, in := range find(final, "LABEL") {
		labels += in.Args + " "
	}
	for _, l := range []string{"title", "description", "source", "version", "revision"} {
		if !strings.Contains(labels, "org.opencontainers.image."+l+"=") {
			t.Errorf("final stage lacks LABEL org.opencontainers.image.%s", l)
		}
	}

	// COPY --from names existing stages.
	names := dockerStages(t, ins)
	for _, in := range ins {
		if in.Cmd != "COPY" {
			continue
		}
		for _, f := range strings.Fields(in.Args) {
			if from, ok := strings.CutPrefix(f, "--from="); ok && !slices.Contains(names, from) {
				t.Errorf("line %d: COPY --from=%s names no stage (%v)", in.Line, from, names)
			}
		}
	}
}

func TestParseDockerfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Dockerfile")
	src := "# c\nFROM a AS b\n\nRUN x \\\n  # inner\n  && y\nCMD [\"z\"]\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got := parseDockerfile(t, path)
	want := []instruction{{"FROM", "a AS b", 2}, {"RUN", "x  && y", 4}, {"CMD", `["z"]`, 7}}
	if !slices.Equal(got, want) {
		t.Errorf("parseDockerfile = %+v, want %+v", got, want)
	}
}

// TestDockerignoreKeepsSources checks the build context still holds every
// file `go build` needs for both binaries.
func TestDockerignoreKeepsSources(t *testing.T) {
	root := deploytest.RepoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore uses an exception (%s), which this check does not model", l)
		}
		patterns = append(patterns, strings.TrimPrefix(filepath.Clean(l), "/"))
	}
	ignored := func(rel string) string {
		for _, p := range patterns {
			for dir := rel; dir != "."; dir = filepath.Dir(dir) {
				if ok, _ := filepath.Match(p, dir); ok {
					return p
				}
			}
		}
		return ""
	}

	pkgs := []string{"."}
	if _, err := os.Stat(filepath.Join(root, "cmd", "gitlab-sim")); err == nil {
		pkgs = append(pkgs, "./cmd/gitlab-sim")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not in PATH: %v", err)
	}
	out, err := deploytest.Run(t, root, goTool, append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}"}, pkgs...)...)
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rel, err := filepath.Rel(root, f[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency outside the module
		}
		for _, name := range f[1:] {
			needed = append(needed, filepath.Join(rel, name))
		}
	}
	for _, n := range needed {
		if p := ignored(n); p != "" {
			t.Errorf(".dockerignore pattern %q drops %s, which the build needs", p, n)
		}
	}
}
