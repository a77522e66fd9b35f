// Package replay copies selected records from a source to a sink, in
// order, checkpointing as it goes, and folds aggregate histories into
// projections. It knows Kafka only through the Source and Sink interfaces.
package replay

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// Source yields the records to replay; io.EOF ends the replay.
type Source interface {
	Read(ctx context.Context) (*record.Message, error)
}

// Sink takes the replayed records. Checkpoint makes everything written so
// far, and the source's progress, durable together (a Kafka transaction
// with its consumer offsets; a flush for a file).
type Sink interface {
	Write(ctx context.Context, m *record.Message) error
	Checkpoint(ctx context.Context) error
}

// Aborter is a sink that can drop everything since its last checkpoint
// (a Kafka transaction): what a failed run must do rather than checkpoint.
type Aborter interface {
	Abort(ctx context.Context) error
}

// Rewinder is a source that may commit its progress on its own, inside
// Read (a Kafka copier checkpoints before a rebalance), and may drop the
// records it returned since its last commit to return them again, by
// itself or through another member of its group (kafka.Copier, when its
// group moved on under it and refused the transaction's offsets). Run
// gives it, before the first Read, the calls that keep the stats exact
// through both: committed after each commit, rewound after a drop; the
// source makes them from inside Read or Checkpoint.
type Rewinder interface {
	Track(committed, rewound func())
}

// rewindable is a sink with counts of its own that must follow a
// Rewinder's commits and drops as the stats do (MemberSink's states
// written): Run tells it both.
type rewindable interface {
	committed()
	rewound()
}

// Selector decides whether a record is replayed; typ, when known, is
// counted in the stats.
type Selector func(ctx context.Context, m *record.Message) (keep bool, typ string, err error)

// Transform says how a record changes on its way.
type Transform struct {
	// TimestampsNow stamps records with the time they are written.
	TimestampsNow bool
	// DropHeaders removes headers by key.
	DropHeaders []string
	// SetHeaders replaces (or adds) headers by key.
	SetHeaders []record.RawHeader
	// Provenance adds evctl-source-topic/-partition/-offset headers.
	Provenance bool
	// ByKey sends every record to the partition its key hashes to, instead
	// of the partition number it came from.
	ByKey bool
}

// Provenance header keys.
const (
	HeaderSourceTopic     = "evctl-source-topic"
	HeaderSourcePartition = "evctl-source-partition"
	HeaderSourceOffset    = "evctl-source-offset"
)

// Options control a replay.
type Options struct {
	Select    Selector // nil: every record
	Transform Transform
	// CheckpointEvery and CheckpointInterval bound how much work a crash
	// can lose (it is redone, never duplicated): whichever comes first.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// Rate caps records written per second (0: no cap).
	Rate float64
	// Pace keeps the original spacing between records' timestamps, sped
	// up by this factor (1: real time; 0: off).
	Pace float64
	// Progress is called with the stats now and then, and at the end;
	// they are its to keep.
	Progress func(Stats)
	Now      func() time.Time
	// Sleep waits, returning early with ctx's error; tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Stats count a replay's work.
type Stats struct {
	Read    int64
	Written int64
	// Committed counts the written records that the last successful
	// checkpoint made durable: after a failure, what is really there.
	Committed int64
	Filtered  int64
	Started   time.Time
	Elapsed   time.Duration
	// ByType counts written records per event type, when the selector
	// knows it; ByPartition per source topic/partition.
	ByType      map[string]int64
	ByPartition map[string]int64
}

// ErrInterrupted is returned when ctx ended the replay; everything up to
// the last record handled was checkpointed first.
var ErrInterrupted = errors.New("replay interrupted")

// Run replays src into sink until src says io.EOF or ctx ends, one record
// at a time: when Checkpoint runs, every record read so far has been
// handled, which is what makes a Kafka checkpoint exact.
func Run(ctx context.Context, src Source, sink Sink, opts Options) (Stats, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 10000
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	st := Stats{Started: opts.Now(), ByType: map[string]int64{}, ByPartition: map[string]int64{}}
	sinceCheckpoint, lastCheckpoint := 0, st.Started
	lastProgress := st.Started
	var firstTS time.Time
	// Records per source partition, named as ByPartition names them only
	// when the stats are read: a name a record is an allocation a record.
	type sourcePartition struct {
		topic     string
		partition int32
	}
	byPartition := map[sourcePartition]int64{}
	// The stats as of the source's last commit, for a Rewinder's drop.
	var atCommit Stats
	var partsAtCommit map[sourcePartition]int64
	committed := func() {
		st.Committed = st.Written
		atCommit, partsAtCommit = st, maps.Clone(byPartition)
		atCommit.ByType = maps.Clone(st.ByType)
	}
	if r, ok := src.(Rewinder); ok {
		committed()
		sinkCounts, _ := sink.(rewindable)
		r.Track(func() {
			committed()
			if sinkCounts != nil {
				sinkCounts.committed()
			}
		}, func() {
			// The records since the commit are read again: they count then.
			started, elapsed := st.Started, st.Elapsed
			st, byPartition = atCommit, maps.Clone(partsAtCommit)
			st.ByType, st.ByPartition = maps.Clone(atCommit.ByType), map[string]int64{}
			st.Started, st.Elapsed = started, elapsed
			sinceCheckpoint = 0
			if sinkCounts != nil {
				sinkCounts.rewound()
			}
		})
	}
	report := func() {
		for sp, n := range byPartition {
			st.ByPartition[sp.topic+"/"+strconv.Itoa(int(sp.partition))] = n
		}
		if opts.Progress != nil {
			// Progress may keep them (replay --parallel sums every
			// copier's) while this run counts on.
			snap := st
			snap.ByType, snap.ByPartition = maps.Clone(st.ByType), maps.Clone(st.ByPartition)
			opts.Progress(snap)
		}
	}

	finish := func(err error) (Stats, error) {
		// A final checkpoint even when interrupted: stop at a boundary,
		// keeping what was done. It gets its own deadline, since ctx may
		// already be over.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if cerr := sink.Checkpoint(cctx); cerr != nil {
			if err == nil {
				err = cerr
			}
		} else {
			st.Committed = st.Written
		}
		st.Elapsed = opts.Now().Sub(st.Started)
		report()
		return st, err
	}

	// abandon ends a run whose last record read was not handled: it must
	// not be checkpointed, or a resumed run would skip it. A transactional
	// sink aborts back to its last checkpoint (the records since are read
	// again on --resume); any other has nothing past it to lose.
	abandon := func(err error) (Stats, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		// A sink that has failed for good answers with the same error:
		// say it once.
		if a, ok := sink.(Aborter); ok {
			if aerr := a.Abort(cctx); aerr != nil && !errors.Is(err, aerr) {
				err = errors.Join(err, aerr)
			}
		} else if cerr := sink.Checkpoint(cctx); cerr != nil {
			if !errors.Is(err, cerr) {
				err = errors.Join(err, cerr)
			}
		} else {
			st.Committed = st.Written
		}
		st.Elapsed = opts.Now().Sub(st.Started)
		report()
		return st, err
	}

	// A record once read is handled to the end even when ctx ends
	// meanwhile (Ctrl-C): the checkpoint that follows commits it.
	hctx := context.WithoutCancel(ctx)
	for {
		m, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return finish(nil)
		}
		if err != nil {
			if ctx.Err() != nil {
				return finish(ErrInterrupted)
			}
			return abandon(err)
		}
		st.Read++
		interrupted := false
		keep, typ := true, ""
		if opts.Select != nil {
			if keep, typ, err = opts.Select(hctx, m); err != nil {
				return abandon(err)
			}
		}
		if !keep {
			st.Filtered++
		} else {
			if err := wait(ctx, &opts, &st, m, &firstTS); err != nil {
				interrupted = true // stop waiting; write it, then stop
			}
			out := opts.Transform.apply(m, opts.Now)
			if err := sink.Write(hctx, out); err != nil {
				return abandon(err)
			}
			st.Written++
			if typ != "" {
				st.ByType[typ]++
			}
			byPartition[sourcePartition{m.Topic, m.Partition}]++
		}
		if interrupted || ctx.Err() != nil {
			return finish(ErrInterrupted)
		}
		sinceCheckpoint++
		now := opts.Now()
		if sinceCheckpoint >= opts.CheckpointEvery || now.Sub(lastCheckpoint) >= opts.CheckpointInterval {
			if err := sink.Checkpoint(ctx); err != nil {
				return abandon(err)
			}
			st.Committed = st.Written
			sinceCheckpoint, lastCheckpoint = 0, now
		}
		if opts.Progress != nil && now.Sub(lastProgress) >= 200*time.Millisecond {
			st.Elapsed = now.Sub(st.Started)
			report()
			lastProgress = now
		}
	}
}

// wait holds a record back for --rate and --pace.
func wait(ctx context.Context, opts *Options, st *Stats, m *record.Message, firstTS *time.Time) error {
	if opts.Rate <= 0 && opts.Pace <= 0 {
		return nil // no clock read a record
	}
	var due time.Time
	if opts.Rate > 0 {
		due = st.Started.Add(time.Duration(float64(st.Written) / opts.Rate * float64(time.Second)))
	}
	if opts.Pace > 0 && !m.Timestamp.IsZero() {
		if firstTS.IsZero() {
			*firstTS = m.Timestamp
		}
		at := st.Started.Add(time.Duration(float64(m.Timestamp.Sub(*firstTS)) / opts.Pace))
		if at.After(due) {
			due = at
		}
	}
	if d := due.Sub(opts.Now()); d > 0 {
		return opts.Sleep(ctx, d)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apply returns the record as it is to be written; m is not changed (a
// record that does not change is m itself: a copy is a copy per record).
func (t Transform) apply(m *record.Message, now func() time.Time) *record.Message {
	if !t.ByKey && !t.TimestampsNow && len(t.DropHeaders) == 0 && len(t.SetHeaders) == 0 && !t.Provenance {
		return m
	}
	out := *m
	if t.ByKey {
		out.Partition = -1
	}
	if t.TimestampsNow {
		out.Timestamp = now()
	}
	if len(t.DropHeaders) > 0 || len(t.SetHeaders) > 0 || t.Provenance {
		hs := make([]record.RawHeader, 0, len(m.Headers)+len(t.SetHeaders)+3)
		for _, h := range m.Headers {
			if slices.Contains(t.DropHeaders, h.Key) || slices.ContainsFunc(t.SetHeaders, func(s record.RawHeader) bool { return s.Key == h.Key }) {
				continue
			}
			hs = append(hs, h)
		}
		hs = append(hs, t.SetHeaders...)
		if t.Provenance {
			hs = append(hs,
				record.RawHeader{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
				record.RawHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
				record.RawHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, m.Offset, 10)})
		}
		out.Headers = hs
	}
	return &out
}
