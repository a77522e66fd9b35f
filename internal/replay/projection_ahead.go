package replay

import (
	"context"
	"sync/atomic"

	"github.com/evctl/evctl/internal/record"
)

// aheadBatch is how many records go to the folding goroutine at once:
// one channel send per record would cost more than a small handler.
const aheadBatch = 256

// foldAhead decodes and folds records on a goroutine of its own, in the
// order given, while the caller reads the next ones: a rebuild member's
// copier spends as long in its cgo polls as the fold takes, and one
// goroutine doing both leaves the second core idle. Whoever reads or
// changes what the fold holds calls sync first; not safe for concurrent
// use otherwise.
type foldAhead struct {
	fold    func(ctx context.Context, m *record.Message) error
	in      chan aheadItems
	batch   []*record.Message
	started bool
	stopped bool
	sent    bool        // a batch went since the last sync
	failed  atomic.Bool // set by the worker with err
	err     error       // the fold's first failure
	dropped int64       // records not folded: the failed one, and those after it
}

type aheadItems struct {
	ms   []*record.Message
	done chan struct{} // closed once ms and all before are folded; nil: no one waits
}

// add queues m for the fold. It returns the fold's failure, once there
// is one: the records since are dropped, as the failed record's replay
// stops.
func (f *foldAhead) add(ctx context.Context, m *record.Message) error {
	if f.failed.Load() {
		return f.sync()
	}
	if !f.started {
		f.started = true
		f.in = make(chan aheadItems, 4)
		go f.work(context.WithoutCancel(ctx)) // a record once read is folded to the end, as Run handles it
	}
	f.batch = append(f.batch, m)
	if len(f.batch) == aheadBatch {
		f.in <- aheadItems{ms: f.batch}
		f.batch, f.sent = make([]*record.Message, 0, aheadBatch), true
	}
	return nil
}

func (f *foldAhead) work(ctx context.Context) {
	for items := range f.in {
		for _, m := range items.ms {
			if f.failed.Load() {
				f.dropped++
				continue
			}
			if err := f.fold(ctx, m); err != nil {
				f.err, f.dropped = err, f.dropped+1
				f.failed.Store(true)
			}
		}
		if items.done != nil {
			close(items.done)
		}
	}
}

// sync waits until every record added is folded, and returns the fold's
// failure, if any.
func (f *foldAhead) sync() error {
	if !f.started || f.stopped || len(f.batch) == 0 && !f.sent {
		return f.err
	}
	done := make(chan struct{})
	f.in <- aheadItems{ms: f.batch, done: done}
	<-done
	f.batch, f.sent = f.batch[:0:0], false
	return f.err
}

// stop folds what was added and ends the goroutine; add must not follow.
func (f *foldAhead) stop() error {
	err := f.sync()
	if f.started && !f.stopped {
		f.stopped = true
		close(f.in)
	}
	return err
}
