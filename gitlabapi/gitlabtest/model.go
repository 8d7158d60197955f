package gitlabtest

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// model is the in-memory GitLab. Every field is guarded by Server.mu.
type model struct {
	groups         map[int64]*group
	groupsByPath   map[string]*group // lower-cased full path
	projects       map[int64]*project
	projectsByPath map[string]*project // lower-cased full path, live projects only
	pipelines      map[int64]*pipeline
	// jobs holds builds and bridges indexed by id-firstJobID: the shared
	// ci_builds sequence makes ids dense, so a slice beats a map in memory.
	jobs       []*job
	firstJobID int64

	nextGroupID, nextProjectID, nextPipelineID, nextMergeRequestID int64

	tagLists      map[string][]string // interned, sorted tag lists
	artifactKinds []artifactKind      // interned artifact descriptions
	artifactIndex map[artifactKind]uint16
	environments  map[string]*environment // interned by name

	// sink hears every status change; nil when nobody listens.
	sink changeSink
	// retryReopens: Options.RetryReopens.
	retryReopens bool
}

type group struct {
	id        int64
	path      string // full path, "a/b"
	name      string // last segment
	parent    *group
	projects  []*project // direct children, ascending id
	subgroups []*group
	createdAt stamp
}

type project struct {
	id            int64
	path          string // path_with_namespace
	name          string
	group         *group
	defaultBranch string
	archived      bool
	deleted       bool
	forbidden     bool
	createdAt     stamp
	lastActivity  stamp
	// builds are the project's builds (no bridges) in ascending id order,
	// retried ones included, so keyset pages are a binary search away.
	builds    []*job
	pipelines []*pipeline // ascending id, child pipelines included
	nextIID   int64
	// mergeRequests are the merge requests pipelines ran for, by iid;
	// nil until the first.
	mergeRequests map[int64]*mergeRequest
}

// mergeRequest is what the fake knows of a merge request: what a Pipeline
// Hook's merge_request object and object_attributes.ref (the pipeline's
// source_ref) need. It targets the project's default branch.
type mergeRequest struct {
	id, iid      int64
	sourceBranch string
}

type pipeline struct {
	id, iid    int64
	project    *project
	ref, sha   string
	source     string
	status     string
	createdAt  stamp
	updatedAt  stamp
	startedAt  stamp
	finishedAt stamp
	jobs       []*job // builds and bridges, ascending id, retried included
	upstream   *job   // the bridge that triggered this child pipeline
	user       *user
	// mr is the merge request of a merge request pipeline (ref
	// refs/merge-requests/<iid>/head, /merge or /train) and of its child
	// pipelines, which inherit it as they inherit the ref; nil otherwise.
	mr *mergeRequest
}

type job struct {
	id            int64
	pipeline      *pipeline
	name, stage   string
	status        string
	failureReason string
	tags          []string // interned; shared between jobs
	createdAt     stamp
	queuedAt      stamp
	startedAt     stamp
	finishedAt    stamp
	coverage      float64 // percent, when hasCoverage
	runner        *runner
	artifacts     []artifact
	downstream    *pipeline    // bridges only
	env           *environment // nil: the job deploys nowhere
	when          jobWhen
	allowFailure  bool
	isBridge      bool
	retried       bool
	nullDurations bool
	hasCoverage   bool
}

// artifact is one entry of a job's artifacts[]; the strings live once in
// model.artifactKinds.
type artifact struct {
	size int64
	kind uint16
}

type artifactKind struct {
	fileType, filename, fileFormat string
}

func newModel(firstJobID int64) model {
	return model{
		groups:         map[int64]*group{},
		groupsByPath:   map[string]*group{},
		projects:       map[int64]*project{},
		projectsByPath: map[string]*project{},
		pipelines:      map[int64]*pipeline{},
		firstJobID:     firstJobID,
		tagLists:       map[string][]string{},
		artifactIndex:  map[artifactKind]uint16{},
		environments:   map[string]*environment{},
	}
}

var pathSegment = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// splitPath validates a full path and returns its segments.
func splitPath(path string) ([]string, bool) {
	segs := strings.Split(path, "/")
	for _, s := range segs {
		if !pathSegment.MatchString(s) || strings.HasSuffix(s, ".git") {
			return nil, false
		}
	}
	return segs, true
}

func (m *model) job(id int64) *job {
	i := id - m.firstJobID
	if i < 0 || i >= int64(len(m.jobs)) {
		return nil
	}
	return m.jobs[i]
}

func (m *model) nextJobID() int64 { return m.firstJobID + int64(len(m.jobs)) }

// ensureGroup returns the group at path, creating it and its parents.
// It returns nil for an invalid path or one taken by a project.
func (m *model) ensureGroup(path string, now stamp) *group {
	segs, ok := splitPath(path)
	if !ok {
		return nil
	}
	var parent *group
	for i := range segs {
		full := strings.Join(segs[:i+1], "/")
		key := lowerPath(full)
		if g := m.groupsByPath[key]; g != nil {
			parent = g
			continue
		}
		if m.projectsByPath[key] != nil {
			return nil
		}
		m.nextGroupID++
		g := &group{id: m.nextGroupID, path: full, name: segs[i], parent: parent, createdAt: now}
		m.groups[g.id] = g
		m.groupsByPath[key] = g
		if parent != nil {
			parent.subgroups = append(parent.subgroups, g)
		}
		parent = g
	}
	return parent
}

func (m *model) createProject(path string, opt ProjectOptions, now stamp) *project {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return nil // GitLab projects always live in a namespace
	}
	segs, ok := splitPath(path)
	if !ok {
		return nil
	}
	key := lowerPath(path)
	if m.projectsByPath[key] != nil || m.groupsByPath[key] != nil {
		return nil
	}
	g := m.ensureGroup(path[:i], now)
	if g == nil {
		return nil
	}
	branch := opt.DefaultBranch
	if branch == "" {
		branch = "main"
	}
	m.nextProjectID++
	p := &project{
		id: m.nextProjectID, path: path, name: segs[len(segs)-1], group: g,
		defaultBranch: branch, archived: opt.Archived, createdAt: now, lastActivity: now,
	}
	m.projects[p.id] = p
	m.projectsByPath[key] = p
	g.projects = append(g.projects, p)
	return p
}

func (m *model) createPipeline(p *project, ref, source string, now stamp) *pipeline {
	m.nextPipelineID++
	p.nextIID++
	sum := sha1.Sum(fmt.Appendf(nil, "%d/%s/%d", p.id, ref, p.nextIID))
	pl := &pipeline{
		id: m.nextPipelineID, iid: p.nextIID, project: p, ref: ref, sha: hex.EncodeToString(sum[:]),
		source: source, status: "created", createdAt: now, updatedAt: now,
		user: users[int(p.id)%len(users)],
	}
	m.pipelines[pl.id] = pl
	p.pipelines = append(p.pipelines, pl)
	p.lastActivity = now
	return pl
}

// addJob appends j to the shared sequence, its pipeline and, for builds, its
// project. Ids only grow, so every slice stays sorted. A new job's first
// status counts as a change: webhooks announce it.
func (m *model) addJob(j *job) {
	j.id = m.nextJobID()
	m.jobs = append(m.jobs, j)
	j.pipeline.jobs = append(j.pipeline.jobs, j)
	if !j.isBridge {
		j.pipeline.project.builds = append(j.pipeline.project.builds, j)
	}
	m.jobChanged(j, j.createdAt)
}

// internTags returns a sorted, de-duplicated tag list shared by every job
// with the same tags.
func (m *model) internTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	key := strings.Join(sorted, "\x00")
	if t, ok := m.tagLists[key]; ok {
		return t
	}
	m.tagLists[key] = sorted
	return sorted
}

func (m *model) internArtifact(k artifactKind) (uint16, bool) {
	if i, ok := m.artifactIndex[k]; ok {
		return i, true
	}
	if len(m.artifactKinds) >= 1<<16 {
		return 0, false
	}
	i := uint16(len(m.artifactKinds))
	m.artifactKinds = append(m.artifactKinds, k)
	m.artifactIndex[k] = i
	return i, true
}

// findProject resolves a decoded :id (numeric id or full path) to a live
// project.
func (m *model) findProject(id string) *project {
	if n, ok := parseID(id); ok {
		if p := m.projects[n]; p != nil && !p.deleted {
			return p
		}
		return nil
	}
	return m.projectsByPath[lowerPath(id)]
}

func (m *model) findGroup(id string) *group {
	if n, ok := parseID(id); ok {
		return m.groups[n]
	}
	return m.groupsByPath[lowerPath(id)]
}

// lowerPath is the lookup key of a full path: GitLab resolves paths
// case-insensitively.
func lowerPath(p string) string { return strings.ToLower(p) }
