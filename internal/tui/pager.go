package tui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

// pager is what the browser holds of the partitions browsed: a window of
// records between per-partition edges, loaded a page at a time. With a
// filter (keep) the window holds only the records it keeps, while its
// edges move over everything read: what it found stays, however much it
// had to read past.
type pager struct {
	src Source
	ctx context.Context
	// per is how many records of each partition a page reads (scanPer
	// with a filter); pages keep per of them, or with a filter as many as
	// stay in time order.
	per, scanPer int
	max          int // records held before the far end is dropped
	keep         func(*record.Record) bool
	// only are the partition numbers shown (of every topic); nil: all.
	// numbers are those the topics have.
	only, numbers []int32

	bounds  map[Partition]Bounds // nil until the first load answers
	win     window
	recs    []*record.Record // the window's records, in display order
	seq     int              // the load in flight; older answers are dropped
	loading bool
	cancel  context.CancelFunc // stops the load in flight
}

// pageMsg answers a load.
type pageMsg struct {
	kind    loadKind
	seq     int
	bounds  []Bounds
	numbers []int32             // the partition numbers of the topics, shown or not
	starts  map[Partition]int64 // for loadAt: where each partition starts
	ranges  []Range
	runs    map[Partition][]*record.Record
	err     error
}

// change is what applying a page did to the window, for the views to
// keep their cursors on the same records.
type change struct {
	kind  loadKind
	added int // records added (at the front for loadOlder)
	// dropped records left the window at the end away from the load: the
	// back for loadOlder, the front for loadNewer.
	dropped int
}

// load starts fetching a page; it replaces (and stops) any load in
// flight. jump is where a loadAt starts.
func (p *pager) load(kind loadKind, jump position.Position) tea.Cmd {
	p.stop()
	p.loading = true
	p.seq++
	ctx, cancel := context.WithCancel(p.ctx)
	p.cancel = cancel
	seq, src, per, only := p.seq, p.src, int64(p.pageRead()), p.only
	w := window{first: maps.Clone(p.win.first), next: maps.Clone(p.win.next)}
	return func() tea.Msg {
		defer cancel()
		bounds, err := src.Bounds(ctx)
		if err != nil {
			return pageMsg{kind: kind, seq: seq, err: err}
		}
		numbers := partitionNumbers(bounds)
		if only != nil {
			bounds = slices.DeleteFunc(bounds, func(b Bounds) bool { return !slices.Contains(only, b.Partition.Partition) })
		}
		if kind == loadAt {
			var at map[Partition]int64
			if jump.NeedsTime() {
				if at, err = src.OffsetsForTime(ctx, jump.Time); err != nil {
					return pageMsg{kind: kind, seq: seq, err: err}
				}
			}
			w.first = make(map[Partition]int64, len(bounds))
			for _, b := range bounds {
				off, ok := at[b.Partition]
				if !ok {
					off = -1
				}
				w.first[b.Partition] = jump.Resolve(b.Low, b.End, off)
			}
		}
		ranges := plan(kind, bounds, w, per)
		runs, err := src.Read(ctx, ranges)
		return pageMsg{kind: kind, seq: seq, bounds: bounds, numbers: numbers, starts: w.first, ranges: ranges, runs: runs, err: err}
	}
}

// stop drops the load in flight, if any: its answer will not be applied.
func (p *pager) stop() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	if p.loading {
		p.loading = false
		p.seq++
	}
}

func (p *pager) pageRead() int {
	if p.keep != nil {
		return max(p.per, p.scanPer)
	}
	return p.per
}

// current reports whether msg answers the load in flight.
func (p *pager) current(msg pageMsg) bool { return msg.seq == p.seq && p.loading }

// apply merges a loaded page into the window.
func (p *pager) apply(msg pageMsg) change {
	p.loading, p.cancel = false, nil
	p.numbers = msg.numbers
	p.bounds = make(map[Partition]Bounds, len(msg.bounds))
	for _, b := range msg.bounds {
		p.bounds[b.Partition] = b
	}
	n := p.per
	if p.keep != nil {
		// Matches are few: a page keeps what it read, as far as time
		// order allows (take's more).
		n = max(p.per, p.scanPer) * max(len(msg.ranges), 1)
	}
	c := change{kind: msg.kind}
	switch msg.kind {
	case loadEnd, loadAt:
		var page []*record.Record
		p.win = window{first: map[Partition]int64{}, next: map[Partition]int64{}}
		if msg.kind == loadEnd {
			page = takeLatest(msg.runs, n, p.more(msg, true))
			for _, b := range msg.bounds {
				p.win.first[b.Partition], p.win.next[b.Partition] = b.End, b.End
			}
		} else {
			page = takeEarliest(msg.runs, n, p.more(msg, false))
			for _, b := range msg.bounds {
				p.win.first[b.Partition], p.win.next[b.Partition] = msg.starts[b.Partition], msg.starts[b.Partition]
			}
		}
		p.cover(msg, page)
		p.recs = p.filter(page)
		c.added = len(p.recs)
	case loadOlder:
		page := takeLatest(msg.runs, n, p.more(msg, true))
		p.cover(msg, page)
		page = p.filter(page)
		p.recs = append(page, p.recs...)
		c.added = len(page)
		c.dropped = p.trim(false)
	case loadNewer:
		page := takeEarliest(msg.runs, n, p.more(msg, false))
		p.cover(msg, page)
		page = p.filter(page)
		p.recs = append(p.recs, page...)
		c.added = len(page)
		c.dropped = p.trim(true)
	}
	return c
}

// more tells, per partition read, whether it has records beyond its range
// in the load's direction (older, or newer).
func (p *pager) more(msg pageMsg, older bool) map[Partition]bool {
	out := make(map[Partition]bool, len(msg.ranges))
	for _, rg := range msg.ranges {
		b := p.bounds[rg.Partition]
		if older {
			out[rg.Partition] = rg.From > b.Low
		} else {
			out[rg.Partition] = rg.To < b.End
		}
	}
	return out
}

// filter keeps what the filter keeps.
func (p *pager) filter(page []*record.Record) []*record.Record {
	if p.keep == nil {
		return page
	}
	out := page[:0:0]
	for _, r := range page {
		if p.keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func (p *pager) atStart() bool {
	for _, b := range p.bounds {
		if first, ok := p.win.first[b.Partition]; !ok || first > b.Low {
			return false
		}
	}
	return true
}

func (p *pager) atEnd() bool {
	for _, b := range p.bounds {
		if next, ok := p.win.next[b.Partition]; !ok || next < b.End {
			return false
		}
	}
	return true
}

// total is how many offsets the partitions span; read how many of them the
// window's edges span, what a filter has looked at.
func (p *pager) total() (read, total int64) {
	for _, b := range p.bounds {
		total += b.End - b.Low
		first, ok1 := p.win.first[b.Partition]
		next, ok2 := p.win.next[b.Partition]
		if ok1 && ok2 && next > first {
			read += min(next, b.End) - max(first, b.Low)
		}
	}
	return read, total
}

// cover moves the window's edges over a loaded page: to the records it
// kept, and past the whole range of a partition whose records were all
// kept, since a range can end in offsets that hold no record (transaction
// markers, compacted keys).
func (p *pager) cover(msg pageMsg, page []*record.Record) {
	taken := map[Partition]int{}
	for _, r := range page {
		pt := partitionOf(r)
		taken[pt]++
		if first, ok := p.win.first[pt]; !ok || r.Offset < first {
			p.win.first[pt] = r.Offset
		}
		if next, ok := p.win.next[pt]; !ok || r.Offset+1 > next {
			p.win.next[pt] = r.Offset + 1
		}
	}
	for _, rg := range msg.ranges {
		pt := rg.Partition
		if taken[pt] < len(msg.runs[pt]) {
			continue
		}
		if msg.kind == loadEnd || msg.kind == loadOlder {
			p.win.first[pt] = min(p.win.first[pt], rg.From)
		} else {
			p.win.next[pt] = max(p.win.next[pt], rg.To)
		}
	}
}

// trim drops records beyond max from the end away from where the user
// went (the front after a newer page), moving that edge of the window so
// the dropped records load again when the user comes back; it returns how
// many it dropped.
func (p *pager) trim(front bool) int {
	drop := len(p.recs) - p.max
	if drop <= 0 {
		return 0
	}
	if front {
		gone := p.recs[:drop]
		p.recs = append([]*record.Record(nil), p.recs[drop:]...)
		p.win.first = edges(gone, p.recs, p.win.first, true)
	} else {
		gone := p.recs[len(p.recs)-drop:]
		p.recs = append([]*record.Record(nil), p.recs[:len(p.recs)-drop]...)
		p.win.next = edges(gone, p.recs, p.win.next, false)
	}
	return drop
}

// edges recomputes one edge of the window after dropping records: a
// partition's first (or next) is its first kept record's offset (or the
// one after its last), or just past what was dropped when nothing of it
// is kept.
func edges(gone, kept []*record.Record, old map[Partition]int64, first bool) map[Partition]int64 {
	out := maps.Clone(old)
	for _, r := range gone {
		p := partitionOf(r)
		if first {
			out[p] = max(out[p], r.Offset+1)
		} else if v, ok := out[p]; !ok || r.Offset < v {
			out[p] = r.Offset
		}
	}
	// A partition that lost records and kept some starts (or ends) at the
	// first (last) record kept.
	touched := map[Partition]bool{}
	for _, r := range gone {
		touched[partitionOf(r)] = true
	}
	if first {
		for _, r := range kept {
			if p := partitionOf(r); touched[p] {
				touched[p] = false
				out[p] = r.Offset
			}
		}
	} else {
		for i := len(kept) - 1; i >= 0; i-- {
			if p := partitionOf(kept[i]); touched[p] {
				touched[p] = false
				out[p] = kept[i].Offset + 1
			}
		}
	}
	return out
}

// onlyText is the partitions shown, as the partitions prompt takes them.
func (p *pager) onlyText() string {
	strs := make([]string, len(p.only))
	for i, n := range p.only {
		strs[i] = strconv.Itoa(int(n))
	}
	return strings.Join(strs, ",")
}

// parseOnly reads a list of partition numbers ("1,3", "1 3"); empty is
// all of them. Each must be a partition browsed.
func (p *pager) parseOnly(text string) ([]int32, error) {
	var out []int32
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil || !slices.Contains(p.numbers, int32(n)) {
			return nil, fmt.Errorf("no partition %q; the topic has %s", f, numbersText(p.numbers))
		}
		out = append(out, int32(n))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// partitionNumbers are the partition numbers of bounds, in order.
func partitionNumbers(bounds []Bounds) []int32 {
	var out []int32
	for _, b := range bounds {
		out = append(out, b.Partition.Partition)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func numbersText(ns []int32) string {
	strs := make([]string, len(ns))
	for i, n := range ns {
		strs[i] = strconv.Itoa(int(n))
	}
	return "partitions " + strings.Join(strs, ", ")
}
