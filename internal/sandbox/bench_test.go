package sandbox_test

import (
	"context"
	"testing"

	"github.com/evctl/evctl/internal/sandbox"
)

// BenchmarkStart1M seeds the benchmarks' sandbox: go test -bench Start1M
// -benchtime 1x ./internal/sandbox/
func BenchmarkStart1M(b *testing.B) {
	for b.Loop() {
		s, err := sandbox.Start(context.Background(), sandbox.Options{Now: testNow, Events: 1_000_000, Accounts: 10_000})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
