package replay

import "context"

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
