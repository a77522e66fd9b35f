package cli

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/check"
	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// CheckOptions are `evctl check`'s inputs.
type CheckOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)
	Now      func() time.Time
	Getenv   func(string) string

	Topic         string
	KeyBy         string
	AggregateType string
	VersionField  string
	FirstVersion  int64
	IDField       string
	Terminal      []string
	Reopens       []string
	Projection    string
	Asserts       []string
	RequireSchema bool
	Skip          []string
	MaxFindings   int
	Output        string
	JUnit         string
}

// NewCmdCheck is `evctl check`.
func NewCmdCheck(f *Factory, runF func(context.Context, *CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now, Getenv: f.Getenv, FirstVersion: 1}
	cmd := &cobra.Command{
		Use:   "check <topic> [flags]",
		Short: "Lint an event stream: versions, ids, ordering, terminal events, schemas, folded state",
		Long: `Read a topic from start to its end offsets (captured when check starts)
and report every record that breaks a rule of event-sourced streams.

Records belong to aggregates: the record key, or --key-by, a jq expression
over the record (as --filter sees it: .key .value .headers .type
.timestamp ...). A record whose aggregate id is null belongs to none, and
the per-aggregate rules skip it. --aggregate-type EXPR keeps aggregates of
different types apart when they share ids (an account and its card both
keyed by the account id): each has its own versions and terminal event.

Event types are the record's (its schema's name), or with --projection the
spec's: its type: expression names them in schemaless topics too. check
reads one partition after another, each in offset order, so its report
is the same on every run; versions and timestamps are compared in that
order.

Rules (--skip RULE turns one off):
  undecodable          the key or value did not decode; no other rule sees
                       the record
  no-schema            a value that is plain JSON, text or bytes (not Avro,
                       JSON Schema or Protobuf), in a topic where at least
                       one record has a schema; --require-schema reports
                       them in any topic
  field-error          --key-by, --version-field or --id-field failed on a
                       record, or gave no usable value (an --id-field that
                       yields nothing, like '.headers["event-id"] // empty',
                       means the event has no id: counted once in a note)
  version-gap          with --version-field (or the spec's version:): an
                       aggregate's versions must go 1, 2, 3... (from
                       --first-version); a version above the next one
                       skipped some (a first version above it too, unless
                       retention deleted the start of the partition)
  version-duplicate    a version at or below the aggregate's last one
  duplicate-id         with --id-field: an event id seen before anywhere in
                       the topic (ids are kept as 64-bit hashes: with n ids
                       the chance of any false duplicate is about
                       n²/2^65, 3 in a million for 10M ids)
  multi-partition      an aggregate with events on more than one partition,
                       where nothing orders them; once per extra partition
  after-terminal       with --terminal TYPE: an event of an aggregate after
                       its terminal event (full or short type name), but
                       one of a --reopens type, which opens it again; a
                       type no event had is named in a note
  timestamp-backwards  a record timestamp earlier than the aggregate's
                       previous event's
  unknown-type         with --projection: an event type the spec has no
                       handler for, once per type at its first record; not
                       a finding when the spec sets ignore-unknown: true
                       (check then notes the skipped types on stderr)
  fold-error           with --projection: a handler failed on the event
  assertion            with --projection and --assert EXPR: after each
                       event folded, EXPR runs over {state, event, record};
                       false, null, no output or an error is a finding
                       (events that delete their aggregate are not asserted)
Tombstones (null values) are deletions: only multi-partition and
timestamp-backwards apply to them, and with --projection they fold as
replay folds them: one without a type is unknown-type unless the spec
sets ignore-unknown: true (replay would stop there), one whose type the
spec's type: names runs that handler.

Output (-o): text on a terminal groups the findings by rule, coloured;
piped, one tab-separated line per finding: rule, topic, partition, offset,
key, message. json writes one object: {"topic", "records", "findings":
[{rule, topic, partition, offset, key, aggregate, message}], "counts":
{rule: n} for every rule that ran, "disabled": {rule: why}, and when
there are any: "skippedTypes": {type: n}, "withoutEventId": n,
"unseenTypes": [type]}. Notes on stderr say the same in words.
--max-findings caps the findings listed per rule; counts stay exact.
--junit FILE also writes a JUnit XML report for CI: one testcase per rule,
failing with its findings, skipped when the rule did not run; on every
exit: a run that fails (exit 2) is one testcase in <error>, and the file
is replaced as soon as check starts, so an old report never stays.

Exit status: 0 no findings, 1 findings, 2 trouble.`,
		Example: `  $ evctl check bank.account-events
  $ evctl check bank.account-events --version-field .value.version \
      --id-field '.headers["event-id"]' --terminal AccountClosed
  $ evctl check bank.account-events --projection testdata/projections/account-balance.yaml \
      --assert '.state.balanceCents >= 0' --junit check.xml
  $ evctl check orders --key-by .value.orderId -o json | jq .counts
  $ evctl check shop.orders --projection orders.yaml --first-version 0 \
      --terminal OrderCancelled --reopens OrderRestored --id-field '.headers["event-id"] // empty'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topic = args[0]
			if len(opts.Asserts) > 0 && opts.Projection == "" {
				return flagErrorf("--assert needs --projection: assertions run over the folded state")
			}
			if opts.FirstVersion < 0 {
				return flagErrorf("invalid --first-version %d: want a version, 0 or more", opts.FirstVersion)
			}
			if len(opts.Reopens) > 0 && len(opts.Terminal) == 0 {
				return flagErrorf("--reopens needs --terminal: it names events that reopen an aggregate after its terminal event")
			}
			if opts.MaxFindings < 0 {
				return flagErrorf("--max-findings takes a count of zero (no cap) or more")
			}
			for _, s := range opts.Skip {
				if _, err := check.ParseRule(s); err != nil {
					return &FlagError{err: fmt.Errorf("--skip: %w", err)}
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return checkRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.KeyBy, "key-by", "", "jq `expression` for the aggregate id (default: the record key)")
	fl.StringVar(&opts.AggregateType, "aggregate-type", "", "jq `expression` for the aggregate's type, when types share ids")
	fl.StringVar(&opts.VersionField, "version-field", "", "jq `expression` for each event's version (like .value.version; default: the spec's version:)")
	fl.Int64Var(&opts.FirstVersion, "first-version", 1, "the `version` of an aggregate's first event")
	fl.StringVar(&opts.IDField, "id-field", "", "jq `expression` for each event's id (like '.headers[\"event-id\"]')")
	fl.StringSliceVar(&opts.Terminal, "terminal", nil, "event `type` after which an aggregate takes no events (repeatable)")
	fl.StringSliceVar(&opts.Reopens, "reopens", nil, "event `type` that reopens an aggregate after its terminal event (repeatable)")
	fl.StringVar(&opts.Projection, "projection", "", "fold the aggregates with this projection spec `file`")
	fl.StringArrayVar(&opts.Asserts, "assert", nil, "jq `expression` over {state, event, record} that must hold after each event (repeatable)")
	fl.BoolVar(&opts.RequireSchema, "require-schema", false, "report values without a schema even in a topic where none has one")
	fl.StringSliceVar(&opts.Skip, "skip", nil, "turn these `rules` off (repeatable)")
	fl.IntVar(&opts.MaxFindings, "max-findings", 100, "list at most N findings per rule (0: all); counts stay exact")
	outputFlag(cmd, &opts.Output)
	fl.StringVar(&opts.JUnit, "junit", "", "also write a JUnit XML report to `file`")
	return cmd
}

// checkRun checks, with a JUnit report (--junit) on every exit.
func checkRun(ctx context.Context, opts *CheckOptions) error {
	return junitOnEveryExit(opts.JUnit, "evctl check", "evctl.check."+opts.Topic, "check "+opts.Topic, func() error { return checkAndReport(ctx, opts) })
}

func checkAndReport(ctx context.Context, opts *CheckOptions) error {
	copts := check.Options{
		KeyBy: opts.KeyBy, AggregateType: opts.AggregateType, VersionField: opts.VersionField, FirstVersion: &opts.FirstVersion,
		IDField: opts.IDField, Terminal: opts.Terminal, Reopens: opts.Reopens, Asserts: opts.Asserts, RequireSchema: opts.RequireSchema,
		MaxFindings: opts.MaxFindings,
	}
	for _, s := range opts.Skip {
		r, err := check.ParseRule(s)
		if err != nil {
			return &FlagError{err: fmt.Errorf("--skip: %w", err)}
		}
		copts.Skip = append(copts.Skip, r)
	}
	if opts.Projection != "" {
		p, err := replay.LoadProjection(opts.Projection)
		if err != nil {
			return err
		}
		tuneGCForFolds(opts.Getenv) // as replay: the fold's live heap grows with the state
		copts.Projection = p
	}
	checker, err := check.New(copts)
	if err != nil {
		return &FlagError{err: err}
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	dec, err := newDecoder(opts.Registry, schema.DecoderOptions{})
	if err != nil {
		return err
	}

	// One partition after another, each to the end offset captured when
	// check starts: the checker sees every aggregate's partitions in the
	// same order on every run.
	src, err := kafka.NewSequentialReader(ctx, cfg, kafka.ReadOptions{Topics: []string{opts.Topic}})
	if err != nil {
		return err
	}
	defer src.Close()
	for _, pr := range src.Ranges() {
		if pr.Low > 0 {
			checker.Truncated(pr.Partition)
		}
	}
	_, err = stream.Run(ctx, src, stream.Options{Decoder: dec}, func(it stream.Item) error {
		return checker.Check(ctx, it.Record)
	})
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}

	rep := checker.Report()
	if rep.Topic == "" {
		rep.Topic = opts.Topic
	}
	if opts.JUnit != "" {
		if err := writeJUnitFile(opts.JUnit, rep); err != nil {
			return err
		}
	}
	out := bufio.NewWriter(opts.IO.Out)
	switch {
	case opts.Output == "json":
		err = writeCheckJSON(out, rep)
	case opts.IO.IsStdoutTTY():
		err = writeCheckGrouped(out, opts.IO.Palette(), rep)
	default:
		err = writeCheckTSV(out, rep)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	writeCheckSummary(opts.IO.ErrOut, opts.IO.ErrPalette(), rep)
	if rep.Total() > 0 {
		return &ExitError{Code: ExitNegative}
	}
	return nil
}

// writeCheckJSON writes the report as one JSON object.
func writeCheckJSON(w io.Writer, rep *check.Report) error {
	return printJSON(w, rep)
}

// writeCheckTSV writes one tab-separated line per finding: rule, topic,
// partition, offset, key, message.
func writeCheckTSV(w io.Writer, rep *check.Report) error {
	for _, f := range rep.Findings {
		if _, err := fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\n", f.Rule, f.Topic, f.Partition, f.Offset,
			record.OneLine(f.Key), record.OneLine(f.Message)); err != nil {
			return err
		}
	}
	return nil
}

// writeCheckGrouped writes the findings grouped by rule, for a terminal.
func writeCheckGrouped(w io.Writer, p iostreams.Palette, rep *check.Report) error {
	for _, rule := range check.Rules {
		var fs []check.Finding
		for _, f := range rep.Findings {
			if f.Rule == rule {
				fs = append(fs, f)
			}
		}
		n := rep.Counts[rule]
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "%s %s\n", p.Bold(p.Red(string(rule))), p.Dim("("+english.Plural(n, "finding")+")"))
		for _, f := range fs {
			key := f.Key
			if f.Aggregate != "" {
				key += " (" + f.Aggregate + ")"
			}
			fmt.Fprintf(w, "  %s %s  %s\n", p.Blue(fmt.Sprintf("%s/%d@%d", f.Topic, f.Partition, f.Offset)), p.Magenta(record.OneLine(key)), record.OneLine(f.Message))
		}
		if more := n - int64(len(fs)); more > 0 {
			fmt.Fprintf(w, "  %s\n", p.Dim(fmt.Sprintf("... and %d more (--max-findings)", more)))
		}
	}
	return nil
}

// writeCheckSummary says on stderr what was checked and found.
func writeCheckSummary(w io.Writer, p iostreams.Palette, rep *check.Report) {
	ran := 0
	var parts []string
	for _, rule := range check.Rules {
		n, ok := rep.Counts[rule]
		if !ok {
			continue
		}
		ran++
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", rule, n))
		}
	}
	if total := rep.Total(); total > 0 {
		fmt.Fprintf(w, "%s in %s of %s (%s)\n", p.Red(english.Plural(total, "finding")), english.Plural(rep.Records, "record"), rep.Topic, strings.Join(parts, ", "))
	} else {
		fmt.Fprintf(w, "%s in %s of %s (%s)\n", p.Green("no findings"), english.Plural(rep.Records, "record"), rep.Topic, english.Plural(ran, "rule"))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}

}

// junitReport turns a report into JUnit: one testcase per rule.
func junitReport(rep *check.Report) junitSuites {
	suite := junitSuite{
		Name:       "evctl check " + rep.Topic,
		Properties: []junitProperty{{Name: "topic", Value: rep.Topic}, {Name: "records", Value: strconv.FormatInt(rep.Records, 10)}},
	}
	for _, rule := range check.Rules {
		c := junitCase{Name: string(rule), Classname: "evctl.check." + rep.Topic}
		n, ran := rep.Counts[rule]
		switch {
		case !ran:
			c.Skipped = &junitSkipped{Message: rep.Disabled[rule]}
			suite.Skipped++
		case n > 0:
			var b strings.Builder
			listed := 0
			for _, f := range rep.Findings {
				if f.Rule == rule {
					fmt.Fprintf(&b, "%s/%d@%d %s: %s\n", f.Topic, f.Partition, f.Offset, record.OneLine(f.Key), record.OneLine(f.Message))
					listed++
				}
			}
			if more := n - int64(listed); more > 0 {
				fmt.Fprintf(&b, "... and %d more\n", more)
			}
			c.Failure = &junitFailure{Message: english.Plural(n, "finding"), Type: string(rule), Text: b.String()}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
		suite.Tests++
	}
	return junitSuites{Name: "evctl check", Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped, Suites: []junitSuite{suite}}
}

func writeJUnit(w io.Writer, rep *check.Report) error {
	b, err := xml.MarshalIndent(junitReport(rep), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, b)
	return err
}

func writeJUnitFile(path string, rep *check.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := writeJUnit(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}
