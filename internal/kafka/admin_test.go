package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
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
	ac, err := kafka.NewAdminClient(m)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	res, err := ac.CreateTopics(ctx, []kafka.TopicSpecification{{
		Topic: "balances", NumPartitions: 2, ReplicationFactor: 1,
		Config: map[string]string{"cleanup.policy": "compact"},
	}})
	if err != nil || res[0].Error.Code() != kafka.ErrNoError {
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
	if diff := cmp.Diff([]string{"balances", "events"}, names); diff != "" {
		t.Errorf("TopicNames (-want +got):\n%s", diff)
	}
}
