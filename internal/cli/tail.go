package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// TailOptions are `evctl tail`'s inputs.
type TailOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)
	Now      func() time.Time
	Getenv   func(string) string

	Topics      []string
	From, To    string
	Follow      bool
	Partitions  []int32
	Key         string
	KeySet      bool
	Filter      string
	Types       []string
	Max         int
	Last        int
	Output      string
	Template    string
	Raw         bool
	Strict      bool
	Validate    bool
	KeySchema   string
	ValueSchema string
	ValueProto  schema.LocalSchema // --value-proto or --descriptor-set, with --message
	KeyProto    schema.LocalSchema // --key-proto or --key-descriptor-set, with --key-message
	AvroJSON    bool
}

// NewCmdTail is `evctl tail`.
func NewCmdTail(f *Factory, runF func(context.Context, *TailOptions) error) *cobra.Command {
	opts := &TailOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now, Getenv: f.Getenv}
	var proto protoFlags
	cmd := &cobra.Command{
		Use:   "tail <topic>... [flags]",
		Short: "Print a topic's records, decoded",
		Long: `Print records from one or more topics, decoded. A topic may be a glob
('bank.*'), as evctl topics takes it.

By default tail prints the last 10 records across the topic's partitions,
ordered by timestamp, and exits, like tail(1). -n sets how many records
(committed ones: on a transactional topic, where markers and aborted
records take offsets, tail reads further back until it has them); -f keeps
following new records, printed as they arrive; --from/--to read a range
instead, also merged across partitions (and topics) by timestamp, each
partition in offset order.

Positions (--from, --to; --to is exclusive):
  start, end        a partition's first offset, or its end when tail starts
  N                 offset N
  +N, -N            N after start, N before end
  @TIME             the first record at or after TIME: RFC3339
                    (@2026-11-01T10:00:00Z), a date (@2026-11-01), unix
                    milliseconds (@1764000000000), or relative (@-1h, @-2d)
End offsets are captured when tail starts; a bounded read stops there.
tail never joins a consumer group and never commits offsets.

Decoding, for keys and values: a schema-id header, then the Schema
Registry's wire format (Avro, JSON Schema; Protobuf as canonical JSON, all
fields), then --key-schema/--value-schema (.avsc files, no framing) or
--value-proto/--descriptor-set (Protobuf, --message) and
--key-proto/--key-descriptor-set (--key-message), then JSON, UTF-8 text,
and base64. Avro is shown as plain JSON (unions
unwrapped, timestamps RFC3339, decimals exact strings); --avro-json keeps
Avro's own JSON encoding. An undecodable record is shown with its error and
never stops the stream; at the end a warning on stderr says how many did
not decode and why (the first error); --strict makes the first one end
the run with exit status 1. --validate also validates JSON Schema values
against the schema that framed them: one that does not match is shown
decoded, with an error saying where it breaks the schema, counted in a
warning of its own, and fails --strict the same way.

Output (-o):
  text  on a terminal: one readable line per record, coloured (--color
        never or a non-empty NO_COLOR turns colour off); piped:
        tab-separated timestamp, topic, partition, offset, key, type,
        value, coloured field by field with --color always
  json  the capture format, one JSON object per line (docs/capture-format.md);
        --raw adds the exact key and value bytes in base64
  raw   the value's bytes and a newline, as kcat prints them
--template runs a Go template per record over the same object that
--filter sees: .topic .partition .offset .timestamp .timestampType
(CreateTime or LogAppendTime) .key .value .type .headers (object: last
value per key) .headerList .keyEncoding .valueEncoding .schema
.keySchema .error, and with --raw .rawKey .rawValue (base64); functions:
json, short, base64.

Selection: --key (the key as tail prints it: its text, or base64:… for a
binary key), --type (event type, full or short name, repeatable; one
that matches nothing is named on stderr with the types read), --filter
(a jq expression over the same object; records for which it yields
false or null are skipped), --partition, --max.`,
		Example: `  $ evctl tail bank.account-events
  $ evctl tail bank.account-events -f
  $ evctl tail bank.account-events --from @-1h --to end -o json | jq .value
  $ evctl tail bank.account-events --from start --key acct-0042 --type MoneyWithdrawn
  $ evctl tail bank.account-events --from start --filter '.value.amount | tonumber > 100'
  $ evctl tail bank.account-events -n 3 --template '{{.offset}} {{short .type}} {{.value.accountId}}'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topics = args
			opts.KeySet = cmd.Flags().Changed("key")
			var err error
			if opts.ValueProto, err = proto.valueSchema(); err != nil {
				return err
			}
			if opts.KeyProto, err = proto.keySchema(); err != nil {
				return err
			}
			if opts.Last < 0 || opts.Max < 0 {
				return flagErrorf("-n and --max take a count of zero or more")
			}
			if cmd.Flags().Changed("last") && opts.From != "" {
				return flagErrorf("-n/--last goes without --from: it reads the end of each partition; use --max to cap a range")
			}
			if opts.To != "" && opts.Follow {
				return flagErrorf("--to and --follow exclude each other")
			}
			if opts.Template != "" && cmd.Flags().Changed("output") {
				return flagErrorf("--template and --output exclude each other")
			}
			if opts.Raw && opts.Template == "" && opts.Output == "text" {
				return flagErrorf("--raw adds the exact bytes to -o json or --template output; text output has no place for them")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return tailRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.From, "from", "", "start `position` (default: the last -n records)")
	fl.StringVar(&opts.To, "to", "", "stop `position`, exclusive (default: end)")
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new records until interrupted")
	fl.Int32SliceVarP(&opts.Partitions, "partition", "p", nil, "read only these partitions (repeatable, comma-separated)")
	fl.StringVarP(&opts.Key, "key", "k", "", "only records with this key, as tail prints it (a null key never matches)")
	fl.StringVar(&opts.Filter, "filter", "", "only records for which this jq `expression` is truthy")
	fl.StringSliceVarP(&opts.Types, "type", "t", nil, "only records of these event types (full or short name)")
	fl.IntVar(&opts.Max, "max", 0, "stop after printing N records (0: no limit)")
	fl.IntVarP(&opts.Last, "last", "n", 10, "without --from: how many of the latest records to print")
	stringEnumFlag(cmd, &opts.Output, "output", "o", "text", []string{"text", "json", "raw"}, "output format")
	fl.StringVar(&opts.Template, "template", "", "Go template per record (see above)")
	fl.BoolVar(&opts.Raw, "raw", false, "with -o json or --template: add the exact key and value bytes (base64)")
	fl.BoolVar(&opts.Strict, "strict", false, "exit 1 at the first undecodable (or, with --validate, invalid) record")
	fl.BoolVar(&opts.Validate, "validate", false, "validate JSON Schema values against their registered schema")
	fl.StringVar(&opts.KeySchema, "key-schema", "", "Avro schema `file` (.avsc) for keys without registry framing")
	fl.StringVar(&opts.ValueSchema, "value-schema", "", "Avro schema `file` (.avsc) for values without registry framing")
	proto.add(cmd, "decode")
	fl.BoolVar(&opts.AvroJSON, "avro-json", false, "show Avro in Avro's JSON encoding (union branches wrapped)")
	return cmd
}

// tailPlan is what a tail reads: the positions, and whether it keeps the
// latest N by timestamp before printing.
type tailPlan struct {
	from, to position.Position
	lastN    int  // > 0: collect, then print the latest lastN
	follow   bool // after the bounded part, follow
}

func planTail(opts *TailOptions, now time.Time) (tailPlan, error) {
	var p tailPlan
	var err error
	if opts.From != "" {
		if p.from, err = position.Parse(opts.From, now); err != nil {
			return p, &FlagError{err: fmt.Errorf("--from: %w", err)}
		}
	}
	if opts.To != "" {
		if p.to, err = position.Parse(opts.To, now); err != nil {
			return p, &FlagError{err: fmt.Errorf("--to: %w", err)}
		}
	}
	p.follow = opts.Follow
	if opts.From == "" {
		p.lastN = opts.Last
		// Without a selection the last N of each partition hold the last N
		// overall; with one, only a full scan finds the last N that match.
		if opts.KeySet || opts.Filter != "" || len(opts.Types) > 0 {
			p.from = position.StartPos
		} else {
			p.from = position.Position{Kind: position.BeforeEnd, N: int64(opts.Last)}
		}
		if p.to.IsZero() {
			p.to = position.EndPos
		}
	}
	return p, nil
}

func tailRun(ctx context.Context, opts *TailOptions) error {
	plan, err := planTail(opts, opts.Now())
	if err != nil {
		return err
	}
	var flt *filter.Filter
	if opts.Filter != "" {
		if flt, err = filter.Compile(opts.Filter); err != nil {
			return &FlagError{err: fmt.Errorf("--filter: %w", err)}
		}
	}
	printer, err := newRecordPrinter(opts.IO, opts.Output, opts.Template)
	if err != nil {
		return err
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	tuneGCForStreaming(opts.Getenv)
	dec, err := newDecoder(opts.Registry, schema.DecoderOptions{
		KeySchema: opts.KeySchema, ValueSchema: opts.ValueSchema, ValueProto: opts.ValueProto, KeyProto: opts.KeyProto, AvroJSON: opts.AvroJSON,
		Raw: opts.Raw || opts.Output == "raw", Validate: opts.Validate,
	})
	if err != nil {
		return err
	}
	// Output is buffered and flushed whenever the stream goes idle: one
	// write per record was a tenth of a bulk read's time.
	out := bufio.NewWriterSize(opts.IO.Out, 64<<10)
	defer out.Flush()
	t := &tailer{opts: opts, printer: printer, out: out}
	sopts := stream.Options{Decoder: dec, Key: opts.Key, KeySet: opts.KeySet, Types: opts.Types, Filter: flt, Idle: out.Flush}
	if len(opts.Types) > 0 {
		sopts.TypeSkipped = t.types.Skipped
	}

	if plan.lastN > 0 || (plan.follow && opts.From == "") {
		ro := kafka.ReadOptions{Topics: opts.Topics, Partitions: opts.Partitions, From: plan.from, To: plan.to}
		latest, ranges, err := readLatest(ctx, cfg, ro, sopts, plan.lastN, t.add)
		if err != nil {
			return t.finish(ctx, err)
		}
		for _, rec := range latest {
			if err := t.print(rec, nil); err != nil {
				return t.finish(ctx, err)
			}
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if !plan.follow {
			return t.finish(ctx, nil)
		}
		// Follow from where the bounded read stopped, so nothing written
		// in between is lost.
		fr, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: opts.Topics, Partitions: opts.Partitions, Follow: true, StartOffsets: endOffsets(ranges)})
		if err != nil {
			return t.finish(ctx, err)
		}
		defer fr.Close()
		return t.finish(ctx, t.stream(ctx, fr, sopts))
	}

	// A bounded range is read by a consumer a core (kafka.NewReaders).
	rs, err := kafka.NewReaders(ctx, cfg, kafka.ReadOptions{Topics: opts.Topics, Partitions: opts.Partitions, From: plan.from, To: plan.to, Follow: plan.follow},
		readers())
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	sopts.Format = printer.Append
	// A bounded range comes out in time order across partitions, as the
	// last-N read does; a follow prints records as they arrive.
	var src stream.Source = rs[0]
	switch {
	case len(rs) > 1:
		srcs := make([]stream.PartitionedSource, len(rs))
		for i, r := range rs {
			srcs[i] = r
		}
		c := stream.Concurrently(srcs...)
		defer c.Close() // before the readers close
		src = stream.MergeByTime(c)
	case !plan.follow && len(rs[0].Ranges()) > 1:
		src = stream.MergeByTime(rs[0])
	}
	return t.finish(ctx, t.stream(ctx, src, sopts))
}

// readers is how many consumers read a bounded range: one a core, up to
// maxReaders.
func readers() int { return min(runtime.GOMAXPROCS(0), maxReaders) }

// maxReaders bounds the consumers (and so the broker connections) of one
// bounded read.
const maxReaders = 8

func endOffsets(ranges []kafka.PartitionRange) map[kafka.TopicPartition]int64 {
	m := make(map[kafka.TopicPartition]int64, len(ranges))
	for _, r := range ranges {
		m[kafka.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.High
	}
	return m
}

// readLatest reads ro and keeps the n latest records by timestamp. Where
// a partition's last n offsets hold fewer than n records (transaction
// markers and aborted records take offsets), it reads that partition
// further back, doubling the span each time, until it has n or reaches
// the partition's start. It returns the first read's ranges: a follow
// resumes at their ends.
func readLatest(ctx context.Context, cfg kafka.Config, ro kafka.ReadOptions, sopts stream.Options, n int, stats func(*stream.Stats)) ([]*record.Record, []kafka.PartitionRange, error) {
	keep := &latestRecords{n: n}
	var first []kafka.PartitionRange
	for {
		r, err := kafka.NewReader(ctx, cfg, ro)
		if err != nil {
			return nil, first, err
		}
		ranges := r.Ranges()
		if first == nil {
			first = ranges
		}
		got := map[kafka.TopicPartition]int{}
		st, err := stream.Run(ctx, r, sopts, func(it stream.Item) error {
			got[kafka.TopicPartition{Topic: it.Record.Topic, Partition: it.Record.Partition}]++
			keep.add(it.Record)
			return nil
		})
		r.Close()
		stats(st)
		if err != nil {
			return nil, first, err
		}
		// Read again, only further back where a partition fell short.
		starts := map[kafka.TopicPartition]int64{}
		stops := map[kafka.TopicPartition]int64{}
		again := false
		for _, pr := range ranges {
			tp := kafka.TopicPartition{Topic: pr.Topic, Partition: pr.Partition}
			if got[tp] >= n || pr.Start <= pr.Low {
				starts[tp], stops[tp] = pr.High, pr.High // nothing more to read here
				continue
			}
			again = true
			span := 2 * max(pr.End-pr.Start, int64(n))
			starts[tp], stops[tp] = max(pr.Low, pr.Start-span), pr.Start
		}
		if !again {
			return keep.records(), first, nil
		}
		ro = kafka.ReadOptions{Topics: ro.Topics, Partitions: ro.Partitions, StartOffsets: starts, StopOffsets: stops}
	}
}

// latestRecords keeps the n latest records by timestamp (offset order
// within a partition breaks ties), in memory bounded by n.
type latestRecords struct {
	n    int
	keep []*record.Record
}

func (l *latestRecords) add(r *record.Record) {
	l.keep = append(l.keep, r)
	if len(l.keep) >= 4*l.n+64 {
		l.trim()
	}
}

func (l *latestRecords) trim() {
	slices.SortStableFunc(l.keep, record.CompareTime)
	if len(l.keep) > l.n {
		l.keep = append(l.keep[:0], l.keep[len(l.keep)-l.n:]...)
	}
}

// records returns the kept records, oldest first.
func (l *latestRecords) records() []*record.Record {
	l.trim()
	return l.keep
}

// tailer prints records and keeps the counts for the summary line.
type tailer struct {
	opts    *TailOptions
	printer recordPrinter
	out     *bufio.Writer
	buf     []byte

	shown, undecodable, invalid, filtered, filterErrs int64
	firstFilterErr                                    error
	firstUndecodable, firstInvalid                    string // where and why, for the warnings
	types                                             stream.TypesSeen
}

func (t *tailer) add(st *stream.Stats) {
	if st == nil {
		return
	}
	t.filtered += st.FilteredOut
	t.filterErrs += st.FilterErrors
	if t.firstFilterErr == nil {
		t.firstFilterErr = st.FirstFilterError
	}
}

// print writes one record (out, when already rendered on a worker).
func (t *tailer) print(r *record.Record, out []byte) error {
	if t.opts.Max > 0 && t.shown >= int64(t.opts.Max) {
		return stream.ErrStop
	}
	if out == nil {
		var err error
		if out, err = t.printer.Append(t.buf[:0], r); err != nil {
			return err
		}
		t.buf = out
	}
	if _, err := t.out.Write(out); err != nil {
		return err
	}
	t.shown++
	if len(t.opts.Types) > 0 {
		t.types.Shown(r.Type, t.opts.Types)
	}
	switch {
	case r.Invalid:
		t.invalid++
		if t.firstInvalid == "" {
			t.firstInvalid = fmt.Sprintf("%s/%d@%d: %s", r.Topic, r.Partition, r.Offset, r.Error)
		}
		if t.opts.Strict {
			return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("%s/%d@%d does not match its JSON Schema (--strict): %s", r.Topic, r.Partition, r.Offset, r.Error)}
		}
	case r.Error != "":
		t.undecodable++
		if t.firstUndecodable == "" {
			t.firstUndecodable = fmt.Sprintf("%s/%d@%d: %s", r.Topic, r.Partition, r.Offset, r.Error)
		}
		if t.opts.Strict {
			return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("%s/%d@%d is undecodable (--strict): %s", r.Topic, r.Partition, r.Offset, r.Error)}
		}
	}
	if t.opts.Max > 0 && t.shown >= int64(t.opts.Max) {
		return stream.ErrStop
	}
	return nil
}

func (t *tailer) stream(ctx context.Context, src stream.Source, sopts stream.Options) error {
	st, err := stream.Run(ctx, src, sopts, func(it stream.Item) error { return t.print(it.Record, it.Out) })
	t.add(st)
	return err
}

// finish turns an interrupt into the summary line and exit 130, and says
// once if the filter failed on records.
func (t *tailer) finish(ctx context.Context, err error) error {
	if ferr := t.out.Flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, stream.ErrStop) {
		err = nil
	}
	if len(t.opts.Types) > 0 {
		fmt.Fprint(t.opts.IO.ErrOut, t.types.Hint(t.opts.Types))
	}
	if t.filterErrs > 0 {
		fmt.Fprintf(t.opts.IO.ErrOut, "evctl: warning: --filter failed on %s, skipped (first: %v)\n", english.Plural(t.filterErrs, "record"), t.firstFilterErr)
	}
	var strict *ExitError
	if t.undecodable > 0 && !errors.As(err, &strict) {
		their := "their"
		if t.undecodable == 1 {
			their = "its"
		}
		fmt.Fprintf(t.opts.IO.ErrOut, "evctl: warning: %d of %s could not be decoded, shown with %s raw bytes (first %s)\n",
			t.undecodable, english.Plural(t.shown, "record"), their, t.firstUndecodable)
	}
	if t.invalid > 0 && !errors.As(err, &strict) {
		their := "their"
		if t.invalid == 1 {
			their = "its"
		}
		fmt.Fprintf(t.opts.IO.ErrOut, "evctl: warning: %d of %s did not match %s JSON Schema, shown decoded (first %s)\n",
			t.invalid, english.Plural(t.shown, "record"), their, t.firstInvalid)
	}
	interrupted := ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled))
	if interrupted {
		invalid := ""
		if t.opts.Validate {
			invalid = fmt.Sprintf(", %d invalid", t.invalid)
		}
		fmt.Fprintf(t.opts.IO.ErrOut, "%s shown, %d undecodable%s, %d filtered out\n", english.Plural(t.shown, "record"), t.undecodable, invalid, t.filtered)
	}
	if interrupted {
		return errInterrupted
	}
	return err
}
