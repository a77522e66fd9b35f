package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// librdkafkaDefaults undo readDefaults' tuning, for comparison.
var librdkafkaDefaults = [][2]string{
	{"fetch.message.max.bytes", "1048576"},
	{"fetch.max.bytes", "52428800"},
	{"queued.min.messages", "100000"},
	{"queued.max.messages.kbytes", "65536"},
	{"fetch.queue.backoff.ms", "1000"},
	{"fetch.wait.max.ms", "500"},
}

// BenchmarkReadAll reads 200k small records (3 partitions, 16-byte keys,
// 100-byte values) from start to end, from an in-process broker.
func BenchmarkReadAll(b *testing.B) {
	const n, partitions = 200_000, 3
	cfg, _ := newCluster(b, partitions, "t")
	rs := make([]*kgo.Record, n)
	value := make([]byte, 100)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: "t", Partition: int32(i % partitions), Key: fmt.Appendf(nil, "account-%08d", i), Value: value}
	}
	produce(b, cfg, rs...)

	for _, bc := range []struct {
		name  string
		props [][2]string
	}{
		{"tuned", nil},
		{"librdkafka-defaults", librdkafkaDefaults},
	} {

		b.Run(bc.name, func(b *testing.B) {
			cfg := cfg
			cfg.Props = bc.props
			b.SetBytes(n * (16 + 100))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(context.Background(), cfg, ReadOptions{Topics: []string{"t"}})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for {
					_, err := r.Read(context.Background())
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				r.Close()
				if got != n {
					b.Fatalf("read %d records, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkCopy copies 200k small records (3 partitions, 16-byte keys,
// 100-byte values) exactly once, checkpointing every 20k, from and to an
// in-process broker. Each run includes joining the group and the final
// check that the whole group is done (up to 500 ms).
func BenchmarkCopy(b *testing.B) {
	const n, partitions = 200_000, 3
	cfg, _ := newCluster(b, partitions, "src")
	rs := make([]*kgo.Record, n)
	value := make([]byte, 100)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: "src", Partition: int32(i % partitions), Key: fmt.Appendf(nil, "account-%08d", i), Value: value}
	}
	produce(b, cfg, rs...)
	a, err := NewAdmin(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()

	for _, bc := range []struct {
		name  string
		props [][2]string
	}{
		{"default", nil},
		{"linger20", [][2]string{{"linger.ms", "20"}}},
		{"lz4", [][2]string{{"compression.type", "lz4"}}},
		{"consumer-librdkafka-defaults", librdkafkaDefaults},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := cfg
			cfg.Props = bc.props
			b.SetBytes(n * (16 + 100))
			run := 0
			for b.Loop() {
				run++
				dst := fmt.Sprintf("dst-%s-%d", bc.name, run)
				if err := a.CreateTopic(context.Background(), dst, partitions, nil); err != nil {
					b.Fatal(err)
				}
				cp, err := NewCopier(context.Background(), cfg, CopyOptions{Group: dst, Topics: []string{"src"}, CheckpointAfter: -1})
				if err != nil {
					b.Fatal(err)
				}
				got, err := copyLoop(context.Background(), cp, dst, 20_000, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := cp.Close(); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("copied %d records, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
