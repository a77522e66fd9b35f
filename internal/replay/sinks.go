package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/stream"
)

// CaptureSource reads a capture file's records as messages.
type CaptureSource struct{ R *record.Reader }

func (s *CaptureSource) Read(ctx context.Context) (*record.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := s.R.Read()
	if err != nil {
		return nil, err
	}
	return rec.Message()
}

// Producer is what a TopicSink writes with (kafka.Writer): Flush waits
// until every record produced is acknowledged.
type Producer interface {
	Produce(ctx context.Context, m *record.Message) error
	Flush(ctx context.Context) error
}

// Transactional is a source and a sink in one, whose Checkpoint commits
// the records written with the source progress, exactly once, and whose
// Abort drops what was written since (kafka.Copier).
type Transactional interface {
	Source
	Sink
	Aborter
}

// Report says where a copy went, for its summary.
type Report struct {
	ErrOut io.Writer
	// Dest names the destination: a topic, a file, stdout.
	Dest string
	// Group is the consumer group that holds the replay's progress; ""
	// when none does.
	Group string
}

// copied writes a copy's summary: what the last checkpoint committed.
func (r Report) copied(st Stats, err error) {
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
	fmt.Fprintf(r.ErrOut, "%s %s into %s (read %d, filtered out %d%s) in %s, %.0f records/s\n",
		verb, english.Plural(st.Committed, "record"), r.Dest, st.Read, st.Filtered, lost, st.Elapsed.Round(time.Millisecond), rate)
	r.groupNote(err)
}

// groupNote says where a replay into a topic keeps its progress.
func (r Report) groupNote(err error) {
	switch {
	case r.Group == "":
	case err != nil:
		fmt.Fprintf(r.ErrOut, "Progress is committed in group %q: run the same command with --resume to continue.\n", r.Group)
	default:
		fmt.Fprintf(r.ErrOut, "Consumer group %q keeps this replay's progress; delete it once done (kafka-consumer-groups.sh --delete --group %s).\n", r.Group, r.Group)
	}
}

// FileSink writes the capture format, decoding with Decoder; Checkpoint
// flushes.
type FileSink struct {
	W       *record.Writer
	Decoder stream.Decoder
	Report  Report
}

func (s *FileSink) Write(ctx context.Context, m *record.Message) error {
	return s.W.Write(s.Decoder.Decode(ctx, m))
}

func (s *FileSink) Checkpoint(context.Context) error { return s.W.Flush() }
func (s *FileSink) Finish(context.Context) error     { return nil }
func (s *FileSink) Summary(st Stats, err error)      { s.Report.copied(st, err) }

// TopicSink produces every record to Topic; Checkpoint waits for the acks.
type TopicSink struct {
	P      Producer
	Topic  string
	Report Report
}

func (s *TopicSink) Write(ctx context.Context, m *record.Message) error {
	out := *m
	out.Topic = s.Topic
	return s.P.Produce(ctx, &out)
}

func (s *TopicSink) Checkpoint(ctx context.Context) error { return s.P.Flush(ctx) }
func (s *TopicSink) Finish(context.Context) error         { return nil }
func (s *TopicSink) Summary(st Stats, err error)          { s.Report.copied(st, err) }

// CopySink writes into a Transactional, which is the plan's source too: a
// topic copied into another exactly once.
type CopySink struct {
	T      Transactional
	Report Report
}

func (s *CopySink) Write(ctx context.Context, m *record.Message) error { return s.T.Write(ctx, m) }
func (s *CopySink) Checkpoint(ctx context.Context) error               { return s.T.Checkpoint(ctx) }
func (s *CopySink) Abort(ctx context.Context) error                    { return s.T.Abort(ctx) }
func (s *CopySink) Finish(context.Context) error                       { return nil }
func (s *CopySink) Summary(st Stats, err error)                        { s.Report.copied(st, err) }

// DryRun writes nothing; its summary is the stats, per partition and per
// type, on Out (as JSON with JSON).
type DryRun struct {
	Out  io.Writer
	JSON bool
}

func (*DryRun) Write(context.Context, *record.Message) error { return nil }
func (*DryRun) Checkpoint(context.Context) error             { return nil }
func (*DryRun) Finish(context.Context) error                 { return nil }

// dryRunView is what replay --dry-run -o json prints.
type dryRunView struct {
	Records     int64            `json:"records"`
	Read        int64            `json:"read"`
	FilteredOut int64            `json:"filteredOut"`
	ByPartition map[string]int64 `json:"byPartition"`
	ByType      map[string]int64 `json:"byType"`
}

func (d *DryRun) Summary(st Stats, err error) {
	if err != nil && !errors.Is(err, ErrInterrupted) {
		return
	}
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
	if d.JSON {
		v := dryRunView{Records: st.Written, Read: st.Read, FilteredOut: st.Filtered, ByPartition: st.ByPartition, ByType: byType}
		if v.ByPartition == nil {
			v.ByPartition = map[string]int64{}
		}
		b, _ := json.Marshal(v) // maps of strings to numbers always marshal
		fmt.Fprintf(d.Out, "%s\n", b)
		return
	}
	fmt.Fprintf(d.Out, "would replay %s of %d read (%d filtered out)\n", english.Plural(st.Written, "record"), st.Read, st.Filtered)
	fmt.Fprintln(d.Out, "by partition:")
	for _, k := range slices.Sorted(maps.Keys(st.ByPartition)) {
		fmt.Fprintf(d.Out, "  %-28s %d\n", k, st.ByPartition[k])
	}
	fmt.Fprintln(d.Out, "by type:")
	for _, k := range slices.Sorted(maps.Keys(byType)) {
		fmt.Fprintf(d.Out, "  %-28s %d\n", k, byType[k])
	}
}
