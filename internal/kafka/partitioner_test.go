package kafka

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/record"
)

// Kafka's own murmur2 vectors (UtilsTest.testMurmur2), as signed ints.
func TestMurmur2(t *testing.T) {
	tests := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range tests {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPartition(t *testing.T) {
	tests := []struct {
		partitioner string
		key         []byte
		want        int32
	}{
		{"murmur2", nil, AnyPartition},
		{"murmur2_random", nil, AnyPartition},
		{"consistent", nil, AnyPartition},
		{"consistent_random", []byte{}, AnyPartition},
		{"consistent", []byte{}, 0}, // crc32("") is 0
		{"crc32", []byte{}, 0},
		// FNV-1a of nothing is its offset basis, 0x811c9dc5: negative as an
		// int32, so librdkafka takes 2128831035, and 2128831035 % 7 = 2.
		{"fnv1a", []byte{}, 2},
		{"random", []byte("k"), AnyPartition},
	}
	for _, tt := range tests {
		got, err := Partition(tt.partitioner, tt.key, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Partition(%s, %q) = %d, want %d", tt.partitioner, tt.key, got, tt.want)
		}
	}
	if _, err := Partition("sticky", []byte("k"), 3); err == nil {
		t.Error("Partition(sticky) did not fail")
	}
	if _, err := Partition("murmur2", []byte("k"), 0); err == nil {
		t.Error("Partition over 0 partitions did not fail")
	}
}

func TestKeyPartitions(t *testing.T) {
	key := []byte("acct-0042")
	m, _ := Partition("murmur2", key, 6)
	c, _ := Partition("consistent", key, 6)
	want := slices.Compact(slices.Sorted(slices.Values([]int32{m, c})))
	if diff := cmp.Diff(want, KeyPartitions(key, 6, DefaultHistoryPartitioners...)); diff != "" {
		t.Errorf("KeyPartitions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{0, 1, 2}, KeyPartitions(nil, 3, DefaultHistoryPartitioners...)); diff != "" {
		t.Errorf("KeyPartitions(nil) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{0, 1, 2}, KeyPartitions(key, 3, "nonsense")); diff != "" {
		t.Errorf("KeyPartitions(unknown partitioner) (-want +got):\n%s", diff)
	}
}

// TestPartitionMatchesProducer produces keys through librdkafka with each
// partitioner and checks that Partition predicts where every record went.
func TestPartitionMatchesProducer(t *testing.T) {
	const partitions = 7
	for _, name := range Partitioners {
		t.Run(name, func(t *testing.T) {
			cfg, _ := newCluster(t, partitions, "t")
			w, err := NewWriter(cfg, WriterOptions{Partitioner: name})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			keys := [][]byte{nil, {}, {0xff, 0x00, 0x80}}
			for i := range 200 {
				keys = append(keys, fmt.Appendf(nil, "acct-%d", i*7919))
			}
			for i, k := range keys {
				if err := w.Produce(ctx, &record.Message{Topic: "t", Partition: AnyPartition, Key: k, Value: []byte(strconv.Itoa(i))}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}}))
			if len(got) != len(keys) {
				t.Fatalf("read %d records, want %d", len(got), len(keys))
			}
			spread := map[int32]bool{}
			for _, m := range got {
				i, _ := strconv.Atoi(string(m.Value))
				want, err := Partition(name, keys[i], partitions)
				if err != nil {
					t.Fatal(err)
				}
				spread[m.Partition] = true
				if want != AnyPartition && want != m.Partition {
					t.Errorf("key %q went to partition %d, Partition says %d", keys[i], m.Partition, want)
				}
			}
			if name != "random" && len(spread) < partitions {
				t.Errorf("keys landed on %d partitions of %d", len(spread), partitions)
			}
		})
	}
}

func TestWriteExplicitPartition(t *testing.T) {
	cfg, _ := newCluster(t, 3, "t")
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	// The same key to three explicit partitions, and once to the partitioner.
	for _, p := range []int32{2, 0, 1, AnyPartition} {
		if err := w.Produce(ctx, &record.Message{Topic: "t", Partition: p, Key: []byte("k"), Value: []byte(fmt.Sprint(p))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	byKey, _ := Partition("murmur2_random", []byte("k"), 3)
	for _, m := range readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}})) {
		want := m.Value[0] - '0'
		if string(m.Value) == fmt.Sprint(AnyPartition) {
			want = byte(byKey)
		}
		if byte(m.Partition) != want {
			t.Errorf("record %q on partition %d, want %d", m.Value, m.Partition, want)
		}
	}
	// A partition the topic does not have.
	err = w.Produce(ctx, &record.Message{Topic: "t", Partition: 9, Value: []byte("x")})
	if err == nil {
		err = w.Flush(ctx)
	}
	if err == nil {
		t.Error("producing to partition 9 of 3 did not fail")
	}
}
