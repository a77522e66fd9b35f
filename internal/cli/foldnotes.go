package cli

import (
	"fmt"
	"io"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/replay"
)

// skippedShown is how many records --on-error skip skipped a summary names.
const skippedShown = 5

// foldOutcome is what a rebuild's summary notes tell besides its counts.
type foldOutcome struct {
	events       int64            // events the fold was given
	aggregates   int64            // aggregates it built
	skippedTypes map[string]int64 // events ignore-unknown skipped, by type
	skipped      *replay.Skipped  // records --on-error skip skipped; nil: none
}

// writeFoldNotes says, after a rebuild's summary, which event types the
// spec ignored, why a fold built nothing, and which records failed and
// were skipped (the first few, and how many more).
func writeFoldNotes(w io.Writer, proj *replay.Projection, o foldOutcome) {
	if note := replay.SkippedTypesNote(o.skippedTypes); note != "" {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	if o.aggregates == 0 {
		if hint := proj.NothingMatched(o.events, o.skippedTypes); hint != "" {
			fmt.Fprintf(w, "note: %s\n", hint)
		}
	}
	if o.skipped == nil || o.skipped.Len() == 0 {
		return
	}
	n := o.skipped.Len()
	fmt.Fprintf(w, "evctl: warning: skipped %s the projection failed on (--on-error skip):\n", english.Plural(n, "record"))
	first := o.skipped.First()
	for _, e := range first {
		fmt.Fprintf(w, "  %v\n", e)
	}
	if more := n - int64(len(first)); more > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", more)
	}
}
