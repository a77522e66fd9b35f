package cli

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
)

// rebuildCheckpointInterval is how often a rebuild into a topic
// checkpoints, unless --checkpoint-every is given (then that many events
// too), as Kafka Streams commits every 30 s: each checkpoint writes the
// states changed since the last one, so a rebuild shorter than this writes
// each aggregate once, where a copy's 20,000 records or 1 s would write a
// busy aggregate's state at every one (bench/replay.sh: 50,520 states for
// 10,000 accounts of 200,000 events).
const rebuildCheckpointInterval = 30 * time.Second

// openRebuild opens a projection rebuild into a topic as one member of its
// consumer group, the way a plain replay copies: the copier reads the
// member's share of the source partitions, and the states of their
// aggregates go to the destination partitions of the same numbers in
// transactions that commit the source offsets. A member that takes a
// partition over (at the start of --resume, or in a rebalance) first
// restores its aggregates' states from the destination, their changelog.
func (j *replayJob) openRebuild(ctx context.Context, cfg kafka.Config, from, to position.Position) error {
	o := j.opts
	tuneGCForFolds(o.Getenv)
	if o.Group == "" {
		o.Group = defaultGroup(o.Topics, o.ToTopic)
	}
	// Final states are a read model: compaction keeps each aggregate's
	// latest. Changes are a history, which compaction would throw away.
	policy := "compact"
	if o.Emit == "changes" {
		policy = "delete"
	}
	if err := j.prepareDestination(ctx, cfg, policy); err != nil {
		return err
	}
	ps := j.newProjectionSink(projectionOutput{topic: o.ToTopic})
	ps.member, ps.changes = j.proj.NewMemberFold(), o.Emit == "changes"
	ms := &memberSink{projectionSink: ps}
	c, err := kafka.NewCopier(ctx, cfg, kafka.CopyOptions{Group: o.Group, Topics: o.Topics, From: from, To: to, DestTopic: o.ToTopic,
		// One partition after another: the fold failure a member stops at
		// is its first by partition and offset, the same on every run.
		MaxMessageBytes: j.destMaxBytes, Changelog: ms, Sequential: true})
	if err != nil {
		return err
	}
	j.closers = append(j.closers, func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "evctl: warning: %v\n", err)
		}
	})
	switch {
	case c.Resumed() && !o.Resume:
		return flagErrorf("group %q has already rebuilt part of this into %s; add --resume to continue it, or pick a new --group", o.Group, o.ToTopic)
	case !c.Resumed() && j.destRecords > 0:
		// --resume let a destination with records through: without the
		// group's progress they are not this rebuild's states.
		return flagErrorf("destination topic %q holds records that group %q did not write; a rebuild restores its states from the destination, so start it in an empty topic", o.ToTopic, o.Group)
	}
	ms.cp = c
	ps.out.write, ps.out.flush = c.Write, c.Checkpoint
	j.copier = c
	j.src, j.sink = c, ms
	j.total = remaining(c.Ranges())
	j.checkpointInterval = rebuildCheckpointInterval
	if !o.checkpointNSet {
		o.CheckpointN = math.MaxInt
	}
	return nil
}

// memberSink is a rebuild's sink as a group member: the projection sink
// over a MemberFold, whose states are the copier's Changelog.
type memberSink struct {
	*projectionSink
	cp *kafka.Copier
}

// Abort drops the work since the last checkpoint (a failed record's
// replay must not commit), as the copier does.
func (s *memberSink) Abort(ctx context.Context) error { return s.cp.Abort(ctx) }

// Restore sets an aggregate's state as the destination holds it.
func (s *memberSink) Restore(source kafka.TopicPartition, m *record.Message) error {
	return s.member.Restore(replay.SourcePartition{Topic: source.Topic, Partition: source.Partition}, string(m.Key), m.Value, m.Timestamp)
}

// Revoked drops the aggregates of partitions another member now folds.
func (s *memberSink) Revoked(sources []kafka.TopicPartition) {
	for _, tp := range sources {
		s.member.Drop(replay.SourcePartition{Topic: tp.Topic, Partition: tp.Partition})
	}
}

// Flush writes the states changed since the last checkpoint, into the
// transaction that checkpoint commits; --emit changes wrote each already.
func (s *memberSink) Flush(ctx context.Context) error {
	for _, st := range s.member.Changed() {
		if s.changes {
			continue
		}
		m := &record.Message{Topic: s.out.topic, Partition: st.Partition.Partition, Timestamp: st.At, Key: []byte(st.ID), Value: st.State}
		if err := s.cp.Write(ctx, m); err != nil {
			return err
		}
		s.written++
	}
	return nil
}
