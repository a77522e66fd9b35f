package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/schema"
	"github.com/evctl/evctl/internal/tui"
)

func TestKafkaBrowseSource(t *testing.T) {
	opts := sandbox.Options{Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), Accounts: 20, Events: 300}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})

	// The events each partition holds, in offset order, worked out without
	// Kafka: the sandbox writes them in order, keyed by account.
	want := map[int32][]sandbox.Event{}
	for e := range sandbox.Events(opts) {
		p := sandbox.KeyPartition([]byte(e.AccountID), sandbox.AccountEventsPartitions)
		want[p] = append(want[p], e)
	}

	dec, err := newDecoder(func() (*schema.RegistryClient, error) {
		return schema.NewRegistryClient(schema.RegistryConfig{URL: sb.RegistryURL()})
	}, schema.DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafka.Config{Brokers: sb.Brokers(), Timeout: 10 * time.Second}
	src, err := newKafkaBrowseSource(cfg, []string{sandbox.TopicAccountEvents}, nil, dec)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	part := func(p int32) tui.Partition {
		return tui.Partition{Topic: sandbox.TopicAccountEvents, Partition: p}
	}

	bounds, err := src.Bounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wantBounds []tui.Bounds
	for p := range int32(sandbox.AccountEventsPartitions) {
		wantBounds = append(wantBounds, tui.Bounds{Partition: part(p), Low: 0, End: int64(len(want[p]))})
	}
	if diff := cmp.Diff(wantBounds, bounds); diff != "" {
		t.Fatalf("Bounds (-want +got):\n%s", diff)
	}

	// Offsets for a time: each partition's first event at or after it, -1
	// when it has none.
	at := want[0][3].OccurredAt
	wantAt := map[tui.Partition]int64{}
	for p := range int32(sandbox.AccountEventsPartitions) {
		wantAt[part(p)] = -1
		for i, e := range want[p] {
			if !e.OccurredAt.Before(at) {
				wantAt[part(p)] = int64(i)
				break
			}
		}
	}
	gotAt, err := src.OffsetsForTime(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantAt, gotAt); diff != "" || gotAt[part(0)] != 3 {
		t.Errorf("OffsetsForTime (-want +got):\n%s", diff)
	}

	// The partition with the most events, the one with the fewest, and one
	// more asked for nothing.
	big, small, other := int32(0), int32(0), int32(0)
	for p := range int32(sandbox.AccountEventsPartitions) {
		if len(want[p]) > len(want[big]) {
			big = p
		}
		if len(want[p]) < len(want[small]) {
			small = p
		}
	}
	for other == big || other == small {
		other++
	}
	if len(want[big]) < 10 || len(want[small]) < 2 {
		t.Fatalf("too few events to test: %d and %d", len(want[big]), len(want[small]))
	}
	last := int64(len(want[small]))

	tests := []struct {
		name   string
		ranges []tui.Range
		want   map[tui.Partition][]int64
	}{
		{"none", nil, map[tui.Partition][]int64{}},
		{
			"ranges",
			[]tui.Range{
				{Partition: part(big), From: 2, To: 7},
				{Partition: part(small), From: last - 1, To: last + 5}, // past the end
				{Partition: part(other), From: 3, To: 3},
			},
			map[tui.Partition][]int64{part(big): {2, 3, 4, 5, 6}, part(small): {last - 1}},
		},
		{
			"two ranges of one partition",
			[]tui.Range{{Partition: part(big), From: 1, To: 3}, {Partition: part(big), From: 5, To: 6}},
			map[tui.Partition][]int64{part(big): {1, 2, 5}},
		},
		{
			"empty",
			[]tui.Range{{Partition: part(other), From: 1, To: 1}},
			map[tui.Partition][]int64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := src.Read(ctx, tt.ranges)
			if err != nil {
				t.Fatal(err)
			}
			offsets := map[tui.Partition][]int64{}
			for p, rs := range got {
				offsets[p] = []int64{}
				for _, r := range rs {
					offsets[p] = append(offsets[p], r.Offset)
					if r.Topic != p.Topic || r.Partition != p.Partition {
						t.Errorf("%v holds a record of %s[%d]", p, r.Topic, r.Partition)
					}
					checkDecoded(t, r, want[p.Partition][r.Offset])
				}
			}
			if diff := cmp.Diff(tt.want, offsets); diff != "" {
				t.Errorf("offsets read (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("partitions", func(t *testing.T) {
		some, err := newKafkaBrowseSource(cfg, []string{sandbox.TopicAccountEvents}, []int32{4, 1}, dec)
		if err != nil {
			t.Fatal(err)
		}
		defer some.Close()
		got, err := some.Bounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]tui.Bounds{wantBounds[1], wantBounds[4]}, got); diff != "" {
			t.Errorf("Bounds (-want +got):\n%s", diff)
		}
		if _, err := some.Read(ctx, []tui.Range{{Partition: part(2), From: 0, To: 1}}); err == nil {
			t.Errorf("Read of a partition not browsed: no error")
		}

		// The timeline of a browsed partition's record reads where its key
		// is, not only what -p browses.
		rs, err := some.Read(ctx, []tui.Range{{Partition: part(4), From: 0, To: 1}})
		if err != nil {
			t.Fatal(err)
		}
		agg, err := some.Aggregate(ctx, rs[part(4)][0])
		if err != nil {
			t.Fatal(err)
		}
		if len(agg.Events) == 0 || agg.ID != want[4][0].AccountID || !slices.Contains(agg.Partitions, 4) {
			t.Errorf("Aggregate of 4@0: id %q, partitions %v, %d events", agg.ID, agg.Partitions, len(agg.Events))
		}
		// Its partitions, read at once, give what history reads one after
		// the other.
		if len(agg.Partitions) < 2 {
			t.Fatalf("Aggregate of 4@0 read partitions %v: want the two partitioners' two", agg.Partitions)
		}
		serial, err := readAggregate(ctx, cfg, dec, sandbox.TopicAccountEvents, agg.Partitions, agg.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		where := func(rs []*record.Record) (out []string) {
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%d@%d", r.Partition, r.Offset))
			}
			return out
		}
		if diff := cmp.Diff(where(serial), where(agg.Events)); diff != "" {
			t.Errorf("Aggregate's events (-history's +got):\n%s", diff)
		}

		missing, err := newKafkaBrowseSource(cfg, []string{sandbox.TopicAccountEvents}, []int32{9}, dec)
		if err != nil {
			t.Fatal(err)
		}
		defer missing.Close()
		if _, err := missing.Bounds(ctx); err == nil || !strings.Contains(err.Error(), "no partition 9") {
			t.Errorf("Bounds with partition 9 = %v, want no partition 9", err)
		}
	})

	t.Run("aggregate", func(t *testing.T) {
		rs, err := src.Read(ctx, []tui.Range{{Partition: part(big), From: 3, To: 4}})
		if err != nil {
			t.Fatal(err)
		}
		r := rs[part(big)][0]
		var wantEvents []sandbox.Event
		for _, e := range want[big] {
			if e.AccountID == want[big][3].AccountID {
				wantEvents = append(wantEvents, e)
			}
		}
		proj, err := replay.LoadProjection("../../testdata/projections/account-balance.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*replay.Projection{nil, proj} {
			src.proj = p
			agg, err := src.Aggregate(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			// The key's partition, by the partitioners history tries: no
			// scan of the rest.
			if agg.ID != want[big][3].AccountID || len(agg.Partitions) == 0 || len(agg.Partitions) > 3 || !slices.Contains(agg.Partitions, big) {
				t.Errorf("id %q, partitions %v; want %s on %d", agg.ID, agg.Partitions, want[big][3].AccountID, big)
			}
			if len(agg.Events) != len(wantEvents) {
				t.Fatalf("%d events, want %d", len(agg.Events), len(wantEvents))
			}
			for i, e := range agg.Events {
				checkDecoded(t, e, wantEvents[i])
				if agg.Versions[i] != int64(i+1) {
					t.Errorf("event %d: version %d, want %d", i, agg.Versions[i], i+1)
				}
			}
			if p == nil {
				if agg.States != nil {
					t.Errorf("states without a projection: %s", agg.States)
				}
				continue
			}
			// The spec's state names the account and its version.
			for i, st := range agg.States {
				var v struct {
					AccountID string `json:"accountId"`
					Version   int    `json:"version"`
				}
				if err := json.Unmarshal(st, &v); err != nil || v.AccountID != agg.ID || v.Version != wantEvents[i].Version {
					t.Errorf("state %d = %s (%v), want account %s version %d", i, st, err, agg.ID, wantEvents[i].Version)
				}
			}
		}
		src.proj = nil
	})

	t.Run("catalog", func(t *testing.T) {
		cat := &kafkaCatalog{cfg: cfg, dec: dec, registry: func() (*schema.RegistryClient, error) {
			return schema.NewRegistryClient(schema.RegistryConfig{URL: sb.RegistryURL()})
		}}
		defer cat.Close()
		topics, err := cat.Topics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(topics, func(tp tui.Topic) bool { return tp.Name == sandbox.TopicAccountEvents })
		if i < 0 {
			t.Fatalf("no %s in %v", sandbox.TopicAccountEvents, topics)
		}
		wantTopic := tui.Topic{Name: sandbox.TopicAccountEvents, Partitions: sandbox.AccountEventsPartitions, Records: int64(opts.Events),
			CleanupPolicy: "delete", ValueSubject: sandbox.TopicAccountEvents + "-value"}
		if diff := cmp.Diff(wantTopic, topics[i]); diff != "" {
			t.Errorf("topic row (-want +got):\n%s", diff)
		}
		opened, err := cat.Open(ctx, sandbox.TopicAccountEvents)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := opened.Bounds(ctx); err != nil || !cmp.Equal(b, wantBounds) {
			t.Errorf("opened topic's bounds %v, %v; want %v", b, err, wantBounds)
		}
		if _, err := cat.Open(ctx, "nowhere"); err == nil {
			t.Error("opening a topic that is not there: no error")
		}
	})
}

// checkDecoded checks that r is the sandbox's event e, decoded.
func checkDecoded(t *testing.T, r *record.Record, e sandbox.Event) {
	t.Helper()
	at := fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
	if r.Error != "" {
		t.Errorf("%s: %s", at, r.Error)
	}
	if r.Type == "" || r.Value == nil {
		t.Errorf("%s: not decoded: type %q, value %s", at, r.Type, r.Value)
	}
	if !strings.HasSuffix(r.Type, e.Type) {
		t.Errorf("%s: type %q, want %s", at, r.Type, e.Type)
	}
	if string(r.Key) != fmt.Sprintf("%q", e.AccountID) {
		t.Errorf("%s: key %s, want %q", at, r.Key, e.AccountID)
	}
	var id string
	for _, h := range r.Headers {
		if h.Key == sandbox.HeaderEventID {
			id = h.Value
		}
	}
	if id != e.EventID {
		t.Errorf("%s: event id %q, want %q", at, id, e.EventID)
	}
}

func TestNewCmdBrowse(t *testing.T) {
	tests := []flagCase[BrowseOptions]{
		{name: "defaults", args: []string{"t"}, want: BrowseOptions{Topics: []string{"t"}, PageSize: 200, FollowEvery: time.Second}},
		{name: "everything", args: []string{"a", "b", "--from", "@-1h", "-p", "1,3", "--filter", ".value", "--page-size", "50", "--key-schema", "k.avsc", "--avro-json"},
			want: BrowseOptions{Topics: []string{"a", "b"}, From: "@-1h", Partitions: []int32{1, 3}, Filter: ".value", PageSize: 50, FollowEvery: time.Second, KeySchema: "k.avsc", AvroJSON: true}},
		{name: "follow", args: []string{"t", "-f", "--follow-every", "250ms"}, want: BrowseOptions{Topics: []string{"t"}, Follow: true, PageSize: 200, FollowEvery: 250 * time.Millisecond}},
		{name: "no topic: the topic list", args: []string{}, want: BrowseOptions{PageSize: 200, FollowEvery: time.Second}},
		{name: "partitions of no topic", args: []string{"-p", "1"}, wantErr: "--partition needs a topic"},
		{name: "columns", args: []string{"t", "--columns", ".value.amount, .type"}, want: BrowseOptions{Topics: []string{"t"}, PageSize: 200, FollowEvery: time.Second, Columns: ".value.amount, .type"}},
		{name: "projection", args: []string{"t", "--projection", "p.yaml"}, want: BrowseOptions{Topics: []string{"t"}, PageSize: 200, FollowEvery: time.Second, Projection: "p.yaml"}},
		{name: "from and follow", args: []string{"t", "--from", "start", "-f"}, wantErr: "--from and --follow exclude each other"},
		{name: "page size", args: []string{"t", "--page-size", "0"}, wantErr: "--page-size takes a count of one or more"},
	}
	checkFlagCases(t, NewCmdBrowse, tests, "IO", "Kafka", "Registry", "Now")
}
