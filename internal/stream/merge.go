package stream

import (
	"container/heap"
	"context"
	"errors"
	"io"

	"github.com/evctl/evctl/internal/record"
)

// PartitionedSource is a Source over several partitions whose partitions
// can be told apart and held back: what a time-ordered merge needs.
type PartitionedSource interface {
	Source
	// ReadOrClose is Read, except that it also returns, with neither a
	// message nor an error, when a partition closed without a message
	// (Open and Remaining then say so): a merge may be waiting on it.
	ReadOrClose(ctx context.Context) (*record.Message, error)
	// Open reports whether a partition may still yield messages.
	Open(topic string, partition int32) bool
	// Remaining is how many partitions may still yield messages.
	Remaining() int
	// Pause stops fetching a partition until Resume; nothing is lost or
	// repeated: reading resumes after the last message returned.
	Pause(topic string, partition int32) error
	Resume(topic string, partition int32) error
}

// mergeHighWater is how many bytes of messages (messageSize) one
// partition may have waiting before it is paused, bounding memory when
// partitions' times are far apart (one partition's records all older
// than another's). A pause drops what was prefetched of the partition,
// and its resume, at half the high water, fetches it again while the
// messages left last about one round trip. 2 MiB is about one fetch of
// bank events (1 MB of records a partition, ~2.4 MB by messageSize), and
// was the cheapest on the 1M bank topic of a 3-node cluster: 1 MiB and
// 512 KiB paused 2-4× as often and fetched more again, 4 MiB and more
// left a larger live heap for the GC's 48 MiB limit to scan (~1 CPU-s
// more).
const mergeHighWater = 2 << 20

// MergeByTime reads src, a bounded read, and yields its messages in
// time order across partitions (record.CompareMessageTime), each
// partition still in offset order: it hands a message out
// once every partition that may still yield has one waiting, so it holds
// at most a few per partition besides those that outrun the others,
// which it pauses.
func MergeByTime(src PartitionedSource) Source {
	return &merger{src: src, queues: map[partKey]*partQueue{}}
}

type partKey struct {
	topic     string
	partition int32
}

type partQueue struct {
	key    partKey
	msgs   []*record.Message
	bytes  int // what msgs hold, roughly
	paused bool
	index  int // in the heap, -1 when empty
}

type merger struct {
	src    PartitionedSource
	last   *partQueue // the queue of the last message read: runs are common
	queues map[partKey]*partQueue
	heads  queueHeap // the queues with a message waiting
	eof    bool
	ready  bool // every open partition has a message waiting
}

func (m *merger) Read(ctx context.Context) (*record.Message, error) {
	for !m.eof && !m.isReady() {
		msg, err := m.src.ReadOrClose(ctx)
		if errors.Is(err, io.EOF) {
			m.eof = true
			break
		}
		if err != nil {
			return nil, err
		}
		if msg == nil {
			continue // a partition closed: isReady may say so now
		}
		if err := m.push(msg); err != nil {
			return nil, err
		}
	}
	if len(m.heads) == 0 {
		return nil, io.EOF
	}
	return m.pop()
}

// isReady reports whether the earliest waiting message is the earliest
// of all: no open partition lacks one. It only needs checking again once
// a queue runs empty.
func (m *merger) isReady() bool {
	if m.ready {
		return true
	}
	open := 0
	for _, q := range m.heads {
		if m.src.Open(q.key.topic, q.key.partition) {
			open++
		}
	}
	m.ready = len(m.heads) > 0 && open >= m.src.Remaining()
	return m.ready
}

func (m *merger) push(msg *record.Message) error {
	k := partKey{msg.Topic, msg.Partition}
	q := m.last
	if q == nil || q.key != k {
		if q = m.queues[k]; q == nil {
			q = &partQueue{key: k, index: -1}
			m.queues[k] = q
		}
		m.last = q
	}
	q.msgs = append(q.msgs, msg)
	q.bytes += messageSize(msg)
	if len(q.msgs) == 1 {
		heap.Push(&m.heads, q)
	}
	if q.bytes >= mergeHighWater && !q.paused && m.src.Open(k.topic, k.partition) {
		if err := m.src.Pause(k.topic, k.partition); err != nil {
			return err
		}
		q.paused = true
	}
	return nil
}

func (m *merger) pop() (*record.Message, error) {
	q := m.heads[0]
	msg := q.msgs[0]
	q.msgs[0] = nil
	q.msgs = q.msgs[1:]
	q.bytes -= messageSize(msg)
	if len(q.msgs) == 0 {
		heap.Pop(&m.heads)
		q.msgs = nil
		m.ready = false
	} else {
		heap.Fix(&m.heads, 0)
	}
	if q.paused && q.bytes <= mergeHighWater/2 {
		q.paused = false
		if m.src.Open(q.key.topic, q.key.partition) {
			if err := m.src.Resume(q.key.topic, q.key.partition); err != nil {
				return nil, err
			}
		}
	}
	return msg, nil
}

// messageSize is roughly what a message holds in memory.
func messageSize(m *record.Message) int {
	n := 128 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 32 + len(h.Key) + len(h.Value)
	}
	return n
}

// queueHeap orders queues by their first message's time.
type queueHeap []*partQueue

func (h queueHeap) Len() int { return len(h) }
func (h queueHeap) Less(i, j int) bool {
	return record.CompareMessageTime(h[i].msgs[0], h[j].msgs[0]) < 0
}
func (h queueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *queueHeap) Push(x any) {
	q := x.(*partQueue)
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *queueHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	q.index = -1
	*h = old[:len(old)-1]
	return q
}
