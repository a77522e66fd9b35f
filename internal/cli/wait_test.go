package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/kafka"
)

func TestNewCmdWait(t *testing.T) {
	tests := []flagCase[WaitOptions]{
		{name: "defaults", args: []string{"--group", "g", "--caught-up"},
			want: WaitOptions{Group: "g", CaughtUp: true, For: 5 * time.Minute, Interval: 250 * time.Millisecond}},
		{name: "topics and deadline", args: []string{"-g", "g", "--caught-up", "-t", "a", "--topic", "b", "--for", "2s", "--no-progress"},
			want: WaitOptions{Group: "g", CaughtUp: true, Topics: []string{"a", "b"}, For: 2 * time.Second, NoProgress: true, Interval: 250 * time.Millisecond}},
		{name: "no group", args: []string{"--caught-up"}, wantErr: "--group is required"},
		{name: "no condition", args: []string{"--group", "g"}, wantErr: "nothing to wait for: give --caught-up"},
		{name: "check once", args: []string{"--group", "g", "--caught-up", "--for", "0"},
			want: WaitOptions{Group: "g", CaughtUp: true, Interval: 250 * time.Millisecond}},
		{name: "negative deadline", args: []string{"--group", "g", "--caught-up", "--for", "-1s"}, wantErr: "invalid --for -1s"},
		{name: "no arguments", args: []string{"g", "--caught-up"}, wantErr: "unknown command"},
	}
	checkFlagCases(t, NewCmdWait, tests, "IO", "Kafka")
}

func TestBehindOf(t *testing.T) {
	ends := map[kafka.TopicPartition]kafka.Watermark{
		{Topic: "events", Partition: 0}: {Low: 0, End: 10},
		{Topic: "events", Partition: 1}: {Low: 5, End: 8},   // nothing committed: 3 behind
		{Topic: "events", Partition: 2}: {Low: 4, End: 4},   // empty: caught up
		{Topic: "audit", Partition: 0}:  {Low: 0, End: 2},   // committed past the captured end
		{Topic: "audit", Partition: 1}:  {Low: 10, End: 12}, // committed below low: counts from low
	}
	committed := map[kafka.TopicPartition]int64{
		{Topic: "events", Partition: 0}: 6,
		{Topic: "audit", Partition: 0}:  5,
		{Topic: "audit", Partition: 1}:  3,
		{Topic: "other", Partition: 0}:  1,
	}
	b := behindOf(ends, committed)
	want := behind{
		{topic: "audit", records: 2, partitions: 1, of: 2},
		{topic: "events", records: 7, partitions: 2, of: 3},
	}
	if diff := cmp.Diff(want, b, cmp.AllowUnexported(topicBehind{})); diff != "" {
		t.Errorf("behindOf (-want +got):\n%s", diff)
	}
	if got, want := b.String(), "9 records behind on audit (1 of 2 partitions), events (2 of 3 partitions)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	committed[kafka.TopicPartition{Topic: "events", Partition: 0}] = 10
	committed[kafka.TopicPartition{Topic: "events", Partition: 1}] = 8
	committed[kafka.TopicPartition{Topic: "audit", Partition: 1}] = 12
	if got := behindOf(ends, committed).total(); got != 0 {
		t.Errorf("total once caught up = %d, want 0", got)
	}
}

func TestWaitLine(t *testing.T) {
	b := behind{{topic: "events", records: 30, partitions: 1, of: 3}}
	got := waitLine(&WaitOptions{Group: "g", For: time.Minute}, b, 120, 3*time.Second)
	want := "waiting for group g: 30 records behind on events (1 of 3 partitions) (3s of 1m0s) [##################......]  75% 90/120 records caught up, 30/s, ETA 1s"
	if got != want {
		t.Errorf("waitLine:\n got %q\nwant %q", got, want)
	}
}
