package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/tui"
)

// BrowseOptions are `evctl browse`'s inputs.
type BrowseOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)
	Now      func() time.Time

	Topics      []string
	Partitions  []int32
	From        string
	Follow      bool
	Filter      string
	PageSize    int
	FollowEvery time.Duration
	KeySchema   string
	ValueSchema string
	ValueProto  schema.LocalSchema // --value-proto or --descriptor-set, with --message
	KeyProto    schema.LocalSchema // --key-proto or --key-descriptor-set, with --key-message
	AvroJSON    bool
	Projection  string
	Columns     string
}

// NewCmdBrowse is `evctl browse`.
func NewCmdBrowse(f *Factory, runF func(context.Context, *BrowseOptions) error) *cobra.Command {
	opts := &BrowseOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now}
	var proto protoFlags
	cmd := &cobra.Command{
		Use:     "browse [topic]... [flags]",
		Aliases: []string{"ui"},
		Short:   "Explore topics, records and aggregates in an interactive terminal UI",
		Long: `Explore topics, records and aggregate histories interactively, decoded
as tail decodes them: registry framing first, then the local schemas
--key-schema/--value-schema (Avro), --value-proto/--descriptor-set and
--key-proto/--key-descriptor-set (Protobuf, with --message/--key-message).

Without a topic, browse opens the topic list: name, partitions, records,
cleanup policy and key/value subjects; / finds topics as you type, enter
opens one, t comes back to the list.

A topic opens at its latest records, merged by timestamp across
partitions, or at --from (tail's positions: start, 1234, -100, @-1h,
@2026-11-19T10:00:00Z), and loads a page at a time as you scroll, in
either direction: a topic of any size opens at once. The list's value
column shows first the fields that tell the loaded records apart; those
all of them have with one shape (an event id, the aggregate id, a
timestamp) go last. --columns (or c) shows the values of jq expressions
instead, comma-separated as jq's comma: '.value.amount, .value.reason'.

Enter shows the selected record's details: where it is, its timestamp,
key, type, schemas (id or GUID, subject, version) and headers, and the
value as indented JSON; x shows the exact key and value bytes instead, as
hexdump -C does.

/ filters with a jq expression over the same object tail's --filter sees.
The list then holds only the matches: the filter reads on through the
topic until the screen is full of them, showing how much it has read;
esc stops it, and moving past the last match reads on.

a opens the selected record's aggregate timeline: every event of its key
in order, with time, offset and type, read only from the partitions the
key can be on, as evctl history reads them. With --projection (a spec,
docs/projections.md) the state after the selected event is beside it, the
fields that event changed marked and named as evctl diff names them; the
arrows step through the versions and : goes to a version or a time.

w writes to a capture file (docs/capture-format.md, with the raw bytes:
replay --from-file sends it again byte for byte): the selected record, or
everything the filter found, or the timeline's events. : goes to a
position; p shows only some partitions (-p at the start); f follows new
records.

Keys:
  ↑/k ↓/j           move              pgup/b pgdn/space  page
  g/home G/end      first/last record :                  go to a position
  enter             details           J/K                scroll details
  x                 bytes as hex      w                  write to a file
  /                 jq filter         a                  aggregate timeline
  p                 partitions        c                  columns (jq)
  f                 follow            t                  topic list
  esc               close details, stop a filter's scan, cancel a prompt
  ?                 all keys          q                  quit
  ctrl+c            interrupt (exit status 130)
Timeline:
  ↑/← ↓/→           previous/next version
  g G               first/last version
  :                 go to a version (3) or a time (@2026-11-19T10:00:00Z)
  esc               back to the records

browse needs a terminal; for pipes and scripts use evctl tail, history and
topics. Like tail, it never joins a consumer group and never commits
offsets.`,
		Example: `  $ evctl browse
  $ evctl browse bank.account-events
  $ evctl browse bank.account-events --projection testdata/projections/account-balance.yaml
  $ evctl browse bank.account-events --from start --filter '.key == "acct-0042"'
  $ evctl browse bank.account-events --from @2026-11-19T10:00:00Z
  $ evctl browse bank.account-events -f`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topics = args
			var err error
			if opts.ValueProto, err = proto.valueSchema(); err != nil {
				return err
			}
			if opts.KeyProto, err = proto.keySchema(); err != nil {
				return err
			}
			if opts.PageSize < 1 {
				return flagErrorf("--page-size takes a count of one or more")
			}
			if opts.From != "" && opts.Follow {
				return flagErrorf("--from and --follow exclude each other")
			}
			if len(args) == 0 && len(opts.Partitions) > 0 {
				return flagErrorf("--partition needs a topic: browse <topic> -p N")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return browseRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.From, "from", "", "open at this `position` (default: the latest records)")
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "load new records as they arrive")
	fl.Int32SliceVarP(&opts.Partitions, "partition", "p", nil, "browse only these partitions (repeatable, comma-separated)")
	fl.StringVar(&opts.Filter, "filter", "", "show only records for which this jq `expression` is truthy")
	fl.IntVar(&opts.PageSize, "page-size", 200, "records per partition a page load reads")
	fl.DurationVar(&opts.FollowEvery, "follow-every", time.Second, "how often --follow looks for new records")
	fl.StringVar(&opts.KeySchema, "key-schema", "", "Avro schema `file` (.avsc) for keys without registry framing")
	fl.StringVar(&opts.ValueSchema, "value-schema", "", "Avro schema `file` (.avsc) for values without registry framing")
	proto.add(cmd, "decode")
	fl.BoolVar(&opts.AvroJSON, "avro-json", false, "show Avro in Avro's JSON encoding (union branches wrapped)")
	fl.StringVar(&opts.Columns, "columns", "", "show these jq `expressions`' values (comma-separated: '.value.amount, .value.reason') instead of the value")
	fl.StringVar(&opts.Projection, "projection", "", "fold a timeline's events with this projection spec `file`, to show each state")
	return cmd
}

func browseRun(ctx context.Context, opts *BrowseOptions) error {
	if _, err := compileFilter(opts.Filter); err != nil {
		return err
	}
	if _, err := tui.ParseColumns(opts.Columns); err != nil {
		return &FlagError{err: fmt.Errorf("--%w", err)}
	}
	var from position.Position
	if opts.From != "" {
		var err error
		if from, err = position.Parse(opts.From, opts.Now()); err != nil {
			return &FlagError{err: fmt.Errorf("--from: %w", err)}
		}
	}
	var proj *replay.Projection
	if opts.Projection != "" {
		var err error
		if proj, err = replay.LoadProjection(opts.Projection); err != nil {
			return err
		}
	}
	// Raw: the details show the exact bytes (x), and a record written to
	// a file (w) replays byte for byte.
	dec, err := newDecoder(opts.Registry, schema.DecoderOptions{KeySchema: opts.KeySchema, ValueSchema: opts.ValueSchema, ValueProto: opts.ValueProto, KeyProto: opts.KeyProto, AvroJSON: opts.AvroJSON, Raw: true})
	if err != nil {
		return err
	}
	if !opts.IO.IsStdinTTY() || !opts.IO.IsStdoutTTY() {
		if len(opts.Topics) == 0 {
			return flagErrorf("browse needs a terminal; use evctl topics to list the topics")
		}
		return flagErrorf("browse needs a terminal; use evctl tail %s to print records", strings.Join(opts.Topics, " "))
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	cat := &kafkaCatalog{cfg: cfg, dec: dec, registry: opts.Registry, proj: proj}
	defer cat.Close()
	o := tui.Options{From: from, Now: opts.Now, Follow: opts.Follow, Filter: opts.Filter, Columns: opts.Columns, PageSize: opts.PageSize, FollowEvery: opts.FollowEvery}
	if len(opts.Topics) == 0 {
		// The list is read before the screen changes: a broker that is
		// down reads as any other command's error.
		if _, err := cat.Topics(ctx); err != nil {
			return err
		}
		o.Catalog = cat
	} else {
		src, err := cat.open(opts.Topics, opts.Partitions)
		if err != nil {
			return err
		}
		// The first page is loaded before the screen changes: an unknown
		// topic or a broker that is down reads as any other command's error.
		if _, err := src.Bounds(ctx); err != nil {
			return err
		}
		o.Source, o.Title = src, strings.Join(opts.Topics, ", ")
		if len(opts.Topics) == 1 && len(opts.Partitions) == 0 {
			o.Catalog = cat // t: the other topics
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	styles := tui.DefaultStyles()
	if !opts.IO.ColorEnabled() {
		styles = tui.PlainStyles()
	}
	o.Context, o.Styles = ctx, &styles
	m := tui.New(o)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(opts.IO.In), tea.WithOutput(opts.IO.Out))
	if _, err := p.Run(); err != nil {
		// A SIGINT from outside, or the command's context ending: as
		// Ctrl-C ends tail.
		if errors.Is(err, tea.ErrInterrupted) || errors.Is(err, tea.ErrProgramKilled) {
			return errInterrupted
		}
		return err
	}
	return m.Err()
}

// kafkaCatalog is the topic list of `evctl browse`: the cluster's topics,
// each opened as a kafkaBrowseSource it closes at the end.
type kafkaCatalog struct {
	cfg      kafka.Config
	dec      *schema.Decoder
	registry func() (*schema.RegistryClient, error)
	proj     *replay.Projection

	mu     sync.Mutex
	admin  *kafka.Admin
	opened []*kafkaBrowseSource
}

var _ tui.Catalog = (*kafkaCatalog)(nil)

// Topics lists the topics but the internal ones, with their subjects; a
// registry that is down costs the subject columns, not the list.
func (c *kafkaCatalog) Topics(ctx context.Context) ([]tui.Topic, error) {
	c.mu.Lock()
	if c.admin == nil {
		admin, err := kafka.NewAdmin(c.cfg)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.admin = admin
	}
	admin := c.admin
	c.mu.Unlock()
	infos, err := admin.Topics(ctx, "")
	if err != nil {
		return nil, err
	}
	var subjects []string
	if reg, err := c.registry(); err == nil && reg != nil {
		subjects, _ = reg.Subjects(ctx)
	}
	var out []tui.Topic
	for _, v := range topicViews(infos, subjects, false) {
		out = append(out, tui.Topic{Name: v.Name, Partitions: v.Partitions, Records: v.Records, CleanupPolicy: v.CleanupPolicy, KeySubject: v.KeySubject, ValueSubject: v.ValueSubject})
	}
	return out, nil
}

// Open returns a source over one topic.
func (c *kafkaCatalog) Open(ctx context.Context, topic string) (tui.Source, error) {
	src, err := c.open([]string{topic}, nil)
	if err != nil {
		return nil, err
	}
	if _, err := src.Bounds(ctx); err != nil {
		return nil, err
	}
	return src, nil
}

func (c *kafkaCatalog) open(topics []string, partitions []int32) (*kafkaBrowseSource, error) {
	src, err := newKafkaBrowseSource(c.cfg, topics, partitions, c.dec)
	if err != nil {
		return nil, err
	}
	src.proj = c.proj
	c.mu.Lock()
	c.opened = append(c.opened, src)
	c.mu.Unlock()
	return src, nil
}

// Close closes every source opened.
func (c *kafkaCatalog) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.opened {
		s.Close()
	}
	if c.admin != nil {
		c.admin.Close()
	}
}

// kafkaBrowseSource is the tui.Source of `evctl browse`: partitions of
// topics on a cluster, decoded. Safe for concurrent use: pages, follow
// and scans take turns on its one reader, and the admin client and
// decoder are safe to share.
type kafkaBrowseSource struct {
	cfg        kafka.Config
	topics     []string
	partitions []int32 // nil: all
	dec        *schema.Decoder
	admin      *kafka.Admin
	reader     *kafka.RangeReader
	proj       *replay.Projection // folds timelines; nil: none
}

var _ tui.Source = (*kafkaBrowseSource)(nil)

// newKafkaBrowseSource returns a source over partitions (nil: all) of
// topics; Close releases it. It does not touch the network.
func newKafkaBrowseSource(cfg kafka.Config, topics []string, partitions []int32, dec *schema.Decoder) (*kafkaBrowseSource, error) {
	if len(topics) == 0 {
		return nil, errors.New("no topic to browse")
	}
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return nil, err
	}
	reader, err := kafka.NewRangeReader(cfg)
	if err != nil {
		admin.Close()
		return nil, err
	}
	return &kafkaBrowseSource{
		cfg:        cfg,
		topics:     slices.Compact(slices.Sorted(slices.Values(topics))),
		partitions: slices.Clone(partitions),
		dec:        dec,
		admin:      admin,
		reader:     reader,
	}, nil
}

// Close releases the admin client and the reader.
func (s *kafkaBrowseSource) Close() {
	s.reader.Close()
	s.admin.Close()
}

// Bounds returns the watermarks of every browsed partition, by topic then
// partition.
func (s *kafkaBrowseSource) Bounds(ctx context.Context) ([]tui.Bounds, error) {
	marks, err := s.admin.Watermarks(ctx, s.topics)
	if err != nil {
		return nil, err
	}
	out := make([]tui.Bounds, 0, len(marks))
	for tp, w := range marks {
		if s.partitions != nil && !slices.Contains(s.partitions, tp.Partition) {
			continue
		}
		out = append(out, tui.Bounds{Partition: tui.Partition{Topic: tp.Topic, Partition: tp.Partition}, Low: w.Low, End: w.End})
	}
	// A partition asked for but missing would otherwise just not show.
	for _, topic := range s.topics {
		for _, p := range s.partitions {
			if _, ok := marks[kafka.TopicPartition{Topic: topic, Partition: p}]; !ok {
				return nil, fmt.Errorf("topic %q has no partition %d", topic, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b tui.Bounds) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition.Partition, b.Partition.Partition))
	})
	return out, nil
}

// Read reads the ranges through the session's one reader: ranges of one
// partition are read as one span, then trimmed to them.
func (s *kafkaBrowseSource) Read(ctx context.Context, ranges []tui.Range) (map[tui.Partition][]*record.Record, error) {
	out := map[tui.Partition][]*record.Record{}
	spans := map[tui.Partition]int{} // index in reads
	var reads []kafka.OffsetRange
	for _, rg := range ranges {
		if !slices.Contains(s.topics, rg.Topic) || s.partitions != nil && !slices.Contains(s.partitions, rg.Partition.Partition) {
			return nil, fmt.Errorf("%s[%d] is not browsed", rg.Topic, rg.Partition.Partition)
		}
		if rg.From >= rg.To {
			continue
		}
		if i, ok := spans[rg.Partition]; ok {
			reads[i].From, reads[i].To = min(reads[i].From, rg.From), max(reads[i].To, rg.To)
			continue
		}
		spans[rg.Partition] = len(reads)
		reads = append(reads, kafka.OffsetRange{Topic: rg.Topic, Partition: rg.Partition.Partition, From: rg.From, To: rg.To})
	}
	err := s.reader.Read(ctx, reads, func(m *record.Message) error {
		p := tui.Partition{Topic: m.Topic, Partition: m.Partition}
		if inRanges(ranges, p, m.Offset) { // else between two ranges of its partition
			out[p] = append(out[p], s.dec.Decode(ctx, m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// OffsetsForTime returns each browsed partition's offset of its first
// record at or after t, -1 when it has none.
func (s *kafkaBrowseSource) OffsetsForTime(ctx context.Context, t time.Time) (map[tui.Partition]int64, error) {
	at, err := s.admin.OffsetsForTime(ctx, s.topics, t)
	if err != nil {
		return nil, err
	}
	out := make(map[tui.Partition]int64, len(at))
	for tp, off := range at {
		if s.partitions == nil || slices.Contains(s.partitions, tp.Partition) {
			out[tui.Partition{Topic: tp.Topic, Partition: tp.Partition}] = off
		}
	}
	return out, nil
}

// Aggregate reads the history of r's aggregate as evctl history does: the
// records of its key, from the partitions the key can be on (every one
// with the projection's id: expression, or without the key's bytes),
// folded with the projection when there is one.
func (s *kafkaBrowseSource) Aggregate(ctx context.Context, r *record.Record) (*tui.Aggregate, error) {
	id, byID := record.KeyText(r.Key, r.KeyEncoding)
	var idExpr *filter.Expr
	var err error
	if s.proj != nil && strings.TrimSpace(s.proj.IDExpr()) != "" && strings.TrimSpace(s.proj.IDExpr()) != ".key" {
		if idExpr, err = filter.CompileExpr(s.proj.IDExpr()); err != nil {
			return nil, fmt.Errorf("the spec's id: %w", err)
		}
		if id, err = idExpr.Text(ctx, r); err != nil {
			return nil, fmt.Errorf("the spec's id: on %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
	} else if !byID {
		return nil, errors.New("the record has no key: its aggregate is not known")
	}
	var partitions []int32
	if key, ok := keyBytes(r); idExpr == nil && ok {
		desc, err := s.admin.DescribeTopic(ctx, r.Topic)
		if err != nil {
			return nil, err
		}
		// The record's own bytes say where the producers put its key: the
		// partitions the usual partitioners give them, and its own.
		partitions = append(partition.KeyPartitions(key, desc.Partitions, partition.DefaultHistory...), r.Partition)
		slices.Sort(partitions)
		partitions = slices.Compact(partitions)
	}
	events, err := s.readAggregate(ctx, r.Topic, partitions, id, idExpr)
	if err != nil {
		return nil, err
	}
	a := &tui.Aggregate{ID: id, Topic: r.Topic, Partitions: partitions, Events: events}
	if err := foldAggregate(ctx, s.proj, a); err != nil {
		return nil, err
	}
	return a, nil
}

// readAggregate reads the aggregate's partitions each on a reader of its
// own, at once: the timeline waits for the slowest partition, not for
// their sum. In the order readAggregate gives, one partition's events in
// offset order, the others by time.
func (s *kafkaBrowseSource) readAggregate(ctx context.Context, topic string, partitions []int32, id string, idExpr *filter.Expr) ([]*record.Record, error) {
	if len(partitions) < 2 {
		return readAggregate(ctx, s.cfg, s.dec, topic, partitions, id, idExpr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	found := make([][]*record.Record, len(partitions))
	errs := make([]error, len(partitions))
	var wg sync.WaitGroup
	for i, p := range partitions {
		wg.Go(func() {
			found[i], errs[i] = readAggregate(ctx, s.cfg, s.dec, topic, []int32{p}, id, idExpr)
			if errs[i] != nil {
				cancel() // the others' work is lost anyway
			}
		})
	}
	wg.Wait()
	// The error that stopped the others, not their cancellation.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	events := slices.Concat(found...)
	sortAggregate(events)
	return events, nil
}

// keyBytes are the bytes the producer sent as r's key, where r has them
// or they follow from the decoded key (text, JSON), as Message rebuilds
// them.
func keyBytes(r *record.Record) ([]byte, bool) {
	k := record.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, RawKey: r.RawKey,
		KeyEncoding: r.KeyEncoding, ValueEncoding: record.EncodingNull}
	m, err := k.Message()
	if err != nil {
		return nil, false
	}
	return m.Key, true
}

// foldAggregate gives a timeline each event's version and, with a
// projection, the state after it; an event the spec ignores leaves the
// state as it was.
func foldAggregate(ctx context.Context, proj *replay.Projection, a *tui.Aggregate) error {
	var version *filter.Expr
	if proj != nil && proj.VersionExpr() != "" {
		var err error
		if version, err = filter.CompileExpr(proj.VersionExpr()); err != nil {
			return fmt.Errorf("the spec's version: %w", err)
		}
	}
	var fold *replay.Fold
	if proj != nil {
		fold = proj.NewFold()
		a.States = make([]json.RawMessage, 0, len(a.Events))
	}
	var state any
	for i, r := range a.Events {
		v := int64(i + 1)
		if version != nil {
			v = -1
			if x, ok, err := version.Eval(ctx, r); err == nil && ok && x != nil {
				if n, valid := replay.EventVersion(x); valid {
					v = n
				}
			}
		}
		a.Versions = append(a.Versions, v)
		if fold == nil {
			continue
		}
		ch, err := fold.Apply(ctx, r)
		if err != nil {
			return err
		}
		if !ch.Skipped {
			state = ch.Value()
		}
		b, err := gojq.Marshal(state)
		if err != nil {
			return err
		}
		a.States = append(a.States, b)
	}
	return nil
}

// inRanges reports whether a range of ranges holds offset off of p.
func inRanges(ranges []tui.Range, p tui.Partition, off int64) bool {
	return slices.ContainsFunc(ranges, func(rg tui.Range) bool {
		return rg.Partition == p && rg.From <= off && off < rg.To
	})
}
