package tui

import (
	"context"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// Partition names one partition of one topic.
type Partition struct {
	Topic     string
	Partition int32
}

// Bounds are a partition's offsets now: Low is the first record's offset,
// End the offset after the last one.
type Bounds struct {
	Partition
	Low, End int64
}

// Range asks for a partition's records with offsets in [From, To).
type Range struct {
	Partition
	From, To int64
}

// Source is what the browser reads: the commands give it one backed by
// Kafka, the tests one backed by a slice.
type Source interface {
	// Bounds returns the bounds of every partition browsed.
	Bounds(ctx context.Context) ([]Bounds, error)
	// Read returns each range's records, decoded, in offset order. A range
	// may come back with fewer records than it spans (compaction, aborted
	// transactions) but never with records outside it.
	Read(ctx context.Context, ranges []Range) (map[Partition][]*record.Record, error)
	// OffsetsForTime returns each browsed partition's offset of its first
	// record at or after t, or -1 when it has none.
	OffsetsForTime(ctx context.Context, t time.Time) (map[Partition]int64, error)
}
