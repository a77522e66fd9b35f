package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/diff"
	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// VerifyOptions are `evctl verify`'s inputs.
type VerifyOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)
	Getenv   func(string) string

	Sources      []string
	Projection   string
	Against      string
	AtEndOffsets bool
	AsOfGroup    string
	Ignore       []string
	Output       string
	JUnit        string
	MaxChanges   int
	NoProgress   bool
	diff         DiffOptions
}

// NewCmdVerify is `evctl verify`: the CI gate for projection rebuilds.
func NewCmdVerify(f *Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "verify --source <topic> --projection <spec> --against <topic|file> [flags]",
		Short: "Rebuild a projection from its events and compare it with a read model",
		Long: `Rebuild a projection in memory from the source topic's events (as
'evctl replay --projection' does) and compare the rebuilt state, key by
key, with a live read model topic or a golden capture file (evctl's
capture format or kcat -J output), as 'evctl diff --mode state' does.
Exit 0 when they are equal, 1 when they differ, 2 on trouble: the CI gate
for a projection rebuild, in one command.

The source is read to the end offsets captured when verify starts. The
read model is read after the rebuild, to its end then. On a live system:

  --at-end-offsets      captures both sides' end offsets at one instant
                        when verify starts, one when no transaction was
                        open on either side (it reads them until they hold
                        still; a note says when they did not within 2s):
                        writes after it cause no differences, nor
                        does a transaction that writes an event with its
                        state. A read model that lags its source (a state
                        not written yet for an event that is) still
                        differs: that is what --as-of-group is for.
  --as-of-group GROUP   pins the source at the offsets the projector group
                        GROUP has committed, and the read model at its end
                        at the same moment: "the read model is behind, not
                        wrong". Exact for a projector that commits its
                        source offsets with its states in one transaction
                        (as 'evctl replay --projection --group' does).

When the sides differ and no --as-of-group was given, a note names each
consumer group that had not consumed all the events verify read, and how
many it had not: a read model its projector keeps that far behind
differs from the rebuild without being wrong, and --as-of-group with
that group tells the two apart. (On 'evctl dev --live', whose projector
bank-projector runs 2s behind the writes, --at-end-offsets differs in
the accounts it has not caught up on; --as-of-group bank-projector is the
gate.)

A record the projection fails on is an error (exit 2) naming it; of
several, the one first by topic, partition and offset, so identical runs
report the same.

--ignore PATH leaves a volatile field out (.updatedAt, relative to the
value), as for diff. Warnings (a read model key on two partitions, an
aggregate whose source events are on two partitions) and
notes (the event types the spec's ignore-unknown skipped, a rebuild that
built nothing) go to stderr. -o json writes diff's report
(docs/report-format.md), with those notes in "notes" and the skipped
types' counts in "skippedTypes".
--max-changes bounds both reports, as for diff.

On a terminal a progress line on stderr shows the rebuild's events read
of those to read, its rate and an estimate of the time left, then the
comparison; --no-progress turns it off.

--junit FILE writes a JUnit XML report for CI systems, one test case per
detailed key, on every exit: a run that fails (exit 2) or is interrupted
is a test case in <error> with the error. The file is replaced as soon as
verify starts, so an old report never stays.`,
		Example: `  $ evctl verify --source bank.account-events --projection testdata/projections/account-balance.yaml --against bank.account-balances
  $ evctl verify --source bank.account-events --projection spec.yaml --against golden/balances.jsonl --ignore .updatedAt --junit report.xml
  $ evctl verify --source bank.account-events --projection spec.yaml --against bank.account-balances --as-of-group account-projector`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(opts.Sources) == 0 || opts.Projection == "" || opts.Against == "" {
				return flagErrorf("verify needs --source, --projection and --against")
			}
			if opts.AtEndOffsets && opts.AsOfGroup != "" {
				return flagErrorf("--at-end-offsets and --as-of-group pin the source two ways: give one")
			}
			opts.diff = DiffOptions{IO: opts.IO, Kafka: opts.Kafka, Registry: opts.Registry, A: "rebuilt", B: opts.Against,
				Mode: string(diff.ModeState), Ignore: opts.Ignore, Output: opts.Output, MaxChanges: opts.MaxChanges}
			if err := validateDiff(&opts.diff); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Sources, "source", nil, "event `topic` to rebuild from (repeatable)")
	fl.StringVar(&opts.Projection, "projection", "", "projection spec `file`")
	fl.StringVar(&opts.Against, "against", "", "read model `topic` or capture file to compare with")
	fl.BoolVar(&opts.AtEndOffsets, "at-end-offsets", false, "pin both sides at their end offsets, captured at one instant when verify starts")
	fl.StringVar(&opts.AsOfGroup, "as-of-group", "", "pin the source at this projector `group`'s committed offsets, the read model at its end then")
	_ = cmd.RegisterFlagCompletionFunc("as-of-group", completeGroups(f))
	fl.StringArrayVar(&opts.Ignore, "ignore", nil, "leave this `path` out of the comparison (repeatable)")
	outputFlag(cmd, &opts.Output)
	fl.StringVar(&opts.JUnit, "junit", "", "also write a JUnit XML report to this `file`")
	fl.IntVar(&opts.MaxChanges, "max-changes", diff.DefaultMaxChanges, "detail at most this many differing keys, the first by key (0: all); counts cover all")
	fl.BoolVar(&opts.NoProgress, "no-progress", false, "no progress line, even on a terminal")
	return cmd
}

func verifyRun(ctx context.Context, o *VerifyOptions) error {
	name := strings.TrimSuffix(filepath.Base(o.Projection), filepath.Ext(o.Projection))
	return junitOnEveryExit(o.JUnit, "evctl verify", "evctl.verify."+name, fmt.Sprintf("projection %s equals %s", name, o.Against), func() error {
		return verifyAndReport(ctx, o, func(projection string, r *diff.Report) error {
			if o.JUnit == "" {
				return nil
			}
			return writeVerifyJUnit(o.JUnit, projection, o.Against, r)
		})
	})
}

// verifyAndReport rebuilds, compares and prints; compared learns the
// projection's name and the report once there is one.
func verifyAndReport(ctx context.Context, o *VerifyOptions, compared func(projection string, r *diff.Report) error) error {
	proj, err := replay.LoadProjection(o.Projection)
	if err != nil {
		return err
	}
	cfg, err := o.Kafka()
	if err != nil {
		return err
	}
	// The fold reads Avro values as jq values, not their JSON.
	dec, err := newDecoder(o.Registry, schema.DecoderOptions{Values: true})
	if err != nil {
		return err
	}
	var srcStops map[kafka.TopicPartition]int64
	if o.AtEndOffsets || o.AsOfGroup != "" {
		if srcStops, o.diff.stopOffsets, err = pinVerifyOffsets(ctx, cfg, o); err != nil {
			return err
		}
	}
	src, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: o.Sources, StopOffsets: srcStops})
	if err != nil {
		return err
	}
	defer src.Close()
	var against diff.Source
	var closeAgainst func()
	defer func() {
		if closeAgainst != nil {
			closeAgainst()
		}
	}()
	openAgainst := func() error {
		var err error
		against, closeAgainst, err = openDiffSide(ctx, &o.diff, o.Against)
		return err
	}

	tuneGCForFolds(o.Getenv) // replay --projection's fold, with its memory budget
	fold := proj.NewParallelFold(ctx, runtime.GOMAXPROCS(0), nil)
	var events int64
	read := map[kafka.TopicPartition]offsetRange{} // the events read, per partition
	progress := o.IO.Progress(o.NoProgress)
	defer progress.Clear()
	total, start := remaining(src.Ranges()), time.Now()
	meter := func(now time.Time) {
		progress.Draw("rebuild " + iostreams.Meter{Done: events, Total: total, Elapsed: now.Sub(start), Unit: "events"}.String())
	}
	meter(start) // before the first fetch, which can take a while
	drawn := start
	_, err = stream.Run(ctx, src, stream.Options{Decoder: dec}, func(it stream.Item) error {
		if events++; progress.On() && events%256 == 0 && time.Since(drawn) >= progressEvery {
			drawn = time.Now()
			meter(drawn)
		}
		tp := kafka.TopicPartition{Topic: it.Record.Topic, Partition: it.Record.Partition}
		r, ok := read[tp]
		if !ok {
			r.first = it.Record.Offset
		}
		r.next = it.Record.Offset + 1
		read[tp] = r
		return fold.Apply(it.Record)
	})
	if cerr := fold.Close(); err == nil {
		err = cerr
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return err
	}
	if against == nil {
		if err := openAgainst(); err != nil {
			return err
		}
	}
	rebuilt := diff.States("rebuilt "+proj.Name, fold.States)
	progress.Draw(fmt.Sprintf("comparing %s with %s", english.Plural(fold.Len(), "rebuilt aggregate"), o.Against))
	r, err := diff.Compare(ctx, rebuilt, against, o.diff.compare)
	progress.Clear()
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return err
	}
	// The comparison's own notes and warnings (a read model key on two
	// partitions, keys encoded differently) go to stderr as diff prints
	// them; what the fold skipped follows the summary. The JSON report
	// holds both.
	folded := replay.FoldOutcome{Events: events, Aggregates: int64(fold.Len()), SkippedTypes: fold.SkippedTypes(), Split: fold.Split()}
	if warning := folded.Split.Warning(); warning != "" {
		r.Warnings = append(r.Warnings, warning)
	}
	writeReportNotes(o.IO.ErrOut, r)
	folded.Split = replay.SplitAggregates{} // warned above
	if len(folded.SkippedTypes) > 0 {
		r.SkippedTypes = maps.Clone(folded.SkippedTypes)
	}
	r.Notes = append(r.Notes, folded.Notes(proj)...)
	if err := compared(proj.Name, r); err != nil {
		return err
	}
	var out bytes.Buffer
	if o.Output == "json" {
		err = diff.WriteJSON(&out, r, false)
	} else {
		err = diff.WriteText(&out, r, o.IO.Palette())
	}
	if err != nil {
		return err
	}
	if _, err := o.IO.Out.Write(out.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "verified %s rebuilt from %s against %s: %s\n",
		english.Plural(fold.Len(), "aggregate"), english.Plural(events, "event"), o.Against, verdict(r))
	folded.WriteNotes(o.IO.ErrOut, proj)
	if !r.Equal {
		if o.AsOfGroup == "" && !isCaptureFile(o.Against) {
			writeBehindNote(ctx, o.IO.ErrOut, cfg, o.Against, read)
		}
		return &ExitError{Code: ExitNegative}
	}
	return nil
}

// How long verify reads the ends it pins until they hold still (see
// kafka.Admin.SettledEndOffsets). --at-end-offsets then goes on with a
// note; --as-of-group, whose answer would be wrong, gives up. A projector
// that checkpoints every half second, with a transaction open between
// (evctl dev --live), holds still for a moment after each commit: the
// group's budget spans many of them, even with reads slowed by load.
const (
	settleWithin      = 2 * time.Second
	settleGroupWithin = 20 * time.Second
)

// pinVerifyOffsets captures where each side's read stops: with
// --at-end-offsets both sides' end offsets at one instant with no
// transaction open; with --as-of-group the group's committed offsets on
// the source and the read model's end, both held still at one instant
// with no transaction open on the read model, so that a transaction that
// commits offsets with states is inside both or neither.
func pinVerifyOffsets(ctx context.Context, cfg kafka.Config, o *VerifyOptions) (src, against map[kafka.TopicPartition]int64, err error) {
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close()
	againstTopic := []string{o.Against}
	if isCaptureFile(o.Against) {
		againstTopic = nil // nothing to pin
	}
	split := func(ends map[kafka.TopicPartition]int64) (src, against map[kafka.TopicPartition]int64) {
		src, against = map[kafka.TopicPartition]int64{}, map[kafka.TopicPartition]int64{}
		for tp, end := range ends {
			if slices.Contains(o.Sources, tp.Topic) {
				src[tp] = end
			}
			if slices.Contains(againstTopic, tp.Topic) {
				against[tp] = end
			}
		}
		return src, against
	}
	if o.AsOfGroup == "" {
		topics := slices.Concat(o.Sources, againstTopic)
		ends, settled, err := admin.SettledEndOffsets(ctx, topics, settleWithin)
		if err != nil {
			return nil, nil, err
		}
		if !settled {
			fmt.Fprintf(o.IO.ErrOut, "note: %s never held still, with no transaction open, in %s of reading their end offsets: a write in flight at the last read may show as a difference\n",
				strings.Join(topics, ", "), settleWithin)
		}
		src, against = split(ends)
		return src, against, nil
	}
	committed, ends, settled, err := admin.SettledGroupOffsets(ctx, o.AsOfGroup, o.Sources, againstTopic, settleGroupWithin)
	if err != nil {
		return nil, nil, err
	}
	if !settled {
		return nil, nil, fmt.Errorf("group %q committed offsets, or its read model %s had a transaction open, at every read for %s: cannot pin the sides at one moment; try again, or use --at-end-offsets",
			o.AsOfGroup, o.Against, settleGroupWithin)
	}
	committedAny := false
	for _, off := range committed {
		committedAny = committedAny || off >= 0
	}
	if !committedAny {
		return nil, nil, fmt.Errorf("group %q has committed no offsets on %s: check --as-of-group, or wait for the projector (evctl lag %s)",
			o.AsOfGroup, strings.Join(o.Sources, ", "), o.AsOfGroup)
	}
	_, against = split(ends)
	return committed, against, nil // -1 (nothing committed) stops a partition at its start
}

// offsetRange is the offsets of the records read on a partition: the
// first and the one after the last.
type offsetRange struct{ first, next int64 }

// writeBehindNote names, after differences found without --as-of-group,
// the consumer groups that had not consumed all the events verify read:
// the likely projector of a read model that is behind, not wrong (what a
// user who gave --at-end-offsets on a system whose projector lags sees).
// It is a hint on a verdict already given: trouble finding the groups
// leaves it out.
func writeBehindNote(ctx context.Context, w io.Writer, cfg kafka.Config, against string, read map[kafka.TopicPartition]offsetRange) {
	if len(read) == 0 {
		return
	}
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return
	}
	defer admin.Close()
	groups, err := admin.Groups(ctx)
	if err != nil {
		return
	}
	for _, g := range groups {
		committed, err := admin.CommittedOffsets(ctx, g.ID)
		if err != nil {
			return
		}
		var behind int64
		consumes := false
		for tp, r := range read {
			from := r.first // nothing committed here: all of it is still to consume
			if off, ok := committed[tp]; ok {
				consumes = true
				from = max(off, r.first)
			}
			behind += max(r.next-from, 0)
		}
		if !consumes || behind == 0 {
			continue
		}
		fmt.Fprintf(w, "note: consumer group %[1]s had not consumed %[2]d of the records verify read (evctl lag %[1]s): if it keeps %[3]s, the read model may be behind, not wrong; --as-of-group %[1]s compares it as of what the group has consumed\n",
			g.ID, behind, against)
	}
}

func verdict(r *diff.Report) string {
	if r.Equal {
		return "equal"
	}
	return fmt.Sprintf("%d changed, %d only rebuilt, %d only in the read model", r.Counts.Changed, r.Counts.Removed, r.Counts.Added)
}

// writeVerifyJUnit reports one test case for the whole comparison and one
// per key the report details, so a CI system lists exactly what broke.
func writeVerifyJUnit(path, projection, against string, r *diff.Report) error {
	class := "evctl.verify." + projection
	whole := junitCase{Name: fmt.Sprintf("projection %s equals %s", projection, against), Classname: class}
	if !r.Equal {
		var text bytes.Buffer
		if err := diff.WriteText(&text, &diff.Report{Mode: r.Mode, A: r.A, B: r.B, Counts: r.Counts, Groups: r.Groups}, diff.Plain{}); err != nil {
			return err
		}
		if r.Truncated {
			fmt.Fprintf(&text, "the first %d differing keys by key have test cases of their own; --max-changes\n", len(r.Added)+len(r.Removed)+len(r.Changed))
		}
		whole.Failure = &junitFailure{Message: verdict(r), Type: "differences", Text: text.String()}
	}
	suite := junitSuite{Name: "evctl verify " + projection, Cases: []junitCase{whole}}
	fail := func(key, message, text string) {
		suite.Cases = append(suite.Cases, junitCase{Name: "key " + key, Classname: class, Failure: &junitFailure{Message: message, Type: message, Text: text}})
	}
	for _, c := range r.Changed {
		var b strings.Builder
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "%s: %s → %s\n", f.Path, orAbsent(f.A), orAbsent(f.B))
		}
		fail(c.Key.Text, "changed", b.String())
	}
	for _, e := range r.Removed {
		fail(e.Key.Text, "only in the rebuilt projection", string(e.Value))
	}
	for _, e := range r.Added {
		fail(e.Key.Text, "only in "+against, string(e.Value))
	}
	suite.Tests = len(suite.Cases)
	for _, c := range suite.Cases {
		if c.Failure != nil {
			suite.Failures++
		}
	}
	return writeJUnitSuites(path, junitSuites{Name: "evctl verify", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}})
}

func orAbsent(v []byte) string {
	if v == nil {
		return "(absent)"
	}
	return string(v)
}
