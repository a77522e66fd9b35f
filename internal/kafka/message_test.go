package kafka

import (
	"slices"
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

// A record fetched again after a pause (one that came while another
// goroutine polled, as stream.Concurrently's do) is read once: the
// second time it is skipped, and the records after it still come.
func TestReadSkipsARecordFetchedAgain(t *testing.T) {
	r := &Reader{bounded: true, parts: map[string]partStates{}, remaining: 1}
	r.addPart(&partState{topic: "t", partition: 0, start: 5, next: 5, end: 10})
	topic := "t"
	msg := func(off int64) *rdk.Message {
		return &rdk.Message{TopicPartition: rdk.TopicPartition{Topic: &topic, Partition: 0, Offset: rdk.Offset(off)}}
	}
	var got []int64
	for _, off := range []int64{5, 6, 7, 6, 7, 8} {
		m, err := r.message(msg(off))
		if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			got = append(got, m.Offset)
		}
	}
	if want := []int64{5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("read offsets %v, want %v", got, want)
	}
}
