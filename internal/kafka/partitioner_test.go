package kafka

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/record"
)

// TestPartitionMatchesProducer produces keys through librdkafka with each
// partitioner and checks that Partition predicts where every record went.
func TestPartitionMatchesProducer(t *testing.T) {
	const partitions = 7
	for _, name := range partition.Names {
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
				if err := w.Produce(ctx, &record.Message{Topic: "t", Partition: partition.Any, Key: k, Value: []byte(strconv.Itoa(i))}); err != nil {
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
				want, err := partition.Partition(name, keys[i], partitions)
				if err != nil {
					t.Fatal(err)
				}
				spread[m.Partition] = true
				if want != partition.Any && want != m.Partition {
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
	for _, p := range []int32{2, 0, 1, partition.Any} {
		if err := w.Produce(ctx, &record.Message{Topic: "t", Partition: p, Key: []byte("k"), Value: []byte(fmt.Sprint(p))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	byKey, _ := partition.Partition("murmur2_random", []byte("k"), 3)
	for _, m := range readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}})) {
		want := m.Value[0] - '0'
		if string(m.Value) == fmt.Sprint(partition.Any) {
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
