package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/evctl/evctl/internal/record"
)

// A long history with one event inserted near its start and one dropped
// near its end differs by those two events, whatever lies between: the
// events in between are the same, one place further on. (The LCS table
// was given up past 4M cells and events were then paired by position, so
// a 3,000-event aggregate reported 2,800 reordered events and 1 changed.)
func TestCompareHistoryShiftedEvents(t *testing.T) {
	for _, n := range []int{3000, 100_000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			var as, bs []string
			for i := range n {
				as = append(as, fmt.Sprintf(`k={"seq":%d}`, i))
				if i == 100 {
					bs = append(bs, `k={"inserted":true}`)
				}
				if i != n-100 {
					bs = append(bs, fmt.Sprintf(`k={"seq":%d}`, i))
				}
			}
			r, err := Compare(context.Background(), src("a", as...), src("b", bs...), Options{Mode: ModeHistory})
			if err != nil {
				t.Fatal(err)
			}
			c := r.Counts
			if c.Missing != 1 || c.Extra != 1 || c.ChangedEv != 0 || c.Reordered != 0 {
				t.Errorf("counts %+v; want 1 missing, 1 extra, 0 changed, 0 reordered", c)
			}
			want := []EventChange{{Kind: Extra, B: "0@100"}, {Kind: Missing, A: fmt.Sprintf("0@%d", n-100)}}
			if len(r.Changed) != 1 || !slices.EqualFunc(r.Changed[0].Events, want, func(x, y EventChange) bool {
				return x.Kind == y.Kind && x.A == y.A && x.B == y.B
			}) {
				t.Errorf("changes %.300v, want %+v", fmt.Sprint(r.Changed), want)
			}
		})
	}
}

// generated is a source of n events of key k, made as they are read: it
// holds nothing, so that what a comparison holds can be measured. value
// gives event i's value; onScan is called as each scan starts.
type generated struct {
	name   string
	n      int
	value  func(i int) string
	scans  int
	onScan func(scan int)
}

func (g *generated) Name() string { return g.name }
func (g *generated) Scan(ctx context.Context, yield func(*Event) error) error {
	g.scans++
	if g.onScan != nil {
		g.onScan(g.scans)
	}
	headers := []record.Header{{Key: "event-id"}}
	for i := range g.n {
		headers[0].Value = "e-" + strconv.Itoa(i)
		e := Event{Key: "big", KeyEncoding: record.EncodingText, Value: json.RawMessage(g.value(i)), Type: "Deposited", Headers: headers, Offset: int64(i)}
		if err := yield(&e); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// What a history diff holds per event of its longest differing aggregate
// (its alignment, with every event differing) is a few words, not the
// events' places, types and one record per difference (147 bytes each).
func TestCompareHistoryHoldsLittlePerEvent(t *testing.T) {
	const n = 50_000
	var base, held uint64
	// Both sides meet as each scan starts, and the live heap is measured
	// then, while neither side holds events it is reading.
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	arrived := map[int]int{}
	meet := func(scan int) {
		mu.Lock()
		defer mu.Unlock()
		if arrived[scan]++; arrived[scan] == 1 {
			for arrived[scan] < 3 {
				cond.Wait()
			}
			return
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if scan == 1 {
			base = ms.HeapAlloc
		} else if scan > 2 { // a read-back of events: the alignment is held
			held = max(held, ms.HeapAlloc)
		}
		arrived[scan]++
		cond.Broadcast()
	}
	a := &generated{name: "a", n: n, value: func(i int) string { return `{"seq":` + strconv.Itoa(i) + `}` }, onScan: meet}
	b := &generated{name: "b", n: n, value: func(i int) string { return `{"seq":` + strconv.Itoa(i) + `,"v":2}` }, onScan: meet}
	r, err := Compare(context.Background(), a, b, Options{Mode: ModeHistory, MemoryBudget: 8 << 20, MaxChanges: 10})
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts.ChangedEv != n {
		t.Fatalf("changed events %d, want %d", r.Counts.ChangedEv, n)
	}
	if held == 0 {
		t.Fatalf("the events were read back %d times, want at least once", a.scans-2)
	}
	per := float64(int64(held)-int64(base)) / n
	t.Logf("%.1f bytes held per event, %d scans", per, a.scans)
	if per > 48 {
		t.Errorf("%.1f bytes held per differing event, want at most 48", per)
	}
}

// The alignment is a longest common subsequence: as long as the classic
// table's, on random histories with many repeated values.
func TestAlignIsLongest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		a := make([]uint64, rng.IntN(40))
		b := make([]uint64, rng.IntN(40))
		alphabet := 1 + rng.IntN(6)
		for i := range a {
			a[i] = uint64(rng.IntN(alphabet))
		}
		for i := range b {
			b[i] = uint64(rng.IntN(alphabet))
		}
		if rng.IntN(3) == 0 { // mostly alike, as histories are
			b = slices.Clone(a)
			for range rng.IntN(4) {
				if len(b) > 0 {
					b[rng.IntN(len(b))] = uint64(rng.IntN(alphabet + 2))
				}
			}
		}
		ma, mb := newBits(len(a)), newBits(len(b))
		matchCommon(a, b, ma, mb, 1<<30)
		var ia, ib []int
		for i := range a {
			if ma.has(i) {
				ia = append(ia, i)
			}
		}
		for j := range b {
			if mb.has(j) {
				ib = append(ib, j)
			}
		}
		if len(ia) != len(ib) {
			t.Fatalf("a %v b %v: %d matched in a, %d in b", a, b, len(ia), len(ib))
		}
		for k := range ia {
			if a[ia[k]] != b[ib[k]] {
				t.Fatalf("a %v b %v: a[%d] matched with b[%d]", a, b, ia[k], ib[k])
			}
		}
		if want := lcsLength(a, b); len(ia) != want {
			t.Fatalf("a %v b %v: %d matched, the longest common subsequence has %d", a, b, len(ia), want)
		}
	}
}

func lcsLength(a, b []uint64) int {
	t := make([][]int, len(a)+1)
	for i := range t {
		t[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	return t[0][0]
}
