package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
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
	AvroJSON    bool
}

// NewCmdBrowse is `evctl browse`.
func NewCmdBrowse(f *Factory, runF func(context.Context, *BrowseOptions) error) *cobra.Command {
	opts := &BrowseOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "browse <topic>... [flags]",
		Aliases: []string{"ui"},
		Short:   "Browse a topic's records in an interactive terminal UI",
		Long: `Browse records interactively, decoded as tail decodes them.

browse opens at the latest records of the topics, merged by timestamp, or
at --from (tail's positions: start, 1234, -100, @-1h, @2026-11-19T10:00:00Z),
and loads a page at a time as you scroll, in either direction: a topic of
any size opens at once. Enter shows the selected record's details: where
it is, its timestamp, key, type, schemas (id or GUID, subject, version)
and headers, and the value as indented JSON; x shows the exact key and
value bytes instead, as hexdump -C does; w writes the record to a capture
file (docs/capture-format.md, with the raw bytes: replay --from-file
sends it again byte for byte). / filters with a jq expression over the
same object tail's --filter sees (it applies to what is loaded, and loads
on until it finds a match); : goes to a position; f follows new records.
The list's value column shows first the fields that tell the loaded
records apart; those all of them have with one shape (an event id, the
aggregate id, a timestamp) go last.

Keys:
  ↑/k ↓/j           move              pgup/b pgdn/space  page
  g/home G/end      first/last record :                  go to a position
  enter             details           J/K                scroll details
  x                 bytes as hex      w                  write the record to a file
  /                 jq filter         a                  only this key's records
  f                 follow            ?                  all keys
  esc               close details, cancel a prompt
  q                 quit              ctrl+c             interrupt (exit status 130)

browse needs a terminal; for pipes and scripts use evctl tail. Like tail,
it never joins a consumer group and never commits offsets.`,
		Example: `  $ evctl browse bank.account-events
  $ evctl browse bank.account-events --from start --filter '.key == "acct-0042"'
  $ evctl browse bank.account-events --from @2026-11-19T10:00:00Z
  $ evctl browse bank.account-events -f`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topics = args
			if opts.PageSize < 1 {
				return flagErrorf("--page-size takes a count of one or more")
			}
			if opts.From != "" && opts.Follow {
				return flagErrorf("--from and --follow exclude each other")
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
	fl.BoolVar(&opts.AvroJSON, "avro-json", false, "show Avro in Avro's JSON encoding (union branches wrapped)")
	return cmd
}

func browseRun(ctx context.Context, opts *BrowseOptions) error {
	if _, err := compileFilter(opts.Filter); err != nil {
		return err
	}
	var from position.Position
	if opts.From != "" {
		var err error
		if from, err = position.Parse(opts.From, opts.Now()); err != nil {
			return &FlagError{err: fmt.Errorf("--from: %w", err)}
		}
	}
	if !opts.IO.IsStdinTTY() || !opts.IO.IsStdoutTTY() {
		return flagErrorf("browse needs a terminal; use evctl tail %s to print records", strings.Join(opts.Topics, " "))
	}
	cfg, err := opts.Kafka()
	if err != nil {
		return err
	}
	// Raw: the details show the exact bytes (x), and a record written to
	// a file (w) replays byte for byte.
	dec, err := newDecoder(opts.Registry, schema.DecoderOptions{KeySchema: opts.KeySchema, ValueSchema: opts.ValueSchema, AvroJSON: opts.AvroJSON, Raw: true})
	if err != nil {
		return err
	}
	src, err := newKafkaBrowseSource(cfg, opts.Topics, opts.Partitions, dec)
	if err != nil {
		return err
	}
	defer src.Close()
	// The first page is loaded before the screen changes: an unknown topic
	// or a broker that is down reads as any other command's error.
	if _, err := src.Bounds(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	styles := tui.DefaultStyles()
	if !opts.IO.ColorEnabled() {
		styles = tui.PlainStyles()
	}
	m := tui.New(tui.Options{
		Context: ctx, Source: src, Title: strings.Join(opts.Topics, ", "),
		From: from, Now: opts.Now, Follow: opts.Follow, Filter: opts.Filter,
		PageSize: opts.PageSize, FollowEvery: opts.FollowEvery, Styles: &styles,
	})
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

// kafkaBrowseSource is the tui.Source of `evctl browse`: partitions of
// topics on a cluster, decoded. Safe for concurrent use: each Read opens
// its own reader, and the admin client and decoder are safe to share.
type kafkaBrowseSource struct {
	cfg        kafka.Config
	topics     []string
	partitions []int32 // nil: all
	dec        *schema.Decoder
	admin      *kafka.Admin
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
	return &kafkaBrowseSource{
		cfg:        cfg,
		topics:     slices.Compact(slices.Sorted(slices.Values(topics))),
		partitions: slices.Clone(partitions),
		dec:        dec,
		admin:      admin,
	}, nil
}

// Close releases the admin client.
func (s *kafkaBrowseSource) Close() { s.admin.Close() }

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

// Read reads the ranges with one reader: every partition starts and stops
// at its end unless a range names it, so that only the ranges are fetched.
// Ranges of one partition are read as one span, then trimmed to them.
func (s *kafkaBrowseSource) Read(ctx context.Context, ranges []tui.Range) (map[tui.Partition][]*record.Record, error) {
	out := map[tui.Partition][]*record.Record{}
	start := map[kafka.TopicPartition]int64{}
	stop := map[kafka.TopicPartition]int64{}
	var topics []string
	for _, rg := range ranges {
		if !slices.Contains(s.topics, rg.Topic) || s.partitions != nil && !slices.Contains(s.partitions, rg.Partition.Partition) {
			return nil, fmt.Errorf("%s[%d] is not browsed", rg.Topic, rg.Partition.Partition)
		}
		if rg.From >= rg.To {
			continue
		}
		tp := kafka.TopicPartition{Topic: rg.Topic, Partition: rg.Partition.Partition}
		if from, ok := start[tp]; ok {
			start[tp], stop[tp] = min(from, rg.From), max(stop[tp], rg.To)
		} else {
			start[tp], stop[tp] = rg.From, rg.To
		}
		if !slices.Contains(topics, rg.Topic) {
			topics = append(topics, rg.Topic)
		}
	}
	if len(start) == 0 {
		return out, nil
	}

	r, err := kafka.NewReader(ctx, s.cfg, kafka.ReadOptions{
		Topics:       topics,
		Partitions:   s.partitions,
		From:         position.EndPos,
		To:           position.EndPos,
		StartOffsets: start,
		StopOffsets:  stop,
	})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for {
		m, err := r.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p := tui.Partition{Topic: m.Topic, Partition: m.Partition}
		if !inRanges(ranges, p, m.Offset) {
			continue // between two ranges of its partition
		}
		out[p] = append(out[p], s.dec.Decode(ctx, m))
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

// inRanges reports whether a range of ranges holds offset off of p.
func inRanges(ranges []tui.Range, p tui.Partition, off int64) bool {
	return slices.ContainsFunc(ranges, func(rg tui.Range) bool {
		return rg.Partition == p && rg.From <= off && off < rg.To
	})
}
