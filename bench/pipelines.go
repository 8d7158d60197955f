package bench

import (
	"math/bits"
	"sync"
)

// The pipeline ground truth and what the recorder counted are kept in a
// few bytes per pipeline id, as the jobs' are in a byte per job id: the
// harness shares the process whose heap it measures, and a map entry with
// strings per pipeline would be a tenth of that heap after six hours.

// pipelineCodes intern the statuses and sources of pipelines as small
// numbers; code 0 is "none", 1 "other".
type pipelineCodes struct {
	mu    sync.Mutex
	names []string
	index map[string]uint8
}

var codes = pipelineCodes{names: []string{"", "other"}, index: map[string]uint8{"": 0, "other": 1}}

// of returns the code of name; past 255 names everything is "other".
func (c *pipelineCodes) of(name string) uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.index[name]; ok {
		return k
	}
	if len(c.names) == 255 {
		return 1
	}
	k := uint8(len(c.names))
	c.names = append(c.names, name)
	c.index[name] = k
	return k
}

func (c *pipelineCodes) name(k uint8) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.names[k]
}

// pipelineResult is a pipeline's result: its status and source codes and
// GitLab's duration (-1 when it has none).
type pipelineResult struct {
	status, source uint8
	duration       int32
}

func resultOf(status, source string, duration *int64) pipelineResult {
	d := int32(-1)
	if duration != nil {
		d = int32(*duration)
	}
	return pipelineResult{status: codes.of(status), source: codes.of(source), duration: d}
}

// statusSet is a set of status codes below 64.
type statusSet uint64

func (s *statusSet) add(code uint8) { *s |= 1 << (code & 63) }
func (s statusSet) len() int        { return bits.OnesCount64(uint64(s)) }

// pipelineTruth is what the exporter can see of a pipeline's results:
// its first and its later ones. Results before the exporter's first cycle
// collapse into the last of them, unless the pipeline ran again before that
// cycle (then the exporter first sees it finish after). A pipeline created
// before the lookback (history) has no first result the exporter may count:
// its results are later ones, once one of its jobs is new enough to be
// seen.
type pipelineTruth struct {
	first    pipelineResult // status 0: none yet
	last     int64          // unix milliseconds of its last finish
	later    statusSet      // later results, distinct
	finals   uint16         // finishes
	project  int32
	known    bool // the entry is in use
	history  bool
	reopened bool // a job of it moved after its last finish, before the exporter started
	seen     bool // a job of it was created after the cutoff
}

// pipelineTable holds a value per pipeline id; the fake's ids are dense
// from 1.
type pipelineTable[T any] []T

func (t *pipelineTable[T]) at(id int64) *T {
	if id <= 0 {
		var zero T
		return &zero
	}
	for int64(len(*t)) <= id {
		*t = append(*t, make([]T, max(1024, len(*t)))...)
	}
	return &(*t)[id]
}

// countedPipeline is a pipeline's first result as the exporter counted it.
type countedPipeline struct {
	first pipelineResult
	times uint8
}
