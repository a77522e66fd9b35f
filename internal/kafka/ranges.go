package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/record"
)

// OffsetRange is the offsets [From, To) of one partition.
type OffsetRange struct {
	Topic     string
	Partition int32
	From, To  int64
}

// RangeReader reads ranges of offsets, one call after another, through one
// consumer that each call moves to its ranges: a browser's pages, its
// follow and its filter's scan cost no new client, no new connections and
// no metadata round trip each, and what librdkafka prefetches stays within
// one consumer's queue. It never joins a group nor commits. Safe for
// concurrent use: calls take turns.
type RangeReader struct {
	mu    sync.Mutex
	cfg   Config
	c     *rdk.Consumer
	logs  *logSink
	watch brokerWatch
	// known says the consumer has the cluster's metadata, so an assignment
	// fetches at once instead of waiting for librdkafka to look up the
	// leaders.
	known bool
}

// NewRangeReader returns a reader on the cluster; it connects when it
// first reads. Close releases it.
func NewRangeReader(cfg Config) (*RangeReader, error) {
	m, err := cfg.configMap(append(slices.Clip(readDefaults),
		// End-of-partition events end ranges whose last offsets are
		// transaction markers or aborted records, never delivered.
		[2]string{"enable.partition.eof", "true"},
		// A read that ended at a partition's end leaves a fetch waiting
		// there, which the next read waits for before it fetches: keep
		// that wait short. Between reads nothing is assigned, so nothing
		// is fetched.
		[2]string{"fetch.wait.max.ms", "10"}))
	if err != nil {
		return nil, err
	}
	c, logs, err := newConsumer(m)
	if err != nil {
		return nil, err
	}
	return &RangeReader{cfg: cfg, c: c, logs: logs, watch: brokerWatch{cfg: cfg, logs: logs, mc: c}}, nil
}

// rangeState is one partition of a Read.
type rangeState struct {
	topic    string
	next, to int64
	done     bool
}

// Read calls fn with every record of the ranges: those of one partition in
// offset order, partitions interleaved. A range ends at its To or at the
// partition's end, whichever comes first, and may yield fewer records than
// it spans (compaction, aborted transactions). At most one range per
// partition. An error of fn stops the read and is returned as it is.
func (rr *RangeReader) Read(ctx context.Context, ranges []OffsetRange, fn func(*record.Message) error) error {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	parts := make(map[TopicPartition]*rangeState, len(ranges))
	var assign []rdk.TopicPartition
	for _, rg := range ranges {
		tp := TopicPartition{Topic: rg.Topic, Partition: rg.Partition}
		if _, ok := parts[tp]; ok {
			return fmt.Errorf("%s[%d] is asked for twice in one read", rg.Topic, rg.Partition)
		}
		if rg.From >= rg.To {
			continue
		}
		ps := &rangeState{topic: rg.Topic, next: rg.From, to: rg.To}
		parts[tp] = ps
		assign = append(assign, rdk.TopicPartition{Topic: &ps.topic, Partition: rg.Partition, Offset: rdk.Offset(rg.From)})
	}
	if len(assign) == 0 {
		return nil
	}
	if !rr.known {
		if _, err := clusterMetadata(ctx, rr.cfg, rr.logs, rr.c); err != nil {
			return err
		}
		rr.known = true
	}
	// Assigning moves the consumer: librdkafka drops what it had fetched
	// for the previous assignment (its ops carry an older version), so
	// nothing of an earlier read arrives in this one.
	if err := rr.c.Assign(assign); err != nil {
		return fmt.Errorf("cannot assign partitions: %w", err)
	}
	// Unassigned between reads, the consumer fetches nothing while the
	// user looks at a page.
	defer func() { _ = rr.c.Unassign() }()
	remaining := len(assign)
	finish := func(ps *rangeState, partition int32) {
		if !ps.done {
			ps.done = true
			remaining--
			// What it would fetch past its range slows the others' fetches.
			_ = rr.c.IncrementalUnassign([]rdk.TopicPartition{{Topic: &ps.topic, Partition: partition}})
		}
	}
	for remaining > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch e := rr.c.Poll(int(pollTimeout / time.Millisecond)).(type) {
		case *rdk.Message:
			tp := e.TopicPartition
			if tp.Error != nil {
				return fmt.Errorf("cannot read %s[%d]: %w", topicOf(tp), tp.Partition, tp.Error)
			}
			rr.watch.up()
			ps := parts[TopicPartition{Topic: topicOf(tp), Partition: tp.Partition}]
			off := int64(tp.Offset)
			if ps == nil || ps.done || off < ps.next {
				continue
			}
			if off >= ps.to {
				finish(ps, tp.Partition)
				continue
			}
			ps.next = off + 1
			if ps.next >= ps.to {
				finish(ps, tp.Partition)
			}
			if err := fn(toMessage(ps.topic, e)); err != nil {
				return err
			}
		case rdk.PartitionEOF:
			// Nothing is left before the partition's end: a range that goes
			// past it, or whose last offsets hold no record, is done.
			if e.Topic == nil {
				continue
			}
			if ps := parts[TopicPartition{Topic: *e.Topic, Partition: e.Partition}]; ps != nil {
				finish(ps, e.Partition)
			}
		case rdk.Error:
			if err := rr.watch.event(ctx, e); err != nil {
				return err
			}
		case nil:
			if err := rr.watch.check(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close releases the consumer; it commits nothing.
func (rr *RangeReader) Close() {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	closeWhenIdle(func() {
		// The consumer never joined a group, so closing leaves none.
		_ = rr.c.Close()
	})
}
