package stream

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// sharedFake is a PartitionedSource of some partitions whose Pause and
// Resume may come while another goroutine is in Read, as a consumer's
// may. It delivers its partitions one after the other, all of the lowest
// unpaused one first, and waits in Read, as a consumer does, while every
// partition it has left is paused.
type sharedFake struct {
	mu        sync.Mutex
	parts     map[int32][]*record.Message // what is left to deliver
	ids       []int32
	paused    map[int32]bool
	wake      chan struct{} // closed at a Resume
	failAfter int           // > 0: Read fails once it delivered that many
	delivered int
	pauses    int
	inRead    atomic.Int32 // goroutines inside Read
	// leave, when set, holds a Read whose context ended until it is
	// closed; atLeave hears of each such Read.
	leave, atLeave chan struct{}
	// markers are partitions that close after their last message without
	// one, as a Kafka partition that ends in transaction markers does.
	markers map[int32]bool
}

var errFake = errors.New("the fake source broke")

func newSharedFake(parts map[int32][]*record.Message) *sharedFake {
	f := &sharedFake{parts: map[int32][]*record.Message{}, paused: map[int32]bool{}, wake: make(chan struct{})}
	for p, msgs := range parts {
		f.parts[p] = slices.Clone(msgs)
		f.ids = append(f.ids, p)
	}
	slices.Sort(f.ids)
	return f
}

func (f *sharedFake) Read(ctx context.Context) (*record.Message, error) { return f.read(ctx, false) }

func (f *sharedFake) ReadOrClose(ctx context.Context) (*record.Message, error) {
	return f.read(ctx, true)
}

func (f *sharedFake) read(ctx context.Context, orClose bool) (*record.Message, error) {
	f.inRead.Add(1)
	defer f.inRead.Add(-1)
	for {
		f.mu.Lock()
		if f.failAfter > 0 && f.delivered == f.failAfter {
			f.mu.Unlock()
			return nil, errFake
		}
		closed := false
		for _, p := range f.ids {
			q := f.parts[p]
			if f.paused[p] {
				continue
			}
			if len(q) > 0 {
				f.parts[p] = q[1:]
				f.delivered++
				f.mu.Unlock()
				return q[0], nil
			}
			if f.markers[p] {
				delete(f.markers, p)
				closed = true
				break
			}
		}
		if closed {
			f.mu.Unlock()
			if orClose {
				return nil, nil
			}
			continue
		}
		if f.remaining() == 0 {
			f.mu.Unlock()
			return nil, io.EOF
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			if f.leave != nil {
				f.atLeave <- struct{}{}
				<-f.leave
			}
			return nil, ctx.Err()
		}
	}
}

func (f *sharedFake) remaining() int {
	n := 0
	for p, q := range f.parts {
		if len(q) > 0 || f.markers[p] {
			n++
		}
	}
	return n
}

func (f *sharedFake) Open(_ string, p int32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.parts[p]) > 0 || f.markers[p]
}

func (f *sharedFake) Remaining() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remaining()
}

func (f *sharedFake) Pause(_ string, p int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused[p] = true
	f.pauses++
	return nil
}

func (f *sharedFake) Resume(_ string, p int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused[p] = false
	close(f.wake)
	f.wake = make(chan struct{})
	return nil
}

// timedPartitions are n partitions of size messages each, times rising
// by random steps; the last partition is all newer than the others, so
// a merge has to pause it.
func timedPartitions(n, size int) map[int32][]*record.Message {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	parts := map[int32][]*record.Message{}
	for p := range n {
		at := base
		if p == n-1 {
			at = base.Add(time.Duration(size) * 10 * time.Millisecond)
		}
		for off := range size {
			at = at.Add(time.Duration(rng.IntN(10)) * time.Millisecond) // ties too
			parts[int32(p)] = append(parts[int32(p)], &record.Message{Topic: "t", Partition: int32(p), Offset: int64(off), Timestamp: at})
		}
	}
	return parts
}

// subset is the partitions of parts named.
func subset(parts map[int32][]*record.Message, ids ...int32) map[int32][]*record.Message {
	out := map[int32][]*record.Message{}
	for _, p := range ids {
		out[p] = parts[p]
	}
	return out
}

func TestConcurrentlyMergesAsOneSource(t *testing.T) {
	// Enough messages a partition that the merge pauses the one that
	// runs ahead, wherever it sits.
	size := 3 * mergeHighWater / messageSize(&record.Message{})
	parts := timedPartitions(5, size)
	want := readAll(t, MergeByTime(newSharedFake(parts)))
	checkTimeOrder(t, want, 5*size)

	for _, split := range [][][]int32{{{0, 2, 4}, {1, 3}}, {{4}, {0, 1, 2, 3}}, {{0}, {1}, {2}, {3}, {4}}} {
		var fakes []*sharedFake
		var srcs []PartitionedSource
		for _, ids := range split {
			f := newSharedFake(subset(parts, ids...))
			fakes = append(fakes, f)
			srcs = append(srcs, f)
		}
		c := Concurrently(srcs...)
		got := readAll(t, MergeByTime(c))
		c.Close()
		if len(got) != len(want) {
			t.Fatalf("split %v: got %d messages, want %d", split, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("split %v: message %d is %d/%d, want %d/%d", split, i, got[i].Partition, got[i].Offset, want[i].Partition, want[i].Offset)
			}
		}
		pauses := 0
		for _, f := range fakes {
			pauses += f.pauses
		}
		if pauses == 0 {
			t.Errorf("split %v: no partition was paused: the test does not hold the merge back", split)
		}
	}
}

func TestConcurrentlyClosesPartitionsAsTheyAreRead(t *testing.T) {
	// Open and Remaining tell what the messages read so far say, as one
	// source does, however far each source's goroutine has read ahead.
	parts := map[int32][]*record.Message{}
	for p := range int32(4) {
		for off := range int64(10 + 300*p) { // more than a batch, for some
			parts[p] = append(parts[p], &record.Message{Topic: "t", Partition: p, Offset: off})
		}
	}
	c := Concurrently(newSharedFake(subset(parts, 0, 3)), newSharedFake(subset(parts, 1, 2)))
	defer c.Close()
	if n := c.Remaining(); n != 4 {
		t.Fatalf("Remaining before reading is %d, want 4", n)
	}
	left := map[int32]int{0: 10, 1: 310, 2: 610, 3: 910}
	for {
		m, err := c.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		left[m.Partition]--
		if open := c.Open("t", m.Partition); open != (left[m.Partition] > 0) {
			t.Fatalf("after %d/%d, with %d left, Open says %v", m.Partition, m.Offset, left[m.Partition], open)
		}
		want := 0
		for _, n := range left {
			if n > 0 {
				want++
			}
		}
		if n := c.Remaining(); n != want {
			t.Fatalf("after %d/%d Remaining is %d, want %d", m.Partition, m.Offset, n, want)
		}
	}
	for p, n := range left {
		if n != 0 {
			t.Errorf("partition %d: %d messages never read", p, n)
		}
	}
}

func TestConcurrentlyEndsAtASourceError(t *testing.T) {
	parts := timedPartitions(2, 1000)
	failing := newSharedFake(subset(parts, 0))
	failing.failAfter = 700
	c := Concurrently(failing, newSharedFake(subset(parts, 1)))
	defer c.Close()
	fromFailing := 0
	for {
		m, err := c.Read(context.Background())
		if err != nil {
			if !errors.Is(err, errFake) {
				t.Fatalf("Read failed with %v, want the source's error", err)
			}
			break
		}
		if m.Partition == 0 {
			fromFailing++
		}
	}
	// What the source delivered before it failed is read first.
	if fromFailing != 700 {
		t.Errorf("read %d messages of the failing source before its error, want 700", fromFailing)
	}
}

func TestConcurrentlyCloseStopsReadingSources(t *testing.T) {
	// Both sources wait in Read (all they have left is paused), and are
	// slow to leave it once the read is over.
	parts := timedPartitions(2, 600)
	leave, atLeave := make(chan struct{}), make(chan struct{}, 2)
	var fakes []*sharedFake
	for p := range int32(2) {
		f := newSharedFake(subset(parts, p))
		f.paused[p] = true
		f.leave, f.atLeave = leave, atLeave
		fakes = append(fakes, f)
	}
	c := Concurrently(fakes[0], fakes[1])
	ctx, cancel := context.WithCancel(context.Background())
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx)
		read <- err
	}()
	cancel()
	if err := <-read; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read returned %v after its context ended, want context.Canceled", err)
	}
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	<-atLeave
	<-atLeave
	select {
	case <-closed:
		t.Fatal("Close returned while the sources were still in Read")
	default:
	}
	close(leave)
	<-closed
	for i, f := range fakes {
		if n := f.inRead.Load(); n != 0 {
			t.Errorf("source %d: %d goroutines still in Read after Close", i, n)
		}
	}
}

func TestMergeByTimePartitionClosingWithoutAMessage(t *testing.T) {
	// Partitions 0 and 2 end in markers and are older than 1, which runs
	// ahead and is paused: once 0 and 2 have handed out their messages
	// the merge waits on them, and only their closing lets it go on.
	size := 3 * mergeHighWater / messageSize(&record.Message{})
	parts := timedPartitions(3, size)
	parts[0], parts[1] = parts[0][:10], parts[1][:10]
	parts[1], parts[2] = parts[2], parts[1] // the newer one in the middle
	for p, msgs := range parts {
		for _, m := range msgs {
			m.Partition = p
		}
	}
	withMarkers := func(f *sharedFake) *sharedFake {
		f.markers = map[int32]bool{0: true, 2: true}
		for p := range f.markers {
			if _, ok := f.parts[p]; !ok {
				delete(f.markers, p)
			}
		}
		return f
	}
	one := withMarkers(newSharedFake(parts))
	got := readAll(t, MergeByTime(one))
	checkTimeOrder(t, got, 20+size)
	if one.pauses == 0 {
		t.Error("partition 1 was never paused: the test does not hold the merge back")
	}
	for _, split := range [][][]int32{{{0}, {1}, {2}}, {{0}, {1, 2}}} {
		var srcs []PartitionedSource
		for _, ids := range split {
			srcs = append(srcs, withMarkers(newSharedFake(subset(parts, ids...))))
		}
		c := Concurrently(srcs...)
		got := readAll(t, MergeByTime(c))
		c.Close()
		checkTimeOrder(t, got, 20+size)
	}
}
