package diff

import (
	"encoding/json"
	"slices"
	"strconv"
)

// maxAlignCells bounds the LCS table of one key's histories (after the
// common prefix and suffix are stripped); past it, events align by position.
const maxAlignCells = 4 << 20

type histEvent struct {
	id, full uint64
	ev       *Event
}

// alignHistories aligns two histories of one key by event identity (the
// value, as compared): the longest common subsequence matches events;
// matched events whose type or headers differ are changed; an unmatched
// event whose identity is unmatched on the other side too is reordered;
// the unmatched events left between two matches pair up as changed, by
// position, and the rest are missing (a only) or extra (b only).
func (c *comparison) alignHistories(ea, eb []*Event) ([]EventChange, error) {
	a, err := c.histEvents(ea)
	if err != nil {
		return nil, err
	}
	b, err := c.histEvents(eb)
	if err != nil {
		return nil, err
	}
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

	var out []EventChange
	emitPair := func(kind string, x, y histEvent) error {
		ch := EventChange{Kind: kind, A: x.ev.At(), B: y.ev.At(), Type: y.ev.Type}
		if x.full != y.full || kind == Changed {
			fields, err := c.eventFields(x.ev, y.ev)
			if err != nil {
				return err
			}
			ch.Fields = fields
		}
		if kind == Changed && x.ev.Type != y.ev.Type && x.ev.Type != "" {
			ch.Type = x.ev.Type + " → " + y.ev.Type
		}
		out = append(out, ch)
		return nil
	}
	// Walk the gaps between matches, in order.
	i, j := 0, 0
	for k := 0; k <= len(pairs); k++ {
		endA, endB := len(a), len(b)
		if k < len(pairs) {
			endA, endB = pairs[k][0], pairs[k][1]
		}
		var gapA, gapB []int
		for ; i < endA; i++ {
			if j2, ok := reorderedA[i]; ok {
				if err := emitPair(Reordered, a[i], b[j2]); err != nil {
					return nil, err
				}
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
			if err := emitPair(Changed, a[gapA[x]], b[gapB[x]]); err != nil {
				return nil, err
			}
		}
		for _, x := range gapA[n:] {
			out = append(out, EventChange{Kind: Missing, A: a[x].ev.At(), Type: a[x].ev.Type})
		}
		for _, y := range gapB[n:] {
			out = append(out, EventChange{Kind: Extra, B: b[y].ev.At(), Type: b[y].ev.Type})
		}
		if k < len(pairs) {
			if a[i].full != b[j].full {
				if err := emitPair(Changed, a[i], b[j]); err != nil {
					return nil, err
				}
			}
			i, j = i+1, j+1
		}
	}
	return out, nil
}

func (c *comparison) histEvents(evs []*Event) ([]histEvent, error) {
	out := make([]histEvent, len(evs))
	for i, e := range evs {
		id, full, err := c.eventHashes(e)
		if err != nil {
			return nil, err
		}
		out[i] = histEvent{id: id, full: full, ev: e}
	}
	return out, nil
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
