package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/record"
)

// seedSource writes n records round-robin over partitions of topic: keys,
// null and empty values, repeated headers and distinct timestamps.
func seedSource(t testing.TB, cfg Config, topic string, partitions, n int) {
	t.Helper()
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	rs := make([]*kgo.Record, n)
	for i := range rs {
		r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Key: fmt.Appendf(nil, "acct-%04d", i%97),
			Value: fmt.Appendf(nil, "event-%d", i), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
		switch i % 10 {
		case 3:
			r.Value = nil
		case 4:
			r.Value = []byte{}
		case 5:
			r.Key = nil
		case 6:
			r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("1")}, {Key: "x", Value: nil}, {Key: "h", Value: []byte{}}}
		}
		rs[i] = r
	}
	produce(t, cfg, rs...)
}

// copyLoop copies from cp to dst, keeping partitions, checkpointing every
// every records; it stops after limit records (checkpointed) when limit > 0,
// or at io.EOF. It returns how many records it copied.
func copyLoop(ctx context.Context, cp *Copier, dst string, every, limit int) (int, error) {
	n := 0
	for limit <= 0 || n < limit {
		m, err := cp.Read(ctx)
		if errors.Is(err, io.EOF) {
			return n, cp.Checkpoint(ctx)
		}
		if err != nil {
			return n, err
		}
		out := *m
		out.Topic = dst
		if err := cp.Write(ctx, &out); err != nil {
			return n, err
		}
		n++
		if n%every == 0 {
			if err := cp.Checkpoint(ctx); err != nil {
				return n, err
			}
		}
	}
	return n, cp.Checkpoint(ctx)
}

// copyUnchecked copies n records to dst without a checkpoint: they are in
// the open transaction, which a crash or Close leaves to be aborted.
func copyUnchecked(ctx context.Context, t testing.TB, cp *Copier, dst string, n int) {
	t.Helper()
	for range n {
		m, err := cp.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.Topic = dst
		if err := cp.Write(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func newCopier(t testing.TB, cfg Config, opts CopyOptions) *Copier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, err := NewCopier(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Close() })
	return cp
}

// checkCopy reads src and dst (read_committed) and requires dst to hold
// every record of src exactly once, on the same partition, in order, byte
// for byte.
func checkCopy(t *testing.T, cfg Config, src, dst string) {
	t.Helper()
	waitStable(t, cfg, dst)
	wantR := newReader(t, cfg, ReadOptions{Topics: []string{src}})
	gotR := newReader(t, cfg, ReadOptions{Topics: []string{dst}})
	want, got := readAll(t, wantR), readAll(t, gotR)
	defer func() {
		if t.Failed() {
			t.Logf("ranges read: %s %v, %s %v", src, wantR.Ranges(), dst, gotR.Ranges())
		}
	}()
	strip := func(ms []*record.Message) map[int32][]*record.Message {
		out := map[int32][]*record.Message{}
		for _, m := range ms {
			c := *m
			c.Topic, c.Offset = "", 0
			out[m.Partition] = append(out[m.Partition], &c)
		}
		return out
	}
	if diff := cmp.Diff(strip(want), strip(got)); diff != "" {
		t.Errorf("destination differs from the source (-want +got):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Errorf("destination has %d records, source %d", len(got), len(want))
	}
}

// waitStable waits until no open transaction holds back topic's
// read_committed end, and returns how long that took.
func waitStable(t testing.TB, cfg Config, topic string) time.Duration {
	t.Helper()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	ctx := context.Background()
	for {
		md, err := clusterMetadata(ctx, cfg, a.logs, a.ac)
		if err != nil {
			t.Fatal(err)
		}
		var tps []topicPartition
		for _, p := range md.Topics[topic].Partitions {
			tps = append(tps, topicPartition{topic, p.ID})
		}
		_, stable, err := watermarks(ctx, cfg, a.logs, a.ac, tps, rdk.IsolationLevelReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		_, high, err := watermarks(ctx, cfg, a.logs, a.ac, tps, rdk.IsolationLevelReadUncommitted)
		if err != nil {
			t.Fatal(err)
		}
		if cmp.Equal(stable, high, cmp.AllowUnexported(topicPartition{})) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %q: open transactions after 60s: stable %v, high %v", topic, stable, high)
		}
		<-time.After(50 * time.Millisecond) // poll the condition, bounded by the deadline above
	}
}

func groupOffsetsOf(t testing.TB, cfg Config, group string, topics ...string) map[TopicPartition]int64 {
	t.Helper()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	offs, err := a.GroupOffsets(context.Background(), group, topics)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

func TestCopyExactlyOnce(t *testing.T) {
	cfg, _ := newCluster(t, 3, "src", "dst")
	seedSource(t, cfg, "src", 3, 300)
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, DestTopic: "dst"})
	if cp.Resumed() {
		t.Error("Resumed() on a new group")
	}
	if cp.DestPartitions() != 3 {
		t.Errorf("DestPartitions() = %d, want 3", cp.DestPartitions())
	}
	want := []PartitionRange{
		{Topic: "src", Partition: 0, Low: 0, High: 100, Start: 0, End: 100},
		{Topic: "src", Partition: 1, Low: 0, High: 100, Start: 0, End: 100},
		{Topic: "src", Partition: 2, Low: 0, High: 100, Start: 0, End: 100},
	}
	if diff := cmp.Diff(want, cp.Ranges()); diff != "" {
		t.Errorf("Ranges() (-want +got):\n%s", diff)
	}
	if r := cp.Remaining(); r != 300 {
		t.Errorf("Remaining() = %d before the copy, want 300", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := copyLoop(ctx, cp, "dst", 40, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 300 {
		t.Errorf("copied %d records, want 300", n)
	}
	if r := cp.Remaining(); r != 0 {
		t.Errorf("Remaining() = %d after the copy", r)
	}
	if _, err := cp.Read(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("Read after the end = %v, want io.EOF", err)
	}
	checkCopy(t, cfg, "src", "dst")
	offs := groupOffsetsOf(t, cfg, "g", "src")
	if diff := cmp.Diff(map[TopicPartition]int64{{"src", 0}: 100, {"src", 1}: 100, {"src", 2}: 100}, offs); diff != "" {
		t.Errorf("group offsets (-want +got):\n%s", diff)
	}

	// A finished group: a new copier is done at once.
	again := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if !again.Resumed() {
		t.Error("Resumed() = false on a group with offsets")
	}
	if n, err := copyLoop(ctx, again, "dst", 40, 0); err != nil || n != 0 {
		t.Errorf("copy of a finished group: %d records, %v", n, err)
	}
}

func TestCopyResume(t *testing.T) {
	cfg, _ := newCluster(t, 3, "src", "dst")
	seedSource(t, cfg, "src", 3, 300)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	first := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if n, err := copyLoop(ctx, first, "dst", 25, 120); err != nil || n != 120 {
		t.Fatalf("first copy: %d records, %v", n, err)
	}
	// Written but never checkpointed: Close aborts it.
	copyUnchecked(ctx, t, first, "dst", 7)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if !second.Resumed() {
		t.Error("Resumed() = false")
	}
	var started int64
	for _, r := range second.Ranges() {
		started += r.Start
	}
	if started != 120 {
		t.Errorf("ranges start at %d records in all, want 120: %+v", started, second.Ranges())
	}
	if n, err := copyLoop(ctx, second, "dst", 25, 0); err != nil || n != 180 {
		t.Fatalf("resumed copy: %d records, %v; want 180", n, err)
	}
	checkCopy(t, cfg, "src", "dst")
}

// TestCopyFinishedGroupStaysOut resumes a group that has copied
// everything: there is nothing to do, so the copier does not join (a join
// completing during Close can block librdkafka's close) and the group stays
// Empty.
func TestCopyFinishedGroupStaysOut(t *testing.T) {
	cfg, _ := newCluster(t, 3, "src", "dst")
	seedSource(t, cfg, "src", 3, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if n, err := copyLoop(ctx, first, "dst", 10, 0); err != nil || n != 30 {
		t.Fatalf("copy: %d records, %v", n, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if got := again.Remaining(); got != 0 {
		t.Errorf("Remaining() = %d, want 0", got)
	}
	if _, err := again.Read(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Read() error = %v, want io.EOF", err)
	}
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	g, err := a.Group(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.State != "Empty" {
		t.Errorf("group state = %q with a finished copier open, want Empty", g.State)
	}
	if err := again.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

// TestCopyCrash leaves a transaction open with records and with offsets,
// as a killed process does, and resumes: the broker aborts the open
// transaction on its timeout and nothing is duplicated.
func TestCopyCrash(t *testing.T) {
	cfg, _ := newCluster(t, 3, "src", "dst")
	cfg.Props = [][2]string{{"transaction.timeout.ms", "3000"}}
	seedSource(t, cfg, "src", 3, 300)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	first := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if n, err := copyLoop(ctx, first, "dst", 50, 100); err != nil || n != 100 {
		t.Fatalf("first copy: %d records, %v", n, err)
	}
	copyUnchecked(ctx, t, first, "dst", 30)
	// Half a checkpoint: the offsets are in the transaction, the commit never comes.
	var offsets []rdk.TopicPartition
	for _, p := range first.order {
		if p.assigned && p.next > p.start {
			offsets = append(offsets, rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(p.next)})
		}
	}
	md, err := first.c.GetConsumerGroupMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.w.p.SendOffsetsToTransaction(ctx, offsets, md); err != nil {
		t.Fatal(err)
	}
	first.crash()

	start := time.Now()
	second := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	t.Logf("resumed copier started after %v (transaction timeout 3s)", time.Since(start))
	var started int64
	for _, r := range second.Ranges() {
		started += r.Start
	}
	if started != 100 {
		t.Errorf("ranges start at %d records in all, want the 100 committed: %+v", started, second.Ranges())
	}
	if n, err := copyLoop(ctx, second, "dst", 50, 0); err != nil || n != 200 {
		t.Fatalf("resumed copy: %d records, %v; want 200", n, err)
	}
	t.Logf("resumed copy done after %v", time.Since(start))
	checkCopy(t, cfg, "src", "dst")
}

// crash drops the copier as a killed process would: no abort, no commit.
// The consumer still leaves the group, which a killed process does only
// when its session times out.
func (cp *Copier) crash() {
	cp.closing = true
	cp.inTxn = false
	_ = cp.release()
}

func TestCopyTwoMembers(t *testing.T) {
	cfg, _ := newCluster(t, 4, "src", "dst")
	// The first member learns of the second at its next heartbeat.
	cfg.Props = [][2]string{{"heartbeat.interval.ms", "100"}}
	const n = 40_000
	seedSource(t, cfg, "src", 4, n)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	// Both join before either reads, so the group splits the partitions.
	cps := []*Copier{
		newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}}),
		newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, TransactionalID: "g-second"}),
	}
	if cps[0].TransactionalID() == cps[1].TransactionalID() {
		t.Fatalf("both copiers use transactional id %q", cps[0].TransactionalID())
	}
	counts := make([]int, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, cp := range cps {
		wg.Go(func() { counts[i], errs[i] = copyLoop(ctx, cp, "dst", 1000, 0) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("records copied by each member: %v", counts)
	if counts[0]+counts[1] < n {
		t.Errorf("copied %v records, want %d in all", counts, n)
	}
	if counts[0] == 0 || counts[1] == 0 {
		t.Errorf("members copied %v records: the group did not split the work", counts)
	}
	checkCopy(t, cfg, "src", "dst")
}

func TestCopyRefusesCooperative(t *testing.T) {
	cfg, _ := newCluster(t, 1, "src")
	cfg.Props = [][2]string{{"partition.assignment.strategy", "cooperative-sticky"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := NewCopier(ctx, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if err == nil || !strings.Contains(err.Error(), `"cooperative-sticky" is not supported`) {
		t.Fatalf("NewCopier() error = %v, want cooperative-sticky refused", err)
	}
}

// TestCopyWaitsForGroup: a member whose own partitions are done keeps
// reading until the slow member is done too, and only then ends.
func TestCopyWaitsForGroup(t *testing.T) {
	cfg, _ := newCluster(t, 2, "src", "dst")
	// The slow member commits a transaction per record, which takes a real
	// broker tens of milliseconds: fewer records keep the test short there.
	n := 2000
	if onRealKafka {
		n = 400
	}
	seedSource(t, cfg, "src", 2, n)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	cfg.Props = [][2]string{{"heartbeat.interval.ms", "100"}}
	// The slow member joins first (at its first Read) and takes
	// everything; the fast one's join makes it share.
	slow := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, TransactionalID: "slow"})
	fast := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, TransactionalID: "fast"})
	var seq atomic.Int64
	var fastEOF, slowLast atomic.Int64
	var fastN, slowN int
	var fastErr, slowErr error
	var wg sync.WaitGroup
	slowJoined := make(chan struct{})
	wg.Go(func() {
		<-slowJoined
		fastN, fastErr = copyLoop(ctx, fast, "dst", 500, 0)
		fastEOF.Store(seq.Add(1))
	})
	wg.Go(func() {
		// A transaction per record: far slower than the fast member.
		defer func() {
			if slowN == 0 {
				close(slowJoined)
			}
		}()
		for {
			m, err := slow.Read(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				slowErr = err
				return
			}
			m.Topic = "dst"
			if slowErr = slow.Write(ctx, m); slowErr != nil {
				return
			}
			if slowErr = slow.Checkpoint(ctx); slowErr != nil {
				return
			}
			slowN++
			slowLast.Store(seq.Add(1))
			if slowN == 1 {
				close(slowJoined)
			}
		}
	})
	wg.Wait()
	if fastErr != nil || slowErr != nil {
		t.Fatal(fastErr, slowErr)
	}
	t.Logf("fast copied %d, slow %d", fastN, slowN)
	if fastN+slowN != n {
		t.Errorf("copied %d+%d records, want %d", fastN, slowN, n)
	}
	if fastN == 0 || slowN == 0 {
		t.Errorf("fast copied %d, slow %d: the group did not split the work", fastN, slowN)
	}
	if fastEOF.Load() < slowLast.Load() {
		t.Errorf("the fast member ended (event %d) before the slow one's last checkpoint (event %d)", fastEOF.Load(), slowLast.Load())
	}
	checkCopy(t, cfg, "src", "dst")
}

func TestCopyTransactionalSource(t *testing.T) {
	cfg, _ := newCluster(t, 1, "src", "dst")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.TransactionalID("source-producer"), kgo.DefaultProduceTopic("src"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, end := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort, kgo.TryCommit} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if n, err := copyLoop(ctx, cp, "dst", 2, 0); err != nil || n != 6 {
		t.Fatalf("copy: %d records, %v; want the 6 committed", n, err)
	}
	// The group's offset is past the last transaction marker.
	if off := groupOffsetsOf(t, cfg, "g", "src")[TopicPartition{"src", 0}]; off != cp.Ranges()[0].End {
		t.Errorf("group offset %d, want the captured end %d", off, cp.Ranges()[0].End)
	}
	checkCopy(t, cfg, "src", "dst")
}

func TestCopyFromTo(t *testing.T) {
	cfg, _ := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 40) // 20 a partition
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, From: mustPos(t, "5"), To: mustPos(t, "-5")})
	for _, r := range cp.Ranges() {
		if r.Start != 5 || r.End != 15 {
			t.Errorf("range %+v, want 5..15", r)
		}
	}
	if n, err := copyLoop(ctx, cp, "dst", 7, 0); err != nil || n != 20 {
		t.Fatalf("copy: %d records, %v; want 20", n, err)
	}
	got := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"dst"}}))
	for _, m := range got {
		i, _ := strconv.Atoi(strings.TrimPrefix(string(m.Value), "event-"))
		if off := i / 2; len(m.Value) > 0 && (off < 5 || off >= 15) {
			t.Errorf("copied source offset %d, outside 5..15", off)
		}
	}
	if len(got) != 20 {
		t.Errorf("destination has %d records, want 20", len(got))
	}
}

func TestCopyAbort(t *testing.T) {
	cfg, _ := newCluster(t, 1, "src", "dst")
	seedSource(t, cfg, "src", 1, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if _, err := copyLoop(ctx, cp, "dst", 5, 5); err != nil {
		t.Fatal(err)
	}
	copyUnchecked(ctx, t, cp, "dst", 3)
	if err := cp.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	// The aborted records come again.
	m, err := cp.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset != 5 {
		t.Errorf("after the abort, read offset %d, want 5", m.Offset)
	}
	m.Topic = "dst"
	if err := cp.Write(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := copyLoop(ctx, cp, "dst", 5, 0); err != nil {
		t.Fatal(err)
	}
	checkCopy(t, cfg, "src", "dst")
}

func TestCopyUnreachable(t *testing.T) {
	cfg := Config{Brokers: closedPort(t), Timeout: time.Second}
	start := time.Now()
	_, err := NewCopier(context.Background(), cfg, CopyOptions{Group: "g", Topics: []string{"t"}})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took > 3*cfg.Timeout {
		t.Errorf("took %v", took)
	}
}

func TestCopyNeedsGroup(t *testing.T) {
	_, err := NewCopier(context.Background(), Config{Brokers: "x:1"}, CopyOptions{Topics: []string{"t"}})
	if err == nil || !strings.Contains(err.Error(), "group") {
		t.Errorf("err = %v, want it to ask for a group", err)
	}
}

// TestCopyKillResume kills a copier process (SIGKILL) in the middle of a
// transaction and resumes in this one; it logs how long the resumed run
// waited. The killed member's session and open transaction both time out
// after 10 s by default.
func TestCopyKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the killed member's timeouts")
	}
	for _, stage := range []string{"records", "offsets"} {
		t.Run(stage, func(t *testing.T) {
			cfg, _ := newCluster(t, 3, "src", "dst")
			seedSource(t, cfg, "src", 3, 3000)

			kill(t, startHelper(t, cfg, stage, "ready-to-kill"))
			killed := time.Now()

			cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
			t.Logf("%s: NewCopier took %v after the kill", stage, time.Since(killed))
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			m, err := cp.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: first record %v after the kill", stage, time.Since(killed))
			m.Topic = "dst"
			if err := cp.Write(ctx, m); err != nil {
				t.Fatal(err)
			}
			n, err := copyLoop(ctx, cp, "dst", 500, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: resumed copy of %d records done %v after the kill", stage, n+1, time.Since(killed))
			if !cp.Resumed() {
				t.Error("Resumed() = false")
			}
			wait := waitStable(t, cfg, "dst")
			t.Logf("%s: destination stable %v after the kill (waited %v for it)", stage, time.Since(killed), wait)
			checkCopy(t, cfg, "src", "dst")
		})
	}
}

// TestCopyHelperProcess is the process TestCopyKillResume kills: it
// checkpoints 1000 records, writes 200 more in an open transaction (and,
// for "offsets", sends their offsets too) and waits to be killed.
func TestCopyHelperProcess(t *testing.T) {
	stage := os.Getenv("EVCTL_COPY_HELPER")
	if stage == "" {
		t.Skip("run by TestCopyKillResume")
	}
	cfg := Config{Brokers: os.Getenv("EVCTL_BROKERS"), Timeout: 10 * time.Second}
	ctx := context.Background()
	cp, err := NewCopier(ctx, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if err != nil {
		t.Fatal(err)
	}
	switch stage { // TestCopyMemberKilledJoining's
	case "member": // a member of the group, holding partitions
		if _, err := cp.Read(ctx); err != nil {
			t.Fatal(err)
		}
		fmt.Println("ready-to-kill")
		select {}
	case "join": // a member waiting in JoinGroup for the dead one above
		fmt.Println("joining")
		_, _ = cp.Read(ctx)
		select {}
	}
	if n, err := copyLoop(ctx, cp, "dst", 500, 1000); err != nil || n != 1000 {
		t.Fatal(n, err)
	}
	copyUnchecked(ctx, t, cp, "dst", 200)
	if err := cp.w.p.Flush(10_000); err != 0 {
		t.Fatalf("%d records not flushed", err)
	}
	if stage == "offsets" {
		var offsets []rdk.TopicPartition
		for _, p := range cp.order {
			if p.assigned && p.next > p.start {
				offsets = append(offsets, rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(p.next)})
			}
		}
		md, err := cp.c.GetConsumerGroupMetadata()
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.w.p.SendOffsetsToTransaction(ctx, offsets, md); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("ready-to-kill")
	select {} // killed here
}

// waitCommitted polls group's committed offsets on topic until ok accepts
// them, then calls then; it fails the test after a minute.
func waitCommitted(t *testing.T, cfg Config, group, topic string, ok func(map[TopicPartition]int64) bool, then func()) {
	t.Helper()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Error(err)
		then()
		return
	}
	defer a.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := a.GroupOffsets(context.Background(), group, []string{topic})
		if err == nil && ok(got) {
			then()
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("group %s: committed offsets %v (%v), still not there after a minute", group, got, err)
			then()
			return
		}
		<-time.After(20 * time.Millisecond)
	}
}

// TestCopierFollow: a follower starts at the end, commits that before it
// reads (so a lag counts from there), returns what arrives later, never io.EOF, and
// with Behind holds a record back until it is old enough, committing what
// came before; a new member of the group resumes at the held record.
func TestCopierFollow(t *testing.T) {
	cfg, _ := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 10)
	ctx := context.Background()
	opts := CopyOptions{Group: "follower", Topics: []string{"src"}, DestTopic: "dst", From: mustPos(t, "end"), Follow: true, Behind: time.Hour, CheckpointAfter: 100 * time.Millisecond}
	cp, err := NewCopier(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, r := range cp.Ranges() {
		if r.Start != 5 || r.End != -1 {
			t.Errorf("range %+v: want start 5, end -1", r)
		}
	}
	if n := cp.Remaining(); n != 0 {
		t.Errorf("Remaining = %d, want 0 for a follower", n)
	}

	// Where it starts is committed before anything is read.
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	committed, err := a.GroupOffsets(ctx, "follower", []string{"src"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[TopicPartition]int64{{"src", 0}: 5, {"src", 1}: 5}; !cmp.Equal(committed, want) {
		t.Errorf("committed at the start: %v, want %v", committed, want)
	}
	// Nothing to read: Read waits.
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	if m, err := cp.Read(rctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with nothing new = %v, %v; want it to wait until cancelled", m, err)
	}

	// An old record comes at once; a new one is held back, the old one
	// committed meanwhile.
	old := time.Now().Add(-2 * time.Hour)
	produce(t, cfg, &kgo.Record{Topic: "src", Partition: 1, Value: []byte("old"), Timestamp: old},
		&kgo.Record{Topic: "src", Partition: 1, Value: []byte("new"), Timestamp: time.Now()})
	m, err := cp.Read(ctx)
	if err != nil || string(m.Value) != "old" || m.Offset != 5 {
		t.Fatalf("Read = %+v, %v; want the old record at 5", m, err)
	}
	if err := cp.Write(ctx, m); err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go waitCommitted(t, cfg, "follower", "src", func(got map[TopicPartition]int64) bool {
		return got[TopicPartition{"src", 1}] == 6
	}, cancel)
	if m, err := cp.Read(rctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read of a record an hour too young = %+v, %v; want it held until cancelled", m, err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}

	opts.Behind = 0
	cp2, err := NewCopier(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cp2.Close()
	m, err = cp2.Read(ctx)
	if err != nil || string(m.Value) != "new" || m.Offset != 6 {
		t.Fatalf("the next member reads %+v, %v; want the held record at 6", m, err)
	}
	if err := cp2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	dst := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"dst"}}))
	if len(dst) != 1 || string(dst[0].Value) != "old" {
		t.Errorf("dst holds %d records, want the old one", len(dst))
	}
}

// TestCopySequential reads a Sequential copier's partitions one after
// another, also after an abort rewinds two of them.
func TestCopySequential(t *testing.T) {
	cfg, _ := newCluster(t, 3, "src", "dst")
	seedSource(t, cfg, "src", 3, 300)
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, DestTopic: "dst", Sequential: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var read []string
	next := func() *record.Message {
		t.Helper()
		m, err := cp.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, fmt.Sprintf("%d@%d", m.Partition, m.Offset))
		if err := cp.Write(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for range 120 {
		next()
	}
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for range 100 { // the rest of partition 1 and the start of 2
		next()
	}
	if err := cp.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	var want []string
	for p := range 3 {
		for o := range 100 {
			want = append(want, fmt.Sprintf("%d@%d", p, o))
		}
	}
	want = append(want[:220:220], want[120:]...)
	for range 180 {
		next()
	}
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Read(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("Read after the end = %v, want io.EOF", err)
	}
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("records read (-want +got):\n%s", diff)
	}
	checkCopy(t, cfg, "src", "dst")
}

// TestCopyRebalanceTimeout: a copier's rebalance timeout, which librdkafka
// takes from max.poll.interval.ms, is its session timeout. kfake waits
// that long for each member killed while it joined; at 15 s three
// killed together stalled a resumed --parallel replay for 30 s
// (replay_parallel.txtar). A follower keeps a day; -X wins.
func TestCopyRebalanceTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		props  [][2]string
		follow bool
		want   string
	}{
		{"default", nil, false, "10000"},
		{"session from -X", [][2]string{{"session.timeout.ms", "6000"}}, false, "6000"},
		{"follower", nil, true, "86400000"},
		{"-X wins", [][2]string{{"max.poll.interval.ms", "20000"}}, false, "20000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := copyConsumerConfig(Config{Brokers: "b:9092", Props: tc.props}, CopyOptions{Group: "g", Follow: tc.follow})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint((*m)["max.poll.interval.ms"]); got != tc.want {
				t.Errorf("max.poll.interval.ms = %s, want %s", got, tc.want)
			}
		})
	}
}

// A copier's producer lingers 20 ms (fuller batches: less CPU in evctl
// and in the broker), is transactional under its own id and sized for
// the destination; -X wins.
func TestCopyProducerConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		props  [][2]string
		max    int
		linger string
		bytes  string
	}{
		{"default", nil, 0, "20", "<nil>"},
		{"a destination of 4 MB", nil, 4 << 20, "20", "4194304"},
		{"-X wins", [][2]string{{"linger.ms", "5"}}, 0, "5", "<nil>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Config{Brokers: "b:9092", Props: tc.props}.configMap(copyProducerProps("g-host-1", tc.max))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"linger.ms": tc.linger, "message.max.bytes": tc.bytes, "transactional.id": "g-host-1", "enable.idempotence": "true"} {
				if got := fmt.Sprint((*m)[k]); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
		})
	}
}
