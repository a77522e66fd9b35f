package replay

import (
	"context"
	"errors"
	"sync"
)

// Destination is where a plan's records go: a Sink that completes a run
// that succeeded and says what the run did. FileSink, TopicSink,
// CopySink, DryRun, ProjectionSink and MemberSink are the destinations of
// replay's modes.
type Destination interface {
	Sink
	// Finish completes a run that succeeded: a projection writes its
	// final states.
	Finish(ctx context.Context) error
	// Summary says what the run did, given its stats and error.
	Summary(st Stats, err error)
}

// Progress is told a run's stats now and then, and is done before the
// destination finishes (a projection may print its states).
type Progress interface {
	Update(Stats)
	Done()
}

// Plan is one replay: records from Source, selected by Selection and
// changed on the way as Options say, into Dest.
type Plan struct {
	Source    Source
	Selection Selection
	Options   Options // Options.Select and Options.Progress are the plan's own
	Dest      Destination
	Progress  Progress // nil: none
	// Members run alongside Source and Dest, each a source and sink of
	// its own: the other copiers of one consumer group in this process
	// (replay --parallel), which split the source partitions with the
	// first. Dest sums up their work with its own.
	Members []Member
}

// Member is one more copier of a plan's group: kafka.Copier is both.
type Member struct {
	Source Source
	Sink   Sink
}

// Run replays the plan, finishes the destination and writes its summary.
// A projection of final states without --rate or --pace decodes, selects
// and folds on every core; anything else goes through Run, one record at
// a time, checkpointing as Options say.
func (p *Plan) Run(ctx context.Context) (Stats, error) {
	opts := p.Options
	opts.Select = p.Selection.Selector()
	if p.Progress != nil {
		opts.Progress = p.Progress.Update
	}
	var st Stats
	var err error
	if ps, ok := p.Dest.(*ProjectionSink); ok && ps.parallel != nil && opts.Rate == 0 && opts.Pace == 0 {
		st, err = ps.foldAll(ctx, p.Source, &p.Selection, opts.Progress)
	} else if len(p.Members) > 0 {
		st, err = p.runMembers(ctx, opts)
	} else {
		st, err = Run(ctx, p.Source, p.Dest, opts)
	}
	if p.Progress != nil {
		p.Progress.Done()
	}
	if err == nil {
		err = p.Dest.Finish(ctx)
	}
	p.Dest.Summary(st, err)
	return st, err
}

// runMembers runs the group's copiers side by side, each with its own
// Run: exactly once holds per copier, whatever the others do. --rate is
// shared out between them. One that fails stops the others, at a
// checkpoint; the error is its.
func (p *Plan) runMembers(ctx context.Context, opts Options) (Stats, error) {
	members := append([]Member{{p.Source, p.Dest}}, p.Members...)
	n := len(members)
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu     sync.Mutex
		latest = make([]Stats, n) // each member's, as last reported
		stats  = make([]Stats, n)
		errs   = make([]error, n)
		wg     sync.WaitGroup
	)
	for i, m := range members {
		o := opts
		o.Rate = opts.Rate / float64(n)
		if opts.Progress != nil {
			o.Progress = func(st Stats) {
				// st is this copier's to keep (Options.Progress): Run
				// reports a copy of the maps it goes on writing.
				mu.Lock()
				defer mu.Unlock()
				latest[i] = st
				opts.Progress(sumStats(latest))
			}
		}
		wg.Go(func() {
			stats[i], errs[i] = Run(mctx, m.Source, m.Sink, o)
			if errs[i] != nil {
				stop()
			}
		})
	}
	wg.Wait()
	st := sumStats(stats)
	var err error
	for _, e := range errs {
		switch {
		case e == nil:
		case !errors.Is(e, ErrInterrupted):
			return st, e // the others stopped for it
		default:
			err = e
		}
	}
	return st, err
}

// sumStats adds up the stats of copiers that ran side by side.
func sumStats(all []Stats) Stats {
	sum := Stats{ByType: map[string]int64{}, ByPartition: map[string]int64{}}
	for _, st := range all {
		sum.Read += st.Read
		sum.Written += st.Written
		sum.Committed += st.Committed
		sum.Filtered += st.Filtered
		if !st.Started.IsZero() && (sum.Started.IsZero() || st.Started.Before(sum.Started)) {
			sum.Started = st.Started
		}
		sum.Elapsed = max(sum.Elapsed, st.Elapsed)
		for k, v := range st.ByType {
			sum.ByType[k] += v
		}
		for k, v := range st.ByPartition {
			sum.ByPartition[k] += v
		}
	}
	return sum
}
