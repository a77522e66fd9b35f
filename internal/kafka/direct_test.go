package kafka

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/record"
)

// TestDirectProducer: a Writer without delivery reports (a copier's)
// produces through directProducer, and what it writes is what an
// independent client reads: nil apart from empty keys, values and header
// values, headers in order with repeats, the partition and timestamp
// asked for. A record the direct path cannot pack goes through Produce.
func TestDirectProducer(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	w, err := newWriter(cfg, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.direct == nil {
		t.Fatal("a Writer without delivery reports produces through Produce: confluent-kafka-go's Producer no longer holds its handle in handle.rk")
	}
	ts := time.Date(2026, 11, 1, 10, 0, 0, 123e6, time.UTC)
	many := make([]record.RawHeader, 1<<16)
	for i := range many {
		many[i] = record.RawHeader{Key: "h"}
	}
	in := []*record.Message{
		{Partition: 1, Timestamp: ts},
		{Partition: 0, Key: []byte{}, Value: []byte{}, Timestamp: ts.Add(time.Second)},
		{Partition: 1, Key: []byte("k"), Value: []byte{0, 1, 0}, Timestamp: ts.Add(2 * time.Second), Headers: []record.RawHeader{
			{Key: "b", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "b", Value: []byte("3")},
			{Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte("no key")},
		}},
		{Partition: 0, Key: []byte("big"), Value: bytes.Repeat([]byte("x"), 300<<10), Timestamp: ts.Add(3 * time.Second)},
		{Partition: 1, Key: []byte("many headers"), Timestamp: ts.Add(4 * time.Second), Headers: many},
	}
	if packable(in[4]) || !packable(in[2]) {
		t.Fatalf("packable: %v for 65536 headers, %v for 6", packable(in[4]), packable(in[2]))
	}
	topic := "t"
	ctx := context.Background()
	for _, m := range in {
		if err := w.produce(ctx, m, &topic, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got := map[string]*kgo.Record{}
	for len(got) < len(in) {
		fs := cl.PollFetches(pctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			got[string(r.Key)+"@"+r.Timestamp.UTC().String()] = r
		}
	}
	for i, m := range in {
		r := got[string(m.Key)+"@"+m.Timestamp.String()]
		if r == nil {
			t.Fatalf("record %d not found", i)
		}
		if r.Partition != m.Partition || !sameBytes(r.Key, m.Key) || !sameBytes(r.Value, m.Value) || len(r.Headers) != len(m.Headers) {
			t.Fatalf("record %d: partition %d key %q value of %d bytes (nil %v), %d headers; want %d %q %d (nil %v), %d",
				i, r.Partition, r.Key, len(r.Value), r.Value == nil, len(r.Headers), m.Partition, m.Key, len(m.Value), m.Value == nil, len(m.Headers))
		}
		for j, h := range m.Headers {
			if r.Headers[j].Key != h.Key || !sameBytes(r.Headers[j].Value, h.Value) {
				t.Fatalf("record %d header %d: %q=%q (nil %v), want %q=%q (nil %v)", i, j, r.Headers[j].Key, r.Headers[j].Value, r.Headers[j].Value == nil, h.Key, h.Value, h.Value == nil)
			}
		}
	}
}
