package replay

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/stream"
)

// States is where a projection writes its states: a capture file, or the
// transaction of a rebuild's group member.
type States interface {
	Write(ctx context.Context, m *record.Message) error
	Checkpoint(ctx context.Context) error
}

// ProjectionOptions say how a projection sink folds and what it reports.
type ProjectionOptions struct {
	Projection *Projection
	// Decoder decodes the events (and, to a file, the states written).
	Decoder stream.Decoder
	// Changes writes every state as it changes (--emit changes), not only
	// the final ones.
	Changes bool
	// SkipFailures skips the events a handler fails on (--on-error skip),
	// where a failure otherwise stops the replay.
	SkipFailures bool
	// Report names the destination's group, and where the summary goes.
	Report Report
}

// ProjectionSink decodes and folds the events it is given; it writes each
// change as it happens (Changes), or every final state at the end, or, as
// a rebuild's group member (MemberSink), the states changed at each
// checkpoint.
type ProjectionSink struct {
	o          ProjectionOptions
	out        States
	topic      string // that the states are written as
	fold       *Fold
	parallel   *ParallelFold
	member     *MemberFold
	skipped    *Skipped // records SkipFailures skipped
	aggregates int64
	written    int64
	// numbered: records written to a file, which has no partitions, are
	// numbered in the order written, in partition 0.
	numbered bool
	next     int64
}

// NewProjectionFile folds into a capture file: every change as it comes
// from one Fold, or the final states, sorted by aggregate id, from a
// ParallelFold on every core.
func NewProjectionFile(ctx context.Context, o ProjectionOptions, w *record.Writer) *ProjectionSink {
	s := newProjectionSink(o, &FileSink{W: w, Decoder: o.Decoder})
	s.topic, s.numbered = o.Projection.Name, true
	if o.Changes {
		s.fold = o.Projection.NewFold()
	} else {
		s.parallel = o.Projection.NewParallelFold(ctx, runtime.GOMAXPROCS(0), s.onError)
	}
	return s
}

func newProjectionSink(o ProjectionOptions, out States) *ProjectionSink {
	return &ProjectionSink{o: o, out: out, skipped: NewSkipped(SkippedShown)}
}

func (s *ProjectionSink) onError(err error) error {
	var ae *ApplyError
	if s.o.SkipFailures && errors.As(err, &ae) {
		s.skipped.Add(err)
		return nil
	}
	return err
}

func (s *ProjectionSink) write(ctx context.Context, m *record.Message) error {
	if s.numbered {
		m.Partition, m.Offset = 0, s.next
		s.next++
	}
	s.written++
	return s.out.Write(ctx, m)
}

func (s *ProjectionSink) Write(ctx context.Context, m *record.Message) error {
	r := s.o.Decoder.Decode(ctx, m)
	if s.parallel != nil {
		return s.parallel.Apply(r)
	}
	var ch Change
	var err error
	partition := int32(-1)
	if s.member != nil {
		// A rebuild writes an aggregate's states to the destination
		// partition numbered as its source partition: their changelog.
		ch, err = s.member.Apply(ctx, r)
		partition = m.Partition
	} else {
		ch, err = s.fold.Apply(ctx, r)
	}
	if err != nil {
		return s.onError(err)
	}
	if ch.Skipped || (s.member != nil && !s.o.Changes) {
		return nil // final states go at each checkpoint (MemberSink.Flush)
	}
	return s.write(ctx, &record.Message{Topic: s.topic, Partition: partition, Timestamp: m.Timestamp, Key: []byte(ch.ID), Value: ch.State()})
}

func (s *ProjectionSink) Checkpoint(ctx context.Context) error { return s.out.Checkpoint(ctx) }

// Finish writes the final states, sorted by aggregate id.
func (s *ProjectionSink) Finish(ctx context.Context) error {
	switch {
	case s.member != nil:
		s.aggregates = int64(s.member.Created())
		return nil // the replay's last checkpoint wrote them
	case s.parallel == nil:
		s.aggregates = int64(s.fold.Len())
		return s.out.Checkpoint(ctx)
	}
	if err := s.parallel.Close(); err != nil {
		return err
	}
	s.aggregates = int64(s.parallel.Len())
	for id, state := range s.parallel.States() {
		m := &record.Message{Topic: s.topic, Partition: -1, Timestamp: s.parallel.Timestamp(id), Key: []byte(id), Value: state}
		if err := s.write(ctx, m); err != nil {
			return err
		}
	}
	return s.out.Checkpoint(ctx)
}

// Summary says what the fold did, then its notes.
func (s *ProjectionSink) Summary(st Stats, err error) {
	p, w := s.o.Projection, s.o.Report.ErrOut
	if err != nil && s.parallel != nil {
		// How far each worker of a failed ParallelFold got depends on
		// timing: say what was read, which identical runs repeat, not
		// what was folded.
		fmt.Fprintf(w, "stopped after reading %s with %s (filtered out %d, skipped %d, wrote %d) in %s\n",
			english.Plural(st.Read, "event"), p.Name, st.Filtered, s.skipped.Len(), s.written, st.Elapsed.Round(time.Millisecond))
		s.o.Report.groupNote(err)
		return
	}
	verb := "folded"
	if err != nil {
		verb = "stopped after folding"
	}
	fmt.Fprintf(w, "%s %s into %s with %s (read %d, filtered out %d, skipped %d, wrote %d) in %s, %.0f events/s\n",
		verb, english.Plural(st.Written, "event"), english.Plural(s.aggregates, "aggregate"), p.Name, st.Read, st.Filtered, s.skipped.Len(), s.written,
		st.Elapsed.Round(time.Millisecond), float64(st.Written)/max(st.Elapsed.Seconds(), 1e-9))
	FoldOutcome{Events: st.Written, Aggregates: s.aggregates, SkippedTypes: s.skippedTypes(), Skipped: s.skipped, Member: s.member != nil, Split: s.split()}.WriteNotes(w, p)
	s.o.Report.groupNote(err)
}

func (s *ProjectionSink) split() SplitAggregates {
	switch {
	case s.parallel != nil:
		return s.parallel.Split()
	case s.member != nil:
		// A member folds each source partition apart: an aggregate on two
		// partitions is never seen whole (evctl check reports it).
		return SplitAggregates{}
	}
	return s.fold.Split()
}

func (s *ProjectionSink) skippedTypes() map[string]int64 {
	switch {
	case s.parallel != nil:
		return s.parallel.SkippedTypes()
	case s.member != nil:
		return s.member.SkippedTypes()
	}
	return s.fold.SkippedTypes()
}

// foldAll folds final states with the record pipeline: decoding and
// selecting run on every core (Run decodes on one), and nothing needs
// Run's exact checkpoints, since a fold into a file commits no source
// progress.
func (s *ProjectionSink) foldAll(ctx context.Context, src stream.Source, sel *Selection, progress func(Stats)) (Stats, error) {
	st := Stats{Started: time.Now(), ByType: map[string]int64{}, ByPartition: map[string]int64{}}
	if progress == nil {
		progress = func(Stats) {}
	}
	last := st.Started
	sst, err := stream.Run(ctx, src, sel.streamOptions(), func(it stream.Item) error {
		if !sel.keep(it.Record) {
			st.Filtered++
			return nil
		}
		st.Written++
		if now := time.Now(); now.Sub(last) >= 200*time.Millisecond {
			st.Elapsed, last = now.Sub(st.Started), now
			progress(st)
		}
		return s.parallel.Apply(it.Record)
	})
	if sst != nil {
		st.Read = sst.Read
		st.Filtered += sst.FilteredOut
	}
	if err == nil {
		err = s.Checkpoint(ctx)
	}
	st.Elapsed = time.Since(st.Started)
	progress(st)
	if ctx.Err() != nil {
		return st, ErrInterrupted
	}
	return st, err
}

// MemberSink is a rebuild's sink as one member of its consumer group: a
// ProjectionSink over a MemberFold whose states are the changelog a
// Transactional (kafka.Copier) restores, flushes and commits, in the
// destination partitions numbered as the source ones.
type MemberSink struct {
	*ProjectionSink
	t Transactional
	// As of the last commit, which a dropped transaction goes back to:
	// the summary counts only what the destination holds.
	writtenAtCommit int64
	skippedAtCommit *Skipped
	// ahead folds final states on a goroutine of its own, synced at each
	// call of the copier's (as its Changelog) and of the replay's;
	// --emit changes writes into the transaction as it folds, in Write.
	ahead foldAhead
}

// NewMemberSink folds as a group member; Bind gives it its transaction
// before the replay starts.
func NewMemberSink(o ProjectionOptions) *MemberSink {
	s := newProjectionSink(o, nil)
	s.topic, s.member = o.Report.Dest, o.Projection.NewMemberFold()
	return &MemberSink{ProjectionSink: s, skippedAtCommit: s.skipped.clone(), ahead: foldAhead{fold: s.Write}}
}

// Bind writes the states into t, the copier that reads the events: the
// copier needs the sink as its changelog before it exists.
func (s *MemberSink) Bind(t Transactional) {
	s.t, s.out = t, t
}

// Write folds m: with final states, on the goroutine that folds ahead; a
// failure comes back from a later Write or the next checkpoint.
func (s *MemberSink) Write(ctx context.Context, m *record.Message) error {
	if s.o.Changes {
		return s.ProjectionSink.Write(ctx, m)
	}
	return s.ahead.add(ctx, m)
}

// Checkpoint commits the states changed since the last one with the
// source's progress.
func (s *MemberSink) Checkpoint(ctx context.Context) error {
	if err := s.t.Checkpoint(ctx); err != nil {
		return err
	}
	// A copier that had its transaction refused returns nil too, after
	// rewound: then this marks what the commit before marked.
	s.committed()
	return nil
}

// Abort drops the work since the last checkpoint (a failed record's
// replay must not commit), as the copier does.
func (s *MemberSink) Abort(ctx context.Context) error {
	s.rewound()
	return s.t.Abort(ctx)
}

// Finish ends the fold: the replay's last checkpoint wrote its states.
func (s *MemberSink) Finish(ctx context.Context) error {
	if err := s.ahead.stop(); err != nil {
		return err
	}
	return s.ProjectionSink.Finish(ctx)
}

// Summary says what the fold did: the events read after a failed one,
// dropped unfolded, do not count; the aggregates are those committed.
func (s *MemberSink) Summary(st Stats, err error) {
	_ = s.ahead.stop() // its error is err
	st.Written -= s.ahead.dropped
	s.aggregates = int64(s.member.Created())
	s.ProjectionSink.Summary(st, err)
}

// committed marks what the sink wrote and folded as durable: Run calls it
// when the copier commits, inside Read too (before a rebalance).
func (s *MemberSink) committed() {
	_ = s.ahead.sync() // a failure comes back from the next Write or checkpoint
	s.writtenAtCommit, s.skippedAtCommit = s.written, s.skipped.clone()
	s.member.Committed()
}

// rewound goes back to the last commit: the copier dropped the
// transaction since (its group moved on under it), and the events are
// folded again, by this member or the one that has their partition now.
func (s *MemberSink) rewound() {
	_ = s.ahead.sync()
	s.written, s.skipped = s.writtenAtCommit, s.skippedAtCommit.clone()
	s.member.Rewound()
}

// Restore sets an aggregate's state as the destination holds it.
func (s *MemberSink) Restore(source SourcePartition, m *record.Message) error {
	if err := s.ahead.sync(); err != nil {
		return err
	}
	return s.member.Restore(source, string(m.Key), m.Value, m.Timestamp)
}

// Revoked drops the aggregates of partitions another member now folds.
func (s *MemberSink) Revoked(sources []SourcePartition) {
	_ = s.ahead.sync() // a failure comes back from the next Write or checkpoint
	for _, sp := range sources {
		s.member.Drop(sp)
	}
}

// Flush writes the states changed since the last checkpoint, into the
// transaction that checkpoint commits; with Changes, Write wrote each
// already.
func (s *MemberSink) Flush(ctx context.Context) error {
	if err := s.ahead.sync(); err != nil {
		return err
	}
	for _, st := range s.member.Changed() {
		if s.o.Changes {
			continue
		}
		m := &record.Message{Topic: s.topic, Partition: st.Partition.Partition, Timestamp: st.At, Key: []byte(st.ID), Value: st.State}
		if err := s.write(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
