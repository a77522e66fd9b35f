package replay

import (
	"runtime"
	"sync"
	"testing"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
)

// benchRecords are bank events as evctl decodes them: 100,000 events over
// 10,000 accounts, the shape of DESIGN's 1M/10k target at a tenth the size.
var benchRecords = sync.OnceValue(func() []*record.Record {
	var out []*record.Record
	// A throwaway testing.B only to reuse the test helper's fatal paths.
	testing.Benchmark(func(b *testing.B) {
		if out != nil {
			return
		}
		_, out = sandboxAccountEvents(b, sandbox.Options{Accounts: 10_000, Events: 100_000, Now: projectionTestNow})
	})
	return out
})

// BenchmarkFold reports ns/op per event folded through account-balance.yaml
// by one Fold; events/s is the rebuild rate DESIGN targets (≥ 200,000).
func BenchmarkFold(b *testing.B) {
	records := benchRecords()
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		b.Fatal(err)
	}
	fold := p.NewFold()
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := fold.Apply(ctx, records[i%len(records)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParallelFold is BenchmarkFold on a ParallelFold with one worker
// per GOMAXPROCS (-cpu 2 for DESIGN's two cores).
func BenchmarkParallelFold(b *testing.B) {
	records := benchRecords()
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	pf := p.NewParallelFold(b.Context(), runtimeProcs(), nil)
	for i := range b.N {
		if err := pf.Apply(records[i%len(records)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := pf.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
