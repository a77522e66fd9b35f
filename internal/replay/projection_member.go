package replay

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// SourcePartition names one partition of a source topic.
type SourcePartition struct {
	Topic     string
	Partition int32
}

// MemberFold is a projection's fold as one member of a consumer group
// sees it: one Fold per source partition it owns, since an aggregate
// lives in one partition (producers partition by its key). A partition's
// states are restored from the destination when the member takes the
// partition over, and dropped when it gives it up, so the member holds
// only its share of the aggregates. Not safe for concurrent use.
type MemberFold struct {
	p      *Projection
	folds  map[SourcePartition]*Fold
	dirty  map[SourcePartition]map[string]struct{}
	counts memberCounts
	// atCommit is counts as of the last commit: a rewind goes back to it.
	atCommit memberCounts
}

// memberCounts are what a member's summary counts of its fold.
type memberCounts struct {
	created int              // aggregates whose first event Apply folded
	skipped map[string]int64 // events ignore-unknown skipped, by type
}

func (c memberCounts) clone() memberCounts {
	return memberCounts{created: c.created, skipped: maps.Clone(c.skipped)}
}

// NewMemberFold starts a member's fold with no partitions.
func (p *Projection) NewMemberFold() *MemberFold {
	return &MemberFold{p: p, folds: map[SourcePartition]*Fold{}, dirty: map[SourcePartition]map[string]struct{}{},
		counts: memberCounts{skipped: map[string]int64{}}, atCommit: memberCounts{skipped: map[string]int64{}}}
}

func (mf *MemberFold) fold(sp SourcePartition) *Fold {
	f := mf.folds[sp]
	if f == nil {
		f = mf.p.NewFold()
		mf.folds[sp] = f
		mf.dirty[sp] = map[string]struct{}{}
	}
	return f
}

// Apply folds r into its partition's fold, as Fold.Apply, and marks the
// aggregate changed. An aggregate that already lives in another partition
// of this member is an error: its events' order across the two is lost.
func (mf *MemberFold) Apply(ctx context.Context, r *record.Record) (Change, error) {
	sp := SourcePartition{r.Topic, r.Partition}
	f := mf.fold(sp)
	n := f.Len()
	c, err := f.Apply(ctx, r)
	if c.Skipped {
		mf.counts.skipped[c.Type]++
	}
	if err != nil || c.Skipped {
		return c, err
	}
	if f.Len() > n {
		mf.counts.created++
		for other, g := range mf.folds {
			if other != sp && g.aggs[c.ID] != nil {
				return Change{}, fmt.Errorf("aggregate %q has events in %s/%d and %s/%d: a rebuild split over a consumer group needs each aggregate in one partition (with id %s in %s); rebuild it into a file instead",
					c.ID, other.Topic, other.Partition, sp.Topic, sp.Partition, cmp.Or(strings.TrimSpace(mf.p.idSource), ".key"), mf.p.File)
			}
		}
	}
	mf.dirty[sp][c.ID] = struct{}{}
	return c, nil
}

// Restore sets an aggregate's state in a partition's fold, as the
// destination holds it: state is its JSON, nil for a deleted aggregate (a
// tombstone); at is the record's timestamp. The latest restored wins, and
// a restored state is not changed, so Changed does not yield it.
func (mf *MemberFold) Restore(sp SourcePartition, id string, state json.RawMessage, at time.Time) error {
	f := mf.fold(sp)
	agg := &projectionAggregate{deleted: state == nil, at: at}
	if state != nil {
		v, err := f.dec.Decode(state)
		if err != nil {
			return fmt.Errorf("restore aggregate %q of %s/%d: the destination holds no JSON state: %w", id, sp.Topic, sp.Partition, err)
		}
		agg.state = v
	}
	f.aggs[id] = agg
	return nil
}

// Drop forgets a partition's aggregates: the member gave it up.
func (mf *MemberFold) Drop(sp SourcePartition) {
	delete(mf.folds, sp)
	delete(mf.dirty, sp)
}

// Committed marks what the member has folded as in the destination for
// good: a commit made its states durable.
func (mf *MemberFold) Committed() {
	mf.atCommit = mf.counts.clone()
}

// Rewound takes the counts back to the last commit: its transaction was
// dropped, and the events folded since are folded again (into states
// restored from the destination, by this member or another).
func (mf *MemberFold) Rewound() {
	mf.counts = mf.atCommit.clone()
}

// State is one aggregate's state, as Changed yields it.
type State struct {
	Partition SourcePartition
	ID        string
	State     json.RawMessage // nil: deleted, a tombstone
	At        time.Time       // the last folded event's timestamp
}

// Changed yields the states of the aggregates Apply changed since the
// last call, by partition and id, and forgets that they changed.
func (mf *MemberFold) Changed() []State {
	var out []State
	parts := slices.SortedFunc(maps.Keys(mf.dirty), func(a, b SourcePartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, sp := range parts {
		f := mf.folds[sp]
		for _, id := range slices.Sorted(maps.Keys(mf.dirty[sp])) {
			state, _ := f.Get(id)
			out = append(out, State{Partition: sp, ID: id, State: state, At: f.Timestamp(id)})
		}
		mf.dirty[sp] = map[string]struct{}{} // not clear: a map keeps its buckets
	}
	return out
}

// Created is the number of aggregates whose first event the member
// folded (restored ones are not): over a group's members, each aggregate
// once.
func (mf *MemberFold) Created() int { return mf.counts.created }

// Len is the number of aggregates the member holds, deleted ones included.
func (mf *MemberFold) Len() int {
	n := 0
	for _, f := range mf.folds {
		n += f.Len()
	}
	return n
}

// SkippedTypes counts the events of each type skipped as unknown, as
// Fold.SkippedTypes, over every partition the member has folded.
func (mf *MemberFold) SkippedTypes() map[string]int64 { return maps.Clone(mf.counts.skipped) }
