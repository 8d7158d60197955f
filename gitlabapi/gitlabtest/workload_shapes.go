package gitlabtest

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"
)

// jobTemplate is one job of a pipeline shape; templates are shared by all
// pipelines of a workload.
type jobTemplate struct {
	name, stage string
	tags        []string
	deploy      bool    // may be manual
	environment string  // where a deploy job deploys
	scale       float64 // duration factor relative to the median
	coverage    bool    // has a coverage: regex: reports its coverage
}

// pipelineShape lays n jobs out over build/test/deploy the way real
// projects do: matrix builds, a lint job, parallel rspec, matrix deploys.
func pipelineShape(n int) [][]jobTemplate {
	if n < 1 {
		n = 1
	}
	if n == 1 {
		return [][]jobTemplate{{tmpl("build", "build", nil, false)}}
	}
	nBuild, nDeploy := max(1, n/5), 0
	if n >= 3 {
		nDeploy = max(1, n/5)
	}
	nTest := n - nBuild - nDeploy
	builds := []struct {
		name string
		tags []string
	}{
		{"build: [linux, amd64]", []string{"docker", "linux"}},
		{"build: [linux, arm64]", []string{"arm64", "docker"}},
		{"build: [windows, amd64]", []string{"windows"}},
	}
	var stages [][]jobTemplate
	var st []jobTemplate
	if nBuild == 1 {
		st = append(st, tmpl("build", "build", []string{"docker", "linux"}, false))
	} else {
		for i := range nBuild {
			b := builds[i%len(builds)]
			name := b.name
			if i >= len(builds) {
				name = fmt.Sprintf("%s %d", b.name, i/len(builds)+1)
			}
			st = append(st, tmpl(name, "build", b.tags, false))
		}
	}
	stages = append(stages, st)
	st = nil
	switch nTest {
	case 0:
	case 1:
		st = append(st, withCoverage(tmpl("unit", "test", []string{"docker"}, false)))
	default:
		st = append(st, tmpl("lint", "test", []string{"docker"}, false))
		for i := 1; i < nTest; i++ {
			st = append(st, withCoverage(tmpl(fmt.Sprintf("rspec %d/%d", i, nTest-1), "test", []string{"docker"}, false)))
		}
	}
	if len(st) > 0 {
		stages = append(stages, st)
	}
	st = nil
	regions := []string{"eu", "us", "ap"}
	envs := []string{"prod", "staging"}
	for i := range nDeploy {
		region, env := regions[i%len(regions)], envs[(i/len(regions))%len(envs)]
		t := tmpl(fmt.Sprintf("deploy: [%s, %s]", region, env), "deploy", nil, true)
		t.environment = env + "/" + region
		st = append(st, t)
	}
	if len(st) > 0 {
		stages = append(stages, st)
	}
	return stages
}

// childShape is the child pipeline a bridge triggers.
var childShape = [][]jobTemplate{
	{tmpl("docs:build", "build", []string{"docker"}, false)},
	{tmpl("docs:check", "test", []string{"docker"}, false)},
}

// withCoverage gives a test job a coverage: regex.
func withCoverage(t jobTemplate) jobTemplate {
	t.coverage = true
	return t
}

func tmpl(name, stage string, tags []string, deploy bool) jobTemplate {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	// Stable per-name factor in [0.4, 2): lint is quick, builds are slow.
	scale := 0.4 + 1.6*float64(h.Sum32()%1000)/1000
	return jobTemplate{name: name, stage: stage, tags: tags, deploy: deploy, scale: scale}
}

// failureReasons are weighted like a typical instance: mostly script
// failures, some infrastructure.
var failureReasons = []struct {
	reason string
	weight float64
}{
	{"script_failure", 80}, {"runner_system_failure", 6}, {"stuck_or_timeout_failure", 4},
	{"job_execution_timeout", 3}, {"api_failure", 3}, {"unknown_failure", 2},
	{"missing_dependency_failure", 1}, {"scheduler_failure", 0.5}, {"runner_unsupported", 0.5},
}

func (w *Workload) failureReason() string {
	total := 0.0
	for _, f := range failureReasons {
		total += f.weight
	}
	x := w.rng.Float64() * total
	for _, f := range failureReasons {
		if x < f.weight {
			return f.reason
		}
		x -= f.weight
	}
	return "script_failure"
}

// lognormal draws median * e^(sigma*N(0,1)), capped at 50 medians so one
// draw cannot stall a simulation.
func (w *Workload) lognormal(median time.Duration, sigma float64) time.Duration {
	f := math.Exp(sigma * w.rng.NormFloat64())
	return time.Duration(float64(median) * min(f, 50))
}

// artifactsFor returns what a job uploads: always its trace (file_format
// null, as on gitlab.com) once it ran; builds add archive and metadata;
// tests add reports.
func (w *Workload) artifactsFor(t *jobTemplate, started bool) []Artifact {
	if !started {
		return nil
	}
	size := func(median float64) int64 { return int64(median * math.Exp(0.8*w.rng.NormFloat64())) }
	arts := []Artifact{{FileType: "trace", Size: size(20_000)}}
	switch t.stage {
	case "build":
		arts = append(arts,
			Artifact{FileType: "archive", Size: size(5_000_000), FileFormat: "zip"},
			Artifact{FileType: "metadata", Size: size(2_000), FileFormat: "gzip"})
	case "test":
		arts = append(arts, Artifact{FileType: "junit", Size: size(10_000), FileFormat: "gzip"})
		if w.rng.Float64() < 0.3 {
			arts = append(arts, Artifact{FileType: "cobertura", Size: size(30_000), FileFormat: "gzip"})
		}
	}
	return arts
}
