package cli

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/itchyny/gojq"
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
	Getenv   func(string) string

	Topic         string
	ID            string
	Aggregate     string // jq expression for the aggregate id; "" = the spec's id:, else the key
	Partitioners  []string
	AllPartitions bool
	Projection    string
	VersionField  string // jq expression for the version; "" = the spec's version:
	Final         bool
	At            string
	AtOffset      int64 // -1: not given
	AtVersion     int64 // -1: not given
	Output        string
}

// NewCmdHistory is `evctl history`.
func NewCmdHistory(f *Factory, runF func(context.Context, *HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now, Getenv: f.Getenv, AtOffset: -1, AtVersion: -1}
	cmd := &cobra.Command{
		Use:   "history <topic> <aggregate-id> [flags]",
		Short: "Show one aggregate's events in order, and its state as it evolved",
		Long: `Show every event of one aggregate, in offset order, decoded.

The aggregate id is the record key, unless --aggregate names a jq
expression over the record (like '.value.accountId'), or the --projection
spec has an id: expression. A JSON key (an object) matches whatever its
spacing and member order. For a key, history reads only the partitions
the key can be on: producers place a key with their partitioner, so by
default it tries Java's murmur2 and librdkafka's consistent (crc32) hash,
at most two partitions. It hashes the key as the producers serialized it:
for keys in the registry's wire format (an Avro or JSON Schema key
schema) it reads a few of the latest records to learn the key schema and
encodes the id with it. --partitioner names the one your producers use;
--all-partitions scans everything (also what an id expression does).

--at TIME, --at-offset N and --at-version N stop at a point: history lists
the events up to it (the event at offset N, the event with version N
included), and nothing when the aggregate's first event comes later.
--at-version reads each event's version with --version-field, or the
spec's version: expression; versions may start at 0, and events without
one (null) come along in order. A version the aggregate never had is an
error (exit 1), naming the versions it has.

With --projection (a spec, see docs/projections.md) history folds the
events and shows the state after each one; --final shows only the end
state (null when no event came before the stop).

-o json writes the events as capture records, each with a "state" field
when folding.`,
		Example: `  $ evctl history bank.account-events acct-0042
  $ evctl history bank.account-events acct-0042 --at @2026-11-18T00:00:00Z
  $ evctl history bank.account-events acct-0042 --projection testdata/projections/account-balance.yaml --at-version 3 --final
  $ evctl history shop.orders o-17 --version-field .value.seq --at-version 0
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
			if !fl.Changed("at-offset") {
				opts.AtOffset = -1
			}
			if !fl.Changed("at-version") {
				opts.AtVersion = -1
			}
			if fl.Changed("at-offset") && opts.AtOffset < 0 {
				return flagErrorf("invalid --at-offset %d: want an offset, 0 or more", opts.AtOffset)
			}
			if fl.Changed("at-version") && opts.AtVersion < 0 {
				return flagErrorf("invalid --at-version %d: want a version, 0 or more", opts.AtVersion)
			}
			if opts.Final && opts.Projection == "" {
				return flagErrorf("--final needs --projection: the state comes from folding the events")
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
	fl.StringVar(&opts.Aggregate, "aggregate", "", "jq `expression` for the aggregate id (default: the spec's id:, else the record key)")
	fl.StringSliceVar(&opts.Partitioners, "partitioner", nil, "producer partitioner(s): {murmur2_random|consistent_random|murmur2|consistent|crc32|fnv1a|fnv1a_random}")
	_ = cmd.RegisterFlagCompletionFunc("partitioner", cobra.FixedCompletions(partition.Names, cobra.ShellCompDirectiveNoFileComp))
	fl.BoolVar(&opts.AllPartitions, "all-partitions", false, "scan every partition")
	fl.StringVar(&opts.Projection, "projection", "", "fold the events with this projection spec `file`")
	fl.StringVar(&opts.VersionField, "version-field", "", "jq `expression` for each event's version, for --at-version (default: the spec's version:)")
	fl.BoolVar(&opts.Final, "final", false, "with --projection: show only the final state")
	fl.StringVar(&opts.At, "at", "", "stop at this `@TIME` (same forms as --from @TIME)")
	// Not given is -1 in the options (RunE), so 0 is a stop like any other.
	fl.Int64Var(&opts.AtOffset, "at-offset", 0, "stop after the event at this `offset`")
	fl.Int64Var(&opts.AtVersion, "at-version", 0, "stop after the event with this `version`")
	outputFlag(cmd, &opts.Output)
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
		tuneGCForFolds(opts.Getenv) // as replay: the fold's live heap grows with the state
	}
	idExpr, idFrom := opts.Aggregate, "--aggregate"
	if idExpr == "" && proj != nil && proj.IDExpr() != "" {
		idExpr, idFrom = proj.IDExpr(), "the spec's id:"
	}
	var aggregate *filter.Expr
	if idExpr != "" {
		var err error
		if aggregate, err = filter.CompileExpr(idExpr); err != nil {
			return &FlagError{err: fmt.Errorf("%s: %w", idFrom, err)}
		}
	}
	var version *filter.Expr
	if opts.AtVersion >= 0 {
		src, from := opts.VersionField, "--version-field"
		if src == "" && proj != nil {
			src, from = proj.VersionExpr(), "the spec's version:"
		}
		if src == "" {
			return flagErrorf("--at-version needs each event's version: give --version-field (like .value.version), or version: in the --projection spec")
		}
		var err error
		if version, err = filter.CompileExpr(src); err != nil {
			return &FlagError{err: fmt.Errorf("%s: %w", from, err)}
		}
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	dec, err := newDecoder(opts.Registry, schema.DecoderOptions{})
	if err != nil {
		return err
	}
	partitions, err := historyPartitions(ctx, cfg, dec, opts, idFrom, aggregate != nil)
	if err != nil {
		return err
	}
	// A JSON key matches whatever its spacing and member order: keys
	// compare as record.KeyText writes them.
	key, isJSONID := opts.ID, false
	if id := strings.TrimSpace(opts.ID); aggregate == nil && (strings.HasPrefix(id, "{") || strings.HasPrefix(id, "[")) && json.Valid([]byte(id)) {
		key, _ = record.KeyText(json.RawMessage(id), record.EncodingJSON)
		isJSONID = true
	}
	events, err := readAggregate(ctx, cfg, dec, opts.Topic, partitions, key, aggregate)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if len(events) == 0 {
		hint := "check the id, --aggregate or --partitioner"
		if partitions != nil {
			hint += ", or scan every partition with --all-partitions"
		}
		if isJSONID && partitions != nil {
			hint = "check the id, or add --all-partitions: producers may have written the key with other spacing or member order"
		}
		return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("no events for %q in %s (partitions %v); %s", opts.ID, opts.Topic, partitionsText(partitions), hint)}
	}
	n, err := historyStop(ctx, opts, events, stopAt, version)
	if err != nil {
		return err
	}
	return printHistory(ctx, opts, proj, events[:n], events)
}

// historyStop is how many of the aggregate's events come up to the stop
// --at, --at-offset or --at-version names.
func historyStop(ctx context.Context, opts *HistoryOptions, events []*record.Record, stopAt time.Time, version *filter.Expr) (int, error) {
	switch {
	case !stopAt.IsZero():
		// In the aggregate's order: the first event after the time ends it.
		if i := slices.IndexFunc(events, func(r *record.Record) bool { return r.Timestamp.After(stopAt) }); i >= 0 {
			return i, nil
		}
		return len(events), nil
	case opts.AtOffset >= 0:
		if first, last := events[0], events[len(events)-1]; first.Partition != last.Partition {
			return 0, flagErrorf("--at-offset: %s has events on partitions %d and %d, where offsets do not order them; use --at", opts.ID, first.Partition, last.Partition)
		}
		return sort.Search(len(events), func(i int) bool { return events[i].Offset > opts.AtOffset }), nil
	case version != nil:
		return versionStop(ctx, opts, events, version)
	}
	return len(events), nil
}

// versionStop is how many events come up to and including the one with
// version --at-version; a version the aggregate does not have is an error.
func versionStop(ctx context.Context, opts *HistoryOptions, events []*record.Record, version *filter.Expr) (int, error) {
	lo, hi := int64(-1), int64(-1)
	stop := -1
	for i, r := range events {
		if r.ValueEncoding == record.EncodingNull {
			continue // a deletion has no version
		}
		v, ok, err := version.Eval(ctx, r)
		if err != nil {
			return 0, fmt.Errorf("version of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if !ok || v == nil {
			continue // an event without a version (a legacy one, say) is no stop
		}
		n, valid := replay.EventVersion(v)
		if !valid {
			return 0, fmt.Errorf("version of %s/%d@%d: %s gave %s, want an integer from 0; check --version-field or the spec's version expression",
				r.Topic, r.Partition, r.Offset, version, previewValue(v))
		}
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
		if n == opts.AtVersion {
			stop = i + 1
		}
	}
	if stop < 0 {
		have := "no versioned events"
		if lo >= 0 {
			have = fmt.Sprintf("versions %d to %d", lo, hi)
		}
		return 0, &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("%s has no version %d (%s has %s)", opts.ID, opts.AtVersion, opts.ID, have)}
	}
	return stop, nil
}

// previewValue shows what an expression gave, for a message.
func previewValue(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func partitionsText(ps []int32) string {
	if ps == nil {
		return "all"
	}
	return fmt.Sprint(ps)
}

// readAggregate reads one aggregate's events from partitions (nil: all)
// of topic, in order: the records with key id or, with an id expression
// (byID), those it maps to id.
func readAggregate(ctx context.Context, cfg kafka.Config, dec *schema.Decoder, topic string, partitions []int32, id string, byID *filter.Expr) ([]*record.Record, error) {
	r, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: []string{topic}, Partitions: partitions, From: position.StartPos, To: position.EndPos})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sopts := stream.Options{Decoder: dec}
	if byID == nil {
		sopts.Key, sopts.KeySet = id, true
	}
	var events []*record.Record
	_, err = stream.Run(ctx, r, sopts, func(it stream.Item) error {
		if byID != nil {
			got, err := byID.Text(ctx, it.Record)
			if err != nil || got != id {
				return nil
			}
		}
		events = append(events, it.Record)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortAggregate(events)
	return events, nil
}

// sortAggregate orders an aggregate's events: one aggregate lives in one
// partition, in offset order; an id that is not the key may span
// partitions, where time is the only order.
func sortAggregate(events []*record.Record) {
	slices.SortStableFunc(events, func(a, b *record.Record) int {
		if a.Partition == b.Partition {
			return cmp.Compare(a.Offset, b.Offset)
		}
		return a.Timestamp.Compare(b.Timestamp.Time)
	})
}

// historyPartitions is where the aggregate's events can be: nil for all.
func historyPartitions(ctx context.Context, cfg kafka.Config, dec *schema.Decoder, opts *HistoryOptions, idFrom string, byExpr bool) ([]int32, error) {
	if opts.AllPartitions {
		return nil, nil
	}
	if byExpr {
		fmt.Fprintf(opts.IO.ErrOut, "evctl: note: the id comes from %s, not the record key, so every partition is scanned\n", idFrom)
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
	keys, err := encodedKeys(ctx, cfg, dec, opts.Topic, opts.ID)
	if err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "evctl: note: cannot tell how %s's keys are encoded (%v), so every partition is scanned\n", opts.Topic, err)
		return nil, nil
	}
	partitioners := opts.Partitioners
	if len(partitioners) == 0 {
		partitioners = partition.DefaultHistory
	}
	var out []int32
	for _, k := range keys {
		out = append(out, partition.KeyPartitions(k, desc.Partitions, partitioners...)...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// keySamplesPerPartition is how many of each partition's last records
// show how the topic's keys are encoded.
const keySamplesPerPartition = 4

// encodedKeys returns id encoded as the producers encoded the keys of
// topic, the bytes their partitioners hashed: it reads a few of the
// latest records of each partition and encodes id the way each distinct
// key encoding among them does (the registry's wire format with a key
// schema, a JSON string, plain text).
func encodedKeys(ctx context.Context, cfg kafka.Config, dec *schema.Decoder, topic, id string) ([][]byte, error) {
	r, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: []string{topic},
		From: position.Position{Kind: position.BeforeEnd, N: keySamplesPerPartition}, To: position.EndPos})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var samples []*record.Message
	seen := map[string]bool{}
	for {
		m, err := r.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if m.Key == nil {
			continue
		}
		if f := keyFraming(m); !seen[f] {
			seen[f] = true
			samples = append(samples, m)
		}
	}
	if len(samples) == 0 {
		return [][]byte{[]byte(id)}, nil // no keys to learn from: take the text
	}
	var keys [][]byte
	for _, m := range samples {
		k, err := dec.EncodeKeyLike(ctx, m, id)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keyFraming tells key encodings apart: the schema-id header or the
// wire format's 5-byte prefix, else JSON string or not.
func keyFraming(m *record.Message) string {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if m.Headers[i].Key == schema.KeySchemaIDHeader {
			return "header:" + string(m.Headers[i].Value)
		}
	}
	if len(m.Key) >= 5 && m.Key[0] == 0 {
		return "prefix:" + string(m.Key[:5])
	}
	if len(m.Key) > 0 && m.Key[0] == '"' {
		return "json"
	}
	return "text"
}

// historyLine is one event of -o json: the capture record and, when
// folding, the state after it.
type historyLine struct {
	*record.Record
	State json.RawMessage `json:"state,omitempty"`
}

// printHistory shows the events (and, folding, the state after each);
// all is the aggregate's whole history, for what the stop left out.
func printHistory(ctx context.Context, opts *HistoryOptions, proj *replay.Projection, events, all []*record.Record) error {
	out := bufio.NewWriter(opts.IO.Out)
	p := opts.IO.Palette()
	var fold *replay.Fold
	if proj != nil {
		fold = proj.NewFold()
	}
	// The state as a jq value: encoding it costs as much as it is large,
	// so --final encodes it once, at the end, not after every event.
	var state any
	for _, r := range events {
		var shown json.RawMessage
		if fold != nil {
			ch, err := fold.Apply(ctx, r)
			if err != nil {
				return err
			}
			if !ch.Skipped { // an event the spec ignores leaves the state as it was
				state = ch.Value()
			}
			if opts.Final {
				continue
			}
			if shown, err = gojq.Marshal(state); err != nil {
				return err
			}
		}
		if opts.Final {
			continue
		}
		if opts.Output == "json" {
			b, err := json.Marshal(historyLine{Record: r, State: shown})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n", b)
		} else {
			fmt.Fprintf(out, "%s %s %s %s\n", p.Dim(r.Timestamp.String()), p.Blue(fmt.Sprintf("%d@%d", r.Partition, r.Offset)),
				p.Magenta(record.ShortType(r.Type)), record.PayloadText(r.Value, r.ValueEncoding))
			if shown != nil {
				fmt.Fprintf(out, "  %s %s\n", p.Green("→"), shown)
			}
		}
	}
	if opts.Final {
		b, err := gojq.Marshal(state) // null when no event came before the stop
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if len(events) == 0 {
		first := all[0]
		fmt.Fprintf(opts.IO.ErrOut, "evctl: note: %s has no events up to there: its first is %d@%d at %s\n", opts.ID, first.Partition, first.Offset, first.Timestamp)
	}
	if fold != nil && opts.Output == "text" {
		fmt.Fprintf(opts.IO.ErrOut, "%s of %s folded with %s\n", english.Plural(len(events), "event"), opts.ID, proj.Name)
	}
	return nil
}
