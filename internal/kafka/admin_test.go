package kafka

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAdminTopics(t *testing.T) {
	cfg, _ := newCluster(t, 3, "events")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A compacted topic, created through the admin API.
	m, err := cfg.configMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := rdk.NewAdminClient(m)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	res, err := ac.CreateTopics(ctx, []rdk.TopicSpecification{{
		Topic: "balances", NumPartitions: 2, ReplicationFactor: 1,
		Config: map[string]string{"cleanup.policy": "compact"},
	}})
	if err != nil || res[0].Error.Code() != rdk.ErrNoError {
		t.Fatalf("CreateTopics: %v %v", err, res)
	}

	produce(t, cfg,
		&kgo.Record{Topic: "events", Partition: 0, Value: []byte("1")},
		&kgo.Record{Topic: "events", Partition: 2, Value: []byte("2")},
		&kgo.Record{Topic: "events", Partition: 2, Value: []byte("3")},
		&kgo.Record{Topic: "balances", Partition: 1, Key: []byte("k"), Value: []byte("4")},
	)

	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Topics(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// A real cluster also has its own, marked Internal (evctl topics hides them).
	got = slices.DeleteFunc(got, func(ti TopicInfo) bool { return ti.Internal })
	want := []TopicInfo{
		{Name: "balances", Partitions: 2, Records: 1, CleanupPolicy: "compact"},
		{Name: "events", Partitions: 3, Records: 3, CleanupPolicy: "delete"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Topics (-want +got):\n%s", diff)
	}

	got, err = a.Topics(ctx, "ev*")
	if err != nil || len(got) != 1 || got[0].Name != "events" {
		t.Errorf("Topics(ev*) = %v, %v; want events", got, err)
	}
	got, err = a.Topics(ctx, "nothing-*")
	if err != nil || len(got) != 0 {
		t.Errorf("Topics(nothing-*) = %v, %v; want none", got, err)
	}

	names, err := a.TopicNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names = slices.DeleteFunc(names, isInternal)
	if diff := cmp.Diff([]string{"balances", "events"}, names); diff != "" {
		t.Errorf("TopicNames (-want +got):\n%s", diff)
	}
}

func TestCreateDescribeTopic(t *testing.T) {
	cfg, _ := newCluster(t, 1, "existing")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	if err := a.CreateTopic(ctx, "balances", 4, map[string]string{"cleanup.policy": "compact", "retention.ms": "60000"}); err != nil {
		t.Fatal(err)
	}
	got, err := a.DescribeTopic(ctx, "balances")
	if err != nil {
		t.Fatal(err)
	}
	// MaxMessageBytes is the limit the topic inherits (Kafka's default),
	// which its own Configs leave out.
	want := TopicDescription{Name: "balances", Partitions: 4, Configs: map[string]string{"cleanup.policy": "compact", "retention.ms": "60000"}, MaxMessageBytes: DefaultMaxMessageBytes}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeTopic (-want +got):\n%s", diff)
	}
	got, err = a.DescribeTopic(ctx, "existing")
	if err != nil || got.Partitions != 1 || len(got.Configs) != 0 {
		t.Errorf("DescribeTopic(existing) = %+v, %v; want 1 partition, no own configs", got, err)
	}

	err = a.CreateTopic(ctx, "existing", 1, nil)
	if !errors.Is(err, ErrTopicExists) {
		t.Errorf("CreateTopic(existing) = %v, want ErrTopicExists", err)
	}
	var ute *UnknownTopicError
	if _, err := a.DescribeTopic(ctx, "balance"); !errors.As(err, &ute) {
		t.Errorf("DescribeTopic(balance) = %v, want *UnknownTopicError", err)
	}
}

func TestGroupOffsets(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.GroupOffsets(ctx, "nobody", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"t", 0}: -1, {"t", 1}: -1}, got); diff != "" {
		t.Errorf("GroupOffsets of no group (-want +got):\n%s", diff)
	}

	produce(t, cfg, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("x")}, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("y")})
	topic := "t"
	if _, err := a.ac.AlterConsumerGroupOffsets(ctx, []rdk.ConsumerGroupTopicPartitions{{Group: "g",
		Partitions: []rdk.TopicPartition{{Topic: &topic, Partition: 1, Offset: 2}}}}); err != nil {
		t.Fatal(err)
	}
	got, err = a.GroupOffsets(ctx, "g", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[TopicPartition]int64{{"t", 0}: -1, {"t", 1}: 2}, got); diff != "" {
		t.Errorf("GroupOffsets (-want +got):\n%s", diff)
	}
}

// TestGroupOffsetsCoordinatorMoving: for a moment after a group's
// coordinator moves (the offsets topic just created on a fresh cluster, a
// broker bounced), the broker answers OffsetFetch with "not coordinator".
// librdkafka's admin client then dereferences the consumer group it does
// not have and crashes the process (SIGSEGV in rd_kafka_cgrp_op, the real
// tier's TestGroupOffsets on a fresh Apache Kafka); the Admin asks again
// instead, and never crashes.
func TestGroupOffsetsCoordinatorMoving(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do")
	}
	cfg, cluster := newCluster(t, 2, "t")
	produce(t, cfg, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("x")}, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("y")})
	consumeInGroup(t, cfg, "g", "t", 2, func(*kgo.Record) bool { return true })

	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, answer := range []*kerr.Error{kerr.NotCoordinator, kerr.CoordinatorNotAvailable} {
		t.Run(answer.Message, func(t *testing.T) {
			code := answer.Code
			refused := refuseOffsetFetch(cluster, code, 2)
			got, err := a.GroupOffsets(ctx, "g", []string{"t"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[TopicPartition]int64{{"t", 0}: -1, {"t", 1}: 2}, got); diff != "" {
				t.Errorf("GroupOffsets (-want +got):\n%s", diff)
			}
			if n := refused.Load(); n != 2 {
				t.Errorf("GroupOffsets: the broker refused %d OffsetFetch requests, want 2", n)
			}

			refused = refuseOffsetFetch(cluster, code, 2)
			all, err := a.CommittedOffsets(ctx, "g")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[TopicPartition]int64{{"t", 1}: 2}, all); diff != "" {
				t.Errorf("CommittedOffsets (-want +got):\n%s", diff)
			}
			if n := refused.Load(); n != 2 {
				t.Errorf("CommittedOffsets: the broker refused %d OffsetFetch requests, want 2", n)
			}
		})
	}
}

// refuseOffsetFetch makes cluster answer the next n OffsetFetch requests
// with code for the whole group, as a broker that is not (or not yet) the
// group's coordinator does; it counts the requests it refused.
func refuseOffsetFetch(cluster *kfake.Cluster, code int16, n int64) *atomic.Int64 {
	var refused atomic.Int64
	cluster.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if refused.Load() >= n {
			return nil, nil, false
		}
		refused.Add(1)
		cluster.KeepControl()
		return offsetFetchRefusal(kreq, code), nil, true
	})
	return &refused
}

// offsetFetchRefusal answers an OffsetFetch request with code for the
// whole group.
func offsetFetchRefusal(kreq kmsg.Request, code int16) kmsg.Response {
	req := kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = rg.Group, code
			resp.Groups = append(resp.Groups, g)
		}
	} else {
		resp.ErrorCode = code
	}
	return resp
}
