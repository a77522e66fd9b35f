package kafka

import (
	"fmt"
	"testing"
)

// A not-found error that lists some of the cluster's topics says how many
// it leaves out, so a short list is never taken for the whole.
func TestUnknownTopicSaysHowManyMore(t *testing.T) {
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("orders.v%02d", i))
	}
	names = append(names, "__consumer_offsets")
	got := unknownTopic("payments", names).Error()
	want := `topic "payments" not found (have: orders.v00, orders.v01, orders.v02, orders.v03, orders.v04, orders.v05, orders.v06, orders.v07, orders.v08, orders.v09 and 2 more); check the name or --brokers`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := unknownTopic("payments", names[:3]).Error(); got != `topic "payments" not found (have: orders.v00, orders.v01, orders.v02); check the name or --brokers` {
		t.Errorf("three topics: %s", got)
	}
}
