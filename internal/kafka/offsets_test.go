package kafka

import (
	"errors"
	"strings"
	"testing"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestTopicIn: only a missing topic is "not found"; a topic the broker
// will not describe keeps the broker's error, so a user is not sent to
// check a name that is right.
func TestTopicIn(t *testing.T) {
	md := &rdk.Metadata{Topics: map[string]rdk.TopicMetadata{
		"orders":   {Topic: "orders", Partitions: []rdk.PartitionMetadata{{ID: 0}}},
		"secret":   {Topic: "secret", Error: rdk.NewError(rdk.ErrTopicAuthorizationFailed, "Broker: Topic authorization failed", false)},
		"gone":     {Topic: "gone", Error: rdk.NewError(rdk.ErrUnknownTopicOrPart, "Broker: Unknown topic or partition", false)},
		"electing": {Topic: "electing", Error: rdk.NewError(rdk.ErrLeaderNotAvailable, "Broker: Leader not available", false)},
	}}
	if tm, err := topicIn(md, "orders"); err != nil || len(tm.Partitions) != 1 {
		t.Errorf("orders: %+v, %v", tm, err)
	}
	for _, name := range []string{"gone", "ordres"} {
		var unknown *UnknownTopicError
		if _, err := topicIn(md, name); !errors.As(err, &unknown) {
			t.Errorf("%s: err = %v, want an *UnknownTopicError", name, err)
		}
	}
	for name, want := range map[string]string{"secret": "authorization failed", "electing": "Leader not available"} {
		_, err := topicIn(md, name)
		var unknown *UnknownTopicError
		if err == nil || errors.As(err, &unknown) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want the broker's %q", name, err, want)
		}
	}
}
