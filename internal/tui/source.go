package tui

import (
	"context"
	"encoding/json"
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
	// Aggregate returns the history of r's aggregate: every event of its
	// key, in order, read from the partitions the key can be on.
	Aggregate(ctx context.Context, r *record.Record) (*Aggregate, error)
}

// Aggregate is one aggregate's history.
type Aggregate struct {
	ID    string
	Topic string
	// Partitions are the partitions read for it; nil: all.
	Partitions []int32
	Events     []*record.Record
	// Versions are the events' versions: the projection's version:, else
	// their number from 1.
	Versions []int64
	// States, folding a projection, are the state after each event (JSON,
	// null once deleted); nil without a projection.
	States []json.RawMessage
}

// Topic is one row of the topic list.
type Topic struct {
	Name                     string
	Partitions               int
	Records                  int64
	CleanupPolicy            string
	KeySubject, ValueSubject string
}

// Catalog is the cluster's topics, for the topic list.
type Catalog interface {
	// Topics lists the topics to offer.
	Topics(ctx context.Context) ([]Topic, error)
	// Open returns a Source over a topic; the catalog owns it (and closes
	// what it opened when the command ends).
	Open(ctx context.Context, topic string) (Source, error)
}
