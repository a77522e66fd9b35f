package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/stream"
)

// ReplayOptions are `evctl replay`'s inputs.
type ReplayOptions struct {
	IO       *iostreams.IOStreams
	Kafka    func() (kafka.Config, error)
	Registry func() (*schema.RegistryClient, error)
	Now      func() time.Time
	Getenv   func(string) string

	Topics   []string
	FromFile string
	ToTopic  string
	ToFile   string

	From, To   string
	Keys       []string
	KeysFrom   string
	Types      []string
	Filter     string
	Projection string
	Emit       string // final or changes
	OnError    string // fail or skip

	Create     bool
	Partitions int
	Configs    []string
	Append     bool
	Group      string
	Resume     bool

	Timestamps  string // original or now
	DropHeaders []string
	SetHeaders  []string
	Provenance  bool
	ByKey       bool
	Raw         bool
	DryRun      bool
	Output      string // of --dry-run: text or json
	Rate        string
	Pace        string
	CheckpointN int
	// checkpointNSet: --checkpoint-every was given (a rebuild into a
	// topic checkpoints by time unless it is).
	checkpointNSet bool
	NoProgress     bool
	rate, pace     float64
	keySet         map[string]bool
	setHeaderRaw   []record.RawHeader
	types          stream.TypesSeen // for the note on a --type that matched nothing
}

// NewCmdReplay is `evctl replay`.
func NewCmdReplay(f *Factory, runF func(context.Context, *ReplayOptions) error) *cobra.Command {
	opts := &ReplayOptions{IO: f.IOStreams, Kafka: f.Kafka, Registry: f.Registry, Now: f.Now, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "replay <topic>... {--to-topic <topic> | --to-file <file> | --projection <spec>} [flags]",
		Short: "Replay events into a fresh topic, a capture file or a projection",
		Long: `Replay the records of one or more topics (or of a capture file, with
--from-file) into a topic, a capture file, or a projection.

Into a topic (--to-topic) the copy is faithful and exactly once: the same
key and value bytes (schema ids kept), headers, timestamps, and the same
partition number when the partition counts match (else by key, so every
aggregate keeps its order). It runs in Kafka transactions that commit the
source progress of a consumer group (--group, by default derived from the
source and destination) with the records. Kill it at any moment and run
it again with --resume: a read_committed reader of the destination sees
every selected record exactly once, in source order per partition.
Several processes with the same --group split the source partitions
between them. Ctrl-C stops at a transaction boundary. Brokers that go
away stop it within about --timeout; the summary then counts only the
committed records, and --resume continues from them.

The destination must exist (--create makes it with the source's partition
count and configs; --partitions and --config change them); a destination
that already holds records needs --append, so nobody replays twice into
one topic by mistake. A topic never replays into itself. Records as
large as the destination's max.message.bytes replay (--create copies the
source's, or from a capture sizes it to the largest record; librdkafka's
own limit is 1 MB); -X message.max.bytes=N sets it by hand, and the fetch
limits follow. A capture record the destination cannot take fails the
replay before anything is written, its line named.

Selection: --from/--to positions (as tail), --key (repeatable) or
--keys-from FILE (one key per line), --type (event types, full or short
names; one that matches nothing is named on stderr with the types read),
--filter (jq over the decoded record). Changes on the way:
--timestamps now, --drop-header, --set-header k=v, --provenance (adds
evctl-source-topic/-partition/-offset headers), --by-key.

--to-file writes the capture format (--raw: byte-exact, replayable with
--from-file). --from-file reads the whole capture before it creates or
writes anything, so a bad line replays nothing and is named; lines
written by hand ({"key":"k1","value":{...}}, no encodings) are JSON.

--projection folds every aggregate's events with a spec
(docs/projections.md) and writes one record per aggregate — key the id,
value the state as JSON, a tombstone when the state is null, timestamp
the last folded event's — to --to-topic (created compacted), --to-file,
or stdout; --emit changes writes every intermediate state instead (into a
topic --create makes with cleanup.policy=delete, so compaction keeps the
history of changes). To a file or stdout changes are read one partition
after another: identical runs write the same changes in the same order.
A record the projection fails on stops the replay, naming it; of several,
the one first by topic, partition and offset (into a topic, of the
member's partitions, which it reads one after another), so identical
runs report the same.
Into a topic a rebuild is a member of --group, as a copy is: each member
folds the aggregates of its source partitions and writes their changed
states, at each checkpoint, to the destination partition of the same
number, in the transactions that commit its offsets; a member taking
partitions over first restores their states from there. It reads one
topic into an empty one with as many partitions.
--on-error skip skips the events a handler fails on; the summary names the
first five, with why, and counts the rest. Notes name the event types a
spec's ignore-unknown skipped, and why a rebuild built no aggregate; a
warning names the aggregates whose events were on more than one
partition (nothing orders them, so their state is not defined).

--dry-run counts what would be replayed, per partition and per type
(records of no known type under "-", as tail shows them; -o json:
{"records", "read", "filteredOut", "byPartition", "byType"}).
A replay into a topic leaves its consumer group behind, holding its
progress for --resume, and says so at the end. --emit goes with
--projection.
--rate N/s caps the throughput; --pace original|Nx keeps the original
spacing between events. A progress line runs on stderr when it is a
terminal; a summary ends every run.`,
		Example: `  $ evctl replay bank.account-events --to-topic bank.account-events.v2 --create
  $ evctl replay bank.account-events --from @-7d --type MoneyWithdrawn --to-file withdrawals.jsonl --raw
  $ evctl replay --from-file withdrawals.jsonl --to-topic staging.account-events --create
  $ evctl replay bank.account-events --projection testdata/projections/account-balance.yaml --to-topic bank.account-balances.rebuilt --create
  $ evctl replay bank.account-events --to-topic bank.account-events.v2 --group rebuild-2026-11 --resume
  $ evctl replay bank.account-events --type AccountClosed --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && opts.FromFile == "" {
				return flagErrorf("name a source: one or more topics, or --from-file")
			}
			if len(args) > 0 && opts.FromFile != "" {
				return flagErrorf("topics and --from-file exclude each other")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Topics = args
			opts.checkpointNSet = cmd.Flags().Changed("checkpoint-every")
			if cmd.Flags().Changed("emit") && opts.Projection == "" {
				return flagErrorf("--emit goes with --projection: it says which states a projection writes")
			}
			if opts.Output == "json" && !opts.DryRun {
				return flagErrorf("-o json goes with --dry-run: a replay's output is its destination")
			}
			if err := validateReplay(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return replayRun(cmd.Context(), opts)
		},
		ValidArgsFunction: completeTopics(f),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.FromFile, "from-file", "", "replay a capture `file` (JSON lines; - for stdin) instead of topics")
	fl.StringVar(&opts.ToTopic, "to-topic", "", "destination `topic`")
	fl.StringVar(&opts.ToFile, "to-file", "", "destination capture `file` (- for stdout)")
	fl.StringVar(&opts.From, "from", "", "start `position` (default: start)")
	fl.StringVar(&opts.To, "to", "", "stop `position`, exclusive (default: the end when replay starts)")
	fl.StringArrayVarP(&opts.Keys, "key", "k", nil, "only this key, as tail prints it (repeatable; a null key never matches)")
	fl.StringVar(&opts.KeysFrom, "keys-from", "", "only the keys listed in this `file`, one per line")
	fl.StringSliceVarP(&opts.Types, "type", "t", nil, "only these event types (full or short name)")
	fl.StringVar(&opts.Filter, "filter", "", "only records for which this jq `expression` is truthy")
	fl.StringVar(&opts.Projection, "projection", "", "fold aggregates with this projection spec `file`")
	stringEnumFlag(cmd, &opts.Emit, "emit", "", "final", []string{"final", "changes"}, "with --projection")
	stringEnumFlag(cmd, &opts.OnError, "on-error", "", "fail", []string{"fail", "skip"}, "with --projection, when a handler fails")
	fl.BoolVar(&opts.Create, "create", false, "create the destination topic")
	fl.IntVar(&opts.Partitions, "partitions", 0, "with --create: partition count (default: the source's)")
	fl.StringArrayVar(&opts.Configs, "config", nil, "with --create: topic config `key=value` (repeatable)")
	fl.BoolVar(&opts.Append, "append", false, "allow a destination topic that already has records")
	fl.StringVar(&opts.Group, "group", "", "consumer group that records progress (default: evctl-replay.<source>.to.<destination>)")
	fl.BoolVar(&opts.Resume, "resume", false, "continue a stopped replay of this --group into its destination")
	stringEnumFlag(cmd, &opts.Timestamps, "timestamps", "", "original", []string{"original", "now"}, "record timestamps")
	fl.StringArrayVar(&opts.DropHeaders, "drop-header", nil, "remove this header `key` (repeatable)")
	fl.StringArrayVar(&opts.SetHeaders, "set-header", nil, "set header `key=value` (repeatable)")
	fl.BoolVar(&opts.Provenance, "provenance", false, "add the source topic, partition and offset as headers")
	fl.BoolVar(&opts.ByKey, "by-key", false, "partition by key even when the partition counts match")
	fl.BoolVar(&opts.Raw, "raw", false, "with --to-file: keep the exact key and value bytes")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "count what would be replayed; write nothing")
	stringEnumFlag(cmd, &opts.Output, "output", "o", "text", []string{"text", "json"}, "with --dry-run: output format")
	fl.StringVar(&opts.Rate, "rate", "", "cap throughput at N records per second (`N/s`)")
	fl.StringVar(&opts.Pace, "pace", "", "keep the original spacing between events: {original|Nx}")
	_ = cmd.RegisterFlagCompletionFunc("pace", cobra.FixedCompletions([]string{"original", "2x", "10x"}, cobra.ShellCompDirectiveNoFileComp))
	fl.IntVar(&opts.CheckpointN, "checkpoint-every", 20000, "commit a transaction every N source records (a rebuild into a topic: every 30 s, unless given)")
	fl.BoolVar(&opts.NoProgress, "no-progress", false, "no progress line, even on a terminal")
	return cmd
}

func validateReplay(o *ReplayOptions) error {
	dests := 0
	for _, d := range []string{o.ToTopic, o.ToFile} {
		if d != "" {
			dests++
		}
	}
	switch {
	case dests > 1:
		return flagErrorf("--to-topic and --to-file exclude each other")
	case dests == 0 && o.Projection == "" && !o.DryRun:
		return flagErrorf("say where to replay: --to-topic, --to-file, --projection or --dry-run")
	case o.Resume && o.FromFile != "":
		return flagErrorf("--resume continues a replay from topics; a file replays whole")
	case (o.Create || o.Partitions > 0 || len(o.Configs) > 0) && o.ToTopic == "":
		return flagErrorf("--create, --partitions and --config go with --to-topic")
	case o.Projection != "" && o.ToTopic != "" && (o.Append || o.ByKey || o.Partitions > 0 || len(o.Topics) > 1):
		// A rebuild restores its states from the destination, partition by
		// partition: the destination holds only its own, numbered as the source.
		return flagErrorf("--append, --by-key, --partitions and several source topics do not go with --projection into a topic: a rebuild writes each source partition's states to the destination partition of its number, an empty topic it restores from; rebuild into a file instead")
	case o.Raw && o.ToFile == "":
		return flagErrorf("--raw goes with --to-file")
	case o.ToTopic != "" && slices.Contains(o.Topics, o.ToTopic):
		// Even with --append: the copy would read its own writes, and an
		// event log that holds every event twice is not one to undo.
		return flagErrorf("cannot replay %s into itself; name another --to-topic", o.ToTopic)
	}
	if o.Rate != "" {
		n, err := strconv.ParseFloat(strings.TrimSuffix(o.Rate, "/s"), 64)
		if err != nil || n <= 0 {
			return flagErrorf("invalid --rate %q: want records per second, like 500/s", o.Rate)
		}
		o.rate = n
	}
	if o.Pace != "" {
		if o.Pace == "original" {
			o.pace = 1
		} else if n, err := strconv.ParseFloat(strings.TrimSuffix(o.Pace, "x"), 64); err == nil && n > 0 && strings.HasSuffix(o.Pace, "x") {
			o.pace = n
		} else {
			return flagErrorf("invalid --pace %q: want original or a speed-up like 10x", o.Pace)
		}
	}
	for _, kv := range o.SetHeaders {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return flagErrorf("invalid --set-header %q: want key=value", kv)
		}
		o.setHeaderRaw = append(o.setHeaderRaw, record.RawHeader{Key: k, Value: []byte(v)})
	}
	return nil
}

func replayRun(ctx context.Context, o *ReplayOptions) error {
	if err := loadKeys(o); err != nil {
		return err
	}
	var proj *replay.Projection
	if o.Projection != "" {
		var err error
		if proj, err = replay.LoadProjection(o.Projection); err != nil {
			return err
		}
	}
	sel, dec, err := replaySelector(o, proj != nil || o.ToFile != "")
	if err != nil {
		return err
	}
	job := &replayJob{opts: o, dec: dec, proj: proj}
	defer job.close()
	if err := job.openSource(ctx); err != nil {
		return err
	}
	if err := job.openSink(ctx, proj); err != nil {
		return err
	}
	ropts := replay.Options{
		Select:             sel,
		CheckpointEvery:    o.CheckpointN,
		CheckpointInterval: job.checkpointInterval,
		Rate:               o.rate,
		Pace:               o.pace,
		Transform: replay.Transform{
			TimestampsNow: o.Timestamps == "now",
			DropHeaders:   o.DropHeaders,
			SetHeaders:    o.setHeaderRaw,
			Provenance:    o.Provenance,
			ByKey:         job.byKey,
		},
	}
	progress := newProgress(o.IO, job.total, o.NoProgress)
	ropts.Progress = progress.update
	var st replay.Stats
	if ps, ok := job.sink.(*projectionSink); ok && ps.parallel != nil && o.rate == 0 && o.pace == 0 {
		st, err = foldInParallel(ctx, job, ps, progress.update)
	} else {
		st, err = replay.Run(ctx, job.src, job.sink, ropts)
	}
	progress.done()
	if err == nil {
		err = job.finish(ctx)
	}
	job.summary(st, err)
	if err == nil && len(o.Types) > 0 {
		fmt.Fprint(o.IO.ErrOut, o.types.Hint(o.Types))
	}
	if errors.Is(err, replay.ErrInterrupted) {
		return errInterrupted
	}
	return err
}

func loadKeys(o *ReplayOptions) error {
	if len(o.Keys) == 0 && o.KeysFrom == "" {
		return nil
	}
	o.keySet = map[string]bool{}
	for _, k := range o.Keys {
		o.keySet[k] = true
	}
	if o.KeysFrom == "" {
		return nil
	}
	f, err := os.Open(o.KeysFrom)
	if err != nil {
		return &FlagError{err: fmt.Errorf("--keys-from: %w", err)}
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k := strings.TrimSpace(s.Text()); k != "" {
			o.keySet[k] = true
		}
	}
	return s.Err()
}

// replaySelector builds the record selection; it decodes only when a
// selection (or the destination) needs the decoded record.
func replaySelector(o *ReplayOptions, needDecoder bool) (replay.Selector, *schema.Decoder, error) {
	flt, err := compileFilter(o.Filter)
	if err != nil {
		return nil, nil, err
	}
	decode := flt != nil || len(o.Types) > 0 || o.DryRun
	var dec *schema.Decoder
	if decode || needDecoder || o.keySet != nil {
		var err error
		if dec, err = newDecoder(o.Registry, schema.DecoderOptions{Raw: o.Raw, Values: o.Projection != ""}); err != nil {
			return nil, nil, err
		}
	}
	if !decode && o.keySet == nil {
		return nil, dec, nil
	}
	return func(ctx context.Context, m *record.Message) (bool, string, error) {
		if o.keySet != nil {
			if k, ok, plain := dec.PlainKeyText(m); plain {
				if !ok || !o.keySet[k] {
					return false, "", nil
				}
				if !decode {
					return true, "", nil
				}
			}
		}
		r := dec.Decode(ctx, m)
		if o.keySet != nil && !keyIn(r, o.keySet) {
			return false, "", nil
		}
		if len(o.Types) > 0 && !record.TypeMatches(r.Type, o.Types) {
			o.types.Skipped(r.Type)
			return false, "", nil
		}
		if flt != nil {
			ok, err := flt.Match(ctx, r)
			if err != nil || !ok {
				return false, "", nil
			}
		}
		if len(o.Types) > 0 {
			o.types.Shown(r.Type, o.Types)
		}
		return true, record.ShortType(r.Type), nil
	}, dec, nil
}

// keyIn reports whether r's key, as text, is one of keys (--key,
// --keys-from); a null key never is.
func keyIn(r *record.Record, keys map[string]bool) bool {
	k, ok := r.KeyText()
	return ok && keys[k]
}

// replayJob holds a replay's source and sink and what they need closed.
type replayJob struct {
	opts    *ReplayOptions
	dec     *schema.Decoder
	src     replay.Source
	sink    replay.Sink
	total   int64 // records the source holds, for progress; -1 unknown
	byKey   bool
	closers []func()
	finish  func(context.Context) error
	summary func(replay.Stats, error)
	copier  *kafka.Copier
	cfg     kafka.Config
	// destMaxBytes is the destination topic's max.message.bytes (its own
	// or inherited; 0 unknown): the producer is sized to it.
	destMaxBytes int
	// destRecords counts the records the destination held when the
	// replay started.
	destRecords int64
	proj        *replay.Projection
	// checkpointInterval is the longest a replay goes without a
	// checkpoint; 0 is replay.Run's default.
	checkpointInterval time.Duration
	// capture is what reading --from-file through found.
	capture captureStats
}

func (j *replayJob) close() {
	for i := len(j.closers) - 1; i >= 0; i-- {
		j.closers[i]()
	}
}

func (j *replayJob) openSource(ctx context.Context) error {
	o := j.opts
	j.total = -1
	j.finish = func(context.Context) error { return nil }
	if o.FromFile != "" {
		return j.openCapture(ctx)
	}
	cfg, err := o.Kafka()
	if err != nil {
		return err
	}
	j.cfg = cfg
	from, to, err := replayPositions(o)
	if err != nil {
		return err
	}
	if o.ToTopic != "" && o.Projection == "" && !o.DryRun {
		tuneGCForStreaming(o.Getenv)
		// Topic to topic: the copier is source and sink at once, so the
		// source progress commits inside the destination's transactions.
		return j.openCopier(ctx, cfg, from, to)
	}
	if o.ToTopic != "" && !o.DryRun {
		return j.openRebuild(ctx, cfg, from, to)
	}
	ropts := kafka.ReadOptions{Topics: o.Topics, From: from, To: to}
	if o.Projection != "" && o.Emit == "changes" {
		// Changes are written as they happen, by one fold: read one
		// partition after another, so that they come out in the same
		// order on every run, and a failure is the first by topic,
		// partition and offset, as ParallelFold reports it for final states.
		r, err := kafka.NewSequentialReader(ctx, cfg, ropts)
		if err != nil {
			return err
		}
		j.src, j.total, j.closers = r, remaining(r.Ranges()), append(j.closers, r.Close)
		return nil
	}
	r, err := kafka.NewReader(ctx, cfg, ropts)
	if err != nil {
		return err
	}
	j.src, j.total, j.closers = r, remaining(r.Ranges()), append(j.closers, r.Close)
	return nil
}

// openCapture opens --from-file and reads it through once before the
// destination is created or anything written: a bad line fails the replay
// with nothing left behind, and its count is the progress line's total.
// What cannot be read twice (stdin, a pipe) is kept in a temporary file
// for the second pass.
func (j *replayJob) openCapture(ctx context.Context) error {
	o := j.opts
	var (
		name = "stdin"
		in   io.Reader
		file *os.File // the capture, when it can be read again
	)
	if o.FromFile == "-" {
		in = o.IO.ReadStdin(ctx, "a capture")
	} else {
		f, err := os.Open(o.FromFile)
		if err != nil {
			return &FlagError{err: fmt.Errorf("--from-file: %w", err)}
		}
		j.closers = append(j.closers, func() { f.Close() })
		name, in = o.FromFile, f
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			file = f
		}
	}
	var err error
	if file != nil {
		j.capture, err = checkCapture(ctx, file, name)
	} else {
		if file, err = os.CreateTemp("", "evctl-replay-*.jsonl"); err != nil {
			return fmt.Errorf("cannot keep %s for the replay: %w", name, err)
		}
		spool := file
		j.closers = append(j.closers, func() { spool.Close(); os.Remove(spool.Name()) })
		j.capture, err = checkCapture(ctx, io.TeeReader(in, spool), name)
	}
	if err != nil {
		return err
	}
	j.total = j.capture.records
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	j.src = &captureSource{r: record.NewReader(file, name)}
	return nil
}

// captureStats is what reading a capture through tells before replaying it.
type captureStats struct {
	name    string
	records int64
	// largest is the largest record batch one of its records needs
	// (kafka.BatchSize), at line largestLine.
	largest, largestLine int
}

// checkCapture reads a whole capture, counts its records and finds the
// largest; the error names the first line that cannot be replayed.
func checkCapture(ctx context.Context, in io.Reader, name string) (captureStats, error) {
	r := record.NewReader(in, name)
	st := captureStats{name: name}
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		rec, err := r.Read()
		switch {
		case errors.Is(err, io.EOF):
			return st, nil
		case ctx.Err() != nil:
			return st, ctx.Err()
		case err != nil:
			return st, fmt.Errorf("%w; nothing was replayed", err)
		}
		m, err := rec.Message()
		if err != nil {
			return st, fmt.Errorf("%s:%d: %w; nothing was replayed", name, r.Line(), err)
		}
		if n := kafka.BatchSize(m); n > st.largest {
			st.largest, st.largestLine = n, r.Line()
		}
		st.records++
	}
}

func replayPositions(o *ReplayOptions) (from, to position.Position, err error) {
	if o.From != "" {
		if from, err = position.Parse(o.From, o.Now()); err != nil {
			return from, to, &FlagError{err: fmt.Errorf("--from: %w", err)}
		}
	}
	if o.To != "" {
		if to, err = position.Parse(o.To, o.Now()); err != nil {
			return from, to, &FlagError{err: fmt.Errorf("--to: %w", err)}
		}
	}
	return from, to, nil
}

func remaining(ranges []kafka.PartitionRange) int64 {
	var n int64
	for _, r := range ranges {
		if r.End > r.Start {
			n += r.End - r.Start
		}
	}
	return n
}

func defaultGroup(sources []string, dest string) string {
	return "evctl-replay." + strings.Join(sources, "+") + ".to." + dest
}

func (j *replayJob) openCopier(ctx context.Context, cfg kafka.Config, from, to position.Position) error {
	o := j.opts
	if o.Group == "" {
		o.Group = defaultGroup(o.Topics, o.ToTopic)
	}
	if err := j.prepareDestination(ctx, cfg, ""); err != nil {
		return err
	}
	c, err := kafka.NewCopier(ctx, cfg, kafka.CopyOptions{Group: o.Group, Topics: o.Topics, From: from, To: to, DestTopic: o.ToTopic, MaxMessageBytes: j.destMaxBytes})
	if err != nil {
		return err
	}
	j.closers = append(j.closers, func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "evctl: warning: %v\n", err)
		}
	})
	if c.Resumed() && !o.Resume {
		return flagErrorf("group %q has already replayed part of this into %s; add --resume to continue it, or pick a new --group", o.Group, o.ToTopic)
	}
	j.copier = c
	j.src, j.sink = c, c
	j.total = remaining(c.Ranges())
	j.summary = j.topicSummary
	return nil
}

// prepareDestination checks (or creates) the destination topic and decides
// whether records keep their partition numbers (j.byKey). A topic it
// creates gets cleanup.policy policy ("": the source topic's).
func (j *replayJob) prepareDestination(ctx context.Context, cfg kafka.Config, policy string) error {
	o := j.opts
	admin, err := kafka.NewAdmin(cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	srcPartitions := 0
	var srcConfigs map[string]string
	if len(o.Topics) > 0 {
		d, err := admin.DescribeTopic(ctx, o.Topics[0])
		if err != nil {
			return err
		}
		srcPartitions, srcConfigs = d.Partitions, d.Configs
	}
	dest, err := admin.DescribeTopic(ctx, o.ToTopic)
	var unknown *kafka.UnknownTopicError
	switch {
	case errors.As(err, &unknown):
		if !o.Create {
			return flagErrorf("destination topic %q does not exist; add --create to make it", o.ToTopic)
		}
		partitions := o.Partitions
		if partitions == 0 {
			partitions = max(srcPartitions, 1)
		}
		configs := relevantConfigs(srcConfigs)
		if policy != "" {
			configs["cleanup.policy"] = policy
		}
		for _, kv := range o.Configs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return flagErrorf("invalid --config %q: want key=value", kv)
			}
			configs[k] = v
		}
		sized := ""
		if _, set := configs["max.message.bytes"]; !set && j.capture.largest > kafka.DefaultMaxMessageBytes {
			// A capture is the source here: the topic takes its records.
			configs["max.message.bytes"] = strconv.Itoa(j.capture.largest)
			sized = fmt.Sprintf(", max.message.bytes=%d for %s:%d's record", j.capture.largest, j.capture.name, j.capture.largestLine)
		}
		if err := admin.CreateTopic(ctx, o.ToTopic, partitions, configs); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "Created topic %s (%s%s).\n", o.ToTopic, english.Plural(partitions, "partition"), sized)
		dest = kafka.TopicDescription{Name: o.ToTopic, Partitions: partitions, Configs: configs}
		dest.MaxMessageBytes, _ = strconv.Atoi(configs["max.message.bytes"])
	case err != nil:
		return err
	default:
		if o.Create && (o.Partitions > 0 || len(o.Configs) > 0) {
			return flagErrorf("destination topic %q exists: --partitions and --config apply only to a topic --create makes", o.ToTopic)
		}
		infos, err := admin.Topics(ctx, o.ToTopic)
		if err != nil {
			return err
		}
		if len(infos) == 1 {
			j.destRecords = infos[0].Records
		}
		if len(infos) == 1 && infos[0].Records > 0 && !o.Append && !o.Resume {
			return flagErrorf("destination topic %q is not empty; add --append to add to it (or --resume to continue a stopped replay)", o.ToTopic)
		}
	}
	j.destMaxBytes = dest.MaxMessageBytes
	if c := j.capture; c.largest > 0 && j.destMaxBytes > 0 && c.largest > j.destMaxBytes {
		return fmt.Errorf("%s:%d: its record needs up to %d bytes, over topic %q's max.message.bytes of %d; raise the topic's max.message.bytes and run again; nothing was replayed",
			c.name, c.largestLine, c.largest, o.ToTopic, j.destMaxBytes)
	}
	j.byKey = o.ByKey || len(o.Topics) != 1 || dest.Partitions != srcPartitions
	if j.byKey && !o.ByKey && len(o.Topics) > 0 && o.Projection == "" {
		fmt.Fprintf(o.IO.ErrOut, "evctl: note: %s has %s, %s has %d: records are partitioned by key\n", o.Topics[0], english.Plural(srcPartitions, "partition"), o.ToTopic, dest.Partitions)
	}
	return nil
}

// relevantConfigs are the source topic's configs a copy should share.
func relevantConfigs(src map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"cleanup.policy", "retention.ms", "retention.bytes", "min.compaction.lag.ms", "max.compaction.lag.ms", "delete.retention.ms", "message.timestamp.type", "max.message.bytes", "compression.type"} {
		if v, ok := src[k]; ok {
			out[k] = v
		}
	}
	return out
}

func (j *replayJob) openSink(ctx context.Context, proj *replay.Projection) error {
	o := j.opts
	if j.sink != nil {
		return nil // the copier
	}
	if j.summary == nil {
		j.summary = j.topicSummary
	}
	switch {
	case o.DryRun:
		ds := &dryRunSink{}
		j.sink = ds
		j.summary = func(st replay.Stats, err error) { printDryRun(o.IO, o.Output, st, err) }
		return nil
	case proj != nil:
		return j.openProjectionSink(ctx, proj)
	case o.ToFile != "":
		w, closeFile, err := openCaptureFile(o)
		if err != nil {
			return err
		}
		j.closers = append(j.closers, closeFile)
		j.sink = &fileSink{w: w, dec: j.dec}
		return nil
	}
	// A capture file into a topic.
	cfg, err := o.Kafka()
	if err != nil {
		return err
	}
	j.cfg = cfg
	if err := j.prepareDestination(ctx, cfg, ""); err != nil {
		return err
	}
	w, err := kafka.NewWriter(cfg, kafka.WriterOptions{MaxMessageBytes: j.destMaxBytes})
	if err != nil {
		return err
	}
	j.closers = append(j.closers, w.Close)
	j.sink = &topicSink{w: w, topic: o.ToTopic}
	return nil
}

func openCaptureFile(o *ReplayOptions) (*record.Writer, func(), error) {
	if o.ToFile == "-" {
		w := record.NewWriter(o.IO.Out)
		return w, func() { _ = w.Flush() }, nil
	}
	f, err := os.Create(o.ToFile)
	if err != nil {
		return nil, nil, err
	}
	w := record.NewWriter(f)
	return w, func() { _ = w.Flush(); _ = f.Close() }, nil
}

func (j *replayJob) topicSummary(st replay.Stats, err error) {
	o := j.opts
	dest := o.ToTopic
	switch {
	case dest != "":
	case o.ToFile == "-":
		dest = "stdout"
	default:
		dest = o.ToFile
	}
	verb := "replayed"
	if err != nil {
		verb = "stopped after replaying"
	}
	// Only what the last checkpoint committed counts: records written after
	// it, in a transaction that failed, are not in the destination.
	lost := ""
	if n := st.Written - st.Committed; n > 0 {
		lost = fmt.Sprintf(", %d written after the last checkpoint not committed", n)
	}
	rate := float64(st.Committed) / max(st.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(o.IO.ErrOut, "%s %s into %s (read %d, filtered out %d%s) in %s, %.0f records/s\n",
		verb, english.Plural(st.Committed, "record"), dest, st.Read, st.Filtered, lost, st.Elapsed.Round(time.Millisecond), rate)
	if j.copier != nil {
		j.groupNote(err)
	}
}

// groupNote says where a replay into a topic keeps its progress.
func (j *replayJob) groupNote(err error) {
	o := j.opts
	if err != nil {
		fmt.Fprintf(o.IO.ErrOut, "Progress is committed in group %q: run the same command with --resume to continue.\n", o.Group)
		return
	}
	fmt.Fprintf(o.IO.ErrOut, "Consumer group %q keeps this replay's progress; delete it once done (kafka-consumer-groups.sh --delete --group %s).\n", o.Group, o.Group)
}

// captureSource reads a capture file as Kafka records.
type captureSource struct{ r *record.Reader }

func (s *captureSource) Read(ctx context.Context) (*record.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := s.r.Read()
	if err != nil {
		return nil, err
	}
	return rec.Message()
}

// fileSink writes the capture format; Checkpoint flushes.
type fileSink struct {
	w   *record.Writer
	dec *schema.Decoder
}

func (s *fileSink) Write(ctx context.Context, m *record.Message) error {
	return s.w.Write(s.dec.Decode(ctx, m))
}

func (s *fileSink) Checkpoint(context.Context) error { return s.w.Flush() }

// topicSink produces to a topic; Checkpoint waits for the acks.
type topicSink struct {
	w     *kafka.Writer
	topic string
}

func (s *topicSink) Write(ctx context.Context, m *record.Message) error {
	out := *m
	out.Topic = s.topic
	return s.w.Produce(ctx, &out)
}

func (s *topicSink) Checkpoint(ctx context.Context) error { return s.w.Flush(ctx) }

// dryRunSink writes nothing; the stats count it all.
type dryRunSink struct{}

func (*dryRunSink) Write(context.Context, *record.Message) error { return nil }
func (*dryRunSink) Checkpoint(context.Context) error             { return nil }

// dryRunView is what replay --dry-run -o json prints.
type dryRunView struct {
	Records     int64            `json:"records"`
	Read        int64            `json:"read"`
	FilteredOut int64            `json:"filteredOut"`
	ByPartition map[string]int64 `json:"byPartition"`
	ByType      map[string]int64 `json:"byType"`
}

func printDryRun(ios *iostreams.IOStreams, output string, st replay.Stats, err error) {
	if err != nil && !errors.Is(err, replay.ErrInterrupted) {
		return
	}
	out := ios.Out
	// Records of no known type count under "-", as tail shows them, so
	// the types add up to the records.
	byType := maps.Clone(st.ByType)
	if byType == nil {
		byType = map[string]int64{}
	}
	typed := int64(0)
	for _, n := range byType {
		typed += n
	}
	if untyped := st.Written - typed; untyped > 0 {
		byType["-"] += untyped
	}
	if output == "json" {
		v := dryRunView{Records: st.Written, Read: st.Read, FilteredOut: st.Filtered, ByPartition: st.ByPartition, ByType: byType}
		if v.ByPartition == nil {
			v.ByPartition = map[string]int64{}
		}
		b, _ := json.Marshal(v) // maps of strings to numbers always marshal
		fmt.Fprintf(out, "%s\n", b)
		return
	}
	fmt.Fprintf(out, "would replay %s of %d read (%d filtered out)\n", english.Plural(st.Written, "record"), st.Read, st.Filtered)
	fmt.Fprintln(out, "by partition:")
	for _, k := range slices.Sorted(maps.Keys(st.ByPartition)) {
		fmt.Fprintf(out, "  %-28s %d\n", k, st.ByPartition[k])
	}
	fmt.Fprintln(out, "by type:")
	for _, k := range slices.Sorted(maps.Keys(byType)) {
		fmt.Fprintf(out, "  %-28s %d\n", k, byType[k])
	}
}

// progress is replay's progress line: counts, rate, and with a known
// total a bar and an ETA.
type progress struct {
	line  *iostreams.Progress
	total int64
}

func newProgress(ios *iostreams.IOStreams, total int64, off bool) *progress {
	return &progress{line: ios.Progress(off), total: total}
}

func (p *progress) update(st replay.Stats) {
	if !p.line.On() {
		return
	}
	if p.total > 0 {
		p.line.Draw(iostreams.Meter{Done: st.Read, Total: p.total, Elapsed: st.Elapsed, Unit: "records"}.String())
		return
	}
	rate := float64(st.Read) / max(st.Elapsed.Seconds(), 1e-9)
	p.line.Draw(fmt.Sprintf("%d read, %d written, %.0f/s", st.Read, st.Written, rate))
}

func (p *progress) done() { p.line.Clear() }

// openProjectionSink folds the replayed events and writes one record per
// aggregate (or per change) to the destination.
func (j *replayJob) openProjectionSink(ctx context.Context, proj *replay.Projection) error {
	o := j.opts
	tuneGCForFolds(o.Getenv)
	// Into a topic, openRebuild has made the sink.
	if o.ToFile == "" {
		o.ToFile = "-"
	}
	w, closeFile, err := openCaptureFile(o)
	if err != nil {
		return err
	}
	j.closers = append(j.closers, closeFile)
	fs := &fileSink{w: w, dec: j.dec}
	// A projection written to a file has no partitions: its records are
	// numbered in the order written, in partition 0.
	var n int64
	write := func(ctx context.Context, m *record.Message) error {
		m.Partition, m.Offset = 0, n
		n++
		return fs.Write(ctx, m)
	}
	ps := j.newProjectionSink(projectionOutput{write: write, flush: fs.Checkpoint, topic: proj.Name})
	if o.Emit == "changes" {
		ps.fold = proj.NewFold()
	} else {
		ps.parallel = proj.NewParallelFold(ctx, runtime.GOMAXPROCS(0), ps.onError)
	}
	j.sink = ps
	return nil
}

// newProjectionSink makes the sink that folds into out, with the job's
// finish and summary; the caller picks its fold.
func (j *replayJob) newProjectionSink(out projectionOutput) *projectionSink {
	o, proj := j.opts, j.proj
	ps := &projectionSink{proj: proj, dec: j.dec, out: out, skip: o.OnError == "skip", errOut: o.IO.ErrOut, skipped: replay.NewSkipped(replay.SkippedShown)}
	j.finish = ps.finish
	j.summary = func(st replay.Stats, err error) {
		verb := "folded"
		if err != nil {
			verb = "stopped after folding"
		}
		fmt.Fprintf(o.IO.ErrOut, "%s %s into %s with %s (read %d, filtered out %d, skipped %d, wrote %d) in %s, %.0f events/s\n",
			verb, english.Plural(st.Written, "event"), english.Plural(ps.aggregates, "aggregate"), proj.Name, st.Read, st.Filtered, ps.skipped.Len(), ps.written,
			st.Elapsed.Round(time.Millisecond), float64(st.Written)/max(st.Elapsed.Seconds(), 1e-9))
		replay.FoldOutcome{Events: st.Written, Aggregates: ps.aggregates, SkippedTypes: ps.skippedTypes(), Skipped: ps.skipped, Member: ps.member != nil, Split: ps.split()}.WriteNotes(o.IO.ErrOut, proj)
		if j.copier != nil {
			j.groupNote(err)
		}
	}
	return ps
}

// projectionOutput is where projected states go.
type projectionOutput struct {
	write func(context.Context, *record.Message) error
	flush func(context.Context) error
	topic string
}

// projectionSink decodes and folds the events; it writes each change as it
// happens (--emit changes) or every final state at the end.
type projectionSink struct {
	proj       *replay.Projection
	dec        *schema.Decoder
	out        projectionOutput
	skip       bool
	errOut     io.Writer
	fold       *replay.Fold
	parallel   *replay.ParallelFold
	member     *replay.MemberFold // a rebuild's share, as a group member
	changes    bool               // with member: write each change (--emit changes)
	skipped    *replay.Skipped    // records --on-error skip skipped
	aggregates int64
	written    int64
}

func (s *projectionSink) onError(err error) error {
	var ae *replay.ApplyError
	if s.skip && errors.As(err, &ae) {
		s.skipped.Add(err)
		return nil
	}
	return err
}

func (s *projectionSink) split() replay.SplitAggregates {
	switch {
	case s.parallel != nil:
		return s.parallel.Split()
	case s.member != nil:
		// A member folds each source partition apart: an aggregate on two
		// partitions is never seen whole (evctl check reports it).
		return replay.SplitAggregates{}
	}
	return s.fold.Split()
}

func (s *projectionSink) skippedTypes() map[string]int64 {
	switch {
	case s.parallel != nil:
		return s.parallel.SkippedTypes()
	case s.member != nil:
		return s.member.SkippedTypes()
	}
	return s.fold.SkippedTypes()
}

func (s *projectionSink) Write(ctx context.Context, m *record.Message) error {
	r := s.dec.Decode(ctx, m)
	if s.parallel != nil {
		return s.parallel.Apply(r)
	}
	var ch replay.Change
	var err error
	partition := int32(-1)
	if s.member != nil {
		// A rebuild writes an aggregate's states to the destination
		// partition numbered as its source partition: their changelog.
		ch, err = s.member.Apply(ctx, r)
		partition = m.Partition
	} else {
		ch, err = s.fold.Apply(ctx, r)
	}
	if err != nil {
		return s.onError(err)
	}
	if ch.Skipped || (s.member != nil && !s.changes) {
		return nil // final states go at each checkpoint (memberSink.Flush)
	}
	s.written++
	return s.out.write(ctx, &record.Message{Topic: s.out.topic, Partition: partition, Timestamp: m.Timestamp, Key: []byte(ch.ID), Value: ch.State()})
}

func (s *projectionSink) Checkpoint(ctx context.Context) error { return s.out.flush(ctx) }

// finish writes the final states, sorted by aggregate id.
func (s *projectionSink) finish(ctx context.Context) error {
	if s.member != nil {
		s.aggregates = int64(s.member.Created())
		return nil // the replay's last checkpoint wrote them
	}
	if s.parallel == nil {
		s.aggregates = int64(s.fold.Len())
		return s.out.flush(ctx)
	}
	if err := s.parallel.Close(); err != nil {
		return err
	}
	s.aggregates = int64(s.parallel.Len())
	for id, state := range s.parallel.States() {
		m := &record.Message{Topic: s.out.topic, Partition: -1, Timestamp: s.parallel.Timestamp(id), Key: []byte(id), Value: state}
		if err := s.out.write(ctx, m); err != nil {
			return err
		}
		s.written++
	}
	return s.out.flush(ctx)
}

// foldInParallel rebuilds a projection's final states with the record
// pipeline: decoding runs on every core (the serial replay loop decoded on
// one), and nothing needs the loop's exact checkpoints, since a fold
// commits no source progress.
func foldInParallel(ctx context.Context, job *replayJob, ps *projectionSink, progress func(replay.Stats)) (replay.Stats, error) {
	o := job.opts
	st := replay.Stats{Started: time.Now(), ByType: map[string]int64{}, ByPartition: map[string]int64{}}
	sopts := stream.Options{Decoder: job.dec, Types: o.Types, TypeSkipped: o.types.Skipped}
	flt, err := compileFilter(o.Filter)
	if err != nil {
		return st, err
	}
	sopts.Filter = flt
	last := st.Started
	sst, err := stream.Run(ctx, job.src, sopts, func(it stream.Item) error {
		if o.keySet != nil && !keyIn(it.Record, o.keySet) {
			st.Filtered++
			return nil
		}
		st.Written++
		if len(o.Types) > 0 {
			o.types.Shown(it.Record.Type, o.Types)
		}
		if now := time.Now(); now.Sub(last) >= 200*time.Millisecond {
			st.Elapsed, last = now.Sub(st.Started), now
			progress(st)
		}
		return ps.parallel.Apply(it.Record)
	})
	if sst != nil {
		st.Read = sst.Read
		st.Filtered += sst.FilteredOut
	}
	if err == nil {
		err = ps.Checkpoint(ctx)
	}
	st.Elapsed = time.Since(st.Started)
	progress(st)
	if ctx.Err() != nil {
		return st, replay.ErrInterrupted
	}
	return st, err
}
