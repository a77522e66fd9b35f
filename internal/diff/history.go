package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/evctl/evctl/internal/record"
)

// keyHist is one key's history as pass 2 keeps it: each event's hashes
// when the key is on both sides (8 or 16 bytes an event: what the
// alignment needs; the fields pass reads back the places, types and
// values of the events it reports), else only their count.
type keyHist struct {
	key     string
	keyJSON json.RawMessage // the first event's
	n       int
	ids     []uint64 // each event's identity: its value's hash, as compared
	metas   []uint64 // the hash of its type and headers; nil when neither is compared
	held    []*Event // the events themselves, when pass 2 holds them (eventsHeld)
}

func (h *keyHist) meta(i int32) uint64 {
	if h.metas == nil {
		return 0
	}
	return h.metas[i]
}

// alignOp is one event difference of an alignment: a's event i and b's
// event j (-1: none); fields says the two events' contents are compared.
type alignOp struct {
	kind   string
	i, j   int32
	fields bool
}

// change is the op as the report shows it, without its fields: x and y
// are a's and b's events (nil for none).
func (op alignOp) change(x, y *Event) EventChange {
	switch op.kind {
	case Missing:
		return EventChange{Kind: Missing, A: x.At(), Type: x.Type}
	case Extra:
		return EventChange{Kind: Extra, B: y.At(), Type: y.Type}
	}
	ch := EventChange{Kind: op.kind, A: x.At(), B: y.At(), Type: y.Type}
	if op.kind == Changed && x.Type != y.Type && x.Type != "" {
		ch.Type = x.Type + " → " + y.Type
	}
	return ch
}

// alignment is how two histories of one key align by event identity (the
// value, as compared): a longest common subsequence matches events (the
// k-th marked event of a with the k-th of b); an unmatched event whose
// identity is unmatched on the other side too is moved (reordered).
type alignment struct {
	a, b           *keyHist
	ma, mb         bitset
	moved          []reorder // in a's order
	movedA, movedB bitset
}

func align(a, b *keyHist) *alignment {
	al := &alignment{a: a, b: b, ma: newBits(len(a.ids)), mb: newBits(len(b.ids)), movedA: newBits(len(a.ids))}
	matchCommon(a.ids, b.ids, al.ma, al.mb, alignWork)
	al.moved, al.movedB = reorders(a.ids, b.ids, al.ma, al.mb)
	for _, p := range al.moved {
		al.movedA.set(int(p.i))
	}
	return al
}

// ops yields the event differences in order: matched events whose type or
// headers differ are changed; between two matches, the moved events of a
// are reordered, the other unmatched events pair up as changed by
// position, and the rest are missing (a only) or extra (b only).
func (al *alignment) ops(yield func(alignOp) bool) {
	a, b := al.a, al.b
	na, nb := len(a.ids), len(b.ids)
	metaDiffers := func(i, j int32) bool { return a.meta(i) != b.meta(j) }
	nextA := func(x, end int) int {
		for x < end && al.movedA.has(x) {
			x++
		}
		return x
	}
	nextB := func(y, end int) int {
		for y < end && al.movedB.has(y) {
			y++
		}
		return y
	}
	moved := al.moved
	for i, j := 0, 0; ; {
		endA, endB := al.ma.next(i, na), al.mb.next(j, nb)
		for ; len(moved) > 0 && int(moved[0].i) < endA; moved = moved[1:] {
			p := moved[0]
			if !yield(alignOp{kind: Reordered, i: p.i, j: p.j, fields: metaDiffers(p.i, p.j)}) {
				return
			}
		}
		x, y := nextA(i, endA), nextB(j, endB)
		for ; x < endA && y < endB; x, y = nextA(x+1, endA), nextB(y+1, endB) {
			if !yield(alignOp{kind: Changed, i: int32(x), j: int32(y), fields: true}) {
				return
			}
		}
		for ; x < endA; x = nextA(x+1, endA) {
			if !yield(alignOp{kind: Missing, i: int32(x), j: -1}) {
				return
			}
		}
		for ; y < endB; y = nextB(y+1, endB) {
			if !yield(alignOp{kind: Extra, i: -1, j: int32(y)}) {
				return
			}
		}
		if endA == na || endB == nb {
			return
		}
		if metaDiffers(int32(endA), int32(endB)) && !yield(alignOp{kind: Changed, i: int32(endA), j: int32(endB), fields: true}) {
			return
		}
		i, j = endA+1, endB+1
	}
}

// eventFields lists what differs between two events: value fields, and
// the type and headers unless they are left out.
func (c *comparison) eventFields(x, y *Event) ([]Field, error) {
	var fields []Field
	if !c.opts.ValuesOnly && !c.opts.IgnoreType && x.Type != y.Type {
		fields = append(fields, Field{Path: ".type", A: quoteJSON(x.Type), B: quoteJSON(y.Type)})
	}
	if x.Value == nil || y.Value == nil {
		if (x.Value == nil) != (y.Value == nil) {
			fields = append(fields, Field{Path: ".value", A: orNull(x.Value, "tombstone"), B: orNull(y.Value, "tombstone")})
		}
	} else {
		vf, err := FieldDiff(x.Value, y.Value, c.opts.IgnoreValue)
		if err != nil {
			return nil, err
		}
		for _, f := range vf {
			if f.Path == "." {
				f.Path = ".value"
			} else if f.Path[0] == '[' || f.Path[1] == '[' {
				f.Path = ".value" + f.Path[1:]
			} else {
				f.Path = ".value" + f.Path
			}
			fields = append(fields, f)
		}
	}
	if !c.opts.ValuesOnly && !c.opts.IgnoreHeaders {
		fields = append(fields, c.headerFields(x, y)...)
	}
	return fields, nil
}

// headerFields compares headers by key, each key's values in order.
func (c *comparison) headerFields(x, y *Event) []Field {
	byKey := func(e *Event) (map[string][]string, []string) {
		m := map[string][]string{}
		var keys []string
		for _, h := range e.Headers {
			if slices.Contains(c.opts.IgnoreHeaderKeys, h.Key) {
				continue
			}
			if _, ok := m[h.Key]; !ok {
				keys = append(keys, h.Key)
			}
			m[h.Key] = append(m[h.Key], h.Encoding+":"+h.Value)
		}
		return m, keys
	}
	hx, kx := byKey(x)
	hy, ky := byKey(y)
	keys := slices.Concat(kx, ky)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var out []Field
	for _, k := range keys {
		if slices.Equal(hx[k], hy[k]) {
			continue
		}
		f := Field{Path: ".headers[" + strconv.Quote(k) + "]"}
		if v, ok := hx[k]; ok {
			f.A = headerJSON(v)
		}
		if v, ok := hy[k]; ok {
			f.B = headerJSON(v)
		}
		out = append(out, f)
	}
	return out
}

func headerJSON(vs []string) json.RawMessage {
	texts := make([]string, len(vs))
	for i, v := range vs {
		_, texts[i], _ = cutEncoding(v)
	}
	if len(texts) == 1 {
		return quoteJSON(texts[0])
	}
	b, _ := json.Marshal(texts)
	return b
}

func cutEncoding(v string) (string, string, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] == ':' {
			return v[:i], v[i+1:], true
		}
	}
	return "", v, false
}

func quoteJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func orNull(v json.RawMessage, what string) json.RawMessage {
	if v == nil {
		return quoteJSON("(" + what + ")")
	}
	return v
}

// keyOps is one differing key as the report is built: the first of its
// event differences (MaxChanges), as the report shows them.
type keyOps struct {
	kh      uint64
	a, b    *keyHist
	changes []EventChange
}

// fieldJob is an op the fields pass reads back the events of: to compare
// their contents (op.fields), or to show where they are (shown: its
// index in ko.changes; -1 when not shown).
type fieldJob struct {
	ko    *keyOps
	op    alignOp
	shown int32
}

// evRef names one event of a source: the n-th of key kh.
type evRef struct {
	kh uint64
	n  int32
}

// historyReport reports the batch's keys. Pass 2 holds only the events'
// hashes: the alignment of each key counts its differences as it yields
// them; the fields pass reads back the events that the report shows or
// whose contents differ, a window at a time, so that what is held stays
// within the memory budget whatever the differences, while the groups
// cover every event difference and the report keeps only the first
// MaxChanges of each key.
func (c *comparison) historyReport(ctx context.Context, d *details, onlyA, onlyB, differ []uint64) error {
	for _, k := range onlyA {
		if h := c.a.hists[k]; h != nil {
			d.removed(Entry{Key: keyOf(h.key, h.keyJSON), Events: h.n})
		}
	}
	for _, k := range onlyB {
		if h := c.b.hists[k]; h != nil {
			d.added(Entry{Key: keyOf(h.key, h.keyJSON), Events: h.n})
		}
	}
	win := heldWindow // pass 2 holds the events: nothing to read back
	if !c.eventsHeld {
		win = c.fieldsWindow()
	}
	jobs := make([]fieldJob, 0, min(win, 1<<16))
	flush := func() error {
		err := c.fieldsPass(ctx, d, jobs)
		jobs = jobs[:0]
		return err
	}
	for _, k := range differ {
		ha, hb := c.a.hists[k], c.b.hists[k]
		if ha == nil || hb == nil {
			continue // the source changed between the passes
		}
		ko := &keyOps{kh: k, a: ha, b: hb}
		n := 0
		var err error
		for op := range align(ha, hb).ops {
			switch op.kind {
			case Missing:
				d.r.Counts.Missing++
			case Extra:
				d.r.Counts.Extra++
			case Changed:
				d.r.Counts.ChangedEv++
			case Reordered:
				d.r.Counts.Reordered++
			}
			job := fieldJob{ko: ko, op: op, shown: -1}
			if d.max <= 0 || n < d.max {
				job.shown = int32(len(ko.changes))
				ko.changes = append(ko.changes, EventChange{Kind: op.kind})
			}
			n++
			if job.shown < 0 && !op.fields {
				continue
			}
			if jobs = append(jobs, job); len(jobs) == win {
				if err = flush(); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
		// The fields pass fills ko.changes in place: the report shares them.
		d.add(Change{Key: keyOf(ha.key, ha.keyJSON, hb.keyJSON), Events: ko.changes, MoreEvents: n - len(ko.changes)})
	}
	return flush()
}

// heldWindow is how many ops the fields pass compares at once when pass 2
// held the events.
const heldWindow = 4096

// fieldsWindow is how many ops a fields pass compares at once: the events
// they hold (both sides') within a quarter of the memory budget, the rest
// left for what the comparison holds besides (the hashes of every event
// of the differing keys) and for the garbage collector.
func (c *comparison) fieldsWindow() int {
	budget := c.opts.MemoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	per := int64(2 * heldPerEvent)
	for _, s := range []*side{c.a, c.b} {
		if s.values > 0 {
			per += s.valueBytes / int64(s.values)
		}
	}
	return int(max(1, budget/4/per))
}

// fieldsPass reads back the events the jobs name, compares those whose
// contents differ in order, groups their fields, and fills in the changes
// the report shows.
func (c *comparison) fieldsPass(ctx context.Context, d *details, jobs []fieldJob) error {
	if len(jobs) == 0 {
		return nil
	}
	wantA, wantB := map[evRef]*Event{}, map[evRef]*Event{}
	if !c.eventsHeld {
		for _, j := range jobs {
			if j.op.i >= 0 {
				wantA[evRef{j.ko.kh, j.op.i}] = nil
			}
			if j.op.j >= 0 {
				wantB[evRef{j.ko.kh, j.op.j}] = nil
			}
		}
		defer func() {
			var n int64
			for _, m := range []map[evRef]*Event{wantA, wantB} {
				for _, e := range m {
					if e != nil {
						n++
					}
				}
			}
			c.hold(-n)
		}()
		if err := both(ctx, func(ctx context.Context) error { return c.eventsPass(ctx, c.a, wantA) },
			func(ctx context.Context) error { return c.eventsPass(ctx, c.b, wantB) }); err != nil {
			return err
		}
	}
	event := func(h *keyHist, want map[evRef]*Event, kh uint64, i int32) *Event {
		switch {
		case i < 0:
			return nil
		case c.eventsHeld:
			if int(i) < len(h.held) {
				return h.held[i]
			}
			return nil
		}
		return want[evRef{kh, i}]
	}
	for _, j := range jobs {
		ko, op := j.ko, j.op
		x, y := event(ko.a, wantA, ko.kh, op.i), event(ko.b, wantB, ko.kh, op.j)
		if (op.i >= 0 && x == nil) || (op.j >= 0 && y == nil) {
			continue // the source changed between the passes
		}
		var fields []Field
		if op.fields {
			var err error
			if fields, err = c.eventFields(x, y); err != nil {
				return fmt.Errorf("key %q: %w", ko.a.key, err)
			}
			for _, f := range fields {
				d.group(f)
			}
		}
		if j.shown >= 0 {
			ch := op.change(x, y)
			ch.Fields = fields
			ko.changes[j.shown] = ch
		}
	}
	return nil
}

// errFound stops a scan that found what it looked for.
var errFound = errors.New("found")

// eventsPass reads back the events want names, holding a copy of each; it
// stops reading once it has them all.
func (c *comparison) eventsPass(ctx context.Context, s *side, want map[evRef]*Event) error {
	seen := map[uint64]int32{}
	for r := range want {
		seen[r.kh] = 0
	}
	found := 0
	err := s.src.Scan(ctx, func(e *Event) error {
		if e.KeyEncoding == record.EncodingNull {
			return nil
		}
		kh := keyHash(e.Key)
		n, ok := seen[kh]
		if !ok {
			return nil
		}
		seen[kh] = n + 1
		r := evRef{kh, n}
		if _, ok := want[r]; ok {
			want[r] = cloneEvent(e)
			c.hold(1)
			if found++; found == len(want) {
				return errFound
			}
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return nil
	}
	return err
}
