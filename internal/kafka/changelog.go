package kafka

import (
	"context"
	"fmt"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/record"
)

// Changelog is the state a stateful copy keeps per source partition (a
// projection's aggregates), written to the destination partition of the
// same number, which is that state's changelog: the copier commits what
// Flush writes in the transaction that commits the source offsets, so the
// destination always holds the state that goes with the group's progress.
// The copier calls it from Read (Restore, Revoked) and Checkpoint (Flush).
type Changelog interface {
	// Restore is given, when this member is assigned a source partition
	// the group has progress on, each record of the destination partition
	// of that number, in order, read_committed to its end: the records
	// that state was written as, the latest of a key winning.
	Restore(source TopicPartition, m *record.Message) error
	// Revoked says the member gave the partitions up, their work
	// committed (or, after a lost assignment, aborted): drop their state.
	Revoked(sources []TopicPartition)
	// Flush writes, with Copier.Write, what the checkpoint about to commit
	// must hold.
	Flush(ctx context.Context) error
}

// restoreStablePoll is how often a restore looks whether the destination
// still has open transactions: the markers of one that committed the
// group's offsets may land there a moment after the offsets are visible.
const restoreStablePoll = 50 * time.Millisecond

// restore reads the destination partitions numbered as sources into the
// Changelog. It first waits, up to the timeout and the transaction timeout,
// until no transaction is open on them, so that the read reaches every
// state committed with the offsets just read; what a killed member left
// open is aborted by then, or, past the wait, beyond what is read.
func (cp *Copier) restore(ctx context.Context, sources []TopicPartition) error {
	if len(sources) == 0 {
		return nil
	}
	dest := cp.opts.DestTopic
	tps := make([]topicPartition, len(sources))
	parts := make([]int32, len(sources))
	bySource := make(map[int32]TopicPartition, len(sources))
	for i, s := range sources {
		tps[i] = topicPartition{dest, s.Partition}
		parts[i] = s.Partition
		bySource[s.Partition] = s
	}
	deadline := time.Now().Add(cp.cfg.timeout() + cp.txnTimeout)
	for {
		_, stable, err := watermarks(ctx, cp.cfg, cp.logs, cp.ac, tps, rdk.IsolationLevelReadCommitted)
		if err != nil {
			return fmt.Errorf("restore from %s: %w", dest, err)
		}
		_, high, err := watermarks(ctx, cp.cfg, cp.logs, cp.ac, tps, rdk.IsolationLevelReadUncommitted)
		if err != nil {
			return fmt.Errorf("restore from %s: %w", dest, err)
		}
		open := false
		for _, tp := range tps {
			open = open || stable[tp] < high[tp]
		}
		if !open || time.Now().After(deadline) {
			break
		}
		t := time.NewTimer(restoreStablePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	r, err := NewReader(ctx, cp.cfg, ReadOptions{Topics: []string{dest}, Partitions: parts})
	if err != nil {
		return fmt.Errorf("restore from %s: %w", dest, err)
	}
	defer r.Close()
	if err := r.Each(ctx, func(m *record.Message) error { return cp.opts.Changelog.Restore(bySource[m.Partition], m) }); err != nil {
		return fmt.Errorf("restore from %s: %w", dest, err)
	}
	return nil
}
