package cli

import (
	"fmt"
	"testing"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/replay"
)

// BenchmarkHistoryFinal folds one aggregate whose state gains an item per
// event, as history --final does, beside the bare fold (what replay
// --projection does per event): the two must grow alike with the events
// (bench/aggregate.sh measures the whole commands).
func BenchmarkHistoryFinal(b *testing.B) {
	proj, err := replay.ParseProjection("cart.yaml", []byte("type: .value.kind\ninitial: {items: []}\nhandlers:\n"+
		"  added: '.state + {items: (.state.items + [.event.sku])}'\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{2500, 5000, 10000} {
		events := orderEvents(n, 0)
		b.Run(fmt.Sprintf("fold/events=%d", n), func(b *testing.B) {
			for b.Loop() {
				f := proj.NewFold()
				for _, r := range events {
					if _, err := f.Apply(b.Context(), r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
		b.Run(fmt.Sprintf("history/events=%d", n), func(b *testing.B) {
			ios, _, _, _ := iostreams.Test()
			opts := &HistoryOptions{IO: ios, ID: "o-1", Final: true, Output: "text"}
			for b.Loop() {
				if err := printHistory(b.Context(), opts, proj, events, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
