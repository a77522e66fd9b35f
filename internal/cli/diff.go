package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/diff"
	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// DiffOptions are `evctl diff`'s inputs.
type DiffOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)

	A, B          string
	Mode          string
	KeyBy         string
	Ignore        []string
	IgnoreHeaders bool
	ValuesOnly    bool
	Output        string
	Stat          bool
	MaxChanges    int

	compare diff.Options
	keyBy   diff.KeyFunc
	// stopOffsets pins where a topic side's read stops (verify's pinned
	// read model); nil: its end offsets when it is opened.
	stopOffsets map[kafka.TopicPartition]int64
}

// NewCmdDiff is `evctl diff`.
func NewCmdDiff(f *Factory, runF func(context.Context, *DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry}
	cmd := &cobra.Command{
		Use:   "diff <a> <b> [flags]",
		Short: "Compare two states or two event histories",
		Long: `Compare two sides, each a topic, a capture file (any existing path: the
JSON lines that tail -o json and replay --to-file write, or kcat -C -J
output, whose payload is the value) or - for stdin. A capture line with
no value (nor payload) is an error naming its line.
Topics are read from start to the end offsets captured when diff starts.

--mode state (the default) compares the latest value of every key (a
tombstone deletes its key), as a compacted read model holds them: keys
added (only in b), removed (only in a) and changed, with each changed
field by jq path (.balanceCents: 12000 → 9500, .items[2].price). State
mode compares values only: not headers, timestamps or event types. A key
whose records are on more than one partition of a side (a record written
with another partitioner) has no defined latest value: diff warns, naming
the key and its partitions.

--mode history compares every key's (aggregate's) sequence of events:
events are aligned by their identity (the value, as compared), as diff
aligns lines (a longest common subsequence, found by Myers' algorithm;
past a few thousand differences, what is left is aligned by position),
and reported as missing (in a only), extra (in b only), changed (same
place, different content) or reordered, each named by partition@offset on
both sides.
History mode compares value, event type and headers; --ignore-headers
leaves headers out, --values-only headers and types.

Values compare as canonical JSON: object members in any order, numbers by
value (95.0 = 95), strings by their text. Keys compare as text: a string
key is its text, so the text key acct-1, the JSON key "acct-1" and an Avro
string key are one key; other keys are compact JSON. When the sides' keys
are encoded differently and no key is on both sides, diff stops with exit
status 2 rather than report every key as different.

--key-by identifies records by a jq expression over the record (as
--filter sees it) instead of their key; records for which it yields null
are skipped. --ignore leaves a path out (repeatable): paths are over the
record (.value.updatedAt, .headers["trace-id"], .type), and a path whose
first name is not a record field is relative to the value (.updatedAt).

Output (-o): text, sorted by key ("-" only in a, "+" only in b, "~"
changed), coloured on a terminal, then a summary line; json, one report
(docs/report-format.md, version 1): {"version","mode","a","b","equal",
"added":[{"key","value","at"}],"removed":[...],"changed":[{"key","atA",
"atB","fields":[{"path","a","b"}],"events":[{"kind","a","b","type",
"fields"}]}],"counts":{...}}, keys as their JSON values (an object key is
an object). --stat prints the counts only. The report is printed whole
at the end, never half: an interrupted diff prints nothing and exits 130.

The report details at most --max-changes differing keys (default 200),
the first by key, and says how many more there are (history mode: of
each key, at most --max-changes event differences, the first by
position); the counts always cover every key and event, and changes
that several keys (history mode: events) share are grouped: ".version:
+1 (40000 keys)", numbers by their exact difference, other values as
"a → b".

Memory grows with the number of keys, not their values or how many
differ: a first pass keeps a hash per key and side, a second reads back
only the keys that differ, in batches when their values would hold more
than 128 MiB at once. History mode aligns a differing key's histories
by their events' hashes (16 bytes an event of that key and side), and
reads back the events it shows or whose contents differ within the same
budget, a window at a time: one very long aggregate that differs costs
extra reads, not memory with its events' values.

Exit status: 0 the sides are the same, 1 they differ, 2 trouble.`,
		Example: `  $ evctl diff bank.account-balances bank.account-balances.rebuilt
  $ evctl diff bank.account-balances golden/balances.jsonl --ignore .value.updatedAt
  $ evctl diff bank.account-events bank.account-events.v2 --mode history
  $ evctl tail bank.account-balances --from start -o json | evctl diff - golden.jsonl --stat
  $ evctl diff a.jsonl b.jsonl --key-by .value.accountId -o json | jq .counts`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.A, opts.B = args[0], args[1]
			if err := validateDiff(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return diffRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	fl := cmd.Flags()
	stringEnumFlag(cmd, &opts.Mode, "mode", "", string(diff.ModeState), []string{string(diff.ModeState), string(diff.ModeHistory)}, "what to compare")
	fl.StringVar(&opts.KeyBy, "key-by", "", "identify records by this jq `expression` instead of their key")
	fl.StringArrayVar(&opts.Ignore, "ignore", nil, "leave this jq `path` out of the comparison (repeatable)")
	fl.BoolVar(&opts.IgnoreHeaders, "ignore-headers", false, "history mode: do not compare headers")
	fl.BoolVar(&opts.ValuesOnly, "values-only", false, "history mode: compare values only, not headers or event types")
	outputFlag(cmd, &opts.Output)
	fl.BoolVar(&opts.Stat, "stat", false, "print the counts only")
	fl.IntVar(&opts.MaxChanges, "max-changes", diff.DefaultMaxChanges, "detail at most this many differing keys, the first by key, and events per key (0: all); counts cover all")
	return cmd
}

func validateDiff(o *DiffOptions) error {
	if o.A == "-" && o.B == "-" {
		return flagErrorf("only one side can be - (stdin)")
	}
	if o.MaxChanges < 0 {
		return flagErrorf("invalid --max-changes %d: want a number of keys (0: no limit)", o.MaxChanges)
	}
	o.compare = diff.Options{Mode: diff.Mode(o.Mode), IgnoreHeaders: o.IgnoreHeaders, ValuesOnly: o.ValuesOnly, Stat: o.Stat, MaxChanges: o.MaxChanges}
	for _, p := range o.Ignore {
		if err := o.compare.AddIgnore(p); err != nil {
			return &FlagError{err: err}
		}
	}
	if o.KeyBy != "" {
		e, err := filter.CompileExpr(o.KeyBy)
		if err != nil {
			return &FlagError{err: fmt.Errorf("--key-by: %w", err)}
		}
		o.keyBy = func(ctx context.Context, r *record.Record) (json.RawMessage, error) {
			v, ok, err := e.Eval(ctx, r)
			if err != nil {
				return nil, fmt.Errorf("--key-by %w", err)
			}
			if !ok || v == nil {
				return nil, nil
			}
			return gojq.Marshal(v)
		}
	}
	return nil
}

func diffRun(ctx context.Context, o *DiffOptions) error {
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	var sides [2]diff.Source
	for i, name := range []string{o.A, o.B} {
		s, closeSide, err := openDiffSide(ctx, o, name)
		if closeSide != nil {
			closers = append(closers, closeSide)
		}
		if err != nil {
			if ctx.Err() != nil {
				return errInterrupted
			}
			return err
		}
		sides[i] = s
	}
	r, err := diff.Compare(ctx, sides[0], sides[1], o.compare)
	if ctx.Err() != nil {
		// Nothing half-printed: the report is printed whole or not at all.
		return errInterrupted
	}
	if err != nil {
		return err
	}
	writeReportNotes(o.IO.ErrOut, r)
	for _, s := range []struct {
		name string
		n    int
	}{{r.A, r.Counts.SkippedA}, {r.B, r.Counts.SkippedB}} {
		if s.n > 0 {
			why := "without a key"
			if o.KeyBy != "" {
				why = "for which --key-by yielded nothing"
			}
			fmt.Fprintf(o.IO.ErrOut, "evctl: warning: skipped %s of %s %s\n", english.Plural(s.n, "record"), s.name, why)
		}
	}
	var out bytes.Buffer
	switch {
	case o.Output == "json":
		err = diff.WriteJSON(&out, r, o.Stat)
	case o.Stat:
		err = diff.WriteStat(&out, r, o.IO.Palette())
	default:
		err = diff.WriteText(&out, r, o.IO.Palette())
	}
	if err != nil {
		return err
	}
	if _, err := o.IO.Out.Write(out.Bytes()); err != nil {
		return err
	}
	if !r.Equal {
		return &ExitError{Code: ExitNegative}
	}
	return nil
}

// openDiffSide resolves a side: - is stdin, an existing path a capture
// file, anything else a topic.
func openDiffSide(ctx context.Context, o *DiffOptions, name string) (diff.Source, func(), error) {
	headers := o.compare.Mode == diff.ModeHistory
	if name == "-" {
		// Stdin cannot be read twice: spool it to a temporary file.
		f, err := os.CreateTemp("", "evctl-diff-*.jsonl")
		if err != nil {
			return nil, nil, err
		}
		cleanup := func() { f.Close(); os.Remove(f.Name()) }
		if _, err := io.Copy(f, o.IO.ReadStdin(ctx, "a capture")); err != nil {
			return nil, cleanup, fmt.Errorf("reading stdin: %w", err)
		}
		return &diff.CaptureSource{Path: f.Name(), Label: "-", KeyBy: o.keyBy, Headers: headers}, cleanup, nil
	}
	if isCaptureFile(name) {
		return &diff.CaptureSource{Path: name, KeyBy: o.keyBy, Headers: headers}, nil, nil
	}
	cfg, err := o.Kafka()
	if errors.Is(err, errNoBrokers) {
		return nil, nil, fmt.Errorf("%q is neither a file nor a topic: no such file, and no brokers to look for a topic (--brokers, EVCTL_BROKERS or a context)", name)
	}
	if err != nil {
		return nil, nil, err
	}
	dec, err := newDecoder(o.Registry, schema.DecoderOptions{})
	if err != nil {
		return nil, nil, err
	}
	// The reader captures the end offsets now; both passes stop there.
	r, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: []string{name}, StopOffsets: o.stopOffsets})
	var unknown *kafka.UnknownTopicError
	if errors.As(err, &unknown) {
		hint := "the cluster has no topics"
		switch {
		case len(unknown.Similar) > 0:
			hint = "similar topics: " + strings.Join(unknown.Similar, ", ")
		case len(unknown.Have) > 0:
			hint = "topics: " + unknown.HaveText()
		}
		return nil, nil, fmt.Errorf("%q is neither a file nor a topic (%s)", name, hint)
	}
	if err != nil {
		return nil, nil, err
	}
	ends := map[int32]int64{}
	for _, pr := range r.Ranges() {
		ends[pr.Partition] = pr.End
	}
	s := &topicSide{cfg: cfg, topic: name, dec: dec, keyBy: o.keyBy, first: r, ends: ends}
	return s, s.close, nil
}

// topicSide reads a topic for diff: decoded in parallel, in order, up to
// the end offsets captured when diff started.
type topicSide struct {
	cfg   kafka.Config
	topic string
	dec   *schema.Decoder
	keyBy diff.KeyFunc
	first *kafka.Reader // the first pass's reader, opened up front
	ends  map[int32]int64
}

func (s *topicSide) Name() string { return s.topic }

func (s *topicSide) close() {
	if s.first != nil {
		s.first.Close()
		s.first = nil
	}
}

func (s *topicSide) Scan(ctx context.Context, yield func(*diff.Event) error) error {
	r := s.first
	s.first = nil
	if r == nil {
		var err error
		if r, err = kafka.NewReader(ctx, s.cfg, kafka.ReadOptions{Topics: []string{s.topic}}); err != nil {
			return err
		}
	}
	defer r.Close()
	_, err := stream.Run(ctx, r, stream.Options{Decoder: s.dec}, func(it stream.Item) error {
		rec := it.Record
		if end, ok := s.ends[rec.Partition]; !ok || rec.Offset >= end {
			return nil // written after diff started
		}
		e, err := diff.EventOf(ctx, rec, s.keyBy)
		if err != nil {
			return fmt.Errorf("%s %d@%d: %w", s.topic, rec.Partition, rec.Offset, err)
		}
		return yield(&e)
	})
	return err
}

// writeReportNotes writes a comparison's notes and warnings (how the sides
// were read, what may mislead) on stderr, as diff and verify print them.
func writeReportNotes(w io.Writer, r *diff.Report) {
	for _, n := range r.Notes {
		fmt.Fprintf(w, "evctl: note: %s\n", n)
	}
	for _, warning := range r.Warnings {
		fmt.Fprintf(w, "evctl: warning: %s\n", warning)
	}
}

// isCaptureFile tells whether a side of diff or verify names a capture
// file ("-": stdin), not a topic.
func isCaptureFile(name string) bool {
	if name == "-" {
		return true
	}
	st, err := os.Stat(name)
	return err == nil && !st.IsDir()
}
