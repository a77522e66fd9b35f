package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/evctl/evctl/internal/record"
)

// Concurrently reads each of srcs, bounded reads of distinct partitions,
// on a goroutine of its own, and yields their messages as one bounded
// PartitionedSource: each partition in its source's order, partitions
// interleaved. A Kafka client turns each fetched message into Go on the
// goroutine that polls it (most of a bulk read's CPU before any
// decoding), so one source a core spreads that work over the cores.
//
// What Open and Remaining say follows what Read has returned, as with a
// single source: a partition closes once the message after which its
// source said so has been read. Pause and Resume go to the source that
// delivered the partition, while its goroutine may be inside Read: each
// source must allow that. Close stops the goroutines; call it before
// closing the sources.
func Concurrently(srcs ...PartitionedSource) *Concurrent {
	c := &Concurrent{srcs: srcs, owner: map[partKey]int{}, closed: map[partKey]bool{},
		remaining: make([]int, len(srcs)), live: len(srcs), batches: make(chan *fanBatch, 2*len(srcs))}
	for i, s := range srcs {
		c.remaining[i] = s.Remaining()
		c.total += c.remaining[i]
	}
	return c
}

// fanBatchSize caps how many messages a source's goroutine hands over at
// once: one channel operation per batch, not per message.
const fanBatchSize = 256

// Concurrent is the PartitionedSource Concurrently returns. Its methods
// are for one goroutine, as a single source's are.
type Concurrent struct {
	srcs      []PartitionedSource
	owner     map[partKey]int // which source delivered a partition
	closed    map[partKey]bool
	remaining []int // each source's Remaining, as of the last message returned
	total     int   // their sum
	live      int   // sources whose last batch is not read yet

	batches chan *fanBatch
	cur     *fanBatch
	next    int // cur.msgs[next] is returned next
	err     error

	start  sync.Once
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// fanBatch is what one source read in a row, and its state after the
// last of those messages.
type fanBatch struct {
	src       int
	msgs      []*record.Message
	remaining int
	closed    []partKey // partitions that closed with the last message
	last      bool      // the source's final batch: EOF or err
	err       error
}

// Read returns the next message of any source; io.EOF once every source
// has reached its end. The first error of a source ends the read.
func (c *Concurrent) Read(ctx context.Context) (*record.Message, error) { return c.read(ctx, false) }

// ReadOrClose is Read, but also returns, with neither a message nor an
// error, when partitions closed without a message.
func (c *Concurrent) ReadOrClose(ctx context.Context) (*record.Message, error) {
	return c.read(ctx, true)
}

func (c *Concurrent) read(ctx context.Context, orClose bool) (*record.Message, error) {
	c.start.Do(func() { c.run(ctx) })
	for {
		if c.err != nil {
			return nil, c.err
		}
		if c.cur != nil && c.next < len(c.cur.msgs) {
			m := c.cur.msgs[c.next]
			c.cur.msgs[c.next] = nil
			c.next++
			if c.next == len(c.cur.msgs) {
				c.settle(c.cur)
			}
			return m, nil
		}
		if c.cur != nil && len(c.cur.msgs) == 0 {
			c.settle(c.cur)
			if orClose && !c.cur.last {
				c.cur = nil
				return nil, nil
			}
		}
		c.cur, c.next = nil, 0
		if c.live == 0 {
			return nil, io.EOF
		}
		select {
		case b := <-c.batches:
			for _, m := range b.msgs {
				c.owner[partKey{m.Topic, m.Partition}] = b.src
			}
			c.cur = b
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// settle applies what a batch's source said after its last message.
func (c *Concurrent) settle(b *fanBatch) {
	c.total += b.remaining - c.remaining[b.src]
	c.remaining[b.src] = b.remaining
	for _, k := range b.closed {
		c.closed[k] = true
	}
	if b.last {
		c.live--
		if b.err != nil && c.err == nil {
			c.err = b.err
		}
	}
}

// run starts one goroutine a source, reading until its end, an error, or
// Close.
func (c *Concurrent) run(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	for i, src := range c.srcs {
		c.wg.Go(func() { c.pump(ctx, i, src) })
	}
}

func (c *Concurrent) pump(ctx context.Context, i int, src PartitionedSource) {
	remaining := c.remaining[i]
	open := map[partKey]bool{} // partitions read from and not closed yet
	b := &fanBatch{src: i, remaining: remaining}
	for {
		m, err := src.ReadOrClose(ctx)
		if err != nil {
			b.last, b.remaining = true, src.Remaining()
			if !errors.Is(err, io.EOF) {
				b.err = err
			}
			for k := range open {
				b.closed = append(b.closed, k)
			}
			select {
			case c.batches <- b:
			case <-ctx.Done():
			}
			return
		}
		if m != nil {
			b.msgs = append(b.msgs, m)
			open[partKey{m.Topic, m.Partition}] = true // a source yields nothing of a partition it closed
		}
		changed := false
		if r := src.Remaining(); r != remaining {
			remaining, b.remaining, changed = r, r, true
			for k := range open {
				if !src.Open(k.topic, k.partition) {
					b.closed = append(b.closed, k)
					delete(open, k)
				}
			}
		}
		// Hand over a full batch, or one after which partitions closed: a
		// merge may be waiting on them. A bounded read always yields more
		// (or ends), so a partial batch is never held for good: the merge
		// never waits on a partition it paused.
		if changed || len(b.msgs) == fanBatchSize {
			select {
			case c.batches <- b:
			case <-ctx.Done():
				return
			}
			b = &fanBatch{src: i, remaining: remaining, msgs: make([]*record.Message, 0, fanBatchSize)}
		}
	}
}

// Open reports whether a partition may still yield messages.
func (c *Concurrent) Open(topic string, partition int32) bool {
	return !c.closed[partKey{topic, partition}]
}

// Remaining is how many partitions may still yield messages.
func (c *Concurrent) Remaining() int { return c.total }

// Pause stops fetching a partition, one Read has returned messages of,
// until Resume.
func (c *Concurrent) Pause(topic string, partition int32) error {
	src, err := c.source(topic, partition)
	if err != nil {
		return err
	}
	return src.Pause(topic, partition)
}

// Resume undoes Pause.
func (c *Concurrent) Resume(topic string, partition int32) error {
	src, err := c.source(topic, partition)
	if err != nil {
		return err
	}
	return src.Resume(topic, partition)
}

// source is the source that delivered a partition.
func (c *Concurrent) source(topic string, partition int32) (PartitionedSource, error) {
	i, ok := c.owner[partKey{topic, partition}]
	if !ok {
		return nil, fmt.Errorf("no message of %s[%d] was read: which source reads it is not known", topic, partition)
	}
	return c.srcs[i], nil
}

// Close stops the sources' goroutines and waits for them.
func (c *Concurrent) Close() {
	c.start.Do(func() {}) // never started: nothing to stop
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}
