package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeInGroup reads the n records of topic as a member of group, with
// franz-go, commits those that commit selects, and leaves the group.
func consumeInGroup(t testing.TB, cfg Config, group, topic string, n int, commit func(*kgo.Record) bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keep []*kgo.Record
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, n-got)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		for _, r := range fs.Records() {
			if commit(r) {
				keep = append(keep, r)
			}
			got++
		}
	}
	if err := cl.CommitRecords(ctx, keep...); err != nil {
		t.Fatal(err)
	}
}

func TestLag(t *testing.T) {
	cfg, _ := newCluster(t, 2, "events", "other")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	// Partition 0 holds records 0, 1, 3, 4; partition 1 holds 2 and 5,
	// record i written at base+i minutes.
	var rs []*kgo.Record
	for i := range 6 {
		rs = append(rs, &kgo.Record{Topic: "events", Partition: int32(i % 3 / 2), Value: []byte(fmt.Sprint(i)),
			Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	produce(t, cfg, rs...)
	produce(t, cfg, &kgo.Record{Topic: "other", Partition: 0, Value: []byte("x")})
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	groups, err := a.Groups(ctx)
	if err != nil || len(groups) != 0 {
		t.Fatalf("Groups() = %v, %v; want none", groups, err)
	}
	var ute *UnknownGroupError
	if _, err := a.Lag(ctx, []string{"projector"}, nil); !errors.As(err, &ute) || !strings.Contains(err.Error(), "the cluster has no consumer groups") {
		t.Errorf("Lag(projector) with no groups = %v, want *UnknownGroupError", err)
	}

	// projector has consumed records 0, 1, 3 of partition 0 and none of
	// partition 1; caught-up has consumed everything.
	consumeInGroup(t, cfg, "projector", "events", 6, func(r *kgo.Record) bool { return r.Partition == 0 && r.Offset < 3 })
	consumeInGroup(t, cfg, "caught-up", "events", 6, func(*kgo.Record) bool { return true })

	groups, err = a.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ConsumerGroup{{"caught-up", "Empty"}, {"projector", "Empty"}}, groups); diff != "" {
		t.Errorf("Groups (-want +got):\n%s", diff)
	}

	committed, err := a.CommittedOffsets(ctx, "projector")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"events", 0}: 3}, committed); diff != "" {
		t.Errorf("CommittedOffsets (-want +got):\n%s", diff)
	}
	if committed, err := a.CommittedOffsets(ctx, "nobody"); err != nil || len(committed) != 0 {
		t.Errorf("CommittedOffsets(nobody) = %v, %v; want none", committed, err)
	}

	lags, err := a.Lag(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupLag{
		{Group: "caught-up", State: "Empty", Partitions: []PartitionLag{
			{Topic: "events", Partition: 0, Committed: 4, End: 4},
			{Topic: "events", Partition: 1, Committed: 2, End: 2},
		}},
		{Group: "projector", State: "Empty", Partitions: []PartitionLag{
			{Topic: "events", Partition: 0, Committed: 3, End: 4, Lag: 1, Oldest: base.Add(4 * time.Minute)},
			{Topic: "events", Partition: 1, Committed: -1, End: 2, Lag: 2, Oldest: base.Add(2 * time.Minute)},
		}},
	}
	if diff := cmp.Diff(want, lags); diff != "" {
		t.Errorf("Lag (-want +got):\n%s", diff)
	}
	if got := lags[1].Lag(); got != 3 {
		t.Errorf("projector's total lag = %d, want 3", got)
	}
	if got := lags[1].Oldest(); !got.Equal(base.Add(2 * time.Minute)) {
		t.Errorf("projector's oldest = %v, want %v", got, base.Add(2*time.Minute))
	}
	if got := lags[0].Oldest(); !got.IsZero() {
		t.Errorf("caught-up's oldest = %v, want none", got)
	}

	if _, err := a.Lag(ctx, []string{"projectr"}, nil); !errors.As(err, &ute) || ute.Group != "projectr" ||
		!cmp.Equal(ute.Similar, []string{"projector"}) {
		t.Errorf("Lag(projectr) = %v, want *UnknownGroupError similar to projector", err)
	}

	marks, err := a.Watermarks(ctx, []string{"events"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[TopicPartition]Watermark{{"events", 0}: {0, 4}, {"events", 1}: {0, 2}}, marks); diff != "" {
		t.Errorf("Watermarks (-want +got):\n%s", diff)
	}
	var unknownTopic *UnknownTopicError
	if _, err := a.Watermarks(ctx, []string{"event"}); !errors.As(err, &unknownTopic) {
		t.Errorf("Watermarks(event) = %v, want *UnknownTopicError", err)
	}

	at, err := a.OffsetsForTime(ctx, []string{"events"}, base.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"events", 0}: 2, {"events", 1}: 1}, at); diff != "" {
		t.Errorf("OffsetsForTime(+3m) (-want +got):\n%s", diff)
	}
	at, err = a.OffsetsForTime(ctx, []string{"events"}, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"events", 0}: -1, {"events", 1}: -1}, at); diff != "" {
		t.Errorf("OffsetsForTime(+1h) (-want +got):\n%s", diff)
	}

	ts, ok, err := a.Timestamp(ctx, TopicPartition{"events", 1}, 1)
	if err != nil || !ok || !ts.Equal(base.Add(5*time.Minute)) {
		t.Errorf("Timestamp(events[1]@1) = %v, %v, %v; want %v", ts, ok, err, base.Add(5*time.Minute))
	}
	// At the end there is no record: the end of the partition says so
	// without waiting for the timeout.
	start := time.Now()
	if _, ok, err := a.Timestamp(ctx, TopicPartition{"events", 1}, 2); err != nil || ok {
		t.Errorf("Timestamp(events[1]@2) = %v, %v; want no record", ok, err)
	}
	if d := time.Since(start); d >= cfg.Timeout {
		t.Errorf("Timestamp at the end took %s, the whole timeout", d)
	}
}

// joinGroup subscribes a franz-go member of group to topic and returns once
// it has its partitions; it commits nothing. The member leaves at cleanup.
func joinGroup(t testing.TB, cfg Config, group, topic string) {
	t.Helper()
	assigned := make(chan struct{})
	var once sync.Once
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { once.Do(func() { close(assigned) }) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx) // joining happens while polling
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatalf("%s: no partitions assigned within 30s", group)
	}
}

// A group that is subscribed but has committed nothing lags by everything
// on the partitions it is assigned; --topic measures named topics only.
func TestLagSubscribedAndTopics(t *testing.T) {
	cfg, _ := newCluster(t, 2, "events", "other")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produce(t, cfg, &kgo.Record{Topic: "events", Partition: 0, Value: []byte("0")}, &kgo.Record{Topic: "events", Partition: 1, Value: []byte("1")},
		&kgo.Record{Topic: "events", Partition: 1, Value: []byte("2")}, &kgo.Record{Topic: "other", Partition: 0, Value: []byte("x")})
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	consumeInGroup(t, cfg, "done", "events", 3, func(*kgo.Record) bool { return true })
	joinGroup(t, cfg, "fresh", "events")

	lags, err := a.Lag(ctx, []string{"fresh"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ignoreOldest := cmpopts.IgnoreFields(PartitionLag{}, "Oldest")
	want := []GroupLag{{Group: "fresh", State: "Stable", Partitions: []PartitionLag{
		{Topic: "events", Partition: 0, Committed: -1, End: 1, Lag: 1},
		{Topic: "events", Partition: 1, Committed: -1, End: 2, Lag: 2},
	}}}
	if diff := cmp.Diff(want, lags, ignoreOldest); diff != "" {
		t.Errorf("Lag(fresh) (-want +got):\n%s", diff)
	}

	// Named groups and topics: every named topic, committed or not.
	lags, err = a.Lag(ctx, []string{"done"}, []string{"other"})
	if err != nil {
		t.Fatal(err)
	}
	want = []GroupLag{{Group: "done", State: "Empty", Partitions: []PartitionLag{
		{Topic: "other", Partition: 0, Committed: -1, End: 1, Lag: 1},
		{Topic: "other", Partition: 1, Committed: -1},
	}}}
	if diff := cmp.Diff(want, lags, ignoreOldest); diff != "" {
		t.Errorf("Lag(done, other) (-want +got):\n%s", diff)
	}
	// Topics without groups: only the groups that consume them.
	lags, err = a.Lag(ctx, nil, []string{"other"})
	if err != nil || len(lags) != 0 {
		t.Errorf("Lag(all, other) = %v, %v; want no group", lags, err)
	}
	lags, err = a.Lag(ctx, nil, []string{"events"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range lags {
		names = append(names, g.Group)
	}
	if !cmp.Equal(names, []string{"done", "fresh"}) {
		t.Errorf("Lag(all, events) groups = %v, want done and fresh", names)
	}
	var unknown *UnknownTopicError
	if _, err := a.Lag(ctx, nil, []string{"event"}); !errors.As(err, &unknown) {
		t.Errorf("Lag(all, event) = %v, want *UnknownTopicError", err)
	}
}

// TestSettledEndOffsets: ends read while a transaction is open on one of
// the topics are not settled; once it commits they settle, with its
// records (and its marker) inside.
func TestSettledEndOffsets(t *testing.T) {
	cfg, _ := newCluster(t, 1, "events", "states")
	produce(t, cfg, &kgo.Record{Topic: "events", Partition: 0, Value: []byte("e")})
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.TransactionalID("settle-writer"), kgo.DefaultProduceTopic("states"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	topics := []string{"events", "states"}

	ends, settled, err := a.SettledEndOffsets(ctx, topics, 200*time.Millisecond)
	if err != nil || !settled {
		t.Fatalf("SettledEndOffsets with no transaction = %v, %v, %v; want settled", ends, settled, err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"events", 0}: 1, {"states", 0}: 0}, ends); diff != "" {
		t.Errorf("ends with no transaction (-want +got):\n%s", diff)
	}

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("s")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ends, settled, err = a.SettledEndOffsets(ctx, topics, 200*time.Millisecond)
	if err != nil || settled {
		t.Fatalf("SettledEndOffsets with a transaction open = %v, %v, %v; want not settled", ends, settled, err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"events", 0}: 1, {"states", 0}: 0}, ends); diff != "" {
		t.Errorf("ends with a transaction open (-want +got):\n%s", diff)
	}

	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The commit's marker lands a moment after EndTransaction returns on
	// Apache Kafka: until then the ends are not settled.
	for {
		ends, settled, err = a.SettledEndOffsets(ctx, topics, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if settled {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the ends never settled after the commit: last %v", ends)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"events", 0}: 1, {"states", 0}: 2}, ends); diff != "" {
		t.Errorf("ends after the commit (-want +got):\n%s", diff)
	}
}
