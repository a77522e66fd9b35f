package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
	// Parallel is how many copiers of the group a copy into a topic runs.
	Parallel     int
	parallelSet  bool
	rate, pace   float64
	keySet       map[string]bool
	setHeaderRaw []record.RawHeader
	types        stream.TypesSeen // for the note on a --type that matched nothing
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
between them, and one process runs several such copiers, each with its
own consumer and transactional producer: one per CPU (--parallel N sets
how many), no more than the source has partitions; --rate is shared out
between them, --pace takes one. A copier done with its share waits for
the rest of the group and takes over the partitions of a member that
dies; when the group stops moving it rejoins the group, which drops a
member that no longer answers, and after 45 s or more without progress
it stops (exit 2) and names the partitions held. Ctrl-C stops at a
transaction boundary.
One broker of several lost on the way does not stop it: it waits for the
partitions' new leaders, and writes again a transaction the cluster
aborted meanwhile. Brokers that all go away stop it within about
--timeout; the summary then counts only the committed records, and
--resume continues from them.

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
			opts.parallelSet = cmd.Flags().Changed("parallel")
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
	fl.IntVar(&opts.Parallel, "parallel", 0, "copy topics into a topic with `N` copiers of the group, each with its own consumer and transactions (default: one per CPU, at most one per source partition)")
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
	copying := o.ToTopic != "" && o.FromFile == "" && o.Projection == "" && !o.DryRun
	switch {
	case !o.parallelSet:
		o.Parallel = runtime.GOMAXPROCS(0)
	case o.Parallel < 1:
		return flagErrorf("invalid --parallel %d: want 1 or more copiers", o.Parallel)
	}
	switch {
	case o.parallelSet && o.Parallel > 1 && !copying:
		return flagErrorf("--parallel goes with a copy of topics into a topic (--to-topic, without --from-file, --projection or --dry-run)")
	case o.parallelSet && o.Parallel > 1 && o.Pace != "":
		return flagErrorf("--pace keeps the original spacing between events, which takes one copier: drop --parallel")
	case !copying || o.Pace != "":
		o.Parallel = 1
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
	sel, dec, err := replaySelection(o, proj, proj != nil || o.ToFile != "")
	if err != nil {
		return err
	}
	b := &replayPlanner{opts: o, proj: proj, dec: dec, total: -1}
	defer b.close()
	plan, err := b.plan(ctx, sel)
	if err != nil {
		return err
	}
	plan.Progress = newProgress(o.IO, b.total, o.NoProgress)
	_, err = plan.Run(ctx)
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

// replaySelection is the record selection the flags ask for; it decodes
// only when the selection (or the destination) needs the decoded record.
func replaySelection(o *ReplayOptions, proj *replay.Projection, needDecoder bool) (replay.Selection, *schema.Decoder, error) {
	flt, err := compileFilter(o.Filter)
	if err != nil {
		return replay.Selection{}, nil, err
	}
	sel := replay.Selection{Keys: o.keySet, Types: o.Types, Filter: flt, CountTypes: o.DryRun, Seen: &o.types}
	if flt == nil && len(o.Types) == 0 && !o.DryRun && !needDecoder && o.keySet == nil {
		return sel, nil, nil
	}
	// A projection folds Record.Values, decoded straight into jq's values,
	// and reads no value's JSON; nor the headers, unless a program or the
	// filter reads the record view.
	fold := proj != nil
	dec, err := newDecoder(o.Registry, schema.DecoderOptions{Raw: o.Raw, Values: fold, ValuesOnly: fold,
		NoHeaders: fold && flt == nil && !proj.ReadsRecord()})
	if err != nil {
		return replay.Selection{}, nil, err
	}
	sel.Decoder = dec
	return sel, dec, nil
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

// progress is replay's progress line: counts and rate, and with a known
// total the meter (a bar and an ETA).
type progress struct {
	line  *iostreams.Progress
	total int64
}

func newProgress(ios *iostreams.IOStreams, total int64, off bool) *progress {
	return &progress{line: ios.Progress(off), total: total}
}

func (p *progress) Update(st replay.Stats) {
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

func (p *progress) Done() { p.line.Clear() }
