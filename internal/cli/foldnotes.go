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
	member       bool             // a group member's share, which others may have folded
	split        replay.SplitAggregates
}

// foldNotes are the notes a rebuild's summary adds besides its counts:
// which event types the spec ignored, and why a fold built nothing.
func foldNotes(proj *replay.Projection, o foldOutcome) []string {
	var notes []string
	if note := replay.SkippedTypesNote(o.skippedTypes); note != "" {
		notes = append(notes, note)
	}
	if o.aggregates == 0 && (!o.member || o.events > 0) {
		if hint := proj.NothingMatched(o.events, o.skippedTypes); hint != "" {
			notes = append(notes, hint)
		}
	}
	return notes
}

// writeFoldNotes writes, after a rebuild's summary, its foldNotes and the
// records that failed and were skipped (the first few, and how many more).
func writeFoldNotes(w io.Writer, proj *replay.Projection, o foldOutcome) {
	for _, note := range foldNotes(proj, o) {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	if warning := o.split.Warning(); warning != "" {
		fmt.Fprintf(w, "evctl: warning: %s\n", warning)
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
