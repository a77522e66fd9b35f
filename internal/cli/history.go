package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// HistoryOptions are `evctl history`'s inputs.
type HistoryOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)
	Now      func() time.Time

	Topic         string
	ID            string
	Aggregate     string // jq expression for the aggregate id; "" = the key
	Partitioners  []string
	AllPartitions bool
	Projection    string
	Final         bool
	At            string
	AtOffset      int64
	AtVersion     int
	Output        string
}

// NewCmdHistory is `evctl history`.
func NewCmdHistory(f *Factory, runF func(context.Context, *HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now, AtOffset: -1}
	cmd := &cobra.Command{
		Use:   "history <topic> <aggregate-id> [flags]",
		Short: "Show one aggregate's events in order, and its state as it evolved",
		Long: `Show every event of one aggregate, in offset order, decoded.

The aggregate id is the record key, unless --aggregate names a jq
expression over the record (like '.value.accountId'). For a key, history
reads only the partitions the key can be on: producers place a key with
their partitioner, so by default it tries Java's murmur2 and librdkafka's
consistent (crc32) hash, at most two partitions. --partitioner names the
one your producers use; --all-partitions scans everything (also what
--aggregate does).

With --projection (a spec, see docs/projections.md) history folds the
events and shows the state after each one; --final shows only the end
state. --at TIME, --at-offset N or --at-version N stop the fold there: the
aggregate as it was then, and the events that made it.

-o json writes the events as capture records, each with a "state" field
when folding.`,
		Example: `  $ evctl history bank.account-events acct-0042
  $ evctl history bank.account-events acct-0042 --projection testdata/projections/account-balance.yaml --at @2026-11-18T00:00:00Z
  $ evctl history bank.account-events acct-0042 --aggregate .value.accountId -o json | jq .value`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topic, opts.ID = args[0], args[1]
			fl := cmd.Flags()
			stops := 0
			for _, n := range []string{"at", "at-offset", "at-version"} {
				if fl.Changed(n) {
					stops++
				}
			}
			if stops > 1 {
				return flagErrorf("--at, --at-offset and --at-version exclude each other")
			}
			if (stops > 0 || opts.Final) && opts.Projection == "" {
				return flagErrorf("--at, --at-offset, --at-version and --final need --projection")
			}
			if err := textOrJSON(opts.Output); err != nil {
				return err
			}
			for _, p := range opts.Partitioners {
				if _, err := partition.Partition(p, []byte("k"), 1); err != nil {
					return &FlagError{err: err}
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return historyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Aggregate, "aggregate", "", "jq `expression` for the aggregate id (default: the record key)")
	fl.StringSliceVar(&opts.Partitioners, "partitioner", nil, "producer partitioner(s): {murmur2_random|consistent_random|murmur2|consistent|crc32|fnv1a|fnv1a_random}")
	fl.BoolVar(&opts.AllPartitions, "all-partitions", false, "scan every partition")
	fl.StringVar(&opts.Projection, "projection", "", "fold the events with this projection spec `file`")
	fl.BoolVar(&opts.Final, "final", false, "with --projection: show only the final state")
	fl.StringVar(&opts.At, "at", "", "stop at this `@TIME` (same forms as --from @TIME)")
	fl.Int64Var(&opts.AtOffset, "at-offset", -1, "stop after the event at this offset")
	fl.IntVar(&opts.AtVersion, "at-version", 0, "stop after the N-th event")
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: {text|json}")
	return cmd
}

func historyRun(ctx context.Context, opts *HistoryOptions) error {
	var stopAt time.Time
	if opts.At != "" {
		at := opts.At
		if !strings.HasPrefix(at, "@") {
			at = "@" + at
		}
		p, err := position.Parse(at, opts.Now())
		if err != nil || p.Kind != position.Time {
			return flagErrorf("invalid --at %q: want a time, like @2026-11-01T12:00:00Z or @-1d", opts.At)
		}
		stopAt = p.Time
	}
	var proj *replay.Projection
	if opts.Projection != "" {
		var err error
		if proj, err = replay.LoadProjection(opts.Projection); err != nil {
			return err
		}
	}
	var aggregate *filter.Expr
	if opts.Aggregate != "" {
		var err error
		if aggregate, err = filter.CompileExpr(opts.Aggregate); err != nil {
			return &FlagError{err: fmt.Errorf("--aggregate: %w", err)}
		}
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	partitions, err := historyPartitions(ctx, cfg, opts)
	if err != nil {
		return err
	}
	dec, err := newDecoder(opts.Registry, schema.DecoderOptions{})
	if err != nil {
		return err
	}
	r, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: []string{opts.Topic}, Partitions: partitions, From: position.StartPos, To: position.EndPos})
	if err != nil {
		return err
	}
	defer r.Close()

	sopts := stream.Options{Decoder: dec}
	if aggregate == nil {
		sopts.Key, sopts.KeySet = opts.ID, true
	}
	var events []*record.Record
	_, err = stream.Run(ctx, r, sopts, func(it stream.Item) error {
		if aggregate != nil {
			id, err := aggregate.Text(ctx, it.Record)
			if err != nil || id != opts.ID {
				return nil
			}
		}
		events = append(events, it.Record)
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	// One aggregate lives in one partition, in offset order; an id that is
	// not the key may span partitions, where time is the only order.
	slices.SortStableFunc(events, func(a, b *record.Record) int {
		if a.Partition == b.Partition {
			return int(a.Offset - b.Offset)
		}
		return a.Timestamp.Compare(b.Timestamp.Time)
	})
	if len(events) == 0 {
		return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("no events for %q in %s (partitions %v); check the id, --aggregate or --partitioner", opts.ID, opts.Topic, partitionsText(partitions))}
	}
	return printHistory(ctx, opts, proj, events, stopAt)
}

func partitionsText(ps []int32) string {
	if ps == nil {
		return "all"
	}
	return fmt.Sprint(ps)
}

// historyPartitions is where the aggregate's events can be: nil for all.
func historyPartitions(ctx context.Context, cfg kafka.Config, opts *HistoryOptions) ([]int32, error) {
	if opts.AllPartitions {
		return nil, nil
	}
	if opts.Aggregate != "" {
		fmt.Fprintln(opts.IO.ErrOut, "evctl: note: --aggregate is not the record key, so every partition is scanned")
		return nil, nil
	}
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	desc, err := admin.DescribeTopic(ctx, opts.Topic)
	if err != nil {
		return nil, err
	}
	partitioners := opts.Partitioners
	if len(partitioners) == 0 {
		partitioners = partition.DefaultHistory
	}
	return partition.KeyPartitions([]byte(opts.ID), desc.Partitions, partitioners...), nil
}

// historyLine is one event of -o json: the capture record and, when
// folding, the state after it.
type historyLine struct {
	*record.Record
	State json.RawMessage `json:"state,omitempty"`
}

func printHistory(ctx context.Context, opts *HistoryOptions, proj *replay.Projection, events []*record.Record, stopAt time.Time) error {
	out := opts.IO.Out
	p := opts.IO.Palette()
	var fold *replay.Fold
	if proj != nil {
		fold = proj.NewFold()
	}
	var last json.RawMessage
	shown := 0
	for i, r := range events {
		if (!stopAt.IsZero() && r.Timestamp.After(stopAt)) || (opts.AtVersion > 0 && i >= opts.AtVersion) {
			break
		}
		var state json.RawMessage
		if fold != nil {
			ch, err := fold.Apply(ctx, r)
			if err != nil {
				return err
			}
			state = ch.State()
			if state == nil {
				state = json.RawMessage("null")
			}
			last = state
		}
		shown++
		if !opts.Final {
			if opts.Output == "json" {
				b, err := json.Marshal(historyLine{Record: r, State: state})
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				fmt.Fprintf(out, "%s %s %s %s\n", p.Dim(r.Timestamp.String()), p.Blue(fmt.Sprintf("%d@%d", r.Partition, r.Offset)),
					p.Magenta(record.ShortType(r.Type)), record.PayloadText(r.Value, r.ValueEncoding))
				if state != nil {
					fmt.Fprintf(out, "  %s %s\n", p.Green("→"), state)
				}
			}
		}
		if opts.AtOffset >= 0 && r.Offset >= opts.AtOffset {
			break
		}
	}
	if opts.Final {
		if last == nil {
			last = json.RawMessage("null") // no event yet at that point
		}
		fmt.Fprintf(out, "%s\n", last)
	}
	if fold != nil && opts.Output == "text" {
		fmt.Fprintf(opts.IO.ErrOut, "%s of %s folded with %s\n", english.Plural(shown, "event"), opts.ID, proj.Name)
	}
	return nil
}
