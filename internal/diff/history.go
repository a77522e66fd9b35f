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

// maxAlignCells bounds the LCS table of one key's histories (after the
// common prefix and suffix are stripped); past it, events align by position.
const maxAlignCells = 4 << 20

// histEvent is what pass 2 keeps of one event of a key whose history
// differs: its hashes, place and type, not its value (the fields pass
// reads back the values of the events it compares).
type histEvent struct {
	id, full  uint64
	offset    int64
	partition int32
	typ       string
}

func (h histEvent) at() string { return at(h.partition, h.offset) }

// keyHist is one key's history as pass 2 keeps it: its events when the
// key is on both sides, else only their count.
type keyHist struct {
	key     string
	keyJSON json.RawMessage // the first event's
	n       int
	evs     []histEvent
	held    []*Event // the events themselves, when pass 2 holds them (eventsHeld)
}

// alignOp is one event difference of an alignment: a's event i and b's
// event j (-1: none); fields says the two events' contents are compared.
type alignOp struct {
	kind   string
	i, j   int32
	fields bool
}

// change is the op as the report shows it, without its fields.
func (op alignOp) change(a, b []histEvent) EventChange {
	switch op.kind {
	case Missing:
		return EventChange{Kind: Missing, A: a[op.i].at(), Type: a[op.i].typ}
	case Extra:
		return EventChange{Kind: Extra, B: b[op.j].at(), Type: b[op.j].typ}
	}
	x, y := a[op.i], b[op.j]
	ch := EventChange{Kind: op.kind, A: x.at(), B: y.at(), Type: y.typ}
	if op.kind == Changed && x.typ != y.typ && x.typ != "" {
		ch.Type = x.typ + " → " + y.typ
	}
	return ch
}

// alignHistories aligns two histories of one key by event identity (the
// value, as compared): the longest common subsequence matches events;
// matched events whose type or headers differ are changed; an unmatched
// event whose identity is unmatched on the other side too is reordered;
// the unmatched events left between two matches pair up as changed, by
// position, and the rest are missing (a only) or extra (b only).
func alignHistories(a, b []histEvent) []alignOp {
	pairs := lcs(a, b) // matched (i, j), increasing
	matchedA := make([]bool, len(a))
	matchedB := make([]bool, len(b))
	for _, p := range pairs {
		matchedA[p[0]], matchedB[p[1]] = true, true
	}
	// Reordered: the same identity unmatched on both sides.
	unmatchedB := map[uint64][]int{}
	for j := range b {
		if !matchedB[j] {
			unmatchedB[b[j].id] = append(unmatchedB[b[j].id], j)
		}
	}
	reorderedA := map[int]int{}
	reorderedB := map[int]bool{}
	for i := range a {
		if matchedA[i] {
			continue
		}
		if js := unmatchedB[a[i].id]; len(js) > 0 {
			reorderedA[i], reorderedB[js[0]] = js[0], true
			unmatchedB[a[i].id] = js[1:]
		}
	}

	var out []alignOp
	pair := func(kind string, i, j int) {
		out = append(out, alignOp{kind: kind, i: int32(i), j: int32(j), fields: a[i].full != b[j].full || kind == Changed})
	}
	// Walk the gaps between matches, in order.
	i, j := 0, 0
	var gapA, gapB []int
	for k := 0; k <= len(pairs); k++ {
		endA, endB := len(a), len(b)
		if k < len(pairs) {
			endA, endB = pairs[k][0], pairs[k][1]
		}
		gapA, gapB = gapA[:0], gapB[:0]
		for ; i < endA; i++ {
			if j2, ok := reorderedA[i]; ok {
				pair(Reordered, i, j2)
				continue
			}
			gapA = append(gapA, i)
		}
		for ; j < endB; j++ {
			if !reorderedB[j] {
				gapB = append(gapB, j)
			}
		}
		n := min(len(gapA), len(gapB))
		for x := range n {
			pair(Changed, gapA[x], gapB[x])
		}
		for _, x := range gapA[n:] {
			out = append(out, alignOp{kind: Missing, i: int32(x), j: -1})
		}
		for _, y := range gapB[n:] {
			out = append(out, alignOp{kind: Extra, i: -1, j: int32(y)})
		}
		if k < len(pairs) {
			if a[i].full != b[j].full {
				pair(Changed, i, j)
			}
			i, j = i+1, j+1
		}
	}
	return out
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

// lcs returns the index pairs of a longest common subsequence of a and b
// by identity. The common prefix and suffix are matched first; what is
// left is aligned with the classic table when it is small enough, and by
// equal identities at equal offsets when not.
func lcs(a, b []histEvent) [][2]int {
	var pairs [][2]int
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre].id == b[pre].id {
		pairs = append(pairs, [2]int{pre, pre})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf].id == b[len(b)-1-suf].id {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	if n > 0 && m > 0 {
		if (n+1)*(m+1) <= maxAlignCells {
			t := make([]int32, (n+1)*(m+1))
			at := func(i, j int) *int32 { return &t[i*(m+1)+j] }
			for i := n - 1; i >= 0; i-- {
				for j := m - 1; j >= 0; j-- {
					if ma[i].id == mb[j].id {
						*at(i, j) = *at(i+1, j+1) + 1
					} else {
						*at(i, j) = max(*at(i+1, j), *at(i, j+1))
					}
				}
			}
			for i, j := 0, 0; i < n && j < m; {
				switch {
				case ma[i].id == mb[j].id:
					pairs = append(pairs, [2]int{pre + i, pre + j})
					i, j = i+1, j+1
				case *at(i+1, j) >= *at(i, j+1):
					i++
				default:
					j++
				}
			}
		} else {
			for i := range min(n, m) {
				if ma[i].id == mb[i].id {
					pairs = append(pairs, [2]int{pre + i, pre + i})
				}
			}
		}
	}
	for k := suf; k > 0; k-- {
		pairs = append(pairs, [2]int{len(a) - k, len(b) - k})
	}
	return pairs
}

// keyOps is one differing key's alignment as the report is built: its
// ops, and the first of them (MaxChanges) as the report shows them.
type keyOps struct {
	kh      uint64
	a, b    *keyHist
	ops     []alignOp
	changes []EventChange
}

// fieldJob is an op of the fields pass: keys[key].ops[op].
type fieldJob struct{ key, op int }

// evRef names one event of a source: the n-th of key kh.
type evRef struct {
	kh uint64
	n  int32
}

// historyReport reports the batch's keys. Pass 2 holds only the events'
// hashes: the alignment counts the differences of every key; the fields
// pass then reads back the events whose contents differ, in windows that
// keep the events held at once within the memory budget, so that the
// groups cover every event difference while the report keeps only the
// first MaxChanges of each key.
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
	var keys []keyOps
	var jobs []fieldJob
	for _, k := range differ {
		ha, hb := c.a.hists[k], c.b.hists[k]
		if ha == nil || hb == nil {
			continue // the source changed between the passes
		}
		ko := keyOps{kh: k, a: ha, b: hb, ops: alignHistories(ha.evs, hb.evs)}
		shown := len(ko.ops)
		if d.max > 0 {
			shown = min(shown, d.max)
		}
		ko.changes = make([]EventChange, shown)
		for x, op := range ko.ops {
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
			if x < shown {
				ko.changes[x] = op.change(ha.evs, hb.evs)
			}
			if op.fields {
				jobs = append(jobs, fieldJob{key: len(keys), op: x})
			}
		}
		keys = append(keys, ko)
	}
	win := len(jobs) // pass 2 held the events
	if !c.eventsHeld {
		win = c.fieldsWindow()
	}
	for s := 0; s < len(jobs); s += win {
		if err := c.fieldsPass(ctx, d, keys, jobs[s:min(s+win, len(jobs))]); err != nil {
			return err
		}
	}
	for _, ko := range keys {
		d.add(Change{Key: keyOf(ko.a.key, ko.a.keyJSON, ko.b.keyJSON), Events: ko.changes, MoreEvents: len(ko.ops) - len(ko.changes)})
	}
	return nil
}

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

// fieldsPass reads back the events the jobs compare, compares them in
// order, groups their fields and keeps those of the ops the report shows.
func (c *comparison) fieldsPass(ctx context.Context, d *details, keys []keyOps, jobs []fieldJob) error {
	wantA, wantB := map[evRef]*Event{}, map[evRef]*Event{}
	for _, j := range jobs {
		ko := keys[j.key]
		op := ko.ops[j.op]
		wantA[evRef{ko.kh, op.i}] = nil
		wantB[evRef{ko.kh, op.j}] = nil
	}
	if !c.eventsHeld {
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
	for _, j := range jobs {
		ko := keys[j.key]
		op := ko.ops[j.op]
		x, y := wantA[evRef{ko.kh, op.i}], wantB[evRef{ko.kh, op.j}]
		if c.eventsHeld && int(op.i) < len(ko.a.held) && int(op.j) < len(ko.b.held) {
			x, y = ko.a.held[op.i], ko.b.held[op.j]
		}
		if x == nil || y == nil {
			continue // the source changed between the passes
		}
		fields, err := c.eventFields(x, y)
		if err != nil {
			return fmt.Errorf("key %q: %w", ko.a.key, err)
		}
		for _, f := range fields {
			d.group(f)
		}
		if j.op < len(ko.changes) {
			ko.changes[j.op].Fields = fields
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
