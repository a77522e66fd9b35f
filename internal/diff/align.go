package diff

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// bitset is one bit per event of a history.
type bitset []uint64

func newBits(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

// setRun sets the n bits from i.
func (b bitset) setRun(i, n int) {
	for ; n > 0; i, n = i+1, n-1 {
		b.set(i)
	}
}

// next is the first set bit at i or after, n when none is before n.
func (b bitset) next(i, n int) int {
	for i < n {
		w := b[i>>6] >> (i & 63)
		if w != 0 {
			return min(i+bits.TrailingZeros64(w), n)
		}
		i = (i | 63) + 1
	}
	return n
}

// alignWork bounds the steps the shortest-edit search of one key may take
// (about a nanosecond each): past it, what is left of the key is aligned
// by position. Histories that differ by a few thousand inserted, dropped
// or changed events are aligned exactly whatever their length; ones that
// differ almost everywhere (a field added to every event) are aligned by
// position, which is what they are.
const alignWork = 1 << 26

// matchCommon marks in ma and mb the events of a longest common
// subsequence of a and b (by identity): the k-th marked event of a is
// matched with the k-th of b. It is Myers' O(ND) difference algorithm in
// linear space (the middle snake, "An O(ND) Difference Algorithm and Its
// Variations", 1986), so it holds two vectors of the edit distance's size
// besides the marks; once work steps are spent, the parts still to align
// are aligned by position (equal identities at equal places).
func matchCommon(a, b []uint64, ma, mb bitset, work int) {
	m := myers{a: a, b: b, ma: ma, mb: mb, work: work}
	m.align(0, len(a), 0, len(b))
}

type myers struct {
	a, b   []uint64
	ma, mb bitset
	work   int
	vf, vb []int // furthest x on each diagonal, forward and backward
}

func (m *myers) match(x, y, n int) {
	m.ma.setRun(x, n)
	m.mb.setRun(y, n)
}

func (m *myers) align(a0, a1, b0, b1 int) {
	for {
		// The common prefix and suffix match.
		p := 0
		for a0+p < a1 && b0+p < b1 && m.a[a0+p] == m.b[b0+p] {
			p++
		}
		m.match(a0, b0, p)
		a0, b0 = a0+p, b0+p
		s := 0
		for a1-s > a0 && b1-s > b0 && m.a[a1-1-s] == m.b[b1-1-s] {
			s++
		}
		m.match(a1-s, b1-s, s)
		a1, b1 = a1-s, b1-s
		if a0 == a1 || b0 == b1 {
			return
		}
		x, y, u, v, ok := m.middleSnake(a0, a1, b0, b1)
		if !ok {
			for k := range min(a1-a0, b1-b0) {
				if m.a[a0+k] == m.b[b0+k] {
					m.match(a0+k, b0+k, 1)
				}
			}
			return
		}
		m.match(x, y, u-x)
		// Recurse on the smaller part, loop on the larger: the stack stays
		// logarithmic.
		if (x-a0)+(y-b0) < (a1-u)+(b1-v) {
			m.align(a0, x, b0, y)
			a0, b0 = u, v
		} else {
			m.align(u, a1, v, b1)
			a1, b1 = x, y
		}
	}
}

// middleSnake finds the middle snake of a shortest edit script of
// a[a0:a1] and b[b0:b1] (both non-empty, their first and last elements
// differing): the diagonal run (x, y)–(u, v) that the forward and the
// backward searches meet on. ok is false once the work is spent.
func (m *myers) middleSnake(a0, a1, b0, b1 int) (x, y, u, v int, ok bool) {
	n, mm := a1-a0, b1-b0
	// Round d takes 2d+1 steps at least: the rounds the work allows.
	maxD := min((n+mm+1)/2, int(math.Sqrt(float64(max(m.work, 0))))+1)
	off := maxD + 1
	if len(m.vf) < 2*off+1 {
		m.vf, m.vb = make([]int, 2*off+1), make([]int, 2*off+1)
	}
	vf, vb := m.vf, m.vb
	// vf[off+k]: furthest x (relative to a0) on diagonal k = x-y going
	// forward; vb[off+k]: furthest x going backward from (n, mm), as the
	// distance back, on diagonal k of the reversed sequences.
	vf[off+1], vb[off+1] = 0, 0
	delta := n - mm
	odd := delta%2 != 0
	for d := 0; d <= maxD; d++ {
		if m.work -= 2*d + 1; m.work < 0 {
			return 0, 0, 0, 0, false
		}
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || (k != d && vf[off+k-1] < vf[off+k+1]) {
				px = vf[off+k+1] // down: an insertion
			} else {
				px = vf[off+k-1] + 1 // right: a deletion
			}
			py := px - k
			sx, sy := px, py
			for px < n && py < mm && m.a[a0+px] == m.b[b0+py] {
				px, py = px+1, py+1
			}
			m.work -= px - sx
			vf[off+k] = px
			if odd && -(d-1) <= delta-k && delta-k <= d-1 && px+vb[off+delta-k] >= n {
				return a0 + sx, b0 + sy, a0 + px, b0 + py, true
			}
		}
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || (k != d && vb[off+k-1] < vb[off+k+1]) {
				px = vb[off+k+1]
			} else {
				px = vb[off+k-1] + 1
			}
			py := px - k
			sx, sy := px, py
			for px < n && py < mm && m.a[a1-1-px] == m.b[b1-1-py] {
				px, py = px+1, py+1
			}
			m.work -= px - sx
			vb[off+k] = px
			if !odd && -d <= delta-k && delta-k <= d && px+vf[off+delta-k] >= n {
				return a1 - px, b1 - py, a1 - sx, b1 - sy, true
			}
		}
	}
	return 0, 0, 0, 0, false // the work allows no more rounds
}

// reorders pairs the unmatched events of a with unmatched events of b of
// the same identity, each a event (in order) with the first b event not
// yet paired: such an event is in both histories, at another place. It
// returns the pairs in a's order and marks the paired events of b.
func reorders(a, b []uint64, ma, mb bitset) (pairs []reorder, paired bitset) {
	unmatched := func(ids []uint64, marks bitset) []int32 {
		var out []int32
		for i := range ids {
			if !marks.has(i) {
				out = append(out, int32(i))
			}
		}
		slices.SortFunc(out, func(x, y int32) int { return cmp.Or(cmp.Compare(ids[x], ids[y]), cmp.Compare(x, y)) })
		return out
	}
	paired = newBits(len(b))
	ua := unmatched(a, ma)
	if len(ua) == 0 {
		return nil, paired
	}
	ub := unmatched(b, mb)
	for x, y := 0, 0; x < len(ua) && y < len(ub); {
		switch ia, ib := a[ua[x]], b[ub[y]]; {
		case ia < ib:
			x++
		case ia > ib:
			y++
		default:
			pairs = append(pairs, reorder{i: ua[x], j: ub[y]})
			paired.set(int(ub[y]))
			x, y = x+1, y+1
		}
	}
	slices.SortFunc(pairs, func(p, q reorder) int { return cmp.Compare(p.i, q.i) })
	return pairs, paired
}

// reorder is an event of a found at place j of b.
type reorder struct{ i, j int32 }
