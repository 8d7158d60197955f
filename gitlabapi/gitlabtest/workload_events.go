package gitlabtest

import "container/heap"

type eventKind uint8

const (
	evArrival eventKind = iota // a new pipeline
	evStage                    // enqueue a pipeline's current stage
	evStart                    // a runner picks a pending job
	evFinish                   // a job ends
	evPlay                     // someone plays a manual job
	evRetry                    // someone retries a failed job
)

// event is one scheduled step; seq breaks ties so equal times replay in
// insertion order and a seed always gives the same history.
type event struct {
	at   int64 // Unix nanoseconds
	seq  uint64
	kind eventKind
	job  *wjob
	pipe *wpipe
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

func (w *Workload) schedule(at int64, kind eventKind, j *wjob, p *wpipe) {
	w.seq++
	heap.Push(&w.events, &event{at: at, seq: w.seq, kind: kind, job: j, pipe: p})
}
