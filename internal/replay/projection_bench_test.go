package replay

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/schema"
)

// benchRecords are bank events as evctl decodes them: 100,000 events over
// 10,000 accounts, the shape of DESIGN's 1M/10k target at a tenth the size.
// The first benchmark to run reads them; its sandbox closes when it ends.
var benchRecords struct {
	sync.Mutex
	records []*record.Record
}

func bankRecords(b *testing.B) []*record.Record {
	benchRecords.Lock()
	defer benchRecords.Unlock()
	if benchRecords.records == nil {
		_, benchRecords.records = sandboxAccountEvents(b, sandbox.Options{Accounts: 10_000, Events: 100_000, Now: projectionTestNow})
		b.ResetTimer()
	}
	return benchRecords.records
}

// BenchmarkFold reports ns/op per event folded through account-balance.yaml
// by one Fold; events/s is the rebuild rate DESIGN targets (≥ 400,000 on
// two cores). values folds records as replay --projection decodes them,
// Avro straight into jq values (Record.Values); json parses their JSON,
// as for a capture file; gojq is values with every handler run by gojq
// (no filter.Fast), the fold as it was.
func BenchmarkFold(b *testing.B) {
	records := bankRecords(b)
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		b.Fatal(err)
	}
	parsed := make([]*record.Record, len(records))
	for i, r := range records {
		c := *r
		c.Values = nil
		parsed[i] = &c
	}
	for _, bb := range []struct {
		name    string
		p       *Projection
		records []*record.Record
	}{{"values", p, records}, {"json", p, parsed}, {"gojq", withoutFast(p), records}} {
		b.Run(bb.name, func(b *testing.B) {
			fold := bb.p.NewFold()
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := range b.N {
				if _, err := fold.Apply(ctx, bb.records[i%len(bb.records)]); err != nil {
					b.Fatal(err)
				}
			}
			reportEventRate(b, cpu)
		})
	}
}

// BenchmarkParallelFold is BenchmarkFold on a ParallelFold with one worker
// per GOMAXPROCS (-cpu 2 for DESIGN's two cores).
func BenchmarkParallelFold(b *testing.B) {
	records := bankRecords(b)
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	pf := p.NewParallelFold(b.Context(), runtimeProcs(), nil)
	for i := range b.N {
		if err := pf.Apply(records[i%len(records)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := pf.Close(); err != nil {
		b.Fatal(err)
	}
	reportEventRate(b, cpu)
}

// BenchmarkRebuild is replay --projection's hot path without Kafka: each
// op decodes one bank event as read from the topic (Avro into jq values
// alone, and no headers, as replay --projection decodes for a spec that
// reads no record view) and folds it on a ParallelFold with one worker
// per GOMAXPROCS. gojq is the same with every handler run by gojq.
func BenchmarkRebuild(b *testing.B) {
	_, messages, dec := sandboxAccountMessages(b, sandbox.Options{Accounts: 10_000, Events: 100_000, Now: projectionTestNow},
		schema.DecoderOptions{Values: true, ValuesOnly: true, NoHeaders: true})
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		b.Fatal(err)
	}
	if p.ReadsRecord() {
		b.Fatal("account-balance.yaml reads the record view: replay would decode its headers")
	}
	for _, bb := range []struct {
		name string
		p    *Projection
	}{{"fast", p}, {"gojq", withoutFast(p)}} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			pf := bb.p.NewParallelFold(ctx, runtimeProcs(), nil)
			for i := range b.N {
				if err := pf.Apply(dec.Decode(ctx, messages[i%len(messages)])); err != nil {
					b.Fatal(err)
				}
			}
			if err := pf.Close(); err != nil {
				b.Fatal(err)
			}
			reportEventRate(b, cpu)
		})
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// reportEventRate reports events/s and cpu-ns/event: the CPU time the
// process spent per event, GC included, which a loaded machine inflates less
// than ns/op. On DESIGN's two cores, a rebuild runs at most at
// 2e9/cpu-ns events/s.
func reportEventRate(b *testing.B, cpuBefore time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(processCPU()-cpuBefore)/float64(b.N), "cpu-ns/event")
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMemberFoldMemory measures what a rebuild member holds per
// aggregate: it folds one AccountOpened event into each of 1,000,000
// accounts over 6 partitions with account-balance.yaml, and reports the
// live heap after a GC, per aggregate and per million (docs/projections.md
// sizes a group from it). Run it with -benchtime 1x.
func BenchmarkMemberFoldMemory(b *testing.B) {
	const aggregates = 1_000_000
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	var perAggregate float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		mf := p.NewMemberFold()
		for i := range aggregates {
			id := fmt.Sprintf("acct-%07d", i)
			if _, err := mf.Apply(ctx, opened(int32(i%6), int64(i/6), id, "Owner "+id, 1)); err != nil {
				b.Fatal(err)
			}
		}
		mf.Changed() // a checkpoint's view of them, then forgotten
		runtime.GC()
		runtime.ReadMemStats(&after)
		perAggregate = float64(after.HeapAlloc-before.HeapAlloc) / aggregates
		runtime.KeepAlive(mf)
	}
	b.ReportMetric(perAggregate, "heap-bytes/aggregate")
	b.ReportMetric(perAggregate*1e6/(1<<20), "heap-MiB/1M-aggregates")
}
