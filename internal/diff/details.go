package diff

import (
	"cmp"
	"encoding/json"
	"math/big"
	"slices"
	"sort"
	"strings"
)

// DefaultMaxChanges is how many differing keys a report details unless
// told otherwise (--max-changes).
const DefaultMaxChanges = 200

// Group is one change that many keys (state mode) or events (history
// mode) share: the same path changed the same way, such as .version: +1.
type Group struct {
	Path string `json:"path"`
	// Change says how: "+1" (numbers, by their exact difference), `"open"
	// → "closed"` (other values), "added" or "removed" (the field exists on
	// one side only), "changed" (a path that changed in more ways than a
	// report lists: the rest of them).
	Change string `json:"change"`
	// Count is how many keys (state mode) or events (history mode).
	Count int `json:"count"`
}

// maxWaysPerPath bounds the groups of one path: past it, its further
// changes count together as "changed", so the groups stay few whatever
// the differences.
const maxWaysPerPath = 8

// details collects the report's entries: every differing key is counted
// and grouped, and only the first max by key are kept.
type details struct {
	r       *Report
	max     int
	dropped bool
	groups  map[string]map[string]int // path → change → count
}

func newDetails(r *Report, maxChanges int) *details {
	return &details{r: r, max: maxChanges, groups: map[string]map[string]int{}}
}

func (d *details) added(e Entry)   { d.r.Added = append(d.r.Added, e); d.trimSometimes() }
func (d *details) removed(e Entry) { d.r.Removed = append(d.r.Removed, e); d.trimSometimes() }

// changed adds a key whose value differs (state mode), grouping its
// fields.
func (d *details) changed(c Change) {
	for _, f := range c.Fields {
		d.group(f)
	}
	d.add(c)
}

// add adds a change whose fields are grouped already: a history's, whose
// events' fields the fields pass groups as it compares them, and whose
// Events hold only the first MaxChanges (MoreEvents counts the rest).
func (d *details) add(c Change) {
	if c.MoreEvents > 0 {
		d.dropped = true
	}
	d.r.Changed = append(d.r.Changed, c)
	d.trimSometimes()
}

func (d *details) group(f Field) {
	ways := d.groups[f.Path]
	if ways == nil {
		ways = map[string]int{}
		d.groups[f.Path] = ways
	}
	way := changeOf(f.A, f.B)
	if _, ok := ways[way]; !ok && len(ways) >= maxWaysPerPath {
		way = "changed"
	}
	ways[way]++
}

func (d *details) shown() int { return len(d.r.Added) + len(d.r.Removed) + len(d.r.Changed) }

// trimSometimes keeps at most twice the cap between trims.
func (d *details) trimSometimes() {
	if d.max > 0 && d.shown() > 2*d.max+64 {
		d.trim()
	}
}

// trim sorts the lists by key and keeps the first max keys of all three.
func (d *details) trim() {
	r := d.r
	slices.SortFunc(r.Added, func(x, y Entry) int { return strings.Compare(x.Key.Text, y.Key.Text) })
	slices.SortFunc(r.Removed, func(x, y Entry) int { return strings.Compare(x.Key.Text, y.Key.Text) })
	slices.SortFunc(r.Changed, func(x, y Change) int { return strings.Compare(x.Key.Text, y.Key.Text) })
	if d.max <= 0 || d.shown() <= d.max {
		return
	}
	keys := make([]string, 0, d.shown())
	for _, e := range r.Added {
		keys = append(keys, e.Key.Text)
	}
	for _, e := range r.Removed {
		keys = append(keys, e.Key.Text)
	}
	for _, c := range r.Changed {
		keys = append(keys, c.Key.Text)
	}
	slices.Sort(keys)
	last := keys[d.max-1]
	// The lists are sorted: keep each one's keys up to last.
	cut := func(n int, key func(int) string) int {
		return sort.Search(n, func(i int) bool { return key(i) > last })
	}
	r.Added = slices.Clip(r.Added[:cut(len(r.Added), func(i int) string { return r.Added[i].Key.Text })])
	r.Removed = slices.Clip(r.Removed[:cut(len(r.Removed), func(i int) string { return r.Removed[i].Key.Text })])
	r.Changed = slices.Clip(r.Changed[:cut(len(r.Changed), func(i int) string { return r.Changed[i].Key.Text })])
	d.dropped = true
}

// finish trims the lists and writes the groups that at least two keys (or
// events) share, most common first.
func (d *details) finish() {
	d.trim()
	r := d.r
	r.Truncated = d.dropped
	for path, ways := range d.groups {
		for way, n := range ways {
			if n >= 2 { // a change of one key is that key's own
				r.Groups = append(r.Groups, Group{Path: path, Change: way, Count: n})
			}
		}
	}
	slices.SortFunc(r.Groups, func(x, y Group) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), strings.Compare(x.Path, y.Path), strings.Compare(x.Change, y.Change))
	})
}

// changeOf names how a field changed: by the exact difference for two
// numbers, else by its two values (shortened).
func changeOf(a, b json.RawMessage) string {
	switch {
	case a == nil:
		return "added"
	case b == nil:
		return "removed"
	}
	if x, ok := exactNumber(a); ok {
		if y, ok := exactNumber(b); ok {
			return signed(new(big.Rat).Sub(y, x), max(decimals(a), decimals(b)))
		}
	}
	return short(a) + " → " + short(b)
}

func exactNumber(v json.RawMessage) (*big.Rat, bool) {
	s := strings.TrimSpace(string(v))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// decimals counts the digits after a number's decimal point.
func decimals(v json.RawMessage) int {
	s := string(v)
	i := strings.IndexByte(s, '.')
	if i < 0 || strings.ContainsAny(s, "eE") {
		return 0
	}
	return len(s) - i - 1
}

func signed(d *big.Rat, prec int) string {
	s := d.FloatString(prec)
	if d.Sign() >= 0 {
		return "+" + s
	}
	return s
}

func short(v json.RawMessage) string {
	s := strings.TrimSpace(string(v))
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}
