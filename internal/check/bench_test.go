package check

import (
	"context"
	"fmt"
	"testing"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
)

// BenchmarkCheck runs every rule over bank-like events, 1,000 aggregates.
func BenchmarkCheck(b *testing.B) {
	proj, err := replay.ParseProjection("balance.yaml", []byte(spec))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"fields", Options{VersionField: ".value.version", IDField: `.headers["event-id"]`, Terminal: []string{"Closed"}}},
		{"projection", Options{VersionField: ".value.version", IDField: `.headers["event-id"]`, Terminal: []string{"Closed"},
			Projection: proj, Asserts: []string{".state.balance >= 0"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			recs := make([]ev, 0, 10_000)
			for i := range 10_000 {
				typ, val := "Deposited", fmt.Sprintf(`{"version":%d,"amount":5}`, i/1000+1)
				if i < 1000 {
					typ, val = "Opened", `{"version":1}`
				}
				recs = append(recs, ev{p: 0, o: int64(i), key: fmt.Sprintf("acct-%d", i%1000), typ: typ, value: val, id: fmt.Sprint("e", i)})
			}
			records := make([]*record.Record, len(recs))
			for i, e := range recs {
				records[i] = e.record()
			}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				c, err := New(bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range records {
					if err := c.Check(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
				if n := c.Report().Total(); n != 0 {
					b.Fatalf("%d findings", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
		})
	}
}
