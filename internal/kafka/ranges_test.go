package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/record"
)

// readRanges reads ranges with rr, as "partition@offset=value" in read
// order per partition.
func readRanges(t *testing.T, rr *RangeReader, ranges ...OffsetRange) map[int32][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[int32][]string{}
	err := rr.Read(ctx, ranges, func(m *record.Message) error {
		got[m.Partition] = append(got[m.Partition], fmt.Sprintf("%d@%d=%s", m.Partition, m.Offset, m.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func newRangeReader(t *testing.T, cfg Config) *RangeReader {
	t.Helper()
	rr, err := NewRangeReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rr.Close)
	return rr
}

func values(p int32, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%d@%d=v%d-%d", p, i, p, i))
	}
	return out
}

// One reader reads range after range, moving back, forward, past the end
// and onto records written since: what an earlier read had fetched never
// shows in a later one.
func TestRangeReaderMoves(t *testing.T) {
	cfg, _ := newCluster(t, 2, "t")
	write := func(from, to int) {
		var rs []*kgo.Record
		for p := range int32(2) {
			for i := from; i < to; i++ {
				rs = append(rs, &kgo.Record{Topic: "t", Partition: p, Value: fmt.Appendf(nil, "v%d-%d", p, i)})
			}
		}
		produce(t, cfg, rs...)
	}
	write(0, 300)
	rr := newRangeReader(t, cfg)
	steps := []struct {
		name   string
		ranges []OffsetRange
		want   map[int32][]string
	}{
		{"the end", []OffsetRange{{"t", 0, 290, 300}, {"t", 1, 295, 300}}, map[int32][]string{0: values(0, 290, 300), 1: values(1, 295, 300)}},
		{"back", []OffsetRange{{"t", 0, 10, 15}}, map[int32][]string{0: values(0, 10, 15)}},
		{"the same again", []OffsetRange{{"t", 0, 10, 15}}, map[int32][]string{0: values(0, 10, 15)}},
		{"forward", []OffsetRange{{"t", 0, 14, 20}, {"t", 1, 0, 3}}, map[int32][]string{0: values(0, 14, 20), 1: values(1, 0, 3)}},
		{"past the end", []OffsetRange{{"t", 1, 298, 400}}, map[int32][]string{1: values(1, 298, 300)}},
		{"nothing", []OffsetRange{{"t", 1, 5, 5}}, map[int32][]string{}},
		{"everything", []OffsetRange{{"t", 0, 0, 300}, {"t", 1, 0, 300}}, map[int32][]string{0: values(0, 0, 300), 1: values(1, 0, 300)}},
	}
	for _, s := range steps {
		if diff := cmp.Diff(s.want, readRanges(t, rr, s.ranges...)); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	// A follow: what was written since the last read.
	write(300, 305)
	if diff := cmp.Diff(map[int32][]string{0: values(0, 300, 305)}, readRanges(t, rr, OffsetRange{"t", 0, 300, 305})); diff != "" {
		t.Fatalf("new records (-want +got):\n%s", diff)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rr.Read(ctx, []OffsetRange{{"t", 0, 0, 1}, {"t", 0, 2, 3}}, func(*record.Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("two ranges of one partition: %v, want an error", err)
	}
}

// A range that ends in transaction markers and aborted records, never
// delivered, ends at the partition's end.
func TestRangeReaderTransactional(t *testing.T) {
	cfg, _ := newCluster(t, 1, "t")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.TransactionalID("evctl-range"), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%v%d", commit, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	rr := newRangeReader(t, cfg)
	for _, rg := range []OffsetRange{{"t", 0, 0, 8}, {"t", 0, 1, 4}, {"t", 0, 3, 8}} {
		var got []int64
		if err := rr.Read(ctx, []OffsetRange{rg}, func(m *record.Message) error {
			got = append(got, m.Offset)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var want []int64
		for off := rg.From; off < min(rg.To, 3); off++ {
			want = append(want, off)
		}
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%+v: read %v, want %v", rg, got, want)
		}
	}
}
