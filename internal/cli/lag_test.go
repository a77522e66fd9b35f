package cli

import (
	"testing"
	"time"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/kafka"
)

func TestNewCmdLag(t *testing.T) {
	tests := []flagCase[LagOptions]{
		{name: "all groups", args: nil, want: LagOptions{Output: "text"}},
		{name: "some groups as json", args: []string{"a", "b", "-o", "json"}, want: LagOptions{Groups: []string{"a", "b"}, Output: "json"}},
		{name: "topics", args: []string{"a", "--topic", "t1", "-t", "t2"}, want: LagOptions{Groups: []string{"a"}, Topics: []string{"t1", "t2"}, Output: "text"}},
		{name: "bad output", args: []string{"-o", "yaml"}, wantErr: `invalid --output "yaml"`},
	}
	checkFlagCases(t, NewCmdLag, tests, "IO", "Kafka", "Now")
}

// testLagViews are two groups: one behind on two partitions (one never
// committed, one whose oldest record was not read in time), one caught up.
func testLagViews() []groupLagView {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	lags := []kafka.GroupLag{
		{Group: "projector", State: "Stable", Partitions: []kafka.PartitionLag{
			{Topic: "bank.account-events", Partition: 0, Committed: 30, Low: 0, End: 35, Lag: 5, Oldest: now.Add(-90 * time.Second)},
			{Topic: "bank.account-events", Partition: 1, Committed: -1, Low: 2, End: 33, Lag: 31, Oldest: now.Add(-(26*time.Hour + 5*time.Minute))},
			{Topic: "bank.account-events", Partition: 2, Committed: 40, Low: 0, End: 40},
			{Topic: "bank.notifications", Partition: 0, Committed: 7, Low: 0, End: 9, Lag: 2},
		}},
		{Group: "mailer", State: "Empty", Partitions: []kafka.PartitionLag{
			{Topic: "bank.notifications", Partition: 0, Committed: 9, Low: 0, End: 9},
		}},
	}
	return lagViews(lags, now)
}

func TestPrintLag(t *testing.T) {
	views := testLagViews()
	tests := []struct {
		name, output string
		tty          bool
		want         string
	}{
		{"table on a terminal", "text", true, "" +
			"GROUP      TOPIC                PARTITION  COMMITTED  END  LAG  OLDEST-AGE\n" +
			"projector  bank.account-events  0          30         35   5    1m30s\n" +
			"projector  bank.account-events  1          -          33   31   1d02h\n" +
			"projector  bank.account-events  2          40         40   0    -\n" +
			"projector  bank.notifications   0          7          9    2    ?\n" +
			"projector  TOTAL                                           38   1d02h\n" +
			"mailer     bank.notifications   0          9          9    0    -\n" +
			"mailer     TOTAL                                           0    -\n"},
		{"tab-separated when piped", "text", false, "" +
			"projector\tbank.account-events\t0\t30\t35\t5\t90\n" +
			"projector\tbank.account-events\t1\t-\t33\t31\t93900\n" +
			"projector\tbank.account-events\t2\t40\t40\t0\t-\n" +
			"projector\tbank.notifications\t0\t7\t9\t2\t?\n" +
			"mailer\tbank.notifications\t0\t9\t9\t0\t-\n"},
		{"json", "json", false, `[
  {
    "group": "projector",
    "state": "Stable",
    "lag": 38,
    "oldestTimestamp": "2026-11-19T09:55:00.000Z",
    "oldestAgeMs": 93900000,
    "partitions": [
      {
        "topic": "bank.account-events",
        "partition": 0,
        "committed": 30,
        "low": 0,
        "end": 35,
        "lag": 5,
        "oldestTimestamp": "2026-11-20T11:58:30.000Z",
        "oldestAgeMs": 90000
      },
      {
        "topic": "bank.account-events",
        "partition": 1,
        "committed": null,
        "low": 2,
        "end": 33,
        "lag": 31,
        "oldestTimestamp": "2026-11-19T09:55:00.000Z",
        "oldestAgeMs": 93900000
      },
      {
        "topic": "bank.account-events",
        "partition": 2,
        "committed": 40,
        "low": 0,
        "end": 40,
        "lag": 0
      },
      {
        "topic": "bank.notifications",
        "partition": 0,
        "committed": 7,
        "low": 0,
        "end": 9,
        "lag": 2
      }
    ]
  },
  {
    "group": "mailer",
    "state": "Empty",
    "lag": 0,
    "partitions": [
      {
        "topic": "bank.notifications",
        "partition": 0,
        "committed": 9,
        "low": 0,
        "end": 9,
        "lag": 0
      }
    ]
  }
]
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			ios.SetStdoutTTY(tt.tty)
			if err := printLag(ios, tt.output, views); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
}

func TestAgeText(t *testing.T) {
	for ms, want := range map[int64]string{
		0: "0s", 999: "0s", 59_000: "59s", 60_000: "1m00s", 3_599_000: "59m59s",
		3_600_000: "1h00m", 86_399_000: "23h59m", 86_400_000: "1d00h", 10*86_400_000 + 3_600_000: "10d01h",
	} {
		if got := ageText(&ms, 1); got != want {
			t.Errorf("ageText(%dms) = %q, want %q", ms, got, want)
		}
	}
	if got := ageText(nil, 0); got != "-" {
		t.Errorf("ageText without lag = %q, want -", got)
	}
	if got := ageText(nil, 3); got != "?" {
		t.Errorf("ageText of an unread record = %q, want ?", got)
	}
}

func TestLagViewsClampAge(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	views := lagViews([]kafka.GroupLag{{Group: "g", Partitions: []kafka.PartitionLag{
		{Topic: "t", Committed: 0, End: 1, Lag: 1, Oldest: now.Add(time.Minute)}, // a producer's clock ahead
	}}}, now)
	if got := views[0].Partitions[0].OldestAgeMs; got == nil || *got != 0 {
		t.Errorf("age of a record from the future = %v, want 0", got)
	}
}
