package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/live"
	"github.com/evctl/evctl/internal/sandbox"
)

// DevLiveOptions are `evctl dev --live`'s inputs.
type DevLiveOptions struct {
	On     bool
	Rate   float64       // events per second
	Delay  time.Duration // how far behind the projector runs
	Paused bool          // the projector starts paused
	Events int           // the write side stops after this many events; 0: never
}

// devLiveHelp is dev's help on --live.
const devLiveHelp = `--live sets the bank in motion once it is seeded: a write side keeps
appending events by the bank's rules (new accounts open, money moves, now
and then an account closes) at --rate, and a projector service, the
consumer group bank-projector, keeps bank.account-balances up to date
--projector-delay behind the events, exactly once (each state is written
in a transaction with the group's offsets). Both are plain Kafka clients,
so evctl lag, wait, verify and tail -f see what they would see in
production. With --drift N the projector is the buggy one: the N accounts
stay wrong whatever happens to them.

Signals: SIGUSR1 pauses the projector (its work committed; the lag grows),
SIGUSR2 resumes it. With --live the export lines also name dev's process
as EVCTL_DEV_PID, so another shell can run 'kill -USR1 $EVCTL_DEV_PID'.
--projector-pause starts it paused.`

// addDevLiveFlags defines --live and its companions.
func addDevLiveFlags(cmd *cobra.Command, o *DevLiveOptions, rate *string) {
	fl := cmd.Flags()
	fl.BoolVar(&o.On, "live", false, "keep writing events and run a projector service (consumer group bank-projector) after seeding")
	fl.StringVar(rate, "rate", "20/s", "with --live, events written per second (`N/s`, or N/m per minute)")
	fl.DurationVar(&o.Delay, "projector-delay", 2*time.Second, "with --live, how far behind the events the projector applies them")
	fl.BoolVar(&o.Paused, "projector-pause", false, "with --live, start the projector paused (SIGUSR2 resumes it)")
	fl.IntVar(&o.Events, "live-events", 0, "with --live, stop writing after this many events (0: never)")
}

// validateDevLive checks the --live flags once parsed.
func validateDevLive(cmd *cobra.Command, o *DevLiveOptions, rate string) error {
	if !o.On {
		for _, name := range []string{"rate", "projector-delay", "projector-pause", "live-events"} {
			if cmd.Flags().Changed(name) {
				return flagErrorf("--%s needs --live", name)
			}
		}
		return nil
	}
	r, err := parseRate(rate)
	if err != nil {
		return flagErrorf("invalid --rate %q: %v", rate, err)
	}
	o.Rate = r
	switch {
	case o.Delay < 0:
		return flagErrorf("invalid --projector-delay %s: want 0 or more", o.Delay)
	case o.Events < 0:
		return flagErrorf("invalid --live-events %d: want 0 (never stop) or more", o.Events)
	}
	return nil
}

// parseRate reads "N/s", "N/m" or "N" (per second) as events per second.
func parseRate(s string) (float64, error) {
	n, unit, _ := strings.Cut(s, "/")
	per := 1.0
	switch unit {
	case "", "s":
	case "m":
		per = 60
	default:
		return 0, errors.New("want N/s or N/m, like 20/s")
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || v <= 0 || v > 1e6 {
		return 0, errors.New("want a number of events above 0 (and at most 1000000/s), like 20/s")
	}
	return v / per, nil
}

// devLive is the write side and projector of dev --live.
type devLive struct {
	opts      DevLiveOptions
	cfg       kafka.Config
	ws        *sandbox.WriteSide
	projector *live.Projector
	logf      func(format string, args ...any)
	done      chan error // the first failure of either
	signals   chan os.Signal
	wg        sync.WaitGroup
	ctx       context.Context
	stop      context.CancelFunc
}

// startDevLive has the projector join its group, committing where it
// starts, so that the group is there once dev says it is ready; wait runs
// both sides.
func startDevLive(ctx context.Context, o DevLiveOptions, sb *sandbox.Sandbox, cfg kafka.Config, errOut io.Writer) (*devLive, error) {
	ws, err := sb.WriteSide()
	if err != nil {
		return nil, err
	}
	fold, err := sb.Projector()
	if err != nil {
		return nil, err
	}
	d := &devLive{opts: o, cfg: cfg, ws: ws, done: make(chan error, 2),
		logf: func(format string, args ...any) { fmt.Fprintf(errOut, "evctl dev: "+format+"\n", args...) }}
	d.ctx, d.stop = context.WithCancel(ctx)
	d.projector = live.NewProjector(cfg, fold, live.ProjectorOptions{Behind: o.Delay, Paused: o.Paused, Logf: d.logf})
	if err := d.projector.Start(d.ctx); err != nil {
		d.stop()
		return nil, err
	}
	// From now on, not only once run: a script may send them as soon as
	// dev says it is ready, and SIGUSR1 would otherwise end the process.
	d.signals = make(chan os.Signal, 2)
	signal.Notify(d.signals, syscall.SIGUSR1, syscall.SIGUSR2)
	return d, nil
}

// run starts the projector, the write side, and the signals' handler.
func (d *devLive) run() {
	ctx, o, cfg, ws, logf := d.ctx, d.opts, d.cfg, d.ws, d.logf
	d.wg.Add(3)
	go func() {
		defer d.wg.Done()
		if err := d.projector.Run(ctx); err != nil {
			d.done <- err
		}
	}()
	go func() {
		defer d.wg.Done()
		n, err := live.Write(ctx, cfg, ws, live.WriteOptions{Rate: o.Rate, Max: o.Events})
		if err != nil {
			d.done <- fmt.Errorf("write side: %w", err)
			return
		}
		if ctx.Err() == nil {
			logf("wrote %s; the write side stops, the projector goes on", english.Plural(n, "live event"))
		}
	}()
	go func() {
		defer d.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-d.signals:
				if s == syscall.SIGUSR1 {
					d.projector.Pause()
				} else {
					d.projector.Resume()
				}
			}
		}
	}()
}

// wait says what runs, and returns when ctx is done or either side fails;
// without --live (d nil) it waits for ctx only.
func (d *devLive) wait(ctx context.Context, errOut io.Writer) error {
	if d == nil {
		<-ctx.Done()
		return nil
	}
	o := d.opts
	state := ""
	if o.Paused {
		state = ", paused"
	}
	fmt.Fprintf(errOut, "evctl dev: live: writing %s events/s; projector %s %s behind%s (kill -USR1 %d pauses it, kill -USR2 resumes it).\n",
		strconv.FormatFloat(o.Rate, 'f', -1, 64), sandbox.ProjectorGroup, o.Delay, state, os.Getpid())
	d.run()
	select {
	case <-ctx.Done():
		d.Close()
		return nil
	case err := <-d.done:
		d.Close()
		return err
	}
}

// Close stops the write side and the projector, which commits its work
// and leaves its group (also when it never ran).
func (d *devLive) Close() {
	d.stop()
	d.wg.Wait()
	signal.Stop(d.signals)
	_ = d.projector.Close()
}
