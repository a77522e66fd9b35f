package stream

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// partitionedFake delivers its partitions one after the other, as a
// reader that fetched them in turn would: all of the lowest unpaused
// partition first. A paused partition delivers nothing until resumed.
type partitionedFake struct {
	parts     [][]*record.Message
	next      []int
	paused    []bool
	pauses    int
	delivered int
	// heldAtResume, when set, is asked at each Resume how many messages
	// of the partition the merge still holds.
	heldAtResume func(p int32) int
	resumedWith  []int // what heldAtResume said at each Resume
}

func newPartitionedFake(times ...[]int) *partitionedFake {
	f := &partitionedFake{next: make([]int, len(times)), paused: make([]bool, len(times))}
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for p, ts := range times {
		var msgs []*record.Message
		for off, s := range ts {
			msgs = append(msgs, &record.Message{Topic: "t", Partition: int32(p), Offset: int64(off), Timestamp: base.Add(time.Duration(s) * time.Second)})
		}
		f.parts = append(f.parts, msgs)
	}
	return f
}

func (f *partitionedFake) Read(context.Context) (*record.Message, error) {
	for p := range f.parts {
		if !f.paused[p] && f.next[p] < len(f.parts[p]) {
			m := f.parts[p][f.next[p]]
			f.next[p]++
			f.delivered++
			return m, nil
		}
	}
	if f.Remaining() > 0 {
		return nil, errors.New("every open partition is paused: the merge would hang")
	}
	return nil, io.EOF
}

// ReadOrClose is Read: a partition closes with its last message.
func (f *partitionedFake) ReadOrClose(ctx context.Context) (*record.Message, error) {
	return f.Read(ctx)
}

func (f *partitionedFake) Open(_ string, p int32) bool { return f.next[p] < len(f.parts[p]) }

func (f *partitionedFake) Remaining() int {
	n := 0
	for p := range f.parts {
		if f.Open("t", int32(p)) {
			n++
		}
	}
	return n
}

func (f *partitionedFake) Pause(_ string, p int32) error {
	f.paused[p] = true
	f.pauses++
	return nil
}

func (f *partitionedFake) Resume(_ string, p int32) error {
	f.paused[p] = false
	if f.heldAtResume != nil {
		f.resumedWith = append(f.resumedWith, f.heldAtResume(p))
	}
	return nil
}

// readAll reads src to its end; a merge that waits for good fails at a
// deadline instead of hanging the test.
func readAll(t *testing.T, src Source) []*record.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*record.Message
	for {
		m, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func checkTimeOrder(t *testing.T, got []*record.Message, want int) {
	t.Helper()
	if len(got) != want {
		t.Fatalf("got %d messages, want %d", len(got), want)
	}
	if !slices.IsSortedFunc(got, func(a, b *record.Message) int { return a.Timestamp.Compare(b.Timestamp) }) {
		t.Errorf("not in time order")
	}
	last := map[int32]int64{}
	for _, m := range got {
		if prev, ok := last[m.Partition]; ok && m.Offset != prev+1 {
			t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, prev)
		}
		last[m.Partition] = m.Offset
	}
}

func TestMergeByTime(t *testing.T) {
	// Three partitions whose times interleave, one empty: the README's
	// 11:45, 11:54, 11:31 case.
	f := newPartitionedFake([]int{1, 4, 7, 10}, []int{2, 3, 8}, nil, []int{0, 5, 6, 6, 9})
	got := readAll(t, MergeByTime(f))
	checkTimeOrder(t, got, 12)
	if got[0].Partition != 3 || got[len(got)-1].Partition != 0 {
		t.Errorf("first %d/%d, last %d/%d", got[0].Partition, got[0].Offset, got[len(got)-1].Partition, got[len(got)-1].Offset)
	}
}

func TestMergeByTimePausesAPartitionThatRunsAhead(t *testing.T) {
	// Partition 0 is all newer than partition 1, and delivered first: the
	// merge must hold back partition 0, not buffer all of it.
	n := 5 * mergeHighWater / messageSize(&record.Message{})
	newer, older := make([]int, n), make([]int, n)
	for i := range n {
		newer[i], older[i] = n+i, i
	}
	f := newPartitionedFake(newer, older)
	src := MergeByTime(f)
	var got []*record.Message
	held := 0 // the most messages the merge held at once
	for {
		m, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
		held = max(held, f.delivered-len(got))
	}
	checkTimeOrder(t, got, 2*n)
	if f.pauses == 0 {
		t.Error("partition 0 was never paused")
	}
	if limit := mergeHighWater/messageSize(&record.Message{}) + 1; held > limit {
		t.Errorf("the merge held %d messages at once, want at most %d", held, limit)
	}
}

func TestMergeByTimeResumesBeforeAPartitionRunsDry(t *testing.T) {
	// A resumed partition is fetched again, a round trip on a real
	// cluster; the merge resumes it while it still holds messages to hand
	// out meanwhile, not once it has none and the merge has to wait.
	n := 5 * mergeHighWater / messageSize(&record.Message{})
	newer, older := make([]int, n), make([]int, n)
	for i := range n {
		newer[i], older[i] = n+i, i
	}
	f := newPartitionedFake(newer, older)
	src := MergeByTime(f)
	out := map[int32]int{} // messages handed out, by partition
	// Resume comes while the merge hands out a message: not counted yet.
	f.heldAtResume = func(p int32) int { return f.next[p] - out[p] - 1 }
	var got []*record.Message
	for {
		m, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out[m.Partition]++
		got = append(got, m)
	}
	checkTimeOrder(t, got, 2*n)
	if len(f.resumedWith) == 0 {
		t.Fatal("partition 0 was never resumed")
	}
	for i, held := range f.resumedWith {
		if held == 0 {
			t.Errorf("resume %d came when the partition had no message left", i+1)
		}
	}
}
