package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
)

// ProduceOptions are `evctl produce`'s inputs.
type ProduceOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)

	Topic          string
	File           string // "" or "-": stdin
	Input          string // auto, json, capture, text
	Value, Key     SchemaFlags
	Type           string // the Avro record a JSON line's value is, where a union of records leaves it open
	KeyText        string
	KeySet         bool
	Headers        []string
	Partition      int32 // partition.Any: the capture's, else the partitioner's
	Partitioner    string
	SchemaIDHeader bool
	Atomic         bool
	Create         bool
	Partitions     int
}

// SchemaFlags say where a key's or value's schema comes from: at most
// one of a subject, a schema id or a local file.
type SchemaFlags struct {
	Subject string
	Version int // with Subject; schema.Latest by default
	ID      int
	Local   schema.LocalSchema
}

func (s SchemaFlags) given() bool { return s.Subject != "" || s.ID != 0 || s.Local.Path != "" }

// NewCmdProduce is `evctl produce`.
func NewCmdProduce(f *Factory, runF func(context.Context, *ProduceOptions) error) *cobra.Command {
	opts := &ProduceOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry}
	var valueSchema, keySchema string
	var proto protoFlags
	cmd := &cobra.Command{
		Use:   "produce <topic> [file] [flags]",
		Short: "Write records from JSON lines or a capture",
		Long: `Write one record per input line (a file, or standard input) to a topic.

Input (--input):
  auto     a line with "valueEncoding" is a capture line (what tail -o json
           and replay --to-file write), any other line is the value as JSON
  json     every line is the value, as JSON
  capture  every line is a capture line (also one written by hand)
  text     every line is the value, as text
A capture line keeps its key, headers, timestamp, partition and event type
(a line without a partition is placed by key); --key, --header, --partition
and --partitioner set them instead.

The value is encoded with a schema, given by one of --subject (the
latest version, or --version), --schema-id, --value-schema (.avsc Avro,
.json JSON Schema), --value-proto (.proto, with --message and
--proto-path) or --descriptor-set (protoc --include_imports
--descriptor_set_out); the key likewise with --key-subject,
--key-schema-id, --key-schema, --key-proto (with --key-message) or
--key-descriptor-set. Registry schemas are written in the
registry's wire format (0x00 and the schema id; --schema-id-header puts
the schema's GUID in a __value_schema_id header instead), local ones
without framing. Without a schema, a capture line's value is encoded
with the schema id the capture names, and JSON and text go as they are.

Avro is read from plain JSON as tail prints it: unions unwrapped (a
capture's "type", --type, or Avro's {"com.x.A": {...}} wrapping picks
between records that both fit), timestamps RFC3339, dates, decimals as exact
strings, bytes as base64; a field left out takes its default. Protobuf is
read from its canonical JSON (protojson), the schema's first message
unless --message names another. JSON Schema values are validated before
they are sent.

Every record is acknowledged before produce ends (the producer is
idempotent). A line that is not JSON or does not fit the schema is
reported with its line number and the field's path, and the other lines
are sent; --atomic sends every line in one transaction, or none if any
line fails (the brokers abort a transaction still open after
transaction.timeout.ms, 60 s by default: raise it with -X for a long
input). On a terminal each line is sent as it is typed and its
partition and offset printed (with --atomic, held in the transaction
until Ctrl-D commits it). A registry that stops answering (past
--timeout) ends the run at the first line that needs it, exit 2: the
records before it are delivered and counted, and that line and the ones
after it are named as not sent. Exit status 1 when a line failed, 130
when interrupted: records not acknowledged by then are not counted as
sent, and an open transaction is aborted.`,
		Example: `  $ evctl produce bank.account-events --subject bank.account-events-value < events.jsonl
  $ evctl tail bank.account-events --from start -o json | evctl produce copy --subject bank.account-events-value
  $ echo '{"id":"o-1","total":"12.50"}' | evctl produce orders --value-schema order.avsc --key o-1
  $ evctl produce transfers --value-proto bank.proto --message bank.v1.Transfer --atomic transfers.jsonl`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topic = args[0]
			if len(args) == 2 {
				opts.File = args[1]
			}
			opts.KeySet = cmd.Flags().Changed("key")
			fl := cmd.Flags()
			if !fl.Changed("partition") {
				opts.Partition = partition.Any
			} else if opts.Partition < 0 {
				return flagErrorf("--partition takes a partition number, 0 or more")
			}
			if opts.Partitioner != "" {
				if err := partition.Check(opts.Partitioner); err != nil {
					return &FlagError{err: err}
				}
				if fl.Changed("partition") {
					return flagErrorf("--partition and --partitioner exclude each other")
				}
			}
			// --message and --key-message may name a message of a registry
			// schema too: they are checked below, not with the local flags.
			valueMessage, keyMessage := proto.value.message, proto.key.message
			proto.value.message, proto.key.message = "", ""
			var err error
			if opts.Value.Local, err = proto.valueSchema(); err != nil {
				return err
			}
			if opts.Key.Local, err = proto.keySchema(); err != nil {
				return err
			}
			opts.Value.Local.Message, opts.Key.Local.Message = valueMessage, keyMessage
			if opts.Value, err = schemaFlags("", opts.Value, valueSchema, fl.Changed("version")); err != nil {
				return err
			}
			if opts.Key, err = schemaFlags("key-", opts.Key, keySchema, fl.Changed("key-version")); err != nil {
				return err
			}
			if opts.Value.Local.Message != "" && !opts.Value.given() {
				return flagErrorf("--message names a Protobuf message of --value-proto, --descriptor-set, --subject or --schema-id")
			}
			if opts.Key.Local.Message != "" && !opts.Key.given() {
				return flagErrorf("--key-message names a Protobuf message of --key-proto, --key-descriptor-set, --key-subject or --key-schema-id")
			}
			if opts.Input == "text" && (opts.Value.given()) {
				return flagErrorf("--input text sends lines as they are: it takes no value schema")
			}
			if opts.Partitions > 0 && !opts.Create {
				return flagErrorf("--partitions goes with --create")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return produceRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	fl := cmd.Flags()
	stringEnumFlag(cmd, &opts.Input, "input", "", "auto", []string{"auto", "json", "capture", "text"}, "what a line is")
	fl.StringVar(&opts.Value.Subject, "subject", "", "encode values with this registry `subject`'s schema")
	fl.IntVar(&opts.Value.Version, "version", schema.Latest, "with --subject: this version (default: the latest)")
	fl.IntVar(&opts.Value.ID, "schema-id", 0, "encode values with the registry schema of this `id`")
	fl.StringVar(&valueSchema, "value-schema", "", "encode values with a local Avro (.avsc) or JSON Schema (.json) `file`")
	proto.add(cmd, "encode")
	fl.StringVar(&opts.Key.Subject, "key-subject", "", "encode keys with this registry `subject`'s schema")
	fl.IntVar(&opts.Key.Version, "key-version", schema.Latest, "with --key-subject: this version (default: the latest)")
	fl.IntVar(&opts.Key.ID, "key-schema-id", 0, "encode keys with the registry schema of this `id`")
	fl.StringVar(&keySchema, "key-schema", "", "encode keys with a local Avro (.avsc) or JSON Schema (.json) `file`")
	fl.StringVarP(&opts.Type, "type", "t", "", "with a union of Avro records: the `record` each JSON line is (full or short name; a capture line has its own)")
	fl.StringVarP(&opts.KeyText, "key", "k", "", "every record's key (JSON when a key schema is given and it parses, else text)")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "add a header `key=value` to every record (repeatable)")
	fl.Int32VarP(&opts.Partition, "partition", "p", 0, "write every record to this partition")
	fl.StringVar(&opts.Partitioner, "partitioner", "", "place records by key as this producer partitioner does: {"+strings.Join(partition.Names, "|")+"} (default murmur2_random)")
	_ = cmd.RegisterFlagCompletionFunc("partitioner", cobra.FixedCompletions(partition.Names, cobra.ShellCompDirectiveNoFileComp))
	fl.BoolVar(&opts.SchemaIDHeader, "schema-id-header", false, "name the schema in a __value_schema_id (__key_schema_id) header by GUID, not in the payload")
	fl.BoolVar(&opts.Atomic, "atomic", false, "send every line in one transaction, or nothing if any line fails")
	fl.BoolVar(&opts.Create, "create", false, "create the topic if it does not exist")
	fl.IntVar(&opts.Partitions, "partitions", 0, "with --create: partition count (default 1)")
	return cmd
}

// schemaFlags checks that at most one schema source is given: a subject,
// an id, a local Avro or JSON Schema file, or s.Local (a Protobuf one).
func schemaFlags(prefix string, s SchemaFlags, file string, versionSet bool) (SchemaFlags, error) {
	var given []string
	if s.Subject != "" {
		given = append(given, "--"+prefix+"subject")
	}
	if s.ID != 0 {
		given = append(given, "--"+prefix+"schema-id")
	}
	if s.Local.Path != "" {
		given = append(given, localProtoFlag(prefix != "", s.Local.DescriptorSet))
	}
	if file != "" {
		flag := "--" + prefix + "schema"
		if prefix == "" {
			flag = "--value-schema"
		}
		given = append(given, flag)
		s.Local.Path = file
	}
	if len(given) > 1 {
		return s, flagErrorf("%s exclude each other: give one schema", strings.Join(given, " and "))
	}
	if versionSet && s.Subject == "" {
		return s, flagErrorf("--%sversion goes with --%ssubject", prefix, prefix)
	}
	if s.ID < 0 {
		return s, flagErrorf("--%sschema-id takes a schema id, 1 or more", prefix)
	}
	return s, nil
}

// localProtoFlag names the flag of a local Protobuf schema.
func localProtoFlag(key, descriptorSet bool) string {
	switch {
	case key && descriptorSet:
		return "--key-descriptor-set"
	case key:
		return "--key-proto"
	case descriptorSet:
		return "--descriptor-set"
	}
	return "--value-proto"
}

// producer is one produce run's state.
type producer struct {
	opts    *ProduceOptions
	reg     *schema.RegistryClient
	value   *schema.Encoder // nil: values go as they are, or by their capture's schema
	key     *schema.Encoder
	byID    map[int]*schema.Encoder // a capture's own schemas, by id
	headers []record.RawHeader      // --header
	p       *kafka.Producer
	tty     bool

	mu     sync.Mutex
	failed int // lines that could not be sent
	acked  int // records the brokers acknowledged
	// failedDeliveries are records handed to the producer that the
	// brokers refused.
	failedDeliveries int
	sent             int // records handed to the producer
}

func produceRun(ctx context.Context, opts *ProduceOptions) error {
	pr := &producer{opts: opts, byID: map[int]*schema.Encoder{}, tty: opts.IO.IsStdinTTY() && (opts.File == "" || opts.File == "-")}
	for _, h := range opts.Headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return flagErrorf("invalid --header %q: want key=value", h)
		}
		pr.headers = append(pr.headers, record.RawHeader{Key: k, Value: []byte(v)})
	}
	var err error
	if pr.reg, err = opts.Registry(); err != nil {
		return err
	}
	if pr.value, err = pr.encoder(ctx, opts.Value, false); err != nil {
		return registryHint(err)
	}
	if pr.key, err = pr.encoder(ctx, opts.Key, true); err != nil {
		return registryHint(err)
	}
	in, name, closeIn, err := produceInput(ctx, opts)
	if err != nil {
		return err
	}
	defer closeIn()

	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	partitions, maxBytes, err := produceTopic(ctx, opts, cfg)
	if err != nil {
		return err
	}
	po := kafka.ProducerOptions{Partitioner: opts.Partitioner, MaxMessageBytes: maxBytes, OnDelivery: pr.delivered}
	if opts.Atomic {
		host, _ := os.Hostname()
		po.TransactionalID = fmt.Sprintf("evctl-produce-%s-%d", host, os.Getpid())
	}
	if pr.p, err = kafka.NewProducer(ctx, cfg, po); err != nil {
		return err
	}
	defer pr.p.Close()
	if opts.Atomic {
		if err := pr.p.Begin(); err != nil {
			return err
		}
	}

	r := bufio.NewReaderSize(in, 64<<10)
	for line := 1; ; line++ {
		b, rerr := r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			if err := pr.line(ctx, line, b, partitions); err != nil {
				return pr.stop(ctx, fmt.Errorf("line %d: %w", line, registryHint(err)), line)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return pr.interrupted(ctx)
			}
			return pr.abort(ctx, fmt.Errorf("reading %s: %w", name, rerr))
		}
	}
	if err := pr.p.Flush(ctx); err != nil {
		if ctx.Err() != nil {
			return pr.interrupted(ctx)
		}
		return pr.abort(ctx, err)
	}
	return pr.finish(ctx)
}

// produceInput opens the input: the file, else standard input.
func produceInput(ctx context.Context, opts *ProduceOptions) (io.Reader, string, func(), error) {
	if opts.File != "" && opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, "", nil, err
		}
		return iostreams.Interruptible(ctx, f), opts.File, func() { f.Close() }, nil
	}
	return opts.IO.ReadStdin(ctx, "records, one per line,"), "standard input", func() {}, nil
}

// produceTopic checks the topic (or creates it, with --create) and returns
// its partition count and max.message.bytes.
func produceTopic(ctx context.Context, opts *ProduceOptions, cfg kafka.Config) (int, int, error) {
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return 0, 0, err
	}
	defer admin.Close()
	d, err := admin.DescribeTopic(ctx, opts.Topic)
	var unknown *kafka.UnknownTopicError
	if errors.As(err, &unknown) && opts.Create {
		n := max(opts.Partitions, 1)
		if err := admin.CreateTopic(ctx, opts.Topic, n, nil); err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Created topic %s (%s).\n", opts.Topic, english.Plural(n, "partition"))
		return n, 0, nil
	}
	if errors.As(err, &unknown) {
		return 0, 0, fmt.Errorf("%w; add --create to make it", err)
	}
	if err != nil {
		return 0, 0, err
	}
	if opts.Partition >= 0 && int(opts.Partition) >= d.Partitions {
		return 0, 0, flagErrorf("--partition %d: topic %q has %s (0 to %d)", opts.Partition, opts.Topic, english.Plural(d.Partitions, "partition"), d.Partitions-1)
	}
	return d.Partitions, d.MaxMessageBytes, nil
}

// encoder loads the schema flags name, if any; the registry bounds every
// lookup by --timeout.
func (pr *producer) encoder(ctx context.Context, f SchemaFlags, isKey bool) (*schema.Encoder, error) {
	if !f.given() {
		return nil, nil
	}
	eo := schema.EncoderOptions{IsKey: isKey, Message: f.Local.Message}
	if pr.opts.SchemaIDHeader {
		eo.Framing = schema.FrameHeader
	}
	flag := "--value-schema"
	if isKey {
		flag = "--key-schema"
	}
	var s *schema.Schema
	var err error
	switch {
	case f.Local.Path != "":
		if f.Local.DescriptorSet || strings.HasSuffix(f.Local.Path, ".proto") {
			flag = localProtoFlag(isKey, f.Local.DescriptorSet)
		}
		if s, err = schema.LoadLocal(f.Local, flag); err != nil {
			return nil, &FlagError{err: err}
		}
		eo.Framing, eo.Message = schema.FrameNone, ""
	case pr.reg == nil:
		return nil, errNoRegistry
	case f.Subject != "":
		if s, eo.GUID, err = pr.reg.SubjectSchema(ctx, f.Subject, f.Version); err != nil {
			return nil, err
		}
	default:
		if s, err = pr.reg.SchemaByID(ctx, f.ID); err != nil {
			return nil, schemaIDError(f.ID, err)
		}
		if pr.opts.SchemaIDHeader {
			if eo.GUID, err = pr.reg.GUIDOf(ctx, f.ID); err != nil {
				return nil, err
			}
		}
	}
	e, err := schema.NewEncoder(s, eo)
	if err != nil {
		return nil, &FlagError{err: err}
	}
	return e, nil
}

func schemaIDError(id int, err error) error {
	if errors.Is(err, schema.ErrNotFound) {
		return fmt.Errorf("schema id %d not found in the registry; see evctl schema subjects", id)
	}
	return err
}

// captureEncoder is the encoder of the schema a capture line names.
func (pr *producer) captureEncoder(ctx context.Context, ref *record.SchemaRef, isKey bool) (*schema.Encoder, error) {
	if ref == nil || ref.ID == 0 {
		return nil, errors.New("the capture names no schema id to encode it with; give --subject or --schema-id, or capture with --raw")
	}
	key := ref.ID
	if isKey {
		key = -key
	}
	if e, ok := pr.byID[key]; ok {
		return e, nil
	}
	e, err := pr.encoder(ctx, SchemaFlags{ID: ref.ID}, isKey)
	if err != nil {
		return nil, err
	}
	pr.byID[key] = e
	return e, nil
}

// lineError is a line that cannot be sent; the run goes on without it.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// line sends one input line; an error it returns ends the run (the
// producer failed, or the registry is gone), a line at fault is reported.
func (pr *producer) line(ctx context.Context, n int, b []byte, partitions int) error {
	m, err := pr.message(ctx, b, partitions)
	if err != nil {
		var unavailable *schema.UnavailableError
		if errors.As(err, &unavailable) || ctx.Err() != nil {
			return err
		}
		pr.report(&lineError{line: n, err: err})
		return nil
	}
	pr.mu.Lock()
	pr.sent++
	pr.mu.Unlock()
	if err := pr.p.Send(ctx, m, n); err != nil {
		pr.mu.Lock()
		pr.sent--
		pr.mu.Unlock()
		if perr := pr.p.Err(); perr != nil || ctx.Err() != nil {
			return err
		}
		pr.report(&lineError{line: n, err: err})
		return nil
	}
	if pr.tty {
		// As typed: wait for this one's answer before the next line.
		if err := pr.p.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (pr *producer) report(err *lineError) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.failed++
	fmt.Fprintf(pr.opts.IO.ErrOut, "evctl: %v\n", err)
}

// delivered hears each record's delivery, from the producer's goroutine.
func (pr *producer) delivered(d kafka.Delivery) {
	if d.Err != nil {
		pr.report(&lineError{line: d.Seq, err: d.Err})
		pr.mu.Lock()
		pr.failedDeliveries++
		pr.mu.Unlock()
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.acked++
	switch {
	case pr.tty && pr.opts.Atomic:
		// Stored, but no reader sees it before the commit: not yet sent.
		fmt.Fprintf(pr.opts.IO.ErrOut, "in the transaction: %s partition %d offset %d\n", d.Topic, d.Partition, d.Offset)
	case pr.tty:
		fmt.Fprintf(pr.opts.IO.ErrOut, "sent to %s partition %d offset %d\n", d.Topic, d.Partition, d.Offset)
	}
}

// message builds the record of one line.
func (pr *producer) message(ctx context.Context, b []byte, partitions int) (*record.Message, error) {
	o := pr.opts
	m := &record.Message{Topic: o.Topic, Partition: partition.Any}
	b = bytes.TrimRight(b, "\r\n")
	switch {
	case o.Input == "text":
		m.Value = append([]byte{}, b...)
	case o.Input == "capture" || o.Input == "auto" && isCaptureLine(b):
		if err := pr.fromCapture(ctx, m, b); err != nil {
			return nil, err
		}
	default:
		b = bytes.TrimSpace(b)
		if !json.Valid(b) {
			return nil, notJSON(b)
		}
		if pr.value != nil {
			v, hs, err := pr.value.Encode(b, o.Type)
			if err != nil {
				return nil, err
			}
			m.Value, m.Headers = v, appendHeader(m.Headers, hs)
		} else {
			m.Value = append([]byte{}, b...)
		}
	}
	if o.KeySet {
		k, hs, err := pr.keyBytes(o.KeyText)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		m.Key, m.Headers = k, appendHeader(m.Headers, hs)
	}
	m.Headers = append(m.Headers, pr.headers...)
	if o.Partition >= 0 {
		m.Partition = o.Partition
	} else if o.Partitioner != "" {
		m.Partition = partition.Any
	}
	if m.Partition >= 0 && int(m.Partition) >= partitions {
		return nil, fmt.Errorf("partition %d: topic %q has %s; give --partitioner to place records by key", m.Partition, o.Topic, english.Plural(partitions, "partition"))
	}
	return m, nil
}

// keyBytes encodes a key's text: with a key schema, as JSON when it is
// JSON, else as a JSON string.
func (pr *producer) keyBytes(text string) ([]byte, *record.RawHeader, error) {
	if pr.key == nil {
		return []byte(text), nil, nil
	}
	b := []byte(text)
	if !json.Valid(b) {
		b = record.AppendJSONString(nil, b)
	}
	return pr.key.Encode(b, "")
}

func appendHeader(hs []record.RawHeader, h *record.RawHeader) []record.RawHeader {
	if h == nil {
		return hs
	}
	return append(hs, *h)
}

func notJSON(b []byte) error {
	var v any
	err := json.Unmarshal(b, &v)
	return fmt.Errorf("not JSON (%w); give --input text to send lines as text", err)
}

// isCaptureLine tells a capture line (tail -o json always writes
// valueEncoding) from a JSON value.
func isCaptureLine(b []byte) bool {
	if !bytes.Contains(b, []byte(`"valueEncoding"`)) {
		return false
	}
	var probe struct {
		ValueEncoding *string `json:"valueEncoding"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.ValueEncoding != nil
}

// fromCapture fills m from a capture line: value and key re-encoded with
// the given schemas (or the capture's own), headers, timestamp and
// partition kept.
func (pr *producer) fromCapture(ctx context.Context, m *record.Message, b []byte) error {
	// A line without "partition" (written by hand, or by a tool that does
	// not know it) is placed by key, not sent to partition 0.
	r := record.Record{Partition: partition.Any}
	if err := json.Unmarshal(b, &r); err != nil {
		if !json.Valid(b) {
			return notJSON(b)
		}
		return fmt.Errorf("not a capture line: %w", err)
	}
	m.Timestamp = r.Timestamp.Time
	m.Partition = r.Partition
	value, err := pr.capturedPayload(ctx, r.Value, r.RawValue, r.ValueEncoding, r.Schema, r.Type, pr.value, false)
	if err != nil {
		return err
	}
	var key capturedPart
	if !pr.opts.KeySet {
		if key, err = pr.capturedPayload(ctx, r.Key, r.RawKey, r.KeyEncoding, r.KeySchema, "", pr.key, true); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	for _, h := range r.Headers {
		if h.Key == schema.ValueSchemaIDHeader && value.encoded || h.Key == schema.KeySchemaIDHeader && key.encoded {
			continue // it names the schema the payload had, not the one it gets
		}
		v, err := h.Bytes()
		if err != nil {
			return fmt.Errorf("header %q: %w", h.Key, err)
		}
		m.Headers = append(m.Headers, record.RawHeader{Key: h.Key, Value: v})
	}
	m.Value, m.Key = value.b, key.b
	m.Headers = appendHeader(appendHeader(m.Headers, key.header), value.header)
	return nil
}

// capturedPart is a capture's key or value as it will be sent.
type capturedPart struct {
	b       []byte
	header  *record.RawHeader // a schema-id header it needs
	encoded bool              // encoded here, not the captured bytes
}

// capturedPayload is a captured key or value: encoded with enc if given,
// else the exact bytes the capture kept (--raw), else its JSON, text or
// base64 as it is, else encoded with the schema the capture names.
func (pr *producer) capturedPayload(ctx context.Context, decoded json.RawMessage, raw []byte, encoding string,
	ref *record.SchemaRef, typ string, enc *schema.Encoder, isKey bool,
) (capturedPart, error) {
	if encoding == record.EncodingNull {
		return capturedPart{}, nil // a tombstone stays one
	}
	if enc == nil {
		plain := &record.Record{Value: decoded, ValueEncoding: encoding, RawValue: raw, KeyEncoding: record.EncodingNull}
		m, err := plain.Message()
		if err == nil {
			return capturedPart{b: m.Value}, nil
		}
		if enc, err = pr.captureEncoder(ctx, ref, isKey); err != nil {
			return capturedPart{}, err
		}
	}
	b, h, err := enc.Encode(decoded, typ)
	return capturedPart{b: b, header: h, encoded: true}, err
}

// finish ends a run whose input was read to its end and whose records
// were all answered: it commits (--atomic) and says what was sent.
func (pr *producer) finish(ctx context.Context) error {
	pr.mu.Lock()
	failed, acked := pr.failed, pr.acked
	pr.mu.Unlock()
	topic := pr.opts.Topic
	if pr.opts.Atomic {
		if failed > 0 {
			if err := pr.p.Abort(ctx); err != nil {
				return err
			}
			return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("%s failed: the transaction was aborted, nothing was sent to %s", english.Plural(failed, "line"), topic)}
		}
		if err := pr.p.Commit(ctx); err != nil {
			return err
		}
		fmt.Fprintf(pr.opts.IO.ErrOut, "Sent %s to %s in one transaction.\n", english.Plural(acked, "record"), topic)
		return nil
	}
	if failed > 0 {
		return &ExitError{Code: ExitNegative, Msg: fmt.Sprintf("%s failed; %s sent to %s", english.Plural(failed, "line"), english.Plural(acked, "record"), topic)}
	}
	fmt.Fprintf(pr.opts.IO.ErrOut, "Sent %s to %s.\n", english.Plural(acked, "record"), topic)
	return nil
}

// abort ends a run that cannot go on: the transaction is aborted, or
// what was acknowledged so far is said.
// stop ends a run at line, which could not be sent (the registry went
// away): what was handed to the producer before it is delivered first,
// so the report counts every record that arrived, and says which lines
// did not.
func (pr *producer) stop(ctx context.Context, err error, line int) error {
	if ctx.Err() != nil {
		return pr.interrupted(ctx)
	}
	if pr.opts.Atomic {
		return pr.abort(ctx, err)
	}
	ferr := pr.p.Flush(ctx)
	if ctx.Err() != nil {
		return pr.interrupted(ctx)
	}
	pr.mu.Lock()
	acked, unknown := pr.acked, pr.sent-pr.acked-pr.failedDeliveries
	pr.mu.Unlock()
	msg := fmt.Sprintf("%s sent to %s before it", english.Plural(acked, "record"), pr.opts.Topic)
	if ferr != nil && unknown > 0 {
		msg += fmt.Sprintf(", %s not acknowledged (%v)", english.Plural(unknown, "more"), ferr)
	}
	return fmt.Errorf("%w (%s; line %d and the lines after it were not sent)", err, msg, line)
}

func (pr *producer) abort(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return pr.interrupted(ctx)
	}
	if pr.opts.Atomic {
		if aerr := pr.p.Abort(ctx); aerr != nil {
			return fmt.Errorf("%w (and %w)", err, aerr)
		}
		return fmt.Errorf("%w; the transaction was aborted, nothing was sent", err)
	}
	pr.mu.Lock()
	acked := pr.acked
	pr.mu.Unlock()
	return fmt.Errorf("%w (%s sent before it)", err, english.Plural(acked, "record"))
}

// interrupted ends a run on Ctrl-C: only acknowledged records count as
// sent; in a transaction, none.
func (pr *producer) interrupted(ctx context.Context) error {
	if pr.opts.Atomic {
		if err := pr.p.Abort(ctx); err != nil {
			fmt.Fprintf(pr.opts.IO.ErrOut, "evctl: interrupted, and %v\n", err)
			return errInterrupted
		}
		fmt.Fprintf(pr.opts.IO.ErrOut, "evctl: interrupted: the transaction was aborted, nothing was sent to %s\n", pr.opts.Topic)
		return errInterrupted
	}
	pr.mu.Lock()
	acked, unknown := pr.acked, pr.sent-pr.acked-pr.failedDeliveries
	pr.mu.Unlock()
	msg := fmt.Sprintf("evctl: interrupted: %s sent to %s", english.Plural(acked, "record"), pr.opts.Topic)
	if unknown > 0 {
		msg += fmt.Sprintf("; %s not acknowledged (they may or may not have arrived)", english.Plural(unknown, "more"))
	}
	fmt.Fprintln(pr.opts.IO.ErrOut, msg)
	return errInterrupted
}
