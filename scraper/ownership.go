package scraper

import (
	"strconv"

	"github.com/gitlab-jobs-exporter/gitlab_jobs_exporter/shard"
)

// lookedUpHere reports whether this shard resolves a configured project at
// discovery. A numeric reference is the id, so another shard's project costs
// no request; a path must be resolved to learn its id.
func lookedUpHere(sh shard.Shard, ref string) bool {
	id, err := strconv.ParseInt(ref, 10, 64)
	return err != nil || sh.Owns(id)
}

// speaksFor reports whether this shard exports a configured project that
// cannot be resolved (project_up 0): the owner of the id it last resolved
// to, which polls it when it resolves again, or else the owner of its name.
// So exactly one shard shows it, whichever shard resolved it before.
func speaksFor(sh shard.Shard, ref string, refIDs map[string]int64) bool {
	if id, ok := refIDs[ref]; ok {
		return sh.Owns(id)
	}
	return sh.OwnsName(ref)
}
