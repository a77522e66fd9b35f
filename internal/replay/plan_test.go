package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/stream"
)

// The plan's modes run here on in-memory fakes of what internal/kafka
// gives them: a slice source, a producer, a transactional copier.

// sliceSource yields its messages, then io.EOF.
type sliceSource struct{ ms []*record.Message }

func (s *sliceSource) Read(ctx context.Context) (*record.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(s.ms) == 0 {
		return nil, io.EOF
	}
	m := s.ms[0]
	s.ms = s.ms[1:]
	return m, nil
}

// jsonDecoder decodes keys as text and values as JSON whose "type" names
// the event type, as the registry's decoder would for typed events.
type jsonDecoder struct{}

func (jsonDecoder) Decode(_ context.Context, m *record.Message) *record.Record {
	r := &record.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: record.Timestamp{Time: m.Timestamp},
		Value: json.RawMessage(m.Value), KeyEncoding: record.EncodingText, ValueEncoding: record.EncodingJSON}
	r.Key, _ = json.Marshal(string(m.Key))
	if m.Key == nil {
		r.Key, r.KeyEncoding = json.RawMessage("null"), record.EncodingNull
	}
	if m.Value == nil {
		r.Value, r.ValueEncoding = json.RawMessage("null"), record.EncodingNull
	}
	var v struct{ Type string }
	if json.Unmarshal(m.Value, &v) == nil {
		r.Type = v.Type
	}
	return r
}

func (jsonDecoder) PlainKeyText(m *record.Message) (string, bool, bool) {
	return string(m.Key), m.Key != nil, true
}

func event(p int32, off int64, key, typ string, n int) *record.Message {
	return &record.Message{Topic: "events", Partition: p, Offset: off, Key: []byte(key),
		Value:     []byte(`{"type":"` + typ + `","n":` + itoa(n) + `}`),
		Timestamp: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC).Add(time.Duration(off) * time.Second)}
}

func events() []*record.Message {
	return []*record.Message{
		event(0, 0, "a", "Added", 1), event(1, 0, "b", "Added", 10), event(0, 1, "a", "Added", 2),
		event(1, 1, "b", "Removed", 3), event(0, 2, "c", "Added", 5),
	}
}

// fakeProducer is kafka.Writer: records produced, acknowledged at Flush.
type fakeProducer struct{ produced, acked []*record.Message }

func (p *fakeProducer) Produce(_ context.Context, m *record.Message) error {
	p.produced = append(p.produced, m)
	return nil
}

func (p *fakeProducer) Flush(context.Context) error {
	p.acked = slices.Clone(p.produced)
	return nil
}

// fakeCopier is kafka.Copier: its source's records, written into an open
// transaction that Checkpoint commits with the offsets read, and Abort
// drops, rewinding the source to the last checkpoint.
type fakeCopier struct {
	src       []*record.Message
	next      int // index of the next record to read
	committed int // records read when the last checkpoint committed
	open      []*record.Message
	dest      []*record.Message
	changelog interface{ Flush(context.Context) error }
	failAt    int // Write fails at this record's index; -1 never
}

func (c *fakeCopier) Read(context.Context) (*record.Message, error) {
	if c.next == len(c.src) {
		return nil, io.EOF
	}
	c.next++
	return c.src[c.next-1], nil
}

func (c *fakeCopier) Write(_ context.Context, m *record.Message) error {
	if c.next-1 == c.failAt {
		return errors.New("broker says no")
	}
	c.open = append(c.open, m)
	return nil
}

func (c *fakeCopier) Checkpoint(ctx context.Context) error {
	if c.changelog != nil {
		if err := c.changelog.Flush(ctx); err != nil {
			return err
		}
	}
	c.dest, c.open, c.committed = append(c.dest, c.open...), nil, c.next
	return nil
}

func (c *fakeCopier) Abort(context.Context) error {
	c.open, c.next = nil, c.committed
	return nil
}

func keysOf(ms []*record.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Topic+"/"+itoa(int(m.Partition))+":"+string(m.Key)+"="+string(m.Value))
	}
	return out
}

func TestPlanCopy(t *testing.T) {
	c := &fakeCopier{src: events(), failAt: -1}
	var errOut bytes.Buffer
	p := &Plan{Source: c, Dest: &CopySink{T: c, Report: Report{ErrOut: &errOut, Dest: "copy", Group: "g"}},
		Selection: Selection{Decoder: jsonDecoder{}, Types: []string{"Added"}},
		Options:   Options{CheckpointEvery: 2, Transform: Transform{ByKey: true}}}
	st, err := p.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 5 || st.Written != 4 || st.Committed != 4 || st.Filtered != 1 {
		t.Errorf("stats %+v", st)
	}
	var want []string
	for _, m := range events() {
		if !strings.Contains(string(m.Value), "Removed") {
			want = append(want, "events/-1:"+string(m.Key)+"="+string(m.Value))
		}
	}
	if diff := cmp.Diff(want, keysOf(c.dest)); diff != "" {
		t.Errorf("committed (-want +got):\n%s", diff)
	}
	if got := errOut.String(); !strings.HasPrefix(got, "replayed 4 records into copy (read 5, filtered out 1) in ") ||
		!strings.Contains(got, `Consumer group "g" keeps this replay's progress`) {
		t.Errorf("summary:\n%s", got)
	}
}

// TestPlanCopyAborts: a write that fails aborts the open transaction, so
// a resumed copy reads again what was not committed.
func TestPlanCopyAborts(t *testing.T) {
	c := &fakeCopier{src: events(), failAt: 3}
	var errOut bytes.Buffer
	p := &Plan{Source: c, Dest: &CopySink{T: c, Report: Report{ErrOut: &errOut, Dest: "copy", Group: "g"}}, Options: Options{CheckpointEvery: 2}}
	st, err := p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "broker says no") {
		t.Fatalf("err = %v", err)
	}
	if len(c.dest) != 2 || c.next != 2 || st.Committed != 2 || st.Written != 3 {
		t.Errorf("after the failure: %d committed, source at %d, stats %+v", len(c.dest), c.next, st)
	}
	if got := errOut.String(); !strings.HasPrefix(got, "stopped after replaying 2 records into copy (read 4, filtered out 0, 1 written after the last checkpoint not committed)") ||
		!strings.Contains(got, "run the same command with --resume") {
		t.Errorf("summary:\n%s", got)
	}
}

// rewindingCopier is a fakeCopier as kafka.Copier is when its group moves
// on under it: it commits on its own inside one Read (before a
// rebalance), and the group refuses one checkpoint's offsets, which drops
// the open transaction and reads its records again.
type rewindingCopier struct {
	*fakeCopier
	commitInRead    int // Read commits before returning this index
	refuse          int // the checkpoint to refuse, counting from 1
	checkpoints     int
	commit, rewound func()
}

func (c *rewindingCopier) Track(committed, rewound func()) { c.commit, c.rewound = committed, rewound }

func (c *rewindingCopier) Read(ctx context.Context) (*record.Message, error) {
	if c.next == c.commitInRead && c.committed < c.next {
		if err := c.Checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	return c.fakeCopier.Read(ctx)
}

func (c *rewindingCopier) Checkpoint(ctx context.Context) error {
	if c.checkpoints++; c.checkpoints == c.refuse {
		c.open, c.next = nil, c.committed
		if c.rewound != nil {
			c.rewound()
		}
		return nil
	}
	if err := c.fakeCopier.Checkpoint(ctx); err != nil {
		return err
	}
	if c.commit != nil {
		c.commit()
	}
	return nil
}

// TestPlanCopyRewound: the records of a transaction the group refused are
// read and written again, and counted once: the summary says what the
// destination holds, whichever checkpoint (Run's, or one the copier made
// inside Read) the drop went back to.
func TestPlanCopyRewound(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		commitInRead, refuse int
	}{
		{"refused after Run's checkpoint", -1, 2},
		{"refused after one inside Read", 3, 3},
		{"the first refused", -1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rewindingCopier{fakeCopier: &fakeCopier{src: events(), failAt: -1}, commitInRead: tc.commitInRead, refuse: tc.refuse}
			var errOut bytes.Buffer
			p := &Plan{Source: c, Dest: &CopySink{T: c, Report: Report{ErrOut: &errOut, Dest: "copy", Group: "g"}},
				Selection: Selection{Decoder: jsonDecoder{}, Types: []string{"Added"}}, Options: Options{CheckpointEvery: 2}}
			st, err := p.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c.checkpoints < tc.refuse {
				t.Fatalf("%d checkpoints: the refusal never came", c.checkpoints)
			}
			if len(c.dest) != 4 {
				t.Errorf("the destination holds %d records, want 4", len(c.dest))
			}
			want := Stats{Read: 5, Written: 4, Committed: 4, Filtered: 1, ByType: map[string]int64{"Added": 4},
				ByPartition: map[string]int64{"events/0": 3, "events/1": 1}}
			if diff := cmp.Diff(want, st, cmpopts.IgnoreFields(Stats{}, "Started", "Elapsed")); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if got := errOut.String(); !strings.HasPrefix(got, "replayed 4 records into copy (read 5, filtered out 1) in ") {
				t.Errorf("summary:\n%s", got)
			}
		})
	}
}

func TestPlanFileToTopic(t *testing.T) {
	var w fakeProducer
	var errOut bytes.Buffer
	p := &Plan{Source: &sliceSource{events()}, Dest: &TopicSink{P: &w, Topic: "dest", Report: Report{ErrOut: &errOut, Dest: "dest"}},
		Selection: Selection{Decoder: jsonDecoder{}, Keys: map[string]bool{"a": true}},
		Options:   Options{Transform: Transform{Provenance: true}}}
	if _, err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`dest/0:a={"type":"Added","n":1}`, `dest/0:a={"type":"Added","n":2}`}, keysOf(w.acked)); diff != "" {
		t.Errorf("acknowledged (-want +got):\n%s", diff)
	}
	if h := w.acked[1].Headers; len(h) != 3 || h[2].Key != HeaderSourceOffset || string(h[2].Value) != "1" {
		t.Errorf("provenance headers %v", h)
	}
	if got := errOut.String(); !strings.HasPrefix(got, "replayed 2 records into dest (read 5, filtered out 3) in ") || strings.Contains(got, "group") {
		t.Errorf("summary:\n%s", got)
	}
}

func TestPlanToFile(t *testing.T) {
	var out, errOut bytes.Buffer
	w := record.NewWriter(&out)
	p := &Plan{Source: &sliceSource{events()[:2]}, Dest: &FileSink{W: w, Decoder: jsonDecoder{}, Report: Report{ErrOut: &errOut, Dest: "stdout"}}}
	if _, err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"partition":1`) || !strings.Contains(lines[1], `"value":{"type":"Added","n":10}`) {
		t.Errorf("capture:\n%s", out.String())
	}
	if !strings.HasPrefix(errOut.String(), "replayed 2 records into stdout ") {
		t.Errorf("summary %q", errOut.String())
	}
}

func TestPlanDryRun(t *testing.T) {
	var out bytes.Buffer
	seen := &stream.TypesSeen{}
	p := &Plan{Source: &sliceSource{events()}, Dest: &DryRun{Out: &out, JSON: true},
		Selection: Selection{Decoder: jsonDecoder{}, Types: []string{"Added", "Nope"}, CountTypes: true, Seen: seen}}
	if _, err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := `{"records":4,"read":5,"filteredOut":1,"byPartition":{"events/0":3,"events/1":1},"byType":{"Added":4}}` + "\n"
	if out.String() != want {
		t.Errorf("dry run = %s, want %s", out.String(), want)
	}
	if hint := seen.Hint([]string{"Added", "Nope"}); !strings.Contains(hint, `--type "Nope" matched no record; the types read were Removed`) {
		t.Errorf("hint %q", hint)
	}
}

const counterSpec = `name: counter
handlers:
  Added: (.state // 0) + .event.n
  Removed: (.state // 0) - .event.n
`

// recordingProgress is a Progress that remembers what it was told.
type recordingProgress struct {
	last Stats
	done bool
}

func (p *recordingProgress) Update(st Stats) { p.last = st }
func (p *recordingProgress) Done()           { p.done = true }

func TestPlanProjectionToFile(t *testing.T) {
	for _, changes := range []bool{false, true} {
		var out, errOut bytes.Buffer
		o := ProjectionOptions{Projection: parseSpec(t, counterSpec), Decoder: jsonDecoder{}, Changes: changes, Report: Report{ErrOut: &errOut, Dest: "stdout"}}
		prog := &recordingProgress{}
		p := &Plan{Source: &sliceSource{events()}, Selection: Selection{Decoder: jsonDecoder{}}, Progress: prog,
			Dest: NewProjectionFile(t.Context(), o, record.NewWriter(&out))}
		if _, err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		var got []string
		for line := range strings.Lines(out.String()) {
			var r record.Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Topic+"/"+itoa(int(r.Partition))+"@"+itoa(int(r.Offset))+" "+string(r.Key)+"="+string(r.Value))
		}
		want := []string{`counter/0@0 "a"=3`, `counter/0@1 "b"=7`, `counter/0@2 "c"=5`} // final states, by id
		if changes {
			want = []string{`counter/0@0 "a"=1`, `counter/0@1 "b"=10`, `counter/0@2 "a"=3`, `counter/0@3 "b"=7`, `counter/0@4 "c"=5`}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("changes %v: states (-want +got):\n%s", changes, diff)
		}
		if !prog.done || prog.last.Read != 5 {
			t.Errorf("changes %v: progress %+v", changes, prog)
		}
		if s := errOut.String(); !strings.HasPrefix(s, "folded 5 events into 3 aggregates with counter (read 5, filtered out 0, skipped 0, wrote "+itoa(len(want))+") in ") {
			t.Errorf("changes %v: summary %q", changes, s)
		}
	}
}

// TestPlanProjectionFailure: of several failures, a fold of final states
// reports the first by partition and offset, whatever the order read,
// and --on-error skip names them.
func TestPlanProjectionFailure(t *testing.T) {
	ms := []*record.Message{event(1, 0, "b", "Unknown", 1), event(0, 0, "a", "Added", 1), event(0, 1, "a", "Unknown", 2)}
	for _, skip := range []bool{false, true} {
		var out, errOut bytes.Buffer
		o := ProjectionOptions{Projection: parseSpec(t, counterSpec), Decoder: jsonDecoder{}, SkipFailures: skip, Report: Report{ErrOut: &errOut}}
		p := &Plan{Source: &sliceSource{slices.Clone(ms)}, Selection: Selection{Decoder: jsonDecoder{}}, Dest: NewProjectionFile(t.Context(), o, record.NewWriter(&out))}
		_, err := p.Run(t.Context())
		if !skip {
			if err == nil || !strings.HasPrefix(err.Error(), "events/0@1 ") {
				t.Errorf("err = %v, want the failure at events/0@1", err)
			}
			// Not "stopped after folding 3 events into 0 aggregates": what
			// the workers folded before the failure depends on timing.
			if s := errOut.String(); !strings.HasPrefix(s, "stopped after reading 3 events with counter (filtered out 0, skipped 0, wrote 0) in ") ||
				strings.Contains(s, "aggregate") {
				t.Errorf("summary after the failure:\n%s", s)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := errOut.String(); !strings.Contains(s, "skipped 2 records the projection failed on (--on-error skip):\n  events/0@1 ") {
			t.Errorf("summary:\n%s", s)
		}
	}
}

// TestPlanRebuildMember: a group member restores its partition's states,
// writes the changed ones at each checkpoint, in the partition of their
// events, and aborts what a failed record's transaction held.
func TestPlanRebuildMember(t *testing.T) {
	var errOut bytes.Buffer
	ms := NewMemberSink(ProjectionOptions{Projection: parseSpec(t, counterSpec), Decoder: jsonDecoder{}, Report: Report{ErrOut: &errOut, Dest: "states", Group: "g"}})
	c := &fakeCopier{src: events(), failAt: -1, changelog: ms}
	ms.Bind(c)
	// The destination already holds b's state from an earlier member.
	if err := ms.Restore(SourcePartition{"events", 1}, &record.Message{Key: []byte("b"), Value: []byte("100")}); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Source: c, Dest: ms, Options: Options{CheckpointEvery: 3}}
	if _, err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Checkpoints after 3 and 5 records: each writes what changed since.
	want := []string{"states/0:a=3", "states/1:b=110", "states/0:c=5", "states/1:b=107"}
	if diff := cmp.Diff(want, keysOf(c.dest)); diff != "" {
		t.Errorf("committed (-want +got):\n%s", diff)
	}
	if s := errOut.String(); !strings.HasPrefix(s, "folded 5 events into 2 aggregates with counter (read 5, filtered out 0, skipped 0, wrote 4) in ") ||
		!strings.Contains(s, `Consumer group "g" keeps this replay's progress`) {
		t.Errorf("summary:\n%s", s)
	}

	// A record the fold fails on aborts: nothing of its transaction
	// commits, and the records read after it (folded ahead, on a goroutine
	// of the sink's own) are not counted as folded.
	errOut.Reset()
	ms = NewMemberSink(ProjectionOptions{Projection: parseSpec(t, counterSpec), Decoder: jsonDecoder{}, Report: Report{ErrOut: &errOut, Dest: "states", Group: "g"}})
	c = &fakeCopier{src: []*record.Message{event(0, 0, "a", "Added", 1), event(0, 1, "a", "Added", 1), event(0, 2, "a", "Unknown", 1),
		event(0, 3, "a", "Added", 1), event(0, 4, "a", "Added", 1)}, failAt: -1, changelog: ms}
	ms.Bind(c)
	p = &Plan{Source: c, Dest: ms, Options: Options{CheckpointEvery: 2}}
	_, err := p.Run(t.Context())
	if err == nil || !strings.HasPrefix(err.Error(), "events/0@2 ") {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]string{"states/0:a=2"}, keysOf(c.dest)); diff != "" || c.next != 2 {
		t.Errorf("after the failure, committed (-want +got):\n%s; source at %d", diff, c.next)
	}
	if s := errOut.String(); !strings.HasPrefix(s, "stopped after folding 2 events into 1 aggregate with counter (read 4, filtered out 0, skipped 0, wrote 1) in ") {
		t.Errorf("summary after the failure:\n%s", s)
	}
}

// TestPlanMembers: copiers of one group run side by side, each exactly
// once on its own; their stats add up in one summary.
func TestPlanMembers(t *testing.T) {
	all := events()
	a, b := &fakeCopier{src: all[:2], failAt: -1}, &fakeCopier{src: all[2:], failAt: -1}
	var errOut bytes.Buffer
	prog := &recordingProgress{}
	p := &Plan{Source: a, Dest: &CopySink{T: a, Report: Report{ErrOut: &errOut, Dest: "copy", Group: "g"}},
		Members: []Member{{Source: b, Sink: &CopySink{T: b}}}, Options: Options{CheckpointEvery: 2}, Progress: prog}
	st, err := p.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.dest) != 2 || len(b.dest) != 3 || st.Read != 5 || st.Committed != 5 || st.ByPartition["events/0"] != 3 {
		t.Errorf("members committed %d and %d, stats %+v", len(a.dest), len(b.dest), st)
	}
	if !prog.done || prog.last.Read != 5 {
		t.Errorf("progress %+v", prog)
	}
	if got := errOut.String(); !strings.HasPrefix(got, "replayed 5 records into copy (read 5, filtered out 0) in ") {
		t.Errorf("summary:\n%s", got)
	}
}

// TestPlanMembersProgress: copiers side by side report their progress
// while they copy, and the plan adds the reports up as they come. Each
// copier kept writing the counts it had reported, which the sum read from
// another copier's goroutine: "fatal error: concurrent map iteration and
// map write" ended a replay of bounce_matrix.txtar (go test -race sees it
// on every run).
func TestPlanMembersProgress(t *testing.T) {
	var a, b []*record.Message
	for i := range 30000 {
		a = append(a, event(int32(i%3), int64(i/3), "a", "Added", i))
		b = append(b, event(int32(3+i%3), int64(i/3), "b", []string{"Added", "Removed"}[i%2], i))
	}
	ca, cb := &fakeCopier{src: a, failAt: -1}, &fakeCopier{src: b, failAt: -1}
	var clock atomic.Int64 // a second a call: every record reports progress
	now := func() time.Time { return time.Unix(clock.Add(1), 0) }
	prog := &recordingProgress{}
	p := &Plan{Source: ca, Dest: &CopySink{T: ca, Report: Report{ErrOut: io.Discard, Dest: "copy", Group: "g"}},
		Members: []Member{{Source: cb, Sink: &CopySink{T: cb}}}, Options: Options{CheckpointEvery: 100, Now: now}, Progress: prog}
	st, err := p.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Committed != 60000 || st.ByPartition["events/0"] != 10000 || st.ByPartition["events/5"] != 10000 {
		t.Errorf("stats %+v, want 60000 committed, 10000 of each partition", st)
	}
	if prog.last.Read < 30000 || prog.last.Read > 60000 {
		t.Errorf("the last progress report read %d records, want the sum of both copiers' reports", prog.last.Read)
	}
}

// TestPlanMemberFails: one copier that fails stops the others at a
// checkpoint (nothing they handled is lost, nothing is left open), and
// the replay fails with its error, not as interrupted.
func TestPlanMemberFails(t *testing.T) {
	// The other copier has records for as long as it runs: it stops only
	// because the failure stops it, which waits until it has written some.
	other := &endless{busy: make(chan struct{})}
	failing := &gated{fakeCopier: &fakeCopier{src: events(), failAt: 1}, gate: other.busy}
	var errOut bytes.Buffer
	p := &Plan{Source: failing, Dest: &CopySink{T: failing, Report: Report{ErrOut: &errOut, Dest: "copy", Group: "g"}},
		Members: []Member{{Source: other, Sink: other}}, Options: Options{CheckpointEvery: 1000}}
	_, err := p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "broker says no") {
		t.Fatalf("err = %v, want the failing copier's", err)
	}
	if other.written < 10 || other.committed != other.written {
		t.Errorf("the other copier wrote %d, committed %d: it must stop at a checkpoint", other.written, other.committed)
	}
	if !strings.Contains(errOut.String(), "run the same command with --resume") {
		t.Errorf("summary:\n%s", errOut.String())
	}
}

// gated reads once gate is closed.
type gated struct {
	*fakeCopier
	gate chan struct{}
}

func (g *gated) Read(ctx context.Context) (*record.Message, error) {
	<-g.gate
	return g.fakeCopier.Read(ctx)
}

// endless is a copier whose source never ends; busy is closed once it
// has written 10 records.
type endless struct {
	mu                 sync.Mutex
	written, committed int
	busy               chan struct{}
}

func (e *endless) Read(ctx context.Context) (*record.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return event(1, 0, "b", "Added", 1), nil
}

func (e *endless) Write(context.Context, *record.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.written++
	if e.written == 10 {
		close(e.busy)
	}
	return nil
}

func (e *endless) Checkpoint(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.committed = e.written
	return nil
}

// rewindingMember is a rewindingCopier under a rebuild's MemberSink, as
// kafka.Copier is when its group moves on under it: the refused
// checkpoint's states went into the transaction it aborts, every
// partition is given up, and the next Read takes them again, restoring
// their aggregates from what the destination committed.
type rewindingMember struct {
	*rewindingCopier
	ms            *MemberSink
	revokeFirst   bool // Revoked before rewound, as a refused commit does; after, as a lost assignment does
	restorePended bool
}

func (c *rewindingMember) Checkpoint(ctx context.Context) error {
	if c.checkpoints+1 != c.refuse {
		return c.rewindingCopier.Checkpoint(ctx)
	}
	c.checkpoints++
	if err := c.ms.Flush(ctx); err != nil {
		return err
	}
	c.open, c.next = nil, c.committed
	revoke := func() { c.ms.Revoked([]SourcePartition{{"events", 0}, {"events", 1}}) }
	if c.revokeFirst {
		revoke()
	}
	c.rewound()
	if !c.revokeFirst {
		revoke()
	}
	c.restorePended = true
	return nil
}

func (c *rewindingMember) Read(ctx context.Context) (*record.Message, error) {
	if c.restorePended {
		c.restorePended = false
		for _, m := range c.dest {
			if err := c.ms.Restore(SourcePartition{"events", m.Partition}, m); err != nil {
				return nil, err
			}
		}
	}
	return c.rewindingCopier.Read(ctx)
}

// TestPlanRebuildMemberRewound: the states of a transaction the group
// refused are not in the destination, and the summary does not count
// them: it says what the destination holds (states written, aggregates
// built, events skipped), whichever commit the drop went back to.
func TestPlanRebuildMemberRewound(t *testing.T) {
	const spec = `name: counter
ignore-unknown: true
handlers:
  Added: (.state // 0) + .event.n
  Removed: if .event.n > 100 then error("too many") else (.state // 0) - .event.n end
`
	src := func() []*record.Message {
		return []*record.Message{
			event(0, 0, "a", "Added", 1), event(1, 0, "b", "Added", 10), event(0, 1, "a", "Other", 2),
			event(1, 1, "b", "Removed", 300), event(0, 2, "c", "Added", 5), event(0, 3, "a", "Added", 2),
		}
	}
	for _, tc := range []struct {
		name                 string
		commitInRead, refuse int
		revokeFirst          bool
	}{
		{"the first refused", -1, 1, true},
		{"the first refused, assignment lost", -1, 1, false},
		{"refused after Run's checkpoint", -1, 2, true},
		{"refused after one inside Read", 3, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			ms := NewMemberSink(ProjectionOptions{Projection: parseSpec(t, spec), Decoder: jsonDecoder{}, SkipFailures: true,
				Report: Report{ErrOut: &errOut, Dest: "states", Group: "g"}})
			c := &rewindingMember{rewindingCopier: &rewindingCopier{fakeCopier: &fakeCopier{src: src(), failAt: -1, changelog: ms},
				commitInRead: tc.commitInRead, refuse: tc.refuse}, ms: ms, revokeFirst: tc.revokeFirst}
			ms.Bind(c)
			p := &Plan{Source: c, Dest: ms, Options: Options{CheckpointEvery: 2}}
			if _, err := p.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			if c.checkpoints < tc.refuse {
				t.Fatalf("%d checkpoints: the refusal never came", c.checkpoints)
			}
			final := map[string]string{}
			for _, m := range c.dest {
				final[string(m.Key)] = string(m.Value)
			}
			if diff := cmp.Diff(map[string]string{"a": "3", "b": "10", "c": "5"}, final); diff != "" {
				t.Errorf("destination (-want +got):\n%s", diff)
			}
			want := "folded 6 events into 3 aggregates with counter (read 6, filtered out 0, skipped 1, wrote " + itoa(len(c.dest)) + ") in "
			if s := errOut.String(); !strings.HasPrefix(s, want) ||
				!strings.Contains(s, `"Other" (1)`) || !strings.Contains(s, "skipped 1 record the projection failed on") {
				t.Errorf("summary:\n%s\nwant it to start %q, with \"Other\" (1) and 1 record skipped", s, want)
			}
		})
	}
}
