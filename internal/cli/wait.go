package cli

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
)

// WaitOptions are `evctl wait`'s inputs.
type WaitOptions struct {
	IO    *iostreams.IOStreams
	Kafka func() (kafka.Config, error)

	Group      string
	CaughtUp   bool
	Topics     []string
	For        time.Duration
	NoProgress bool
	// Interval is the pause between two reads of the group's offsets.
	Interval time.Duration
}

// NewCmdWait is `evctl wait`.
func NewCmdWait(f *Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{IO: f.IOStreams, Kafka: f.Kafka, Interval: 250 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "wait --group <group> --caught-up [--topic <topic>]... [--for <duration>]",
		Short: "Wait until a consumer group has consumed everything written before",
		Long: `Wait until a consumer group (a projector under test, say) has caught up:
evctl captures the end offsets of the group's topics when it starts, then
reads the group's committed offsets every 250ms until every partition's
committed offset has reached the captured end. Records written after the
start do not count. The end offsets are last stable offsets, as a
read_committed consumer sees them; offsets committed by a transaction
count once it commits.

The topics are those the group has committed offsets for, or those named
with --topic (repeatable), which a group that has committed nothing yet
needs.

--for bounds the whole wait (default 5m); --for 0 checks once and
answers at once (exit 0 caught up, 1 not). A read of the group's offsets
that the brokers do not answer in time (a broker restarting, the group's
coordinator moving to another) is made again while --for allows, with a
warning; brokers that do not answer at the start end the wait at once.
The global --timeout still bounds each call to the brokers, as in every
command: 'evctl wait --timeout 5m' would not wait five minutes.

A progress line (records still behind, and the share of the lag at the
start caught up since, with its rate and an ETA, as replay's) runs on
stderr when it is a terminal; a summary line ends the wait. Exit status:
0 caught up, 1 not caught up within --for (how far behind, per topic), 2
errors (an unknown topic, a group with no offsets and no --topic,
unreachable brokers).`,
		Example: `  $ evctl wait --group account-projector --caught-up --for 5m
  $ evctl wait --group account-projector --caught-up --topic bank.account-events
  $ evctl wait --group account-projector --caught-up --for 0   # check once
  $ evctl replay bank.account-events --to-topic bank.account-events.v2 --create &&
      evctl wait --group projector-v2 --caught-up --topic bank.account-events.v2 &&
      evctl verify ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Group == "" {
				return flagErrorf("--group is required: the consumer group to wait for")
			}
			if !opts.CaughtUp {
				return flagErrorf("nothing to wait for: give --caught-up")
			}
			if opts.For < 0 {
				return flagErrorf("invalid --for %s: want a duration, e.g. --for 5m (0: check once)", opts.For)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return waitRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Group, "group", "g", "", "consumer group to wait for")
	fl.BoolVar(&opts.CaughtUp, "caught-up", false, "wait until the group has consumed every record written before the start")
	fl.StringArrayVarP(&opts.Topics, "topic", "t", nil, "topic the group consumes (repeatable; default: those it has committed offsets for)")
	fl.DurationVar(&opts.For, "for", 5*time.Minute, "give up (exit 1) after this long (0: check once); --timeout bounds each broker call")
	fl.BoolVar(&opts.NoProgress, "no-progress", false, "no progress line, even on a terminal")
	_ = cmd.RegisterFlagCompletionFunc("group", completeGroups(f))
	_ = cmd.RegisterFlagCompletionFunc("topic", completeTopics(f))
	return cmd
}

func waitRun(ctx context.Context, opts *WaitOptions) error {
	start := time.Now()
	admin, err := newAdmin(opts.Kafka)
	if err != nil {
		return err
	}
	defer admin.Close()

	topics, err := waitTopics(ctx, admin, opts)
	if err != nil {
		return err
	}
	ends, err := admin.Watermarks(ctx, topics)
	if err != nil {
		return err
	}
	return waitCaughtUp(ctx, opts, start, topics, ends, func(ctx context.Context) (map[kafka.TopicPartition]int64, error) {
		return admin.CommittedOffsets(ctx, opts.Group)
	})
}

// waitCaughtUp reads the group's committed offsets every Interval until
// they reach ends or the deadline passes. A read the brokers did not
// answer in time, or answered with a retriable error (the group's
// coordinator moving to another broker, say), is made again while the
// deadline allows: a cluster restarting a broker under a wait does not
// end it. Past the deadline such an error ends the wait (exit 2): evctl
// cannot tell whether the group caught up.
func waitCaughtUp(ctx context.Context, opts *WaitOptions, start time.Time, topics []string,
	ends map[kafka.TopicPartition]kafka.Watermark, read func(context.Context) (map[kafka.TopicPartition]int64, error)) error {
	deadline := start.Add(opts.For)
	progress := opts.IO.Progress(opts.NoProgress)
	var first int64 = -1
	var failingSince time.Time // the first of the reads failing now
	for {
		asked := time.Now()
		committed, err := read(ctx)
		now := time.Now()
		switch {
		case err != nil && (!kafka.IsTransient(err) || !now.Before(deadline) || ctx.Err() != nil):
			progress.Clear()
			if !failingSince.IsZero() && ctx.Err() == nil {
				return fmt.Errorf("no answer for group %s's offsets in the last %s of --for %s: %w", opts.Group, roundDuration(now.Sub(failingSince)), opts.For, err)
			}
			return err
		case err != nil:
			if failingSince.IsZero() {
				progress.Clear()
				// The brokers answered before, and wait asks again itself.
				msg := strings.TrimSuffix(strings.TrimSuffix(err.Error(), kafka.BrokersHint), kafka.RestartHint)
				fmt.Fprintf(opts.IO.ErrOut, "evctl: warning: group %s's offsets: %s (asking again until --for %s is up)\n", opts.Group, msg, opts.For)
				failingSince = asked
			}
		default:
			if !failingSince.IsZero() {
				fmt.Fprintf(opts.IO.ErrOut, "evctl: group %s's offsets answered again after %s\n", opts.Group, roundDuration(now.Sub(failingSince)))
				failingSince = time.Time{}
			}
			b := behindOf(ends, committed)
			if first < 0 {
				first = b.total()
			}
			if b.total() == 0 {
				progress.Clear()
				fmt.Fprintf(opts.IO.ErrOut, "Group %s caught up on %s (%s, %s behind at start) in %s.\n", opts.Group, strings.Join(topics, ", "),
					english.Plural(len(ends), "partition"), english.Plural(first, "record"), roundDuration(time.Since(start)))
				return nil
			}
			if !now.Before(deadline) {
				progress.Clear()
				if opts.For == 0 {
					return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("group %s has not caught up: %s", opts.Group, b)}
				}
				return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("group %s did not catch up within %s: %s", opts.Group, opts.For, b)}
			}
			if progress.On() {
				progress.Draw(waitLine(opts, b, first, now.Sub(start)))
			}
		}
		select {
		case <-ctx.Done():
			progress.Clear()
			return ctx.Err()
		case <-time.After(max(0, min(opts.Interval, deadline.Sub(now)))):
		}
	}
}

// waitLine is wait's progress line: what is behind, and the share of
// what was behind at the start that the group has caught up since.
func waitLine(opts *WaitOptions, b behind, first int64, elapsed time.Duration) string {
	caught := iostreams.Meter{Done: max(0, first-b.total()), Total: first, Elapsed: elapsed, Unit: "records caught up"}
	return fmt.Sprintf("waiting for group %s: %s (%s of %s) %s", opts.Group, b, roundDuration(elapsed), opts.For, caught)
}

// waitTopics returns the topics named, else those the group has committed
// offsets for.
func waitTopics(ctx context.Context, admin *kafka.Admin, opts *WaitOptions) ([]string, error) {
	if len(opts.Topics) > 0 {
		return slices.Compact(slices.Sorted(slices.Values(opts.Topics))), nil
	}
	committed, err := admin.CommittedOffsets(ctx, opts.Group)
	if err != nil {
		return nil, err
	}
	var topics []string
	for tp := range committed {
		topics = append(topics, tp.Topic)
	}
	if len(topics) > 0 {
		return slices.Compact(slices.Sorted(slices.Values(topics))), nil
	}
	if _, err := admin.Group(ctx, opts.Group); err != nil {
		return nil, fmt.Errorf("%w; to wait for a group that has not started yet, name its topics with --topic", err)
	}
	return nil, fmt.Errorf("group %q has committed no offsets yet: name the topics it consumes with --topic", opts.Group)
}

// behind is how many records a group has still to consume, per topic.
type behind []topicBehind

type topicBehind struct {
	topic      string
	records    int64
	partitions int // partitions behind
	of         int // partitions of the topic
}

func (b behind) total() int64 {
	var n int64
	for _, t := range b {
		n += t.records
	}
	return n
}

// String says "150 records behind on bank.account-events (6 of 6 partitions)".
func (b behind) String() string {
	var parts []string
	for _, t := range b {
		if t.records > 0 {
			parts = append(parts, fmt.Sprintf("%s (%d of %s)", t.topic, t.partitions, english.Plural(t.of, "partition")))
		}
	}
	return english.Plural(b.total(), "record") + " behind on " + strings.Join(parts, ", ")
}

// behindOf compares committed offsets with the captured ends; a partition
// with nothing to consume (end at low) is caught up whatever is committed.
func behindOf(ends map[kafka.TopicPartition]kafka.Watermark, committed map[kafka.TopicPartition]int64) behind {
	tps := slices.SortedFunc(maps.Keys(ends), func(x, y kafka.TopicPartition) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
	var b behind
	for _, tp := range tps {
		if len(b) == 0 || b[len(b)-1].topic != tp.Topic {
			b = append(b, topicBehind{topic: tp.Topic})
		}
		t := &b[len(b)-1]
		t.of++
		w := ends[tp]
		from := w.Low
		if c, ok := committed[tp]; ok {
			from = max(c, w.Low)
		}
		if n := w.End - from; n > 0 {
			t.records += n
			t.partitions++
		}
	}
	return b
}

// roundDuration keeps a duration readable: 1.2s, 45s, 3m10s.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
