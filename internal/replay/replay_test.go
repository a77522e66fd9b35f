package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// memSource and memSink stand in for Kafka: the engine's ordering and
// checkpoint rules are what is under test here.
type memSource struct {
	msgs   []*record.Message
	i      int
	cancel context.CancelFunc
	stopAt int
}

func (s *memSource) Read(ctx context.Context) (*record.Message, error) {
	if s.cancel != nil && s.i == s.stopAt {
		s.cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.i == len(s.msgs) {
		return nil, io.EOF
	}
	s.i++
	return s.msgs[s.i-1], nil
}

type memSink struct {
	written     []*record.Message
	checkpoints []int // len(written) at each checkpoint
	failAt      int
}

func (s *memSink) Write(_ context.Context, m *record.Message) error {
	if s.failAt > 0 && len(s.written) == s.failAt {
		return errors.New("broker says no")
	}
	s.written = append(s.written, m)
	return nil
}

func (s *memSink) Checkpoint(context.Context) error {
	s.checkpoints = append(s.checkpoints, len(s.written))
	return nil
}

func msgs(n int) []*record.Message {
	out := make([]*record.Message, n)
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = &record.Message{Topic: "src", Partition: int32(i % 3), Offset: int64(i / 3), Key: []byte(fmt.Sprint("k", i%5)), Value: []byte{byte(i)},
			Timestamp: t0.Add(time.Duration(i) * time.Second), Headers: []record.RawHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}}
	}
	return out
}

func TestRunCopiesInOrderAndCheckpoints(t *testing.T) {
	sink := &memSink{}
	st, err := Run(context.Background(), &memSource{msgs: msgs(25)}, sink, Options{CheckpointEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 25 || st.Written != 25 || len(sink.written) != 25 {
		t.Fatalf("stats %+v, wrote %d", st, len(sink.written))
	}
	for i, m := range sink.written {
		if m.Value[0] != byte(i) || m.Partition != int32(i%3) {
			t.Fatalf("record %d out of order or moved: %+v", i, m)
		}
	}
	if fmt.Sprint(sink.checkpoints) != "[10 20 25]" {
		t.Fatalf("checkpoints at %v, want [10 20 25]", sink.checkpoints)
	}
}

func TestRunSelectCountsFilteredTowardCheckpoints(t *testing.T) {
	sink := &memSink{}
	sel := func(_ context.Context, m *record.Message) (bool, string, error) {
		return m.Value[0]%2 == 0, "Even", nil
	}
	st, err := Run(context.Background(), &memSource{msgs: msgs(20)}, sink, Options{Select: sel, CheckpointEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 10 || st.Filtered != 10 || st.ByType["Even"] != 10 || st.ByPartition["src/0"] != 4 {
		t.Fatalf("stats %+v", st)
	}
	// Filtered records move the source forward too: checkpoints every 5 read.
	if fmt.Sprint(sink.checkpoints) != "[3 5 8 10 10]" {
		t.Fatalf("checkpoints %v", sink.checkpoints)
	}
}

func TestRunInterruptCheckpointsFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sink := &memSink{}
	_, err := Run(ctx, &memSource{msgs: msgs(50), cancel: cancel, stopAt: 17}, sink, Options{CheckpointEvery: 100})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if len(sink.written) != 17 || fmt.Sprint(sink.checkpoints) != "[17]" {
		t.Fatalf("wrote %d, checkpoints %v: want the 17 handled records checkpointed", len(sink.written), sink.checkpoints)
	}
}

func TestRunSinkError(t *testing.T) {
	sink := &memSink{failAt: 4}
	_, err := Run(context.Background(), &memSource{msgs: msgs(10)}, sink, Options{})
	if err == nil || err.Error() != "broker says no" {
		t.Fatalf("err = %v", err)
	}
}

func TestTransform(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := msgs(1)[0]
	tr := Transform{TimestampsNow: true, DropHeaders: []string{"a"}, SetHeaders: []record.RawHeader{{Key: "b", Value: []byte("new")}, {Key: "c", Value: []byte("3")}}, Provenance: true, ByKey: true}
	out := tr.apply(m, func() time.Time { return now })
	got := ""
	for _, h := range out.Headers {
		got += h.Key + "=" + string(h.Value) + " "
	}
	if got != "b=new c=3 evctl-source-topic=src evctl-source-partition=0 evctl-source-offset=0 " {
		t.Errorf("headers: %s", got)
	}
	if !out.Timestamp.Equal(now) || out.Partition != -1 {
		t.Errorf("out = %+v", out)
	}
	if len(m.Headers) != 2 || m.Partition != 0 {
		t.Error("apply changed its input")
	}
	same := Transform{}.apply(m, time.Now)
	if same.Partition != 0 || !same.Timestamp.Equal(m.Timestamp) || len(same.Headers) != 2 {
		t.Errorf("the zero Transform must be faithful: %+v", same)
	}
}

func TestRunRateAndPace(t *testing.T) {
	clock := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var slept time.Duration
	opts := Options{
		Now:   func() time.Time { return clock },
		Sleep: func(_ context.Context, d time.Duration) error { slept += d; clock = clock.Add(d); return nil },
	}
	opts.Rate = 10 // 10 records/s: 20 records take 1.9 s of waiting
	if _, err := Run(context.Background(), &memSource{msgs: msgs(20)}, &memSink{}, opts); err != nil {
		t.Fatal(err)
	}
	if slept != 1900*time.Millisecond {
		t.Errorf("rate: slept %v, want 1.9s", slept)
	}
	slept, opts.Rate, opts.Pace = 0, 0, 2 // records 1 s apart, twice as fast
	if _, err := Run(context.Background(), &memSource{msgs: msgs(11)}, &memSink{}, opts); err != nil {
		t.Fatal(err)
	}
	if slept != 5*time.Second {
		t.Errorf("pace: slept %v, want 5s", slept)
	}
}

// txSink aborts like a Kafka transaction: writes since the last checkpoint
// are dropped.
type txSink struct {
	memSink
	committed int
	aborts    int
}

func (s *txSink) Checkpoint(ctx context.Context) error {
	s.committed = len(s.written)
	return s.memSink.Checkpoint(ctx)
}

func (s *txSink) Abort(context.Context) error {
	s.aborts++
	s.written = s.written[:s.committed]
	return nil
}

func TestRunFailedWriteAbortsInsteadOfCheckpointing(t *testing.T) {
	sink := &txSink{memSink: memSink{failAt: 7}}
	_, err := Run(context.Background(), &memSource{msgs: msgs(20)}, sink, Options{CheckpointEvery: 5})
	if err == nil {
		t.Fatal("want the write error")
	}
	// Checkpointed after 5; records 5 and 6 were written in the open
	// transaction, the 8th failed: abort, never checkpoint past it.
	if sink.aborts != 1 || fmt.Sprint(sink.checkpoints) != "[5]" || len(sink.written) != 5 {
		t.Fatalf("aborts %d, checkpoints %v, written %d", sink.aborts, sink.checkpoints, len(sink.written))
	}
}

// cancelOnRead cancels the run's context as it hands out a record, as a
// Ctrl-C landing between Read and Write does.
type cancelOnRead struct {
	memSource
	at int
}

func (s *cancelOnRead) Read(ctx context.Context) (*record.Message, error) {
	if s.i == s.at {
		s.cancel()
		s.i++
		return s.msgs[s.i-1], nil
	}
	return s.memSource.Read(ctx)
}

func TestRunHandlesTheRecordReadWhenInterrupted(t *testing.T) {
	for _, rate := range []float64{0, 1000} {
		ctx, cancel := context.WithCancel(context.Background())
		sink := &memSink{}
		src := &cancelOnRead{memSource: memSource{msgs: msgs(30), cancel: cancel, stopAt: -1}, at: 9}
		_, err := Run(ctx, src, sink, Options{Rate: rate})
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("rate %v: err = %v", rate, err)
		}
		// The 10th record was read as Ctrl-C came: it must be written before
		// the final checkpoint commits its offset.
		if len(sink.written) != 10 || fmt.Sprint(sink.checkpoints) != "[10]" {
			t.Fatalf("rate %v: wrote %d, checkpoints %v", rate, len(sink.written), sink.checkpoints)
		}
	}
}

// lostSink is a transactional sink whose brokers went away: the checkpoint
// fails, and from then on every call answers with that same error, as the
// Kafka copier does.
type lostSink struct {
	txSink
	failCheckpoint int // the checkpoint (1-based) that fails
	err            error
}

func (s *lostSink) Checkpoint(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	if len(s.checkpoints)+1 == s.failCheckpoint {
		s.err = errors.New("cannot reach brokers")
		return s.err
	}
	return s.txSink.Checkpoint(ctx)
}

func (s *lostSink) Abort(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	return s.txSink.Abort(ctx)
}

// TestRunLostSinkCountsCommittedOnce: the summary's count is what the last
// checkpoint committed, not what was written into the failed transaction,
// and the sink's sticky error is reported once.
func TestRunLostSinkCountsCommittedOnce(t *testing.T) {
	sink := &lostSink{failCheckpoint: 3}
	st, err := Run(context.Background(), &memSource{msgs: msgs(40)}, sink, Options{CheckpointEvery: 5})
	if err == nil || err.Error() != "cannot reach brokers" {
		t.Fatalf("err = %q, want the sink's error once", err)
	}
	if st.Written != 15 || st.Committed != 10 {
		t.Errorf("written %d, committed %d; want 15 written, 10 committed", st.Written, st.Committed)
	}
	ok, err := Run(context.Background(), &memSource{msgs: msgs(12)}, &memSink{}, Options{CheckpointEvery: 5})
	if err != nil || ok.Committed != 12 || ok.Written != 12 {
		t.Errorf("a run to the end: %+v, %v; want 12 committed", ok, err)
	}
}

// The stats Run gives Progress are the caller's to keep: replay
// --parallel sums every copier's last ones while the copiers go on, and
// maps Run still wrote into crashed it ("concurrent map iteration and map
// write").
func TestRunProgressStatsAreSnapshots(t *testing.T) {
	var snaps []Stats
	clock := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	opts := Options{
		CheckpointEvery: 100,
		Now:             func() time.Time { clock = clock.Add(time.Second); return clock },
		Select:          func(_ context.Context, m *record.Message) (bool, string, error) { return true, string(m.Key), nil },
		Progress:        func(st Stats) { snaps = append(snaps, st) },
	}
	if _, err := Run(context.Background(), &memSource{msgs: msgs(30)}, &memSink{}, opts); err != nil {
		t.Fatal(err)
	}
	if len(snaps) < 10 {
		t.Fatalf("progress reported %d times, want one per record", len(snaps))
	}
	for _, st := range snaps {
		var byPartition, byType int64
		for _, n := range st.ByPartition {
			byPartition += n
		}
		for _, n := range st.ByType {
			byType += n
		}
		if byPartition != st.Written || byType != st.Written {
			t.Fatalf("a snapshot of %d records counts %d by partition and %d by type: Run changed it after reporting it", st.Written, byPartition, byType)
		}
	}
}
