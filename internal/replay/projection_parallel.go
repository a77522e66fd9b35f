package replay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// parallelFoldBatch is how many records travel to a worker at once: one
// channel send per record would cost more than a small handler.
const parallelFoldBatch = 256

// ParallelFold folds records on several goroutines, each owning the
// aggregates of one shard, so each aggregate's events still fold in order.
// With the default id (.key) records shard by their key; with an id
// expression they shard by topic and partition, which is right when each
// aggregate lives in one partition (producers partition by key) — Close
// reports an aggregate found in two shards. It yields final states only:
// fold with a Fold to see every Change.
type ParallelFold struct {
	p       *Projection
	ctx     context.Context
	cancel  context.CancelFunc
	onError func(error) error
	seed    maphash.Seed
	folds   []*Fold
	in      []chan []*record.Record
	batches [][]*record.Record
	wg      sync.WaitGroup
	failed  atomic.Pointer[error]
	// first is the failed record first in (topic, partition, offset)
	// order so far: workers fold on only what comes before it.
	first  atomic.Pointer[failure]
	closed bool
}

// failure is a record the fold failed on, and why.
type failure struct {
	topic     string
	partition int32
	offset    int64
	err       error
}

func (f *failure) before(r *record.Record) bool {
	return cmp.Or(strings.Compare(f.topic, r.Topic), cmp.Compare(f.partition, r.Partition), cmp.Compare(f.offset, r.Offset)) < 0
}

// NewParallelFold starts workers (at least one) goroutines. onError sees
// each failed record's *ApplyError, from any worker goroutine: nil goes on
// (the record is skipped), an error fails the fold. A nil onError fails it
// at every failure.
//
// A failed fold reports the failure first in (topic, partition, offset)
// order, whatever the order the workers met failures in, so identical runs
// report the same error: after a failure the fold goes on only with the
// records before it (the others are dropped unfolded), and Close returns
// the first. Apply goes on accepting records until the context is done.
func (p *Projection) NewParallelFold(ctx context.Context, workers int, onError func(error) error) *ParallelFold {
	workers = max(workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	pf := &ParallelFold{
		p: p, ctx: ctx, cancel: cancel, onError: onError, seed: maphash.MakeSeed(),
		folds:   make([]*Fold, workers),
		in:      make([]chan []*record.Record, workers),
		batches: make([][]*record.Record, workers),
	}
	for i := range workers {
		pf.folds[i] = p.NewFold()
		pf.in[i] = make(chan []*record.Record, 4)
		pf.wg.Go(func() { pf.work(pf.folds[i], pf.in[i]) })
	}
	return pf
}

func (pf *ParallelFold) work(f *Fold, in <-chan []*record.Record) {
	for batch := range in {
		for _, r := range batch {
			if pf.failed.Load() != nil {
				break // drain, so that Apply never blocks
			}
			if first := pf.first.Load(); first != nil && first.before(r) {
				continue // cannot change which failure is first
			}
			if _, err := f.Apply(pf.ctx, r); err != nil {
				if pf.onError != nil {
					err = pf.onError(err)
				}
				if err != nil {
					pf.failAt(r, err)
				}
			}
		}
	}
}

// failAt records a failure at r, unless one before it is known; an
// interruption stops the fold at once.
func (pf *ParallelFold) failAt(r *record.Record, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		pf.fail(err)
		return
	}
	f := &failure{topic: r.Topic, partition: r.Partition, offset: r.Offset, err: err}
	for {
		old := pf.first.Load()
		if old != nil && old.before(r) {
			return
		}
		if pf.first.CompareAndSwap(old, f) {
			return
		}
	}
}

func (pf *ParallelFold) fail(err error) {
	if pf.failed.CompareAndSwap(nil, &err) {
		pf.cancel()
	}
}

// Apply queues r for its shard's worker; the fold owns r from now on. It
// returns the error that stopped the fold, if one has.
func (pf *ParallelFold) Apply(r *record.Record) error {
	if err := pf.failed.Load(); err != nil {
		return *err
	}
	if pf.closed {
		return errors.New("parallel fold: Apply after Close")
	}
	i := pf.shard(r)
	pf.batches[i] = append(pf.batches[i], r)
	if len(pf.batches[i]) == parallelFoldBatch {
		return pf.send(i)
	}
	return nil
}

func (pf *ParallelFold) send(i int) error {
	select {
	case pf.in[i] <- pf.batches[i]:
		pf.batches[i] = make([]*record.Record, 0, parallelFoldBatch)
		return nil
	case <-pf.ctx.Done():
		if err := pf.failed.Load(); err != nil {
			return *err
		}
		return pf.ctx.Err()
	}
}

func (pf *ParallelFold) shard(r *record.Record) int {
	n := len(pf.folds)
	if n == 1 {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(pf.seed)
	if pf.p.id == nil {
		h.WriteString(keyShard(r.Key))
	} else {
		h.WriteString(r.Topic)
		h.WriteByte(0)
		h.WriteByte(byte(r.Partition >> 24))
		h.WriteByte(byte(r.Partition >> 16))
		h.WriteByte(byte(r.Partition >> 8))
		h.WriteByte(byte(r.Partition))
	}
	return int(h.Sum64() % uint64(n))
}

// keyShard is the default aggregate id of a record with this JSON key, or
// something as good for hashing: equal ids give equal results.
func keyShard(key json.RawMessage) string {
	if len(key) >= 2 && key[0] == '"' && !slices.Contains(key, '\\') {
		return string(key[1 : len(key)-1])
	}
	var s string
	if json.Unmarshal(key, &s) == nil {
		return s
	}
	if len(key) > 0 && (key[0] == '{' || key[0] == '[') {
		// One object written with its members in two orders is one id.
		t, _ := record.KeyText(key, record.EncodingJSON)
		return t
	}
	return string(key) // a number's text is its id
}

// Close waits for every queued record to be folded and returns the error
// that stopped the fold, if any. After Close, Len and States are ready.
func (pf *ParallelFold) Close() error {
	if !pf.closed {
		pf.closed = true
		var err error
		for i := range pf.in {
			if len(pf.batches[i]) > 0 && err == nil {
				err = pf.send(i)
			}
			close(pf.in[i])
		}
		pf.wg.Wait()
		pf.cancel()
		if err != nil {
			pf.fail(err)
		}
		if first := pf.first.Load(); first != nil {
			pf.fail(first.err)
		}
		if pf.failed.Load() == nil && pf.p.id != nil {
			if err := pf.checkDisjoint(); err != nil {
				pf.fail(err)
			}
		}
	}
	if err := pf.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// checkDisjoint finds an aggregate folded in two shards: its events were in
// partitions of two workers, so their order across them was lost.
func (pf *ParallelFold) checkDisjoint() error {
	seen := make(map[string]int, pf.Len())
	for i, f := range pf.folds {
		for id := range f.aggs {
			if j, dup := seen[id]; dup {
				return fmt.Errorf("aggregate %q has events in partitions folded by workers %d and %d: "+
					"with id %s in %s an aggregate must live in one partition; fold with one worker",
					id, j, i, strings.TrimSpace(pf.p.idSource), pf.p.File)
			}
			seen[id] = i
		}
	}
	return nil
}

// SkippedTypes counts the events of each type skipped as unknown, over
// every worker (see Fold.SkippedTypes). Call it after Close.
func (pf *ParallelFold) SkippedTypes() map[string]int64 {
	if !pf.closed {
		return nil // the workers may still be counting
	}
	all := map[string]int64{}
	for _, f := range pf.folds {
		for t, n := range f.skipped {
			all[t] += n
		}
	}
	return all
}

// Split says which aggregates had events on more than one partition of a
// topic, over every worker (see Fold.Split). Call it after Close.
func (pf *ParallelFold) Split() SplitAggregates {
	var all SplitAggregates
	if !pf.closed {
		return all
	}
	for _, f := range pf.folds {
		all.N += f.split.N - int64(len(f.split.First))
		for _, a := range f.split.First {
			all.add(a)
		}
	}
	return all
}

// Len is the number of aggregates seen, deleted ones included. Call it after Close.
func (pf *ParallelFold) Len() int {
	n := 0
	for _, f := range pf.folds {
		n += f.Len()
	}
	return n
}

// Timestamp is the timestamp of the last record folded into an aggregate,
// as Fold.Timestamp. Call it after Close.
func (pf *ParallelFold) Timestamp(id string) time.Time {
	for _, f := range pf.folds {
		if _, ok := f.aggs[id]; ok {
			return f.Timestamp(id)
		}
	}
	return time.Time{}
}

// States yields every aggregate's final state, sorted by id, as
// Fold.States does. Call it after Close.
func (pf *ParallelFold) States() iter.Seq2[string, json.RawMessage] {
	return projectionStates(pf.folds)
}
