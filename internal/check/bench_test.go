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

// BenchmarkCheckAssertGrowingState checks one aggregate whose state gains
// an item per event, with an assertion after each, beside the bare fold:
// ns/event must grow alike in both (bench/aggregate.sh times the commands).
func BenchmarkCheckAssertGrowingState(b *testing.B) {
	proj, err := replay.ParseProjection("cart.yaml", []byte("initial: {items: []}\nhandlers:\n"+
		"  Added: '.state + {items: (.state.items + [.event.sku])}'\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{2500, 5000, 10000} {
		records := make([]*record.Record, n)
		for i := range records {
			records[i] = ev{p: 0, o: int64(i), key: "cart-1", typ: "Added", value: fmt.Sprintf(`{"sku":"sku-%06d"}`, i)}.record()
		}
		ctx := context.Background()
		b.Run(fmt.Sprintf("fold/events=%d", n), func(b *testing.B) {
			for b.Loop() {
				f := proj.NewFold()
				for _, r := range records {
					if _, err := f.Apply(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
		b.Run(fmt.Sprintf("check-assert/events=%d", n), func(b *testing.B) {
			for b.Loop() {
				c, err := New(Options{Projection: proj, Asserts: []string{".state.items | length > 0"}})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range records {
					if err := c.Check(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
