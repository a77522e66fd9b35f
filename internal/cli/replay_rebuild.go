package cli

import (
	"context"
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

// planRebuild plans a projection rebuild into a topic as one member of its
// consumer group, the way a plain replay copies: the copier reads the
// member's share of the source partitions, and the states of their
// aggregates go to the destination partitions of the same numbers in
// transactions that commit the source offsets. A member that takes a
// partition over (at the start of --resume, or in a rebalance) first
// restores its aggregates' states from the destination, their changelog.
func (b *replayPlanner) planRebuild(ctx context.Context, cfg kafka.Config, from, to position.Position, p *replay.Plan) error {
	o := b.opts
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
	if err := b.prepareDestination(ctx, cfg, policy); err != nil {
		return err
	}
	ms := replay.NewMemberSink(b.projectionOptions(o.Group))
	c, err := kafka.NewCopier(ctx, cfg, kafka.CopyOptions{Group: o.Group, Topics: o.Topics, From: from, To: to, DestTopic: o.ToTopic,
		// One partition after another: the fold failure a member stops at
		// is its first by partition and offset, the same on every run.
		MaxMessageBytes: b.destMaxBytes, Changelog: changelog{ms}, Sequential: true})
	if err != nil {
		return err
	}
	b.closeCopier(c)
	switch {
	case c.Resumed() && !o.Resume:
		return flagErrorf("group %q has already rebuilt part of this into %s; add --resume to continue it, or pick a new --group", o.Group, o.ToTopic)
	case !c.Resumed() && b.destRecords > 0:
		// --resume let a destination with records through: without the
		// group's progress they are not this rebuild's states.
		return flagErrorf("destination topic %q holds records that group %q did not write; a rebuild restores its states from the destination, so start it in an empty topic", o.ToTopic, o.Group)
	}
	ms.Bind(c)
	p.Source, p.Dest = c, ms
	b.total = remaining(c.Ranges())
	p.Options.CheckpointInterval = rebuildCheckpointInterval
	if !o.checkpointNSet {
		p.Options.CheckpointEvery = math.MaxInt
	}
	return nil
}

// changelog is a rebuild's MemberSink as the copier's Changelog.
type changelog struct{ *replay.MemberSink }

func (c changelog) Restore(source kafka.TopicPartition, m *record.Message) error {
	return c.MemberSink.Restore(replay.SourcePartition{Topic: source.Topic, Partition: source.Partition}, m)
}

func (c changelog) Revoked(sources []kafka.TopicPartition) {
	sps := make([]replay.SourcePartition, len(sources))
	for i, tp := range sources {
		sps[i] = replay.SourcePartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	c.MemberSink.Revoked(sps)
}
