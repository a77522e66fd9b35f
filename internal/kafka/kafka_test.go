package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/stream"
)

// newCluster starts an embedded broker with the given topics, each with
// partitions partitions, and returns a Config for it; in the real tier's
// pass it takes the real cluster instead (see TestMain), and the
// *kfake.Cluster is nil.
func newCluster(t testing.TB, partitions int32, topics ...string) (Config, *kfake.Cluster) {
	t.Helper()
	if onRealKafka {
		return realCluster(t, partitions, topics...), nil
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return Config{Brokers: strings.Join(c.ListenAddrs(), ","), Timeout: 5 * time.Second}, c
}

// produce writes records with franz-go, an independent client, to the
// partitions they name.
func produce(t testing.TB, cfg Config, rs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func newReader(t testing.TB, cfg Config, opts ReadOptions) *Reader {
	t.Helper()
	r, err := NewReader(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// readAll reads until io.EOF, failing the test if that takes too long.
func readAll(t testing.TB, r *Reader) []*record.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*record.Message
	for {
		m, err := r.Read(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
		out = append(out, m)
	}
}

func TestReadAll(t *testing.T) {
	cfg, _ := newCluster(t, 3, "t")
	var rs []*kgo.Record
	for i := range 30 {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(i % 3), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))})
	}
	produce(t, cfg, rs...)

	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}})
	want := []PartitionRange{
		{Topic: "t", Partition: 0, Low: 0, High: 10, Start: 0, End: 10},
		{Topic: "t", Partition: 1, Low: 0, High: 10, Start: 0, End: 10},
		{Topic: "t", Partition: 2, Low: 0, High: 10, Start: 0, End: 10},
	}
	if diff := cmp.Diff(want, r.Ranges()); diff != "" {
		t.Errorf("Ranges() (-want +got):\n%s", diff)
	}
	got := readAll(t, r)
	if len(got) != 30 {
		t.Fatalf("read %d records, want 30", len(got))
	}
	next := map[int32]int64{}
	for _, m := range got {
		if m.Topic != "t" || m.Offset != next[m.Partition] {
			t.Fatalf("got %s[%d]@%d, want offset %d", m.Topic, m.Partition, m.Offset, next[m.Partition])
		}
		i := int(m.Offset)*3 + int(m.Partition)
		if string(m.Key) != fmt.Sprint(i) || string(m.Value) != fmt.Sprint("v", i) {
			t.Errorf("%d@%d: key %q value %q, want %d", m.Partition, m.Offset, m.Key, m.Value, i)
		}
		next[m.Partition]++
	}
	// Read after the end keeps saying so.
	if _, err := r.Read(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("Read after end = %v, want io.EOF", err)
	}
}

func TestReadPositions(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	// Partition 0: offsets 0..9 stamped base+0m .. base+9m; partition 1 empty.
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var rs []*kgo.Record
	for i := range 10 {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: 0, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	produce(t, cfg, rs...)

	tests := []struct {
		from, to string
		want     []int64 // offsets read from partition 0
	}{
		{"start", "end", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"end", "", nil},
		{"+3", "", []int64{3, 4, 5, 6, 7, 8, 9}},
		{"-3", "", []int64{7, 8, 9}},
		{"-30", "", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"4", "6", []int64{4, 5}},
		{"4", "4", nil},
		{"6", "4", nil},
		{"8", "100", []int64{8, 9}},
		{"start", "+2", []int64{0, 1}},
		{"start", "-8", []int64{0, 1}},
		{"@2026-11-01T10:05:00Z", "", []int64{5, 6, 7, 8, 9}},
		{"@2026-11-01T10:04:30Z", "", []int64{5, 6, 7, 8, 9}},
		{fmt.Sprint("@", base.Add(2*time.Minute).UnixMilli()), "@2026-11-01T10:04:00Z", []int64{2, 3}},
		{"@2026-11-01", "@2026-11-01T10:01:00.001Z", []int64{0, 1}},
		{"@2026-11-02", "", nil},
		{"@2026-11-02", "end", nil},
	}
	for _, tt := range tests {
		t.Run(tt.from+":"+tt.to, func(t *testing.T) {
			opts := ReadOptions{Topics: []string{"t"}}
			var err error
			if opts.From, err = parsePos(tt.from); err != nil {
				t.Fatal(err)
			}
			if opts.To, err = parsePos(tt.to); err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, m := range readAll(t, newReader(t, cfg, opts)) {
				if m.Partition != 0 {
					t.Fatalf("record from empty partition %d", m.Partition)
				}
				if !m.Timestamp.Equal(base.Add(time.Duration(m.Offset) * time.Minute)) {
					t.Errorf("offset %d has timestamp %v", m.Offset, m.Timestamp)
				}
				got = append(got, m.Offset)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("offsets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadEmptyTopic(t *testing.T) {
	cfg, _ := newCluster(t, 4, "empty")
	r := newReader(t, cfg, ReadOptions{Topics: []string{"empty"}})
	if got := readAll(t, r); len(got) != 0 {
		t.Errorf("read %d records from an empty topic", len(got))
	}
	for _, pr := range r.Ranges() {
		if pr.Start != 0 || pr.End != 0 {
			t.Errorf("range %+v, want 0..0", pr)
		}
	}
}

func TestReadPartitions(t *testing.T) {
	cfg, _ := newCluster(t, 3, "t")
	var rs []*kgo.Record
	for i := range 9 {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(i % 3), Value: []byte("x")})
	}
	produce(t, cfg, rs...)

	got := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}, Partitions: []int32{2, 0, 2}}))
	count := map[int32]int{}
	for _, m := range got {
		count[m.Partition]++
	}
	if diff := cmp.Diff(map[int32]int{0: 3, 2: 3}, count); diff != "" {
		t.Errorf("records per partition (-want +got):\n%s", diff)
	}

	_, err := NewReader(context.Background(), cfg, ReadOptions{Topics: []string{"t"}, Partitions: []int32{7}})
	if err == nil || !strings.Contains(err.Error(), "no partition 7") {
		t.Errorf("NewReader with partition 7 = %v, want a no-partition error", err)
	}
}

func TestReadTwoTopics(t *testing.T) {
	cfg, _ := newCluster(t, 1, "a", "b")
	produce(t, cfg, &kgo.Record{Topic: "a", Value: []byte("1")}, &kgo.Record{Topic: "b", Value: []byte("2")})
	r := newReader(t, cfg, ReadOptions{Topics: []string{"b", "a", "b"}})
	if got := r.Ranges(); len(got) != 2 || got[0].Topic != "b" || got[1].Topic != "a" {
		t.Errorf("Ranges() = %+v, want b then a", got)
	}
	if got := readAll(t, r); len(got) != 2 {
		t.Errorf("read %d records, want 2", len(got))
	}
}

func TestFollow(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	produce(t, cfg, &kgo.Record{Topic: "t", Partition: 0, Value: []byte("old")})
	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}, From: mustPos(t, "end"), Follow: true})
	for _, pr := range r.Ranges() {
		if pr.End != -1 {
			t.Errorf("following range %+v has an end", pr)
		}
	}

	got := make(chan *record.Message)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := r.Read(ctx)
			if err != nil {
				errc <- err
				return
			}
			got <- m
		}
	}()
	produce(t, cfg, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("new")})
	select {
	case m := <-got:
		if string(m.Value) != "new" || m.Partition != 1 || m.Offset != 0 {
			t.Errorf("followed %s[%d]@%d %q, want the new record", m.Topic, m.Partition, m.Offset, m.Value)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("no record followed within 30s")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
}

func TestWriteReadFaithful(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	ts := time.Date(2026, 11, 1, 10, 0, 0, 123e6, time.UTC)
	in := []*record.Message{
		{Topic: "t", Key: nil, Value: nil, Timestamp: ts},
		{Topic: "t", Key: []byte{}, Value: []byte{}, Timestamp: ts.Add(time.Second)},
		{Topic: "t", Key: []byte("k"), Value: []byte("v"), Timestamp: ts.Add(2 * time.Second), Headers: []record.RawHeader{
			{Key: "b", Value: []byte("1")},
			{Key: "a", Value: []byte("2")},
			{Key: "b", Value: []byte("3")},
			{Key: "null", Value: nil},
			{Key: "empty", Value: []byte{}},
		}},
	}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	for _, m := range in {
		if err := w.Produce(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	got := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}}))
	for i, m := range in {
		m.Offset = int64(i)
		m.TimestampType = record.TimestampCreateTime // the producer's
	}
	// cmp tells nil from empty slices, which is the point.
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}

	// An independent client sees the same nulls and empties on the broker.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < 2 {
		fs := cl.PollFetches(pctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, fs.Records()...)
	}
	if recs[0].Key != nil || recs[0].Value != nil || recs[1].Key == nil || recs[1].Value == nil {
		t.Errorf("broker holds key %v value %v, key %v value %v; want nil nil, empty empty",
			recs[0].Key, recs[0].Value, recs[1].Key, recs[1].Value)
	}
}

func TestUnknownTopic(t *testing.T) {
	cfg, _ := newCluster(t, 1, "bank.account-events", "bank.account-balances", "orders")
	_, err := NewReader(context.Background(), cfg, ReadOptions{Topics: []string{"bank.acount-events"}})
	var ute *UnknownTopicError
	if !errors.As(err, &ute) {
		t.Fatalf("err = %v, want *UnknownTopicError", err)
	}
	if len(ute.Similar) == 0 || ute.Similar[0] != "bank.account-events" {
		t.Errorf("Similar = %v, want bank.account-events first", ute.Similar)
	}
	const want = `topic "bank.acount-events" not found (similar: bank.account-events`
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; check the name or --brokers") {
		t.Errorf("err = %q", err)
	}

	_, err = NewReader(context.Background(), cfg, ReadOptions{Topics: []string{"zzz"}})
	if want := `topic "zzz" not found (have: bank.account-balances, bank.account-events, orders); check the name or --brokers`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}

	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.Topics(context.Background(), "order")
	if !errors.As(err, &ute) || cmp.Diff([]string{"orders"}, ute.Similar) != "" {
		t.Errorf("Topics(order) = %v, want similar: orders", err)
	}
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachable(t *testing.T) {
	cfg := Config{Brokers: closedPort(t), Timeout: time.Second}
	check := func(t *testing.T, start time.Time, err error) {
		t.Helper()
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
		t.Log(err)
		if took := time.Since(start); took > 3*cfg.Timeout {
			t.Errorf("took %v, more than 3× the %v timeout", took, cfg.Timeout)
		}
		want := fmt.Sprintf("cannot reach brokers at %q within 1s (", cfg.Brokers)
		if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "); check --brokers") {
			t.Errorf("err = %q", msg)
		}
	}
	t.Run("reader", func(t *testing.T) {
		start := time.Now()
		_, err := NewReader(context.Background(), cfg, ReadOptions{Topics: []string{"t"}})
		check(t, start, err)
	})
	t.Run("admin", func(t *testing.T) {
		a, err := NewAdmin(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		start := time.Now()
		_, err = a.Topics(context.Background(), "")
		check(t, start, err)
	})
	t.Run("writer", func(t *testing.T) {
		w, err := NewWriter(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		start := time.Now()
		if err := w.Produce(context.Background(), &record.Message{Topic: "t", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		check(t, start, w.Flush(context.Background()))
	})
}

func TestNoBrokers(t *testing.T) {
	_, err := NewReader(context.Background(), Config{}, ReadOptions{Topics: []string{"t"}})
	if err == nil || !strings.Contains(err.Error(), "--brokers") {
		t.Errorf("err = %v, want a hint at --brokers", err)
	}
}

func TestBadProperty(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	cfg.Props = [][2]string{{"no.such.property", "1"}}
	_, err := NewReader(context.Background(), cfg, ReadOptions{Topics: []string{"t"}})
	if err == nil || !strings.Contains(err.Error(), "no.such.property") {
		t.Errorf("err = %v, want it to name the property", err)
	}
}

func parsePos(s string) (position.Position, error) {
	if s == "" {
		return position.Position{}, nil
	}
	return position.Parse(s, time.Now())
}

func mustPos(t testing.TB, s string) position.Position {
	t.Helper()
	p, err := parsePos(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadTransactional checks that a bounded read ends when a partition's
// last offsets are a transaction marker and aborted records, which a
// read_committed consumer never sees.
func TestReadTransactional(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.TransactionalID("evctl-test"), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}

	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}})
	if got := readAll(t, r); len(got) != 3 {
		t.Errorf("read %d records, want the 3 committed", len(got))
	}
	if pr := r.Ranges()[0]; pr.End <= 3 {
		t.Errorf("range %+v: want the end past the markers", pr)
	}
}

func TestTidyLog(t *testing.T) {
	tests := map[string]string{
		"[thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT, 1 identical error(s) suppressed)": "Connect to ipv4#127.0.0.1:1 failed: Connection refused",
		"nohost:9092/bootstrap: Failed to resolve 'nohost:9092': Name or service not known (after 2ms in state CONNECT)":                                                            "Failed to resolve 'nohost:9092': Name or service not known",
		"plain message": "plain message",
	}
	for in, want := range tests {
		if got := tidyLog(in); got != want {
			t.Errorf("tidyLog(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogExplains(t *testing.T) {
	for _, tc := range []struct {
		ev   rdk.LogEvent
		want bool
	}{
		{rdk.LogEvent{Tag: "FAIL", Level: 3, Message: "Connect to ipv4#127.0.0.1:1 failed: Connection refused"}, true},
		{rdk.LogEvent{Tag: "REQTMOUT", Level: 4, Message: "Timed out ProduceRequest in flight"}, true},
		{rdk.LogEvent{Tag: "CONFWARN", Level: 4, Message: "Configuration property fetch.message.max.bytes is a consumer property and will be ignored by this producer instance"}, false},
		{rdk.LogEvent{Tag: "METADATA", Level: 7, Message: "Topic t partition count changed"}, false},
	} {
		if got := explains(tc.ev); got != tc.want {
			t.Errorf("explains(%s %q) = %v, want %v", tc.ev.Tag, tc.ev.Message, got, tc.want)
		}
	}
}

func TestReadStartOffsets(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	for i := range 5 {
		produce(t, cfg, &kgo.Record{Topic: "t", Partition: 0, Value: []byte{byte('a' + i)}})
	}
	for i := range 3 {
		produce(t, cfg, &kgo.Record{Topic: "t", Partition: 1, Value: []byte{byte('x' + i)}})
	}
	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}, StartOffsets: map[TopicPartition]int64{
		{"t", 0}: 3,
		{"t", 1}: 99, // past the end: clamped, nothing to read
	}})
	var got []string
	for _, m := range readAll(t, r) {
		got = append(got, fmt.Sprintf("%d@%d=%s", m.Partition, m.Offset, m.Value))
	}
	if want := []string{"0@3=d", "0@4=e"}; !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
}

func TestReadStopOffsets(t *testing.T) {
	cfg, _ := newCluster(t, 4, "t")
	var rs []*kgo.Record
	for p, n := range []int{10, 5, 4, 3} {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(p), Value: []byte{byte('a' + i)}})
		}
	}
	produce(t, cfg, rs...)

	r := newReader(t, cfg, ReadOptions{
		Topics: []string{"t"},
		StartOffsets: map[TopicPartition]int64{
			{"t", 0}: 2,
			{"t", 1}: 3,
			{"t", 2}: 1,
			{"t", 3}: 2,
		},
		StopOffsets: map[TopicPartition]int64{
			{"t", 0}: 6,
			{"t", 1}: 99, // past the end: clamped to it
			{"t", 2}: 1,  // start == stop: nothing
			{"t", 3}: 1,  // before the start: nothing
		},
	})
	want := []PartitionRange{
		{Topic: "t", Partition: 0, Low: 0, High: 10, Start: 2, End: 6},
		{Topic: "t", Partition: 1, Low: 0, High: 5, Start: 3, End: 5},
		{Topic: "t", Partition: 2, Low: 0, High: 4, Start: 1, End: 1},
		{Topic: "t", Partition: 3, Low: 0, High: 3, Start: 2, End: 2},
	}
	if diff := cmp.Diff(want, r.Ranges()); diff != "" {
		t.Errorf("Ranges() (-want +got):\n%s", diff)
	}
	got := map[int32][]string{}
	for _, m := range readAll(t, r) {
		got[m.Partition] = append(got[m.Partition], fmt.Sprintf("%d=%s", m.Offset, m.Value))
	}
	wantRead := map[int32][]string{
		0: {"2=c", "3=d", "4=e", "5=f"},
		1: {"3=d", "4=e"},
	}
	if diff := cmp.Diff(wantRead, got); diff != "" {
		t.Errorf("read (-want +got):\n%s", diff)
	}
}

func TestReadStopOffsetsOnly(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	var rs []*kgo.Record
	for i := range 6 {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte{byte('a' + i)}})
	}
	produce(t, cfg, rs...)

	// Partition 0 stops early; partition 1, unlisted, reads to To (end).
	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}, StopOffsets: map[TopicPartition]int64{{"t", 0}: 1}})
	var got []string
	for _, m := range readAll(t, r) {
		got = append(got, fmt.Sprintf("%d@%d=%s", m.Partition, m.Offset, m.Value))
	}
	slices.Sort(got)
	if want := []string{"0@0=a", "1@0=b", "1@1=d", "1@2=f"}; !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
}

// TestReadResumeWakesLeader: librdkafka does not wake the thread that
// fetches from a partition's leader when the partition is resumed, so a
// time-merge that paused a partition waited up to a second for it each
// time; on Apache Kafka two partitions read 5× slower than one. Resume
// now sends the leader a request naming the partition, which wakes that
// thread; and nothing is lost or repeated across the pause.
func TestReadResumeWakesLeader(t *testing.T) {
	cfg, cluster := newCluster(t, 2, "t")
	var rs []*kgo.Record
	for i := range 20 {
		rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte(fmt.Sprint("v", i))})
	}
	produce(t, cfg, rs...)
	r := newReader(t, cfg, ReadOptions{Topics: []string{"t"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var got []*record.Message
	for len(got) == 0 || got[len(got)-1].Partition != 0 {
		m, err := r.Read(ctx)
		if err != nil {
			t.Fatalf("before any record of partition 0: %v", err)
		}
		got = append(got, m)
	}
	if err := r.Pause("t", 0); err != nil {
		t.Fatal(err)
	}
	woken := make(chan struct{}, 1)
	if cluster != nil {
		cluster.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			cluster.KeepControl()
			for _, rt := range kreq.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					if rt.Topic == "t" && rp.Partition == 0 {
						select {
						case woken <- struct{}{}:
						default:
						}
					}
				}
			}
			return nil, nil, false
		})
	}
	if err := r.Resume("t", 0); err != nil {
		t.Fatal(err)
	}
	if cluster != nil { // the real tier cannot see the requests
		select {
		case <-woken:
		case <-ctx.Done():
			t.Fatal("Resume sent partition 0's leader no request: its fetcher sleeps on")
		}
	}
	got = append(got, readAll(t, r)...)
	next := map[int32]int64{}
	for _, m := range got {
		if m.Offset != next[m.Partition] {
			t.Fatalf("got %d@%d, want offset %d: the pause lost or repeated records", m.Partition, m.Offset, next[m.Partition])
		}
		next[m.Partition]++
	}
	if next[0] != 10 || next[1] != 10 {
		t.Errorf("read %v records a partition, want 10 each", next)
	}
}

// TestReadRecordLargerThanAFetch: a Reader asks for 512 KB of a
// partition at once (readerFetchSize); a larger record still comes whole.
func TestReadRecordLargerThanAFetch(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	big := bytes.Repeat([]byte("0123456789abcdef"), 700<<10/16)
	produce(t, cfg, &kgo.Record{Topic: "t", Value: big}, &kgo.Record{Topic: "t", Value: []byte("after")})
	got := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}}))
	if len(got) != 2 {
		t.Fatalf("read %d records, want 2", len(got))
	}
	if !bytes.Equal(got[0].Value, big) || string(got[1].Value) != "after" {
		t.Errorf("read a record of %d bytes, then %q; want the %d-byte one, then \"after\"", len(got[0].Value), got[1].Value, len(big))
	}
}

// TestToMessage: a fetched message converts field for field, its headers
// in order, in one allocation when they are few.
func TestToMessage(t *testing.T) {
	topic := "t"
	ts := time.Date(2026, 11, 1, 10, 0, 0, 123e6, time.UTC)
	for _, n := range []int{0, 3, 4, 5} {
		e := &rdk.Message{TopicPartition: rdk.TopicPartition{Topic: &topic, Partition: 2, Offset: 7},
			Key: []byte("k"), Value: []byte("v"), Timestamp: ts.Local(), TimestampType: rdk.TimestampLogAppendTime}
		want := &record.Message{Topic: topic, Partition: 2, Offset: 7, Key: []byte("k"), Value: []byte("v"),
			Timestamp: ts, TimestampType: record.TimestampLogAppendTime}
		for i := range n {
			e.Headers = append(e.Headers, rdk.Header{Key: fmt.Sprint("h", i), Value: []byte{byte(i)}})
			want.Headers = append(want.Headers, record.RawHeader{Key: fmt.Sprint("h", i), Value: []byte{byte(i)}})
		}
		got := toMessage(topic, e)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d headers (-want +got):\n%s", n, diff)
		}
		if cap(got.Headers) != n {
			t.Errorf("%d headers: cap %d, want %d (an append must not write into the next header)", n, cap(got.Headers), n)
		}
		if allocs := testing.AllocsPerRun(100, func() { toMessage(topic, e) }); n <= 4 && allocs != 1 {
			t.Errorf("%d headers: %v allocations, want 1", n, allocs)
		}
	}
}

// TestNewReadersSplitsPartitions: a bounded read divided among readers
// reads every record once, each partition whole by one reader, the
// partitions shared by how much each holds; Pause and Resume may come
// while another goroutine reads (run with -race).
func TestNewReadersSplitsPartitions(t *testing.T) {
	cfg, _ := newCluster(t, 4, "t")
	sizes := []int{40, 10, 10, 20} // partition 0 alone outweighs two others
	var rs []*kgo.Record
	for p, n := range sizes {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: "t", Partition: int32(p), Value: []byte(fmt.Sprint(p, "/", i))})
		}
	}
	produce(t, cfg, rs...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	readers, err := NewReaders(ctx, cfg, ReadOptions{Topics: []string{"t"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	if len(readers) != 2 {
		t.Fatalf("got %d readers, want 2", len(readers))
	}
	var all []PartitionRange
	for _, r := range readers {
		all = append(all, r.Ranges()...)
	}
	slices.SortFunc(all, func(a, b PartitionRange) int { return int(a.Partition - b.Partition) })
	if diff := cmp.Diff(newReader(t, cfg, ReadOptions{Topics: []string{"t"}}).Ranges(), all); diff != "" {
		t.Errorf("the readers' ranges together (-NewReader's +got):\n%s", diff)
	}
	// 40 records against 10+10+20.
	if got := readers[0].Ranges(); len(got) != 1 || got[0].Partition != 0 {
		t.Errorf("the first reader reads %+v, want partition 0 alone", got)
	}

	got := make([][]*record.Message, len(readers))
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			errs[i] = r.Each(ctx, func(m *record.Message) error { got[i] = append(got[i], m); return nil })
		})
	}
	// Pause and resume the second reader's partitions as it reads.
	for _, pr := range readers[1].Ranges() {
		if err := readers[1].Pause(pr.Topic, pr.Partition); err != nil {
			t.Error(err)
		}
		if err := readers[1].Resume(pr.Topic, pr.Partition); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	for i, r := range readers {
		if errs[i] != nil {
			t.Fatalf("reader %d: %v", i, errs[i])
		}
		next := map[int32]int64{}
		for _, m := range got[i] {
			if !slices.ContainsFunc(r.Ranges(), func(pr PartitionRange) bool { return pr.Partition == m.Partition }) {
				t.Fatalf("reader %d read %d/%d, not one of its partitions", i, m.Partition, m.Offset)
			}
			if m.Offset != next[m.Partition] || string(m.Value) != fmt.Sprint(m.Partition, "/", m.Offset) {
				t.Fatalf("reader %d: %d/%d (%q) after offset %d", i, m.Partition, m.Offset, m.Value, next[m.Partition]-1)
			}
			next[m.Partition]++
		}
		for _, pr := range r.Ranges() {
			if next[pr.Partition] != int64(sizes[pr.Partition]) {
				t.Errorf("partition %d: read %d records, want %d", pr.Partition, next[pr.Partition], sizes[pr.Partition])
			}
		}
	}
}

// TestNewReadersOneWhenNothingToSplit: a followed read, or a bounded one
// of a single partition, gets one reader.
func TestNewReadersOneWhenNothingToSplit(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	produce(t, cfg, &kgo.Record{Topic: "t", Partition: 0, Value: []byte("x")})
	for _, opts := range []ReadOptions{
		{Topics: []string{"t"}, Follow: true},
		{Topics: []string{"t"}}, // partition 1 is empty: nothing to read there
		{Topics: []string{"t"}, Partitions: []int32{1}},
	} {
		readers, err := NewReaders(context.Background(), cfg, opts, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(readers) != 1 {
			t.Errorf("%+v: got %d readers, want 1", opts, len(readers))
		}
		for _, r := range readers {
			r.Close()
		}
	}
}

// TestReadOrCloseEndsAMergeAtMarkers: a partition whose last offsets are
// transaction markers closes without a record. A time-merge that waited
// for a record of it, with the partitions that ran ahead paused, waited
// in Read for good; ReadOrClose returns when it closes.
func TestReadOrCloseEndsAMergeAtMarkers(t *testing.T) {
	cfg, _ := newCluster(t, 3, "t")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.TransactionalID("evctl-test"),
		kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	// Partition 0: ten records older than all of 1 and 2, which each hold
	// more than the merge keeps of a partition before pausing it.
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	const newer = 30_000
	for i := range 10 {
		cl.Produce(ctx, &kgo.Record{Partition: 0, Value: []byte("old"), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}, nil)
	}
	for p := int32(1); p <= 2; p++ {
		for i := range newer {
			cl.Produce(ctx, &kgo.Record{Partition: p, Value: []byte("new"), Timestamp: base.Add(time.Hour + time.Duration(i)*time.Millisecond)}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// Apache Kafka writes the commit's markers a moment after
	// EndTransaction returns, one partition at a time: a reader that
	// captures its ends before them reads nothing of a partition.
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for {
		_, settled, err := a.SettledEndOffsets(ctx, []string{"t"}, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if settled {
			break
		}
	}
	// One reader; and two, one of which reads partition 0 with 2 or 1.
	for _, n := range []int{1, 2} {
		readers, err := NewReaders(ctx, cfg, ReadOptions{Topics: []string{"t"}}, n)
		if err != nil {
			t.Fatal(err)
		}
		var src stream.Source
		var c *stream.Concurrent
		if len(readers) == 1 {
			src = stream.MergeByTime(readers[0])
		} else {
			c = stream.Concurrently(readers[0], readers[1])
			src = stream.MergeByTime(c)
		}
		got := 0
		for {
			_, err := src.Read(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%d readers: after %d records: %v", n, got, err)
				break
			}
			got++
		}
		if c != nil {
			c.Close()
		}
		for _, r := range readers {
			r.Close()
		}
		if got != 10+2*newer && ctx.Err() == nil {
			t.Errorf("%d readers: read %d records, want %d", n, got, 10+2*newer)
		}
	}
}
