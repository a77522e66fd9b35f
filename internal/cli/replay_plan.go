package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/schema"
)

// The replay's modes as plans: the Kafka clients, files and destination
// checks each mode needs, around internal/replay's sources and sinks.

// replayPlanner builds a replay's plan and holds what it opened.
type replayPlanner struct {
	opts    *ReplayOptions
	proj    *replay.Projection
	dec     *schema.Decoder
	closers []func()
	total   int64 // records the source holds, for progress; -1 unknown
	byKey   bool
	// destMaxBytes is the destination topic's max.message.bytes (its own
	// or inherited; 0 unknown): the producer is sized to it.
	destMaxBytes int
	// destRecords counts the records the destination held when the
	// replay started.
	destRecords int64
	// capture is what reading --from-file through found.
	capture captureStats
}

func (b *replayPlanner) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// plan opens the source and the destination of the replay's mode: a topic
// copied into a topic (the copier is both), a projection rebuilt into a
// topic (a group member), or a source of topics or a capture into a file,
// a projection, a topic or a dry run.
func (b *replayPlanner) plan(ctx context.Context, sel replay.Selection) (*replay.Plan, error) {
	o := b.opts
	p := &replay.Plan{Selection: sel, Options: replay.Options{
		CheckpointEvery: o.CheckpointN,
		Rate:            o.rate,
		Pace:            o.pace,
		Transform: replay.Transform{
			TimestampsNow: o.Timestamps == "now",
			DropHeaders:   o.DropHeaders,
			SetHeaders:    o.setHeaderRaw,
			Provenance:    o.Provenance,
		},
	}}
	var err error
	switch {
	case o.FromFile != "":
		if p.Source, err = b.openCapture(ctx); err != nil {
			return nil, err
		}
	case o.ToTopic != "" && !o.DryRun:
		cfg, from, to, err := b.topics()
		if err != nil {
			return nil, err
		}
		if o.Projection != "" {
			err = b.planRebuild(ctx, cfg, from, to, p)
		} else {
			err = b.planCopy(ctx, cfg, from, to, p)
		}
		p.Options.Transform.ByKey = b.byKey
		return p, err
	default:
		if p.Source, err = b.openReader(ctx); err != nil {
			return nil, err
		}
	}
	switch {
	case o.DryRun:
		p.Dest = &replay.DryRun{Out: o.IO.Out, JSON: o.Output == "json"}
	case b.proj != nil:
		tuneGCForFolds(o.Getenv)
		if o.ToFile == "" {
			o.ToFile = "-"
		}
		w, err := b.openCaptureFile()
		if err != nil {
			return nil, err
		}
		p.Dest = replay.NewProjectionFile(ctx, b.projectionOptions(""), w)
	case o.ToFile != "":
		w, err := b.openCaptureFile()
		if err != nil {
			return nil, err
		}
		p.Dest = &replay.FileSink{W: w, Decoder: b.dec, Report: b.report("")}
	default:
		// A capture file into a topic.
		cfg, err := o.Kafka()
		if err != nil {
			return nil, err
		}
		if err := b.prepareDestination(ctx, cfg, ""); err != nil {
			return nil, err
		}
		w, err := kafka.NewWriter(cfg, kafka.WriterOptions{MaxMessageBytes: b.destMaxBytes})
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, w.Close)
		p.Dest = &replay.TopicSink{P: w, Topic: o.ToTopic, Report: b.report("")}
		p.Options.Transform.ByKey = b.byKey
	}
	return p, nil
}

// report names the destination for the summary; group is the consumer
// group holding the progress of a replay into a topic.
func (b *replayPlanner) report(group string) replay.Report {
	o := b.opts
	dest := o.ToTopic
	switch {
	case dest != "":
	case o.ToFile == "-":
		dest = "stdout"
	default:
		dest = o.ToFile
	}
	return replay.Report{ErrOut: o.IO.ErrOut, Dest: dest, Group: group}
}

func (b *replayPlanner) projectionOptions(group string) replay.ProjectionOptions {
	o := b.opts
	return replay.ProjectionOptions{Projection: b.proj, Decoder: b.dec, Changes: o.Emit == "changes", SkipFailures: o.OnError == "skip", Report: b.report(group)}
}

// topics resolves the connection to the source topics and the range
// read of them.
func (b *replayPlanner) topics() (cfg kafka.Config, from, to position.Position, err error) {
	if cfg, err = b.opts.Kafka(); err != nil {
		return cfg, from, to, err
	}
	from, to, err = replayPositions(b.opts)
	return cfg, from, to, err
}

// openReader reads the source topics, bounded, outside any group.
func (b *replayPlanner) openReader(ctx context.Context) (replay.Source, error) {
	o := b.opts
	cfg, from, to, err := b.topics()
	if err != nil {
		return nil, err
	}
	ropts := kafka.ReadOptions{Topics: o.Topics, From: from, To: to}
	if o.Projection != "" && o.Emit == "changes" {
		// Changes are written as they happen, by one fold: read one
		// partition after another, so that they come out in the same
		// order on every run, and a failure is the first by topic,
		// partition and offset, as ParallelFold reports it for final states.
		r, err := kafka.NewSequentialReader(ctx, cfg, ropts)
		if err != nil {
			return nil, err
		}
		b.total, b.closers = remaining(r.Ranges()), append(b.closers, r.Close)
		return r, nil
	}
	r, err := kafka.NewReader(ctx, cfg, ropts)
	if err != nil {
		return nil, err
	}
	b.total, b.closers = remaining(r.Ranges()), append(b.closers, r.Close)
	return r, nil
}

// planCopy copies topics into a topic: the copier is source and sink at
// once, so the source progress commits inside the destination's
// transactions.
func (b *replayPlanner) planCopy(ctx context.Context, cfg kafka.Config, from, to position.Position, p *replay.Plan) error {
	o := b.opts
	if o.Group == "" {
		o.Group = defaultGroup(o.Topics, o.ToTopic)
	}
	if err := b.prepareDestination(ctx, cfg, ""); err != nil {
		return err
	}
	copts := kafka.CopyOptions{Group: o.Group, Topics: o.Topics, From: from, To: to, DestTopic: o.ToTopic, MaxMessageBytes: b.destMaxBytes}
	c, err := kafka.NewCopier(ctx, cfg, copts)
	if err != nil {
		return err
	}
	b.closeCopier(c)
	if c.Resumed() && !o.Resume {
		return flagErrorf("group %q has already replayed part of this into %s; add --resume to continue it, or pick a new --group", o.Group, o.ToTopic)
	}
	p.Source, p.Dest = c, &replay.CopySink{T: c, Report: b.report(o.Group)}
	b.total = remaining(c.Ranges())
	// More copiers than partitions would only wait; none is needed when
	// the group has done it all.
	n := min(o.Parallel, len(c.Ranges()))
	if c.Remaining() == 0 {
		n = 1
	}
	tuneGCForCopies(o.Getenv, n)
	// The members start side by side, so that their joins meet in a
	// rebalance or two rather than one each.
	members, errs := make([]*kafka.Copier, n-1), make([]error, n-1)
	var wg sync.WaitGroup
	for i := range members {
		mopts := copts
		mopts.Member = i + 1
		wg.Go(func() { members[i], errs[i] = kafka.NewCopier(ctx, cfg, mopts) })
	}
	wg.Wait()
	for _, m := range members {
		if m != nil {
			b.closeCopier(m)
			p.Members = append(p.Members, replay.Member{Source: m, Sink: &replay.CopySink{T: m}})
		}
	}
	for _, err := range errs {
		if err != nil {
			return err // the members' errors are alike (an unreachable cluster): one says it
		}
	}
	return nil
}

// closeCopier closes c with the rest, warning when it cannot leave its
// group in time.
func (b *replayPlanner) closeCopier(c *kafka.Copier) {
	b.closers = append(b.closers, func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(b.opts.IO.ErrOut, "evctl: warning: %v\n", err)
		}
	})
}

// openCapture opens --from-file and reads it through once before the
// destination is created or anything written: a bad line fails the replay
// with nothing left behind, and its count is the progress line's total.
// What cannot be read twice (stdin, a pipe) is kept in a temporary file
// for the second pass.
func (b *replayPlanner) openCapture(ctx context.Context) (replay.Source, error) {
	o := b.opts
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
			return nil, &FlagError{err: fmt.Errorf("--from-file: %w", err)}
		}
		b.closers = append(b.closers, func() { f.Close() })
		name, in = o.FromFile, f
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			file = f
		}
	}
	var err error
	if file != nil {
		b.capture, err = checkCapture(ctx, file, name)
	} else {
		if file, err = os.CreateTemp("", "evctl-replay-*.jsonl"); err != nil {
			return nil, fmt.Errorf("cannot keep %s for the replay: %w", name, err)
		}
		spool := file
		b.closers = append(b.closers, func() { spool.Close(); os.Remove(spool.Name()) })
		b.capture, err = checkCapture(ctx, io.TeeReader(in, spool), name)
	}
	if err != nil {
		return nil, err
	}
	b.total = b.capture.records
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &replay.CaptureSource{R: record.NewReader(file, name)}, nil
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

// prepareDestination checks (or creates) the destination topic and decides
// whether records keep their partition numbers (b.byKey). A topic it
// creates gets cleanup.policy policy ("": the source topic's).
func (b *replayPlanner) prepareDestination(ctx context.Context, cfg kafka.Config, policy string) error {
	o := b.opts
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
		if _, set := configs["max.message.bytes"]; !set && b.capture.largest > kafka.DefaultMaxMessageBytes {
			// A capture is the source here: the topic takes its records.
			configs["max.message.bytes"] = strconv.Itoa(b.capture.largest)
			sized = fmt.Sprintf(", max.message.bytes=%d for %s:%d's record", b.capture.largest, b.capture.name, b.capture.largestLine)
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
			b.destRecords = infos[0].Records
		}
		if len(infos) == 1 && infos[0].Records > 0 && !o.Append && !o.Resume {
			return flagErrorf("destination topic %q is not empty; add --append to add to it (or --resume to continue a stopped replay)", o.ToTopic)
		}
	}
	b.destMaxBytes = dest.MaxMessageBytes
	if c := b.capture; c.largest > 0 && b.destMaxBytes > 0 && c.largest > b.destMaxBytes {
		return fmt.Errorf("%s:%d: its record needs up to %d bytes, over topic %q's max.message.bytes of %d; raise the topic's max.message.bytes and run again; nothing was replayed",
			c.name, c.largestLine, c.largest, o.ToTopic, b.destMaxBytes)
	}
	b.byKey = o.ByKey || len(o.Topics) != 1 || dest.Partitions != srcPartitions
	if b.byKey && !o.ByKey && len(o.Topics) > 0 && o.Projection == "" {
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

func (b *replayPlanner) openCaptureFile() (*record.Writer, error) {
	o := b.opts
	if o.ToFile == "-" {
		w := record.NewWriter(o.IO.Out)
		b.closers = append(b.closers, func() { _ = w.Flush() })
		return w, nil
	}
	f, err := os.Create(o.ToFile)
	if err != nil {
		return nil, err
	}
	w := record.NewWriter(f)
	b.closers = append(b.closers, func() { _ = w.Flush(); _ = f.Close() })
	return w, nil
}
