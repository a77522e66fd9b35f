package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/schema"
)

// SchemaCheckOptions are `evctl schema check`'s inputs.
type SchemaCheckOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)
	Kafka    func() (kafka.Config, error)

	Subject    string
	File       string
	Format     string // "" tells it from the file
	References []schema.Reference
	Topics     []string
	Sample     int // read only the first N records of each partition; 0 reads all
	Output     string
	JUnit      string
	NoProgress bool
}

// schemaCheckView is `schema check -o json`'s object.
type schemaCheckView struct {
	Subject  string                      `json:"subject"`
	Part     string                      `json:"part"` // "value" or "key"
	Registry schema.CompatibilityVerdict `json:"registry"`
	// Topics are the topics read: the subject's, or with a subject of
	// another naming strategy those where its records were found.
	Topics     []string              `json:"topics"`
	Writers    []schema.WriterCensus `json:"writers"`
	Records    int64                 `json:"records"`
	Tombstones int64                 `json:"tombstones"` // null values, or null keys for a key subject
	Unframed   int64                 `json:"unframed"`
	Other      int64                 `json:"otherSubjects"`
	WouldFail  int64                 `json:"wouldFail"`
}

// NewCmdSchemaCheck is `evctl schema check`.
func NewCmdSchemaCheck(f *Factory, runF func(context.Context, *SchemaCheckOptions) error) *cobra.Command {
	opts := &SchemaCheckOptions{IO: f.IOStreams, Registry: f.Registry, Kafka: f.Kafka}
	var refs []string
	cmd := &cobra.Command{
		Use:   "check <subject> <file>",
		Short: "Check a candidate schema against the registry and every stored record",
		Long: `Check a candidate schema in file (Avro .avsc, Protobuf .proto, or JSON
Schema: a JSON document with "$schema"; --type says it otherwise) twice
before it is registered:

 1. the registry's verdict: could it be registered under subject, at the
    subject's compatibility level (against all versions for a _TRANSITIVE
    level)?
 2. the census: every record stored in the subject's topics is read, from
    start to the end offsets when check starts (--sample N: the first N
    of each partition), with the candidate as a consumer would read it
    once deployed:
      Avro         the value resolved from the schema that wrote it (its
                   registry schema id) to the candidate, by Avro's schema
                   resolution, union branch by union branch
      Protobuf     decoded as the candidate's message of the same full
                   name; a field the candidate declares with another wire
                   type than was written, or a string that is not UTF-8,
                   fails
      JSON Schema  the value validated against the candidate

Which records: for <topic>-value, every value of the topic (the
TopicNameStrategy); for <topic>-key, every key. For another subject (the
RecordNameStrategy's com.bank.MoneyDeposited, the TopicRecordNameStrategy's
<topic>-com.bank.MoneyDeposited) the records the subject wrote, found
through their schema ids: those written with one of its versions, and the
branches a union writes by a reference to it. They are looked for in every
topic of the cluster, or in each --topic.

The report counts, per writer schema, the records read, those the
candidate reads, those it would fail on, the first failing record
(topic/partition@offset) and why; tombstones, payloads without a schema id
and those of other subjects are counted apart. --reference
name=subject:version (repeatable) declares what the candidate takes from
other subjects (Avro named types, Protobuf imports, JSON Schema $refs). On
a terminal a progress bar runs on stderr (not with --no-progress).

Exit 0 only when the registry says compatible and no record would fail;
1 otherwise; 2 on trouble (an invalid candidate, with the parser's line
and column where it gives them; an unknown subject, with similar names; a
registry or cluster that does not answer within --timeout). -o json
writes {subject, part, registry: {compatible, messages}, topics, writers:
[{id, guid, subject, version, records, ok, wouldFail, firstFailure:
{topic, partition, offset}, reason}], records, tombstones, unframed,
otherSubjects, wouldFail}. --junit FILE also writes a JUnit XML report: a
testcase for the registry's verdict and one per writer schema.`,
		Example: `  $ evctl schema check bank.account-events-value AccountEvent-v2.avsc \
      --reference com.bank.AccountOpened=com.bank.AccountOpened:1
  $ evctl schema check com.bank.MoneyDeposited MoneyDeposited-v3.avsc -o json | jq .wouldFail
  $ evctl schema check bank.transfers-value transfers-v2.proto --reference bank/money.proto=bank/money.proto:1
  $ evctl schema check bank.customers-value customer-v2.json --sample 1000 --junit schema-check.xml`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Subject, opts.File = args[0], args[1]
			if opts.Sample < 0 {
				return flagErrorf("invalid --sample %d: want a number of records from 1, or 0 for all", opts.Sample)
			}
			var err error
			if opts.References, err = parseReferences(refs); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaCheckRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeSubjects(f),
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&refs, "reference", nil, "a reference `name=subject:version` (repeatable)")
	fl.StringArrayVar(&opts.Topics, "topic", nil, "a `topic` whose records to read (repeatable; default: the subject's)")
	fl.IntVar(&opts.Sample, "sample", 0, "read only the first `N` records of each partition (default: all)")
	schemaTypeFlag(cmd, &opts.Format)
	fl.StringVar(&opts.JUnit, "junit", "", "also write a JUnit XML report to `file`")
	fl.BoolVar(&opts.NoProgress, "no-progress", false, "no progress bar, even on a terminal")
	outputFlag(cmd, &opts.Output)
	return cmd
}

// schemaCheckRun checks, with a JUnit report (--junit) on every exit.
func schemaCheckRun(ctx context.Context, opts *SchemaCheckOptions) error {
	return junitOnEveryExit(opts.JUnit, "evctl schema check", schemaCheckClass(opts.Subject), "schema check "+opts.Subject,
		func() error { return schemaCheckAndReport(ctx, opts) })
}

func schemaCheckClass(subject string) string { return "evctl.schema.check." + subject }

func schemaCheckAndReport(ctx context.Context, opts *SchemaCheckOptions) error {
	text, format, err := readSchemaFile(opts.File, opts.Format)
	if err != nil {
		return err
	}
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	versions, err := reg.AllVersions(ctx, opts.Subject)
	if err != nil {
		return registryHint(err)
	}
	candidate, err := reg.ParseSchema(ctx, format, opts.File, string(text), opts.References)
	if err != nil {
		var unavailable *schema.UnavailableError
		if errors.As(err, &unavailable) {
			return registryHint(err)
		}
		return fmt.Errorf("%w; fix the candidate and check again", err)
	}
	verdict, err := reg.CheckCompatibility(ctx, opts.Subject, format, string(text), opts.References)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.File, registryHint(err))
	}

	view := schemaCheckView{Subject: opts.Subject, Part: "value", Registry: verdict}
	copts := schema.CensusOptions{}
	topics := opts.Topics
	topic, part, named := schema.TopicForSubject(opts.Subject)
	switch {
	case named && (len(topics) == 0 || slices.Equal(topics, []string{topic})):
		topics, view.Part, copts.Key = []string{topic}, part, part == "key"
	default:
		// Another naming strategy: the subject's records are those its
		// schema ids wrote, wherever they are.
		copts.Subject, copts.IDs = opts.Subject, map[int]bool{}
		for _, v := range versions {
			copts.IDs[v.ID] = true
		}
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		if topics, err = censusTopics(ctx, opts.Kafka); err != nil {
			return err
		}
	}
	census := schema.NewCensus(candidate, reg, copts)
	if err := runCensus(ctx, opts, cfg, topics, census); err != nil {
		return err
	}

	view.Topics = topics
	if copts.IDs != nil {
		view.Topics = census.Topics()
	}
	view.Writers, view.Records, view.WouldFail = census.Writers(), census.Records(), census.Failed()
	view.Tombstones, view.Unframed, view.Other = census.Nulls, census.Unframed, census.Other
	if opts.JUnit != "" {
		if err := writeJUnitSuites(opts.JUnit, schemaCheckJUnit(view)); err != nil {
			return err
		}
	}
	if opts.Output == "json" {
		if err := printJSON(opts.IO.Out, view); err != nil {
			return err
		}
	} else {
		printSchemaCheck(opts.IO, view)
	}
	if !verdict.Compatible || view.WouldFail > 0 {
		return &ExitError{Code: ExitNegative}
	}
	return nil
}

// censusTopics lists the topics a subject of another naming strategy may
// have written to: all of the cluster's but its internal ones.
func censusTopics(ctx context.Context, kafkaConfig func() (kafka.Config, error)) ([]string, error) {
	admin, err := newAdmin(kafkaConfig)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	names, err := admin.TopicNames(ctx)
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, "_") })
	slices.Sort(names)
	return names, nil
}

// runCensus reads the topics into the census, every partition at once
// (the census's report does not depend on the order records come in),
// with a progress bar on a terminal.
func runCensus(ctx context.Context, opts *SchemaCheckOptions, cfg kafka.Config, topics []string, census *schema.Census) error {
	ropts := kafka.ReadOptions{Topics: topics}
	if opts.Sample > 0 {
		var err error
		if ropts.To, err = position.Parse("+"+strconv.Itoa(opts.Sample), time.Time{}); err != nil { // +N needs no clock
			return err
		}
	}
	src, err := kafka.NewReader(ctx, cfg, ropts)
	if err != nil {
		return err
	}
	defer src.Close()
	total, read := remaining(src.Ranges()), int64(0)
	progress := opts.IO.Progress(opts.NoProgress)
	defer progress.Clear()
	start := time.Now()
	var drawn time.Time
	for {
		m, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return errInterrupted
			}
			return err
		}
		if err := census.Add(ctx, m); err != nil {
			return registryHint(err)
		}
		if read++; progress.On() && time.Since(drawn) >= progressEvery {
			drawn = time.Now()
			meter := iostreams.Meter{Done: read, Total: total, Elapsed: time.Since(start), Unit: "records"}
			progress.Draw(fmt.Sprintf("census %s; %d would fail", meter, census.Failed()))
		}
	}
}

// progressEvery is how often a progress line is redrawn at most.
const progressEvery = 100 * time.Millisecond

func printSchemaCheck(ios *iostreams.IOStreams, v schemaCheckView) {
	p := ios.Palette()
	if v.Registry.Compatible {
		fmt.Fprintf(ios.Out, "registry: %s\n", p.Green("compatible"))
	} else {
		fmt.Fprintf(ios.Out, "registry: %s\n", p.Red("incompatible"))
		for _, m := range v.Registry.Messages {
			fmt.Fprintf(ios.Out, "  %s\n", m)
		}
	}
	of := "of " + strings.Join(v.Topics, ", ")
	if len(v.Topics) == 0 {
		of = "found no record of " + v.Subject + "'s schemas"
	}
	what := "record"
	if v.Part == "key" {
		what = "key"
	}
	fmt.Fprintf(ios.Out, "census %s: %s, %s would fail", of, english.Plural(v.Records, what), english.Plural(v.WouldFail, what))
	var apart []string
	if v.Tombstones > 0 {
		if v.Part == "key" {
			apart = append(apart, english.Plural(v.Tombstones, "null key"))
		} else {
			apart = append(apart, english.Plural(v.Tombstones, "tombstone"))
		}
	}
	if v.Unframed > 0 {
		apart = append(apart, fmt.Sprintf("%d without a schema id", v.Unframed))
	}
	if v.Other > 0 {
		apart = append(apart, fmt.Sprintf("%d of other subjects", v.Other))
	}
	if len(apart) > 0 {
		fmt.Fprintf(ios.Out, " (%s not read)", strings.Join(apart, ", "))
	}
	fmt.Fprintln(ios.Out)
	for _, w := range v.Writers {
		line := fmt.Sprintf("  %s: %d read, %d ok, %d would fail", writerName(w), w.Records, w.OK, w.Fail)
		if w.First != nil {
			line = p.Red(line) + fmt.Sprintf("; first %s/%d@%d: %s", w.First.Topic, w.First.Partition, w.First.Offset, w.Reason)
		}
		fmt.Fprintln(ios.Out, line)
	}
}

// writerName names a writer schema: "id 5 (bank.account-events-value version 1)".
func writerName(w schema.WriterCensus) string {
	name := "id " + strconv.Itoa(w.ID)
	if w.ID == 0 && w.GUID != "" {
		name = "guid " + w.GUID
	}
	if w.Subject != "" {
		name += fmt.Sprintf(" (%s version %d)", w.Subject, w.Version)
	}
	return name
}

// schemaCheckJUnit is the JUnit report: the registry's verdict, then one
// testcase per writer schema, failing with its first failing record.
func schemaCheckJUnit(v schemaCheckView) junitSuites {
	class := schemaCheckClass(v.Subject)
	suite := junitSuite{Name: "evctl schema check " + v.Subject, Properties: []junitProperty{
		{Name: "subject", Value: v.Subject}, {Name: "topics", Value: strings.Join(v.Topics, ",")},
		{Name: "records", Value: strconv.FormatInt(v.Records, 10)},
	}}
	verdict := junitCase{Name: "registry compatibility", Classname: class}
	if !v.Registry.Compatible {
		verdict.Failure = &junitFailure{Message: "the registry would refuse the candidate", Type: "incompatible", Text: strings.Join(v.Registry.Messages, "\n")}
	}
	suite.Cases = append(suite.Cases, verdict)
	for _, w := range v.Writers {
		c := junitCase{Name: "census of " + writerName(w), Classname: class}
		if w.First != nil {
			c.Failure = &junitFailure{Message: fmt.Sprintf("%d of %d would fail", w.Fail, w.Records), Type: "would-fail",
				Text: fmt.Sprintf("first %s/%d@%d: %s", w.First.Topic, w.First.Partition, w.First.Offset, w.Reason)}
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, c := range suite.Cases {
		suite.Tests++
		if c.Failure != nil {
			suite.Failures++
		}
	}
	return junitSuites{Name: "evctl schema check", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
}
