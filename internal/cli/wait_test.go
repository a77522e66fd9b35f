package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/iostreams"
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

// TestWaitCaughtUpRidesOutTransientErrors: reads of the group's offsets
// that the brokers do not answer (a broker SIGKILLed, the coordinator
// moving) are made again until --for is up, with one warning per outage;
// other errors, and transient ones at the deadline, end the wait.
func TestWaitCaughtUpRidesOutTransientErrors(t *testing.T) {
	tp := kafka.TopicPartition{Topic: "events", Partition: 0}
	ends := map[kafka.TopicPartition]kafka.Watermark{tp: {End: 10}}
	unreachable := fmt.Errorf("cannot reach brokers: %w", kafka.ErrUnreachable)
	type answer struct {
		committed int64
		err       error
	}
	run := func(t *testing.T, forD time.Duration, answers ...answer) (stderr string, reads int, err error) {
		t.Helper()
		ios, _, _, errOut := iostreams.Test()
		opts := &WaitOptions{IO: ios, Group: "g", For: forD, Interval: time.Millisecond}
		err = waitCaughtUp(context.Background(), opts, time.Now(), []string{"events"}, ends,
			func(context.Context) (map[kafka.TopicPartition]int64, error) {
				a := answers[min(reads, len(answers)-1)]
				reads++
				if a.err != nil {
					return nil, a.err
				}
				return map[kafka.TopicPartition]int64{tp: a.committed}, nil
			})
		return errOut.String(), reads, err
	}

	t.Run("outage then caught up", func(t *testing.T) {
		stderr, reads, err := run(t, time.Minute, answer{committed: 4}, answer{err: unreachable}, answer{err: unreachable},
			answer{committed: 7}, answer{err: unreachable}, answer{committed: 10})
		if err != nil {
			t.Fatalf("err %v; want caught up (stderr %q)", err, stderr)
		}
		if reads != 6 {
			t.Errorf("%d reads; want 6", reads)
		}
		if n := strings.Count(stderr, "evctl: warning: group g's offsets: cannot reach brokers: brokers unreachable (asking again until --for 1m0s is up)\n"); n != 2 {
			t.Errorf("%d warnings; want one per outage, 2:\n%s", n, stderr)
		}
		if n := strings.Count(stderr, "evctl: group g's offsets answered again after "); n != 2 {
			t.Errorf("%d recoveries; want 2:\n%s", n, stderr)
		}
		if !strings.Contains(stderr, "Group g caught up on events (1 partition, 6 records behind at start)") {
			t.Errorf("no summary:\n%s", stderr)
		}
	})
	t.Run("coordinator moving", func(t *testing.T) {
		moving := fmt.Errorf("cannot read the offsets: %w", rdk.NewError(rdk.ErrNotCoordinator, "not coordinator", false))
		stderr, _, err := run(t, time.Minute, answer{err: moving}, answer{committed: 10})
		if err != nil || !strings.Contains(stderr, "asking again") {
			t.Fatalf("err %v, stderr %q; want a warning, then caught up", err, stderr)
		}
	})
	t.Run("lasting outage", func(t *testing.T) {
		_, reads, err := run(t, 50*time.Millisecond, answer{committed: 4}, answer{err: unreachable})
		if !errors.Is(err, kafka.ErrUnreachable) || !strings.Contains(err.Error(), "no answer for group g's offsets in the last ") {
			t.Fatalf("err %v; want the brokers unreachable through the deadline", err)
		}
		if reads < 3 {
			t.Errorf("%d reads; want the read made again until the deadline", reads)
		}
		var exit *ExitError
		if errors.As(err, &exit) {
			t.Errorf("exit %d; want an error (exit 2), not an answer", exit.Code)
		}
	})
	t.Run("other errors end it", func(t *testing.T) {
		denied := fmt.Errorf("cannot read the offsets: %w", rdk.NewError(rdk.ErrGroupAuthorizationFailed, "denied", false))
		stderr, reads, err := run(t, time.Minute, answer{err: denied}, answer{committed: 10})
		if !errors.Is(err, denied) || reads != 1 || strings.Contains(stderr, "warning") {
			t.Fatalf("err %v after %d reads, stderr %q; want the error at once", err, reads, stderr)
		}
	})
}
