package replay

import (
	"fmt"
	"io"

	"github.com/evctl/evctl/internal/english"
)

// SkippedShown is how many records --on-error skip skipped a summary names.
const SkippedShown = 5

// FoldOutcome is what a rebuild's summary notes tell besides its counts.
type FoldOutcome struct {
	Events       int64            // events the fold was given
	Aggregates   int64            // aggregates it built
	SkippedTypes map[string]int64 // events ignore-unknown skipped, by type
	Skipped      *Skipped         // records --on-error skip skipped; nil: none
	Member       bool             // a group member's share, which others may have folded
	Split        SplitAggregates
}

// Notes are the notes a rebuild's summary adds besides its counts: which
// event types the spec ignored, and why a fold built nothing.
func (o FoldOutcome) Notes(proj *Projection) []string {
	var notes []string
	if note := SkippedTypesNote(o.SkippedTypes); note != "" {
		notes = append(notes, note)
	}
	if o.Aggregates == 0 && (!o.Member || o.Events > 0) {
		if hint := proj.NothingMatched(o.Events, o.SkippedTypes); hint != "" {
			notes = append(notes, hint)
		}
	}
	return notes
}

// WriteNotes writes, after a rebuild's summary, its Notes, the warning
// about aggregates split over partitions, and the records that failed and
// were skipped (the first few, and how many more).
func (o FoldOutcome) WriteNotes(w io.Writer, proj *Projection) {
	for _, note := range o.Notes(proj) {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	if warning := o.Split.Warning(); warning != "" {
		fmt.Fprintf(w, "evctl: warning: %s\n", warning)
	}
	if o.Skipped == nil || o.Skipped.Len() == 0 {
		return
	}
	n := o.Skipped.Len()
	fmt.Fprintf(w, "evctl: warning: skipped %s the projection failed on (--on-error skip):\n", english.Plural(n, "record"))
	first := o.Skipped.First()
	for _, e := range first {
		fmt.Fprintf(w, "  %v\n", e)
	}
	if more := n - int64(len(first)); more > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", more)
	}
}
