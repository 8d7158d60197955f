package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FormatVersion is the version of the state file format. A file of another
// version is not read: the project starts fresh.
const FormatVersion = 1

// Errors Load returns besides I/O errors. ErrNoState is not a problem: the
// project was never saved.
var (
	ErrNoState      = errors.New("no saved state")
	ErrCorrupt      = errors.New("state file is corrupt")
	ErrIncompatible = errors.New("state file is incompatible")
)

// Store keeps one file per project under a directory, so that a poll
// writes only the state of the project it polled.
type Store struct {
	root string // --storage.path
	dir  string // its projects directory
	// instance identifies the GitLab the state belongs to; a state saved
	// against another GitLab is not reused.
	instance string

	mu sync.Mutex
	// last is the sha256 of what was last written or read per project, to
	// skip unchanged writes; a digest rather than the bytes, which would be
	// a second copy of every project's state.
	last map[int64][sha256.Size]byte
}

type file struct {
	Version  int      `json:"version"`
	Instance string   `json:"instance"`
	Project  *Project `json:"project"`
}

// OpenStore opens (creating it if needed) the state directory dir for the
// GitLab instance named by instance (its URL).
func OpenStore(dir, instance string) (*Store, error) {
	projects := filepath.Join(dir, "projects")
	if err := os.MkdirAll(projects, 0o750); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	probe, err := os.CreateTemp(projects, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("state directory %s is not writable: %w", projects, err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	return &Store{root: dir, dir: projects, instance: strings.TrimRight(instance, "/"), last: map[int64][sha256.Size]byte{}}, nil
}

func (s *Store) path(id int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(id, 10)+".json")
}

// Load reads the saved state of project id. It returns ErrNoState when
// there is none, and an error wrapping ErrCorrupt or ErrIncompatible, with
// the file's path, when it cannot be used.
func (s *Store) Load(id int64) (*Project, error) {
	path := s.path(id)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	switch {
	case f.Version != FormatVersion:
		return nil, fmt.Errorf("%s: %w: format version %d, want %d", path, ErrIncompatible, f.Version, FormatVersion)
	case f.Instance != s.instance:
		return nil, fmt.Errorf("%s: %w: saved for GitLab %q, not %q", path, ErrIncompatible, f.Instance, s.instance)
	case f.Project == nil || f.Project.ID != id:
		return nil, fmt.Errorf("%s: %w: it does not hold project %d", path, ErrCorrupt, id)
	}
	f.Project.ensureMaps()
	s.mu.Lock()
	s.last[id] = sha256.Sum256(data)
	s.mu.Unlock()
	return f.Project, nil
}

// Save writes the state of p atomically (temporary file, fsync, rename),
// so that a crash leaves either the old or the new state, never a mix. It
// skips the write when nothing changed since the last one.
func (s *Store) Save(p *Project) error {
	data, err := json.Marshal(file{Version: FormatVersion, Instance: s.instance, Project: p})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	s.mu.Lock()
	last, ok := s.last[p.ID]
	s.mu.Unlock()
	if ok && last == sum {
		return nil
	}
	if err := writeAtomic(s.path(p.ID), data); err != nil {
		return err
	}
	s.mu.Lock()
	s.last[p.ID] = sum
	s.mu.Unlock()
	return nil
}

// IDs returns the ids of the projects with a saved state, in no order.
func (s *Store) IDs() ([]int64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if id, err := strconv.ParseInt(name, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Delete removes the saved state of project id.
func (s *Store) Delete(id int64) error {
	s.mu.Lock()
	delete(s.last, id)
	s.mu.Unlock()
	err := os.Remove(s.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ensureMaps makes a decoded project usable: JSON null maps become empty.
func (p *Project) ensureMaps() {
	if p.Recent == nil {
		p.Recent = map[int64]time.Time{}
	}
	if p.Followed == nil {
		p.Followed = map[int64]*FollowedJob{}
	}
	if p.Pipelines == nil {
		p.Pipelines = map[int64]*Pipeline{}
	}
	for id, f := range p.Followed {
		if f == nil {
			delete(p.Followed, id)
		}
	}
	for id, pl := range p.Pipelines {
		if pl == nil {
			delete(p.Pipelines, id)
			continue
		}
		if pl.Attempts == nil {
			pl.Attempts = map[string]int64{}
		}
		if pl.Bridges == nil {
			pl.Bridges = map[int64]bool{}
		}
	}
}
