package kafka

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/record"
)

// TestBatchPollerAvailable: the pinned client's consumer queue is within
// reach, so every Reader and Copier polls in batches. A client upgrade that moves it
// fails here rather than making reads silently slower.
func TestBatchPollerAvailable(t *testing.T) {
	c, err := rdk.NewConsumer(&rdk.ConfigMap{"bootstrap.servers": closedPort(t), "group.id": "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if newBatchPoller(c) == nil {
		t.Fatal("newBatchPoller = nil: confluent-kafka-go's Consumer no longer holds its queue in handle.rkq")
	}
	cfg, _ := newCluster(t, 1, "t")
	if r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}}); r.batch == nil {
		t.Error("a Reader polls one message at a time")
	}
	if cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"t"}}); cp.batch == nil || cp.batch.repoll == 0 {
		t.Error("a Copier polls one message at a time, or never looks for a rebalance among the records it holds")
	}
}

// batchRecords are records of every shape a fetch can carry, spread over
// three partitions: null and empty keys, values and header values,
// repeated header keys, more headers than a message holds inline, binary
// bytes, values and headers of hundreds of kilobytes, and many small records.
func batchRecords() []*kgo.Record {
	ts := time.Date(2026, 11, 1, 10, 0, 0, 123e6, time.UTC)
	var rs []*kgo.Record
	add := func(r *kgo.Record) {
		r.Topic = "t"
		r.Partition = int32(len(rs) % 3)
		r.Timestamp = ts.Add(time.Duration(len(rs)) * time.Millisecond)
		rs = append(rs, r)
	}
	add(&kgo.Record{})
	add(&kgo.Record{Key: []byte{}, Value: []byte{}})
	add(&kgo.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: "b", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "b", Value: []byte("3")},
		{Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte("no key")},
	}})
	add(&kgo.Record{Key: []byte{0, 0xff, '\n', 0}, Value: []byte{0, 1, 2, 0, 0xfe}})
	add(&kgo.Record{Key: []byte("big"), Value: bytes.Repeat([]byte("0123456789abcdef"), 700<<10/16)})
	add(&kgo.Record{Value: bytes.Repeat([]byte{0}, 300<<10), Headers: []kgo.RecordHeader{{Key: "h", Value: bytes.Repeat([]byte{1}, 300<<10)}}})
	for i := range 3000 {
		add(&kgo.Record{Key: fmt.Appendf(nil, "acct-%d", i%17), Value: fmt.Appendf(nil, "event %d", i), Headers: []kgo.RecordHeader{
			{Key: "type", Value: []byte("Deposited")}, {Key: "seq", Value: fmt.Append(nil, i)},
		}})
	}
	add(&kgo.Record{Value: []byte("last")})
	return rs
}

// TestBatchMatchesPoll: what a Reader returns polling in batches is what
// it returns polling one message at a time through the client's Poll,
// field for field (nil apart from empty), with a buffer small enough that
// most records wait for the next batch and the large ones grow it; and it
// is what was produced.
func TestBatchMatchesPoll(t *testing.T) {
	cfg, _ := newCluster(t, 3, "t")
	in := batchRecords()
	produce(t, cfg, in...)

	read := func(batch bool) []*record.Message {
		r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}})
		if !batch {
			r.batch = nil
		} else if r.batch != nil {
			r.batch.buf = make([]byte, 64)
		} else {
			t.Fatal("no batch poller")
		}
		return readAll(t, r)
	}
	// One consumer interleaves partitions as its fetches come back: each
	// partition's order is the one to compare.
	byOffset := func(ms []*record.Message) []*record.Message {
		slices.SortStableFunc(ms, func(a, b *record.Message) int { return cmp.Compare(a.Partition, b.Partition) })
		return ms
	}
	polled, batched := byOffset(read(false)), byOffset(read(true))
	if len(batched) != len(in) {
		t.Fatalf("read %d records in batches, want %d", len(batched), len(in))
	}
	if diff := gocmp.Diff(polled, batched); diff != "" {
		t.Errorf("batches vs Poll (-poll +batch):\n%s", diff)
	}

	byPart := map[int32][]*kgo.Record{}
	for _, r := range in {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	next := map[int32]int{}
	for _, m := range batched {
		want := byPart[m.Partition][next[m.Partition]]
		next[m.Partition]++
		if m.Offset != want.Offset || !sameBytes(m.Key, want.Key) || !sameBytes(m.Value, want.Value) ||
			!m.Timestamp.Equal(want.Timestamp) || m.TimestampType != record.TimestampCreateTime || len(m.Headers) != len(want.Headers) {
			t.Fatalf("%d@%d: got key %.20q value of %d bytes at %v, want %d@%d key %.20q value of %d bytes at %v",
				m.Partition, m.Offset, m.Key, len(m.Value), m.Timestamp, want.Partition, want.Offset, want.Key, len(want.Value), want.Timestamp)
		}
		for i, h := range m.Headers {
			if h.Key != want.Headers[i].Key || !sameBytes(h.Value, want.Headers[i].Value) {
				t.Fatalf("%d@%d header %d: %q=%q, want %q=%q", m.Partition, m.Offset, i, h.Key, h.Value, want.Headers[i].Key, want.Headers[i].Value)
			}
		}
		// Key, value and header values share one block: none may run
		// into the next when appended to.
		if cap(m.Key) != len(m.Key) || cap(m.Value) != len(m.Value) {
			t.Fatalf("%d@%d: key cap %d len %d, value cap %d len %d", m.Partition, m.Offset, cap(m.Key), len(m.Key), cap(m.Value), len(m.Value))
		}
	}
}

// sameBytes is bytes.Equal that also tells nil from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// TestBatchBuildAllocations: a record with up to four headers costs two
// allocations: the message with its headers, and one block for its
// bytes. Header keys are shared between records.
func TestBatchBuildAllocations(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	produce(t, cfg, &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: "type", Value: []byte("Deposited")}, {Key: "null"}, {Key: "id", Value: []byte("7")},
	}})
	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}})
	var e polled
	for deadline := time.Now().Add(30 * time.Second); e.kind != entryMessage; {
		if time.Now().After(deadline) {
			t.Fatal("no message polled")
		}
		e, _ = r.batch.next(pollTimeout)
	}
	m := r.batch.build("t", e)
	if string(m.Key) != "k" || string(m.Value) != "v" || len(m.Headers) != 3 || m.Headers[1].Value != nil || string(m.Headers[2].Value) != "7" {
		t.Fatalf("built %+v", m)
	}
	if n := testing.AllocsPerRun(100, func() { r.batch.build("t", e) }); n != 2 {
		t.Errorf("build: %v allocations, want 2", n)
	}
}

// TestBatchDrop: after a seek, what the poller holds of the partition
// sought is skipped (drop), after a new assignment all it holds of every
// partition (dropAll); errors and rebalances are never skipped, and
// what a poll brings after is read.
func TestBatchDrop(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	var rs []*kgo.Record
	for i := range 40 {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: fmt.Append(nil, i)})
	}
	produce(t, cfg, rs...)
	c, b := assignedPoller(t, cfg)
	topic := "t"
	// assign has the consumer fetch both partitions from the start, and
	// polls until the poller holds records of both.
	assign := func() {
		t.Helper()
		b.rest, b.dropped, b.dropEvery = nil, nil, false
		if err := c.Assign([]rdk.TopicPartition{{Topic: &topic, Partition: 0, Offset: 0}, {Topic: &topic, Partition: 1, Offset: 0}}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			if len(b.rest) == 0 {
				b.poll(pollTimeout)
			} else {
				time.Sleep(10 * time.Millisecond)
				b.pollMore()
			}
			seen := map[int32]bool{}
			for p := b.rest; len(p) > 0; {
				peek := batchPoller{rest: p}
				e := peek.entry()
				p = peek.rest
				seen[e.partition] = seen[e.partition] || e.kind == entryMessage
			}
			if seen[0] && seen[1] {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the poller never held records of both partitions")
			}
		}
	}
	assign()
	b.drop(TopicPartition{"t", 0})
	got := map[int32]int{}
	for e, ok := b.buffered(); ok; e, ok = b.buffered() {
		got[e.partition]++
	}
	if got[0] != 0 || got[1] == 0 {
		t.Fatalf("after dropping partition 0: read %d of it and %d of partition 1", got[0], got[1])
	}

	assign()
	// An error of code -51 after the records: kept.
	b.rest = append(b.rest[:len(b.rest):len(b.rest)], entryError, 0xcd, 0xff, 0xff, 0xff, 0, 2, 0, 'h', 'i')
	b.dropAll()
	e, ok := b.buffered()
	if !ok || e.kind != entryError || e.err.Error() != "hi" {
		t.Fatalf("after dropAll: %+v, %v; want only the error", e, ok)
	}
	if e, ok := b.buffered(); ok {
		t.Fatalf("after dropAll and the error: %+v", e)
	}
	// What the next poll brings is read.
	if err := c.Seek(rdk.TopicPartition{Topic: &topic, Partition: 1, Offset: 0}, 0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if e, ok := b.next(pollTimeout); ok && e.kind == entryMessage {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing read after dropAll")
		}
	}
}

// TestBatchDropHeld: a record taken off the queue that did not fit the
// buffer is dropped with its partition, so a seek reads from where it
// says, not from that record (a replay lost what lay between them).
func TestBatchDropHeld(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	var rs []*kgo.Record
	for i := range 20 {
		rs = append(rs, &kgo.Record{Topic: "t", Value: fmt.Append(nil, "value ", i)})
	}
	produce(t, cfg, rs...)
	c, b := assignedPoller(t, cfg)
	topic := "t"
	if err := c.Assign([]rdk.TopicPartition{{Topic: &topic, Partition: 0, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	first := func() polled {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if e, ok := b.next(pollTimeout); ok && e.kind == entryMessage {
				return e
			}
			if time.Now().After(deadline) {
				t.Fatal("no record read")
			}
		}
	}
	b.buf = make([]byte, 64) // one record: the next is held
	if e := first(); e.offset != 0 || len(b.rest) != 0 || b.held.held == nil {
		t.Fatalf("read offset %d, %d bytes left, held %v; want offset 0 alone, the next held", e.offset, len(b.rest), b.held.held)
	}
	b.drop(TopicPartition{"t", 0})
	if err := c.Seek(rdk.TopicPartition{Topic: &topic, Partition: 0, Offset: 5}, 0); err != nil {
		t.Fatal(err)
	}
	if e := first(); e.offset != 5 || b.held.held == nil {
		t.Fatalf("after the seek to 5, read offset %d (held %v)", e.offset, b.held.held)
	}
	// buffered, which keepServed and Close read what was taken off the
	// queue with, ends with the held record.
	if e, ok := b.buffered(); !ok || e.kind != entryMessage || e.offset != 6 {
		t.Errorf("buffered() = %d@%d, %v; want the held record at offset 6", e.kind, e.offset, ok)
	}
	if e, ok := b.buffered(); ok {
		t.Errorf("buffered() after the held record = %d@%d", e.kind, e.offset)
	}
}

// assignedPoller returns a consumer that joins no group, to be assigned
// partitions, and its batch poller; both close with the test.
func assignedPoller(t *testing.T, cfg Config) (*rdk.Consumer, *batchPoller) {
	t.Helper()
	c, err := rdk.NewConsumer(&rdk.ConfigMap{"bootstrap.servers": cfg.Brokers, "group.id": "assigned", "enable.auto.commit": false})
	if err != nil {
		t.Fatal(err)
	}
	b := newBatchPoller(c)
	t.Cleanup(func() {
		b.close()
		_ = c.Close()
	})
	return c, b
}
