package tui

import (
	"github.com/evctl/evctl/internal/record"
)

// loadKind says which records a load fetches.
type loadKind int

const (
	loadEnd   loadKind = iota // the latest records of the topic
	loadAt                    // the records from a position on (start, @TIME...)
	loadOlder                 // the page before the first record loaded
	loadNewer                 // the page after the last record loaded
)

// window is what the browser has loaded, per partition: first is the
// offset of the first record loaded (older loads read below it), next the
// offset after the last (newer loads read from it).
type window struct {
	first, next map[Partition]int64
}

// plan turns a load into ranges: perPartition records at most of every
// partition that has any left in that direction. For loadAt, w.first holds
// where each partition starts.
func plan(kind loadKind, bounds []Bounds, w window, perPartition int64) []Range {
	var out []Range
	for _, b := range bounds {
		r := Range{Partition: b.Partition}
		switch kind {
		case loadEnd:
			r.From, r.To = max(b.Low, b.End-perPartition), b.End
		case loadAt:
			from, ok := w.first[b.Partition]
			if !ok {
				from = b.Low
			}
			r.From = min(max(from, b.Low), b.End)
			r.To = min(b.End, r.From+perPartition)
		case loadOlder:
			first, ok := w.first[b.Partition]
			if !ok {
				first = b.End
			}
			r.From, r.To = max(b.Low, first-perPartition), min(first, b.End)
		case loadNewer:
			next, ok := w.next[b.Partition]
			if !ok {
				next = b.Low
			}
			r.From, r.To = max(next, b.Low), min(b.End, max(next, b.Low)+perPartition)
		}
		if r.From < r.To {
			out = append(out, r)
		}
	}
	return out
}

// takeLatest merges the partitions' runs (each in offset order) and keeps
// the n latest records, oldest first. It takes from the runs' tails, so
// what it keeps of a partition is always a suffix of its run: records left
// out are read again by the next older load, none is skipped. It stops
// early when a partition with more records before its run (more) has
// given all of it: those unread records may be later than what is left.
func takeLatest(runs map[Partition][]*record.Record, n int, more map[Partition]bool) []*record.Record {
	ends := make(map[Partition]int, len(runs))
	for p, run := range runs {
		ends[p] = len(run)
	}
	out := make([]*record.Record, 0, min(n, 4096))
	for len(out) < n && !exhausted(ends, more) {
		var best *record.Record
		var from Partition
		for p, end := range ends {
			if end == 0 {
				continue
			}
			if r := runs[p][end-1]; best == nil || record.CompareTime(r, best) > 0 {
				best, from = r, p
			}
		}
		if best == nil {
			break
		}
		ends[from]--
		out = append(out, best)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// exhausted reports whether a partition with more records beyond its run
// has none of its run left to give.
func exhausted(left map[Partition]int, more map[Partition]bool) bool {
	for p, m := range more {
		if m && left[p] == 0 {
			return true
		}
	}
	return false
}

// takeEarliest merges the runs and keeps the n earliest records, oldest
// first; what it keeps of a partition is a prefix of its run, and it stops
// as takeLatest does, at a partition with more after its run.
func takeEarliest(runs map[Partition][]*record.Record, n int, more map[Partition]bool) []*record.Record {
	heads := make(map[Partition]int, len(runs))
	left := make(map[Partition]int, len(runs))
	for p, run := range runs {
		left[p] = len(run)
	}
	out := make([]*record.Record, 0, min(n, 4096))
	for len(out) < n && !exhausted(left, more) {
		var best *record.Record
		var from Partition
		for p, run := range runs {
			if i := heads[p]; i < len(run) {
				if r := run[i]; best == nil || record.CompareTime(r, best) < 0 {
					best, from = r, p
				}
			}
		}
		if best == nil {
			break
		}
		heads[from]++
		left[from]--
		out = append(out, best)
	}
	return out
}

func partitionOf(r *record.Record) Partition {
	return Partition{Topic: r.Topic, Partition: r.Partition}
}
