package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/schema"
)

// NewCmdSchema is `evctl schema`: the registry's subjects, versions and
// compatibility levels.
func NewCmdSchema(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema <command>",
		Short: "List, show, register and configure Schema Registry subjects",
		Long: `Work with the Schema Registry that --registry (EVCTL_REGISTRY, or the
current context) names: list its subjects and the topics they describe,
show a version (with its references inlined), compare two versions field
by field, check a candidate against the registry and against every stored
record, register a schema, and read or set compatibility levels.`,
		Example: `  $ evctl schema subjects
  $ evctl schema versions bank.account-events-value
  $ evctl schema show bank.account-events-value --resolve
  $ evctl schema register orders-value orders.avsc
  $ evctl schema config bank.account-events-value --set FULL_TRANSITIVE
  $ evctl schema diff com.bank.MoneyDeposited 1 latest
  $ evctl schema check com.bank.MoneyDeposited MoneyDeposited-v3.avsc --topic bank.account-events`,
	}
	cmd.AddCommand(
		NewCmdSchemaSubjects(f, nil),
		NewCmdSchemaVersions(f, nil),
		NewCmdSchemaShow(f, nil),
		NewCmdSchemaConfig(f, nil),
		NewCmdSchemaRegister(f, nil),
		NewCmdSchemaDiff(f, nil),
		NewCmdSchemaCheck(f, nil),
	)
	return cmd
}

var errNoRegistry = errors.New("no schema registry given: use --registry, EVCTL_REGISTRY or a context (evctl config set-context); try 'evctl dev' for a local sandbox")

// needRegistry returns the registry client, or says how to name one.
func needRegistry(registry func() (*schema.RegistryClient, error)) (*schema.RegistryClient, error) {
	reg, err := registry()
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errNoRegistry
	}
	return reg, nil
}

// registryHint says what to do about a registry that did not answer.
func registryHint(err error) error {
	var unavailable *schema.UnavailableError
	if errors.As(err, &unavailable) {
		return fmt.Errorf("%w; check --registry, or raise --timeout", err)
	}
	return err
}

// completeSubjects completes subject names; it asks the registry only when
// the user presses tab.
func completeSubjects(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		reg, err := needRegistry(f.Registry)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		subjects, err := reg.Subjects(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return subjects, cobra.ShellCompDirectiveNoFileComp
	}
}

// newTable writes aligned columns on a terminal, tab-separated lines
// without the header when piped.
func newTable(ios *iostreams.IOStreams, header ...string) *table {
	t := &table{tty: ios.IsStdoutTTY(), out: ios.Out}
	if t.tty {
		t.tw = tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	}
	return t
}

type table struct {
	tty bool
	out io.Writer
	tw  *tabwriter.Writer
}

func (t *table) row(cells ...string) {
	if t.tty {
		fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
		return
	}
	fmt.Fprintln(t.out, strings.Join(cells, "\t"))
}

func (t *table) flush() error {
	if t.tty {
		return t.tw.Flush()
	}
	return nil
}

// SchemaSubjectsOptions are `evctl schema subjects`'s inputs.
type SchemaSubjectsOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)
	Kafka    func() (kafka.Config, error)

	Sample int // records read at the end of each partition for the writers' subjects
	Output string
}

// NewCmdSchemaSubjects is `evctl schema subjects`.
func NewCmdSchemaSubjects(f *Factory, runF func(context.Context, *SchemaSubjectsOptions) error) *cobra.Command {
	opts := &SchemaSubjectsOptions{IO: f.IOStreams, Registry: f.Registry, Kafka: f.Kafka}
	cmd := &cobra.Command{
		Use:   "subjects",
		Short: "List subjects: latest version, type, compatibility, topics",
		Long: `List the registry's subjects with their latest version and its schema id,
the schema type, the compatibility level in force (the subject's own, else
the global one), and the topics that use the subject when --brokers names
a cluster: by the TopicNameStrategy (<topic>-key, <topic>-value), and for
other subjects (record-name subjects such as com.bank.MoneyDeposited, and
imports) by the schemas that wrote the last --sample records of each
partition (20 by default; 0 reads none), directly or through their
references; a subject only older records use is not found that way. An
unreachable cluster costs the topics column and a warning.

On a terminal the output is a table; piped, it is tab-separated without a
header; -o json writes one JSON array.`,
		Example: `  $ evctl schema subjects
  $ evctl schema subjects -o json | jq -r '.[] | select(.topics == []) | .subject'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaSubjectsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Sample, "sample", 20, "read the last `N` records of each partition for the subjects that wrote them (0: none)")
	outputFlag(cmd, &opts.Output)
	return cmd
}

func schemaSubjectsRun(ctx context.Context, opts *SchemaSubjectsOptions) error {
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	summaries, err := reg.Summaries(ctx)
	if err != nil {
		return registryHint(err)
	}
	topics := clusterTopics(ctx, opts.IO, opts.Kafka)
	schema.TopicsBySubject(summaries, topics)
	if len(topics) > 0 && opts.Sample > 0 {
		writers, err := sampleWriters(ctx, opts.Kafka, topics, opts.Sample)
		if err == nil {
			err = reg.TopicsByWriters(ctx, summaries, writers)
		}
		if ctx.Err() != nil {
			return errInterrupted
		}
		if err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "evctl: warning: topics only by the subjects' names: %v\n", registryHint(err))
		}
	}
	if opts.Output == "json" {
		return printJSON(opts.IO.Out, summaries)
	}
	t := newTable(opts.IO, "SUBJECT", "VERSION", "ID", "TYPE", "COMPATIBILITY", "TOPICS")
	for _, s := range summaries {
		t.row(s.Subject, strconv.Itoa(s.Latest), strconv.Itoa(s.ID), s.Format, s.Compatibility, orDash(strings.Join(s.Topics, ",")))
	}
	return t.flush()
}

// sampleWriters reads the last n records of each partition of topics
// (internal ones left out) and returns the schemas their keys and values
// name, per topic.
func sampleWriters(ctx context.Context, kafkaConfig func() (kafka.Config, error), topics []string, n int) (map[string][]schema.Writer, error) {
	cfg, err := kafkaConfig()
	if err != nil {
		return nil, err
	}
	from, err := position.Parse("-"+strconv.Itoa(n), time.Time{}) // -N needs no clock
	if err != nil {
		return nil, err
	}
	topics = slices.DeleteFunc(slices.Clone(topics), func(t string) bool { return strings.HasPrefix(t, "_") })
	src, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: topics, From: from})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	out := map[string][]schema.Writer{}
	for {
		m, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for _, side := range []struct {
			header string
			b      []byte
		}{{schema.KeySchemaIDHeader, m.Key}, {schema.ValueSchemaIDHeader, m.Value}} {
			if id, guid, _, ok := schema.WriterOf(m.Headers, side.header, side.b); ok {
				if w := (schema.Writer{ID: id, GUID: guid}); !slices.Contains(out[m.Topic], w) {
					out[m.Topic] = append(out[m.Topic], w)
				}
			}
		}
	}
}

// clusterTopics lists the cluster's topics; without brokers there are none,
// and a cluster that does not answer costs a warning, not the listing.
func clusterTopics(ctx context.Context, ios *iostreams.IOStreams, kafkaConfig func() (kafka.Config, error)) []string {
	admin, err := newAdmin(kafkaConfig)
	if errors.Is(err, errNoBrokers) {
		return nil
	}
	var names []string
	if err == nil {
		defer admin.Close()
		names, err = admin.TopicNames(ctx)
	}
	if err != nil {
		fmt.Fprintf(ios.ErrOut, "evctl: warning: no topics for the subjects: %v\n", err)
	}
	return names
}

// SchemaVersionsOptions are `evctl schema versions`'s inputs.
type SchemaVersionsOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)

	Subject string
	Output  string
}

// NewCmdSchemaVersions is `evctl schema versions`.
func NewCmdSchemaVersions(f *Factory, runF func(context.Context, *SchemaVersionsOptions) error) *cobra.Command {
	opts := &SchemaVersionsOptions{IO: f.IOStreams, Registry: f.Registry}
	cmd := &cobra.Command{
		Use:   "versions <subject>",
		Short: "List a subject's versions with their ids and references",
		Long: `List every version of a subject, oldest first: version, schema id, type
and references (name=subject:version).

On a terminal the output is a table; piped, it is tab-separated without a
header; -o json writes one JSON array, each version with its schema text.`,
		Example: `  $ evctl schema versions bank.account-events-value
  $ evctl schema versions com.bank.MoneyDeposited -o json | jq '.[-1].id'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Subject = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaVersionsRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeSubjects(f),
	}
	outputFlag(cmd, &opts.Output)
	return cmd
}

func schemaVersionsRun(ctx context.Context, opts *SchemaVersionsOptions) error {
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	versions, err := reg.AllVersions(ctx, opts.Subject)
	if err != nil {
		return registryHint(err)
	}
	if opts.Output == "json" {
		return printJSON(opts.IO.Out, versions)
	}
	t := newTable(opts.IO, "VERSION", "ID", "TYPE", "REFERENCES")
	for _, v := range versions {
		refs := make([]string, len(v.References))
		for i, r := range v.References {
			refs[i] = fmt.Sprintf("%s=%s:%d", r.Name, r.Subject, r.Version)
		}
		t.row(strconv.Itoa(v.Version), strconv.Itoa(v.ID), v.Format, orDash(strings.Join(refs, ",")))
	}
	return t.flush()
}

// SchemaShowOptions are `evctl schema show`'s inputs.
type SchemaShowOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)

	Subject string
	Version int // schema.Latest for the latest
	Resolve bool
	Output  string
}

// schemaShowView is `schema show -o json`'s object.
type schemaShowView struct {
	schema.SubjectVersion
	Resolved bool `json:"resolved,omitempty"` // the schema text has its references inlined
}

// NewCmdSchemaShow is `evctl schema show`.
func NewCmdSchemaShow(f *Factory, runF func(context.Context, *SchemaShowOptions) error) *cobra.Command {
	opts := &SchemaShowOptions{IO: f.IOStreams, Registry: f.Registry}
	var version string
	cmd := &cobra.Command{
		Use:   "show <subject>",
		Short: "Print a subject's schema, references inlined with --resolve",
		Long: `Print the schema of a subject's version (--version N, default latest) to
stdout, indented when it is JSON, so '> file.avsc' keeps it. --resolve
puts what the schema takes from references into it: Avro's named types
are inlined, giving one self-contained schema; a JSON Schema's referenced
schemas are bundled under $defs (definitions before draft 2019-09), each
with its reference's name as $id, so its $refs resolve unchanged; a
.proto is followed by each file it imports, headed by a comment naming
the import path and subject (Protobuf cannot inline imports: split the
text into files for --proto-path). -o json writes the version's object:
subject, version, id, guid, type, references, schema (and resolved: true
with --resolve).`,
		Example: `  $ evctl schema show com.bank.MoneyDeposited
  $ evctl schema show bank.account-events-value --version 1 --resolve > account-event.avsc
  $ evctl schema show bank.account-events-value -o json | jq '.references[].subject'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Subject = args[0]
			v, err := parseSchemaVersion(version)
			if err != nil {
				return err
			}
			opts.Version = v
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaShowRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeSubjects(f),
	}
	cmd.Flags().StringVar(&version, "version", "latest", "the version to show: `N` or latest")
	cmd.Flags().BoolVar(&opts.Resolve, "resolve", false, "put what the schema takes from references into it (Avro inlined, JSON Schema bundled, Protobuf imports appended)")
	outputFlag(cmd, &opts.Output)
	return cmd
}

// parseSchemaVersion reads a version argument: a positive number or latest.
func parseSchemaVersion(s string) (int, error) {
	if s == "latest" {
		return schema.Latest, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, flagErrorf("invalid version %q: want a number from 1 or latest", s)
	}
	return v, nil
}

// versionArg writes a version as parseSchemaVersion reads it.
func versionArg(v int) string {
	if v == schema.Latest {
		return "latest"
	}
	return strconv.Itoa(v)
}

func schemaShowRun(ctx context.Context, opts *SchemaShowOptions) error {
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	v, err := reg.Version(ctx, opts.Subject, opts.Version)
	if err != nil {
		return registryHint(err)
	}
	view := schemaShowView{SubjectVersion: v}
	if opts.Resolve && len(v.References) > 0 {
		text, err := resolvedText(ctx, reg, v)
		if err != nil {
			return err
		}
		view.Text, view.Resolved = text, true
	}
	if opts.Output == "json" {
		return printJSON(opts.IO.Out, view)
	}
	var out bytes.Buffer
	if json.Indent(&out, []byte(view.Text), "", "  ") != nil {
		out.Reset()
		out.WriteString(strings.TrimRight(view.Text, "\n"))
	}
	out.WriteByte('\n')
	_, err = opts.IO.Out.Write(out.Bytes())
	return err
}

// resolvedText is v's schema with its references in it: Avro's named
// types inlined, JSON Schema's referenced schemas bundled under $defs,
// Protobuf's imported files appended.
func resolvedText(ctx context.Context, reg *schema.RegistryClient, v schema.SubjectVersion) (string, error) {
	if v.Format == schema.FormatAvro {
		parsed, err := reg.ResolveAvro(ctx, v)
		if err != nil {
			return "", registryHint(err)
		}
		text, err := json.Marshal(parsed)
		if err != nil {
			return "", fmt.Errorf("print the resolved schema: %w", err)
		}
		return string(text), nil
	}
	refs, err := reg.Referenced(ctx, v)
	if err != nil {
		return "", registryHint(err)
	}
	if v.Format == schema.FormatProtobuf {
		return schema.ProtobufWithImports(v.Text, refs), nil
	}
	text, err := schema.BundleJSONSchema(v.Subject, v.Text, refs)
	if err != nil {
		return "", fmt.Errorf("--resolve: %s version %d: %w", v.Subject, v.Version, err)
	}
	return text, nil
}

// SchemaConfigOptions are `evctl schema config`'s inputs.
type SchemaConfigOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)

	Subject string // "" for the global level
	Set     string
	Output  string
}

// NewCmdSchemaConfig is `evctl schema config`.
func NewCmdSchemaConfig(f *Factory, runF func(context.Context, *SchemaConfigOptions) error) *cobra.Command {
	opts := &SchemaConfigOptions{IO: f.IOStreams, Registry: f.Registry}
	cmd := &cobra.Command{
		Use:   "config [subject]",
		Short: "Show or set the compatibility level of a subject, or the global one",
		Long: `Show the compatibility level in force for a subject (its own, or the
global one, marked "(global)"), or the global level without a subject.
--set LEVEL sets it and says what it was. A subject without versions can
be given a level before its first schema is registered.

-o json writes {subject, level, global}.`,
		Example: `  $ evctl schema config
  $ evctl schema config bank.account-events-value
  $ evctl schema config bank.account-events-value --set FULL_TRANSITIVE`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Subject = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaConfigRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeSubjects(f),
	}
	stringEnumFlag(cmd, &opts.Set, "set", "", "", schema.CompatibilityLevels, "set the compatibility level")
	outputFlag(cmd, &opts.Output)
	return cmd
}

func schemaConfigRun(ctx context.Context, opts *SchemaConfigOptions) error {
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	if opts.Subject != "" {
		// An unknown subject is most often a typo: say what is there, unless
		// the user is giving a new subject its level.
		if _, err := reg.Versions(ctx, opts.Subject); err != nil {
			var unknown *schema.SubjectNotFoundError
			if !errors.As(err, &unknown) || opts.Set == "" {
				return registryHint(err)
			}
			fmt.Fprintf(opts.IO.ErrOut, "evctl: note: subject %q has no versions yet\n", opts.Subject)
		}
	}
	was, err := reg.Compatibility(ctx, opts.Subject)
	if err != nil {
		return registryHint(err)
	}
	now := was
	if opts.Set != "" {
		if now, err = reg.SetCompatibility(ctx, opts.Subject, opts.Set); err != nil {
			return registryHint(err)
		}
	}
	if opts.Output == "json" {
		return printJSON(opts.IO.Out, now)
	}
	name := opts.Subject
	if name == "" {
		name = "global"
	}
	line := name + ": " + now.Level
	switch {
	case opts.Set != "":
		from := was.Level
		if was.Global {
			from += ", global"
		}
		line += " (was " + from + ")"
	case now.Global:
		line += " (global)"
	}
	fmt.Fprintln(opts.IO.Out, line)
	return nil
}

// SchemaRegisterOptions are `evctl schema register`'s inputs.
type SchemaRegisterOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)

	Subject    string
	File       string
	Format     string // "" to tell it from the file
	References []schema.Reference
	Output     string
}

// NewCmdSchemaRegister is `evctl schema register`.
func NewCmdSchemaRegister(f *Factory, runF func(context.Context, *SchemaRegisterOptions) error) *cobra.Command {
	opts := &SchemaRegisterOptions{IO: f.IOStreams, Registry: f.Registry}
	var refs []string
	cmd := &cobra.Command{
		Use:   "register <subject> <file>",
		Short: "Register a schema file under a subject",
		Long: `Register the schema in file under subject, and print the version and
schema id it got; a schema the subject already holds keeps its version.
The type is told from the file (.proto: PROTOBUF; a JSON document with
"$schema": JSON; else AVRO) unless --type names it. --reference
name=subject:version (repeatable) declares a type the schema takes from
another subject.

The registry checks the schema against the subject's compatibility level:
an incompatible schema exits 1 with the registry's message; an invalid
one exits 2 with the parser's, at the file's line and column where evctl's
own parser finds one. -o json writes the registered version's object.`,
		Example: `  $ evctl schema register orders-value orders.avsc
  $ evctl schema register bank.account-events-value AccountEvent.avsc \
      --reference com.bank.AccountOpened=com.bank.AccountOpened:1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Subject, opts.File = args[0], args[1]
			var err error
			if opts.References, err = parseReferences(refs); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaRegisterRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeSubjects(f),
	}
	schemaTypeFlag(cmd, &opts.Format)
	cmd.Flags().StringArrayVar(&refs, "reference", nil, "a reference `name=subject:version` (repeatable)")
	outputFlag(cmd, &opts.Output)
	return cmd
}

// parseReferences reads each --reference.
func parseReferences(refs []string) ([]schema.Reference, error) {
	var out []schema.Reference
	for _, r := range refs {
		ref, err := parseReference(r)
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
	}
	return out, nil
}

// parseReference reads --reference name=subject:version.
func parseReference(s string) (schema.Reference, error) {
	name, rest, ok := strings.Cut(s, "=")
	i := strings.LastIndexByte(rest, ':')
	if !ok || name == "" || i <= 0 {
		return schema.Reference{}, flagErrorf("invalid --reference %q: want name=subject:version, e.g. com.bank.AccountOpened=com.bank.AccountOpened:1", s)
	}
	v, err := strconv.Atoi(rest[i+1:])
	if err != nil || v < 1 {
		return schema.Reference{}, flagErrorf("invalid --reference %q: the version must be a number from 1", s)
	}
	return schema.Reference{Name: name, Subject: rest[:i], Version: v}, nil
}

// schemaFormat tells a schema file's type from its name and text.
func schemaFormat(file string, text []byte) string {
	if strings.EqualFold(filepath.Ext(file), ".proto") {
		return schema.FormatProtobuf
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(text, &doc) == nil {
		if _, ok := doc["$schema"]; ok {
			return schema.FormatJSON
		}
	}
	return schema.FormatAvro
}

// schemaTypeFlag is --type, a schema file's type when its name and text
// do not tell it.
func schemaTypeFlag(cmd *cobra.Command, format *string) {
	stringEnumFlag(cmd, format, "type", "", "", []string{schema.FormatAvro, schema.FormatJSON, schema.FormatProtobuf}, "schema type (default: told from the file)")
}

// readSchemaFile reads a schema file and its type: format, or told from
// the file.
func readSchemaFile(file, format string) ([]byte, string, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("read the schema: %w", err)
	}
	if format == "" {
		format = schemaFormat(file, text)
	}
	return text, format, nil
}

func schemaRegisterRun(ctx context.Context, opts *SchemaRegisterOptions) error {
	text, format, err := readSchemaFile(opts.File, opts.Format)
	if err != nil {
		return err
	}
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	before, err := reg.Versions(ctx, opts.Subject)
	var unknown *schema.SubjectNotFoundError
	if err != nil && !errors.As(err, &unknown) {
		return registryHint(err)
	}
	v, err := reg.Register(ctx, opts.Subject, format, string(text), opts.References)
	var incompatible *schema.IncompatibleError
	var invalid *schema.InvalidSchemaError
	switch {
	case errors.As(err, &incompatible):
		return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("%v; see the level with 'evctl schema config %s' and the latest with 'evctl schema show %s'",
			err, opts.Subject, opts.Subject)}
	case errors.As(err, &invalid):
		// The registry's message may have no position: evctl's parser
		// finds one where it can (line:column of the file).
		where := opts.File
		var pos *schema.PositionError
		if _, perr := reg.ParseSchema(ctx, format, opts.File, string(text), opts.References); errors.As(perr, &pos) {
			where = pos.Pos
		}
		return fmt.Errorf("%s: %w", where, err)
	case err != nil:
		return registryHint(err)
	}
	if opts.Output == "json" {
		return printJSON(opts.IO.Out, v)
	}
	if slices.Contains(before, v.Version) {
		fmt.Fprintf(opts.IO.Out, "%s already holds this schema as version %d (id %d)\n", v.Subject, v.Version, v.ID)
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "registered %s version %d (id %d)\n", v.Subject, v.Version, v.ID)
	return nil
}

// SchemaDiffOptions are `evctl schema diff`'s inputs.
type SchemaDiffOptions struct {
	IO       *iostreams.IOStreams
	Registry func() (*schema.RegistryClient, error)

	Subject  string
	From, To int // versions; schema.Latest for the latest
	Output   string
}

// schemaDiffView is `schema diff -o json`'s object.
type schemaDiffView struct {
	Subject string                `json:"subject"`
	From    schemaDiffSide        `json:"from"`
	To      schemaDiffSide        `json:"to"`
	Changes []schema.SchemaChange `json:"changes"`
}

type schemaDiffSide struct {
	Version int `json:"version"`
	ID      int `json:"id"`
}

// NewCmdSchemaDiff is `evctl schema diff`.
func NewCmdSchemaDiff(f *Factory, runF func(context.Context, *SchemaDiffOptions) error) *cobra.Command {
	opts := &SchemaDiffOptions{IO: f.IOStreams, Registry: f.Registry}
	cmd := &cobra.Command{
		Use:   "diff <subject> <version> <version>",
		Short: "Compare two versions of a subject field by field; exit 1 when they differ",
		Long: `Compare two versions of a subject's schema (numbers, or latest)
semantically, with their references resolved.

Avro: fields added, removed or renamed (through aliases), types changed,
defaults changed, aliases, enum symbols, union branches (matched by type
name), logical types (decimal precision and scale included) and fixed
sizes, down nested records, arrays and maps. Docs and field order are not
changes.

Protobuf: messages and enums added or removed (nested ones too), fields
matched by number (a new name for a number is a rename), their types,
cardinality (singular, optional, repeated, map) and oneofs, reserved
numbers and names, enum values by number; paths are full names
("bank.Deposit.amount").

JSON Schema: properties added or removed (down nested objects, items and
additionalProperties), required, type, format, default, $ref, enum values,
oneOf/anyOf/allOf branches, definitions under $defs; annotations (title,
description) are not changes; a $ref to another subject is compared as
text, not followed.

One line per change, "+" added, "-" removed, "~" changed, then the path
(Avro: ".field", "(full.Name)" for a union's branch, "[]" an array's
items, "{}" a map's values, "." the top) and what changed:

  + .channel: field added: com.bank.Channel, default "TRANSFER"
  ~ .amount: logical type changed: decimal(12,2) → decimal(14,2)

-o json writes {subject, from: {version, id}, to: {version, id}, changes:
[{path, change, from, to}]}.

Like diff(1), it exits 0 when the versions read and write alike, 1 when
they differ, 2 on trouble.`,
		Example: `  $ evctl schema diff com.bank.MoneyDeposited 1 2
  $ evctl schema diff bank.account-events-value 1 latest -o json | jq '.changes[] | select(.change == "field removed")'
  $ evctl schema diff orders-value 3 4 >/dev/null || echo "orders-value changed"
  $ evctl schema diff payments.proto-value 1 2`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Subject = args[0]
			var err error
			if opts.From, err = parseSchemaVersion(args[1]); err != nil {
				return err
			}
			if opts.To, err = parseSchemaVersion(args[2]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return schemaDiffRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeSubjects(f),
	}
	outputFlag(cmd, &opts.Output)
	return cmd
}

func schemaDiffRun(ctx context.Context, opts *SchemaDiffOptions) error {
	reg, err := needRegistry(opts.Registry)
	if err != nil {
		return err
	}
	var sides [2]schema.SubjectVersion
	for i, version := range []int{opts.From, opts.To} {
		if sides[i], err = reg.Version(ctx, opts.Subject, version); err != nil {
			return registryHint(err)
		}
	}
	view := schemaDiffView{Subject: opts.Subject,
		From: schemaDiffSide{Version: sides[0].Version, ID: sides[0].ID},
		To:   schemaDiffSide{Version: sides[1].Version, ID: sides[1].ID}}
	view.Changes, err = reg.Diff(ctx, sides[0], sides[1])
	if errors.Is(err, schema.ErrDiffUnsupported) {
		return fmt.Errorf("schema diff compares Avro, Protobuf and JSON Schema, and %s is %s; compare the texts: diff <(evctl schema show %s --version %s) <(evctl schema show %s --version %s)",
			opts.Subject, sides[0].Format, opts.Subject, versionArg(opts.From), opts.Subject, versionArg(opts.To))
	}
	if err != nil {
		return registryHint(err)
	}
	if view.Changes == nil {
		view.Changes = []schema.SchemaChange{}
	}
	if opts.Output == "json" {
		if err := printJSON(opts.IO.Out, view); err != nil {
			return err
		}
	} else {
		p := opts.IO.Palette()
		for _, c := range view.Changes {
			line := c.String()
			switch line[0] {
			case '+':
				line = p.Green(line)
			case '-':
				line = p.Red(line)
			default:
				line = p.Yellow(line)
			}
			fmt.Fprintln(opts.IO.Out, line)
		}
		if len(view.Changes) == 0 {
			// Nothing on stdout, as diff(1); a person is told why.
			what := fmt.Sprintf("versions %d and %d of %s", view.From.Version, view.To.Version, opts.Subject)
			switch {
			case view.From.Version == view.To.Version:
				fmt.Fprintf(opts.IO.ErrOut, "%s: version %d is compared with itself\n", opts.Subject, view.From.Version)
			case view.From.ID == view.To.ID:
				fmt.Fprintf(opts.IO.ErrOut, "%s are the same schema (id %d)\n", what, view.From.ID)
			default:
				fmt.Fprintf(opts.IO.ErrOut, "%s do not differ\n", what)
			}
		}
	}
	if len(view.Changes) > 0 {
		return &ExitError{Code: ExitNegative}
	}
	return nil
}
