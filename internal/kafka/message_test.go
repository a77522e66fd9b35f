package kafka

import (
	"testing"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/record"
)

// A fetched message keeps what its timestamp is: the producer's time or
// the broker's (a topic with message.timestamp.type=LogAppendTime).
func TestToMessageTimestampType(t *testing.T) {
	topic := "t"
	at := time.Date(2026, 11, 20, 9, 14, 3, 250e6, time.UTC)
	for _, tc := range []struct {
		in   rdk.TimestampType
		want string
	}{
		{rdk.TimestampCreateTime, record.TimestampCreateTime},
		{rdk.TimestampLogAppendTime, record.TimestampLogAppendTime},
		{rdk.TimestampNotAvailable, ""},
	} {
		e := &rdk.Message{TopicPartition: rdk.TopicPartition{Topic: &topic, Partition: 1, Offset: 7}, Timestamp: at, TimestampType: tc.in}
		m := toMessage(topic, e)
		if m.TimestampType != tc.want || !m.Timestamp.Equal(at) {
			t.Errorf("%v: got %q at %v, want %q at %v", tc.in, m.TimestampType, m.Timestamp, tc.want, at)
		}
	}
}
