package diff

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCompareCapture diffs two capture files of 100k balances whose
// values list their members in different orders (bench/diff.sh does 1M).
func BenchmarkCompareCapture(b *testing.B) {
	dir := b.TempDir()
	var fa, fb strings.Builder
	const keys = 100_000
	for i := range keys {
		k := fmt.Sprintf("acct-%07d", i)
		fmt.Fprintf(&fa, `{"topic":"bank.account-balances","partition":%d,"offset":%d,"timestamp":"2026-11-20T12:00:00.000Z","key":"%s","value":{"accountId":"%s","owner":"Owner %d","currency":"EUR","balanceCents":%d,"status":"open","version":%d,"updatedAt":"2026-11-20T12:00:00.000Z"},"keyEncoding":"text","valueEncoding":"json"}`+"\n", i%6, i, k, k, i, i*7919%10000000, i%40)
		bal := i * 7919 % 10000000
		if i%1000 == 0 {
			bal++
		}
		fmt.Fprintf(&fb, `{"topic":"rebuilt","partition":%d,"offset":%d,"timestamp":"2026-11-20T12:00:00.000Z","key":"%s","value":{"accountId":"%s","balanceCents":%d,"currency":"EUR","owner":"Owner %d","status":"open","updatedAt":"2026-11-20T12:00:00.000Z","version":%d},"keyEncoding":"text","valueEncoding":"json"}`+"\n", i%6, i, k, k, bal, i, i%40)
	}
	pa, pb := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	if err := os.WriteFile(pa, []byte(fa.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(pb, []byte(fb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := Compare(context.Background(), &CaptureSource{Path: pa}, &CaptureSource{Path: pb}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if r.Counts.Changed != keys/1000 {
			b.Fatalf("changed = %d", r.Counts.Changed)
		}
	}
}
