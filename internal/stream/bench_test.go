package stream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/big"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
)

// bankMessages are n MoneyDeposited events as the sandbox writes them
// (text key, three headers, plain Avro of a local schema), over six
// partitions in time order.
func bankMessages(b *testing.B, n int) []*record.Message {
	const avsc = "../sandbox/schemas/MoneyDeposited.avsc"
	s, err := avro.ParseFiles(avsc)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	out := make([]*record.Message, n)
	for i := range out {
		id := "acct-" + strconv.Itoa(i%10_000)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		v, err := avro.Marshal(s, map[string]any{
			"eventId": "9f1c2d3e-4b5a-4c6d-8e7f-" + strconv.Itoa(100000000000+i), "accountId": id,
			"occurredAt": at, "version": i/10_000 + 1, "amount": big.NewRat(int64(i%100_000), 100),
			"reference": map[string]any{"string": "salary"},
		})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = &record.Message{
			Topic: "bank.account-events", Partition: int32(i % 6), Offset: int64(i / 6), Timestamp: at, Key: []byte(id), Value: v,
			Headers: []record.RawHeader{
				{Key: "event-id", Value: []byte("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f")},
				{Key: "correlation-id", Value: []byte("0e7d1a3c-1111-4222-8333-444455556666")},
				{Key: "event-type", Value: []byte("MoneyDeposited")},
			},
		}
	}
	return out
}

// BenchmarkTailJSON is tail -o json without Kafka: decode every Avro
// value, render the capture format on the workers, write it through a
// buffer, in read order. cpu-ns/record is the CPU the process spent per
// record (GC included); bench/tail.sh measures the whole command.
func BenchmarkTailJSON(b *testing.B) {
	msgs := bankMessages(b, 100_000)
	dec, err := schema.NewDecoder(schema.DecoderOptions{ValueSchema: "../sandbox/schemas/MoneyDeposited.avsc"})
	if err != nil {
		b.Fatal(err)
	}
	if r := dec.Decode(b.Context(), msgs[0]); r.Error != "" {
		b.Fatal(r.Error)
	}
	out := bufio.NewWriterSize(io.Discard, 64<<10)
	opts := Options{Decoder: dec, Format: record.AppendJSON, Idle: out.Flush}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for done := 0; done < b.N; {
		n := min(b.N-done, len(msgs))
		_, err := Run(context.Background(), &sliceSource{msgs: msgs[:n]}, opts, func(it Item) error {
			_, err := out.Write(it.Out)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/record")
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMergeConcurrently is the time-merge of six partitions read as
// one source, and as two read on a goroutine each (Concurrently, one a
// core): what the hand-over costs when reading is free. A Kafka source
// spends ~2 µs of CPU a message in its poll, which is what two sources
// spread over two cores.
func BenchmarkMergeConcurrently(b *testing.B) {
	const n = 60_000
	parts := timedPartitions(6, n/6)
	for _, bc := range []struct {
		name  string
		split [][]int32
	}{
		{"one-source", [][]int32{{0, 1, 2, 3, 4, 5}}},
		{"two-sources", [][]int32{{0, 2, 4}, {1, 3, 5}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				var srcs []PartitionedSource
				for _, ids := range bc.split {
					srcs = append(srcs, newSharedFake(subset(parts, ids...)))
				}
				src := srcs[0]
				var c *Concurrent
				if len(srcs) > 1 {
					c = Concurrently(srcs...)
					src = c
				}
				m := MergeByTime(src)
				got := 0
				for {
					_, err := m.Read(context.Background())
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if c != nil {
					c.Close()
				}
				if got != n {
					b.Fatalf("merged %d messages, want %d", got, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/message")
			b.ReportMetric(float64(processCPU()-cpu)/float64(n*b.N), "cpu-ns/message")
		})
	}
}
