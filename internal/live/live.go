// Package live sets the sandbox's bank in motion (evctl dev --live): a
// write side that keeps appending events, and a projector service, the
// consumer group sandbox.ProjectorGroup, that keeps bank.account-balances
// up to date behind it, exactly once. Both are plain Kafka clients through
// internal/kafka, so they run the same against the embedded broker and a
// real cluster; the bank's rules and fold are the sandbox's (cgo-free).
package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
)

// WriteOptions pace the write side.
type WriteOptions struct {
	Rate float64 // events per second, above 0
	Max  int     // stop after this many events; 0: never
}

// Write produces the write side's events (and the notifications they
// send) at opts.Rate, until ctx is done or opts.Max events are written,
// then flushes them. It returns how many events it wrote; a done ctx is
// not an error.
func Write(ctx context.Context, cfg kafka.Config, ws *sandbox.WriteSide, opts WriteOptions) (int, error) {
	if opts.Rate <= 0 {
		return 0, fmt.Errorf("rate %g: want more than 0 events a second", opts.Rate)
	}
	w, err := kafka.NewWriter(cfg)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	start := time.Now()
	n := 0
	for opts.Max <= 0 || n < opts.Max {
		// Event n is due n/Rate after the start: a slow moment is caught
		// up, so the rate holds on average.
		due := start.Add(time.Duration(float64(n) / opts.Rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return n, flush(w)
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return n, flush(w)
		}
		_, msgs, err := ws.Next(time.Now())
		if err != nil {
			return n, err
		}
		for i := range msgs {
			if err := w.Produce(ctx, &msgs[i]); err != nil {
				return n, err
			}
		}
		n++
	}
	return n, flush(w)
}

// flush delivers what is queued, even when the caller's context is done.
func flush(w *kafka.Writer) error { return w.Flush(context.Background()) }

// ProjectorOptions configure a Projector.
type ProjectorOptions struct {
	// Behind is how long after an event the projector applies it (by the
	// event's record timestamp), so that its lag shows.
	Behind time.Duration
	// Paused starts it paused: it commits where it starts and waits for
	// Resume.
	Paused bool
	// Logf reports pauses and resumes; nil is silent.
	Logf func(format string, args ...any)
}

// Projector is the bank's projector service: one member of the consumer
// group sandbox.ProjectorGroup that folds bank.account-events into
// bank.account-balances, writing each new state in a transaction with its
// source offsets. It starts from the states in bank.account-balances
// (the seeded ones, or its own from an earlier run) and, the first time,
// at the end of bank.account-events, where the seeded states stand. It is
// the group's one member: it restores every account at Start, so a second
// member taking partitions away and back would leave it stale. Start it,
// then Run it, once; Pause and Resume from any goroutine.
type Projector struct {
	cfg  kafka.Config
	fold *sandbox.Projector
	opts ProjectorOptions
	cp   copier

	mu         sync.Mutex
	want       bool               // a pause is asked for
	paused     bool               // the projector is paused, its work committed
	stopped    bool               // Run has returned
	cancelRead context.CancelFunc // of the Read in progress
	changed    chan struct{}      // closed, and replaced, at each change of the above
}

// NewProjector returns a projector folding with fold; it touches nothing
// until Run.
func NewProjector(cfg kafka.Config, fold *sandbox.Projector, opts ProjectorOptions) *Projector {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Projector{cfg: cfg, fold: fold, opts: opts, want: opts.Paused, changed: make(chan struct{})}
}

// copier is what the projector needs of a *kafka.Copier.
type copier interface {
	Read(context.Context) (*record.Message, error)
	Write(context.Context, *record.Message) error
	Checkpoint(context.Context) error
	Close() error
}

// checkpointEvery is how often the projector commits while it works:
// often enough that its committed offsets, which lag and wait read, are
// close to what it has applied; seldom enough that they stay still while
// verify --as-of-group pins them (three requests) on a loaded machine.
const checkpointEvery = 500 * time.Millisecond

// Start restores the states and joins the group, whose offsets are then
// committed: events written after Start returns are projected. Call it
// once, before Run.
func (p *Projector) Start(ctx context.Context) error {
	if err := p.restore(ctx); err != nil {
		return err
	}
	cp, err := kafka.NewCopier(ctx, p.cfg, kafka.CopyOptions{
		Group: sandbox.ProjectorGroup, Topics: []string{sandbox.TopicAccountEvents}, DestTopic: sandbox.TopicAccountBalances,
		From: position.EndPos, Follow: true, Behind: p.opts.Behind, CheckpointAfter: checkpointEvery,
	})
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	p.cp = cp
	return nil
}

// Run projects until ctx is done, then commits its work and leaves the
// group. A done ctx is not an error.
func (p *Projector) Run(ctx context.Context) (err error) {
	defer p.update(func() { p.stopped = true })
	cp := p.cp
	if cp == nil {
		return errors.New("projector: Run before Start")
	}
	defer func() {
		if cerr := p.Close(); err == nil {
			err = cerr
		}
	}()
	for {
		if p.pausing() {
			if err := p.pause(ctx, cp); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		p.update(func() { p.cancelRead = cancel })
		m, err := cp.Read(rctx)
		p.update(func() { p.cancelRead = nil })
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return cp.Checkpoint(context.WithoutCancel(ctx))
		case errors.Is(err, context.Canceled): // a pause
			continue
		default:
			return fmt.Errorf("projector: %w", err)
		}
		// A record read is applied whatever comes meanwhile: a checkpoint
		// commits its offset.
		state, err := p.fold.Apply(m)
		if err != nil {
			return fmt.Errorf("projector: %w", err)
		}
		if err := cp.Write(context.WithoutCancel(ctx), &state); err != nil {
			return fmt.Errorf("projector: %w", err)
		}
	}
}

// Close leaves the group and releases the clients, if Run has not (a
// projector started but never run). Call it after Run has returned.
func (p *Projector) Close() error {
	if p.cp == nil {
		return nil
	}
	err := p.cp.Close()
	p.cp = nil
	return err
}

// restore reads bank.account-balances to its end into the fold: the
// states that go with the group's committed offsets, which the same
// transactions wrote.
func (p *Projector) restore(ctx context.Context) error {
	r, err := kafka.NewReader(ctx, p.cfg, kafka.ReadOptions{Topics: []string{sandbox.TopicAccountBalances}})
	if err != nil {
		return fmt.Errorf("projector: restore: %w", err)
	}
	defer r.Close()
	if err := r.Each(ctx, p.fold.Restore); err != nil {
		return fmt.Errorf("projector: restore: %w", err)
	}
	return nil
}

// pause commits the work done, then waits until Resume or ctx is done.
func (p *Projector) pause(ctx context.Context, cp copier) error {
	if err := cp.Checkpoint(ctx); err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	p.update(func() { p.paused = true })
	p.opts.Logf("projector paused")
	defer p.update(func() { p.paused = false })
	for {
		p.mu.Lock()
		want, changed := p.want, p.changed
		p.mu.Unlock()
		if !want {
			p.opts.Logf("projector resumed")
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func (p *Projector) pausing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want
}

// update changes the projector's state under its lock and wakes whoever
// waits for a change.
func (p *Projector) update(change func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change()
	close(p.changed)
	p.changed = make(chan struct{})
}

// Pause asks the projector to stop after the event in hand, committing
// its work, and returns at once: a Resume after it undoes it. WaitPaused
// says when it has stopped.
func (p *Projector) Pause() {
	p.update(func() {
		p.want = true
		if p.cancelRead != nil {
			p.cancelRead()
		}
	})
}

// WaitPaused returns once a paused projector has stopped, its work
// committed, or once Run has returned, or with ctx's error.
func (p *Projector) WaitPaused(ctx context.Context) error {
	for {
		p.mu.Lock()
		done, changed := p.paused || p.stopped, p.changed
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Resume lets a paused projector go on.
func (p *Projector) Resume() { p.update(func() { p.want = false }) }
