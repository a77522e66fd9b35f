package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

// ReadOptions says what a Reader reads.
type ReadOptions struct {
	Topics []string
	// Partitions limits the read to these partitions of every topic; nil
	// means all.
	Partitions []int32
	// From is where each partition's read starts; the zero Position means
	// start.
	From position.Position
	// To is where each partition's read stops, exclusive: the record at
	// To is not read. The zero Position means end, unless Follow is set.
	To position.Position
	// Follow keeps reading past the end offsets captured at the start, until
	// the context is done. It has no effect when To is set.
	Follow bool
	// StartOffsets, when set, names where each listed partition starts,
	// overriding From for it: a follow resumes exactly where an earlier
	// bounded read stopped.
	StartOffsets map[TopicPartition]int64
	// StopOffsets, when set, names where each listed partition's bounded
	// read stops, exclusive, overriding To for it (clamped to the
	// partition's range, never before its start): a browser reads exactly
	// the offsets it asks for. It has no effect on a followed read.
	StopOffsets map[TopicPartition]int64
}

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// PartitionRange is the part of one partition a Reader reads: offsets from
// Start up to, not including, End.
type PartitionRange struct {
	Topic     string
	Partition int32
	// Low and High are the partition's watermarks when the reader started
	// (High is the last stable offset under read_committed).
	Low, High int64
	Start     int64
	// End is the offset the read stops before, or -1 when following.
	End int64
}

// readDefaults tune librdkafka for bulk reads from start to end; -X
// properties override them. See BenchmarkReadAll for the numbers.
var readDefaults = append(slices.Clip(neverJoined), [][2]string{
	{"auto.offset.reset", "earliest"},
	// The prefetch queue bounds memory: librdkafka stops fetching past 10k
	// records (per partition) or 16 MB queued, and each broker's response
	// holds at most 8 MB (1 MB a partition). 50k records measured 139-149 MB
	// peak for tail -o json of 1M bank events on 6 partitions, 10k 110 MB at
	// the same speed (bench/tail.sh; the budget is 150 MB).
	{"fetch.message.max.bytes", "1048576"},
	{"fetch.max.bytes", "8388608"},
	{"queued.min.messages", "10000"},
	{"queued.max.messages.kbytes", "16384"},
	// Refill the queue at once: the default 1 s backoff after it fills
	// leaves a fast reader idle most of the time (7 s against 3 s for 1M
	// records).
	{"fetch.queue.backoff.ms", "10"},
	// Close waits for the fetch a broker holds open at the end of a
	// partition; keep that wait short.
	{"fetch.wait.max.ms", "100"},
}...)

// readerFetchSize halves what a Reader fetches of a partition at once
// (the copier keeps readDefaults' 1 MB; a larger record is still fetched
// whole). With resumed partitions fetched at once (Resume), three brokers
// kept more fetches in memory: tail -o json of 1M bank events peaked at
// 137-146 MB on a 3-node cluster, 113-119 MB with 512 KB at the same CPU
// (and 113-115 MB against 128-132 MB on kfake). One fetch of bank events
// is then ~1.2 MB by the time-merge's count, under its 2 MiB high water.
var readerFetchSize = [2]string{"fetch.message.max.bytes", "524288"}

// neverJoined gives a client the group id that a consumer needs (and that
// an admin client needs to read group offsets safely, see NewAdmin); the
// client never joins that group nor commits: it assigns partitions itself.
var neverJoined = [][2]string{
	{"group.id", "evctl-inspect"},
	{"enable.auto.commit", "false"},
	{"enable.auto.offset.store", "false"},
}

// pollTimeout bounds each wait for a message, so that a cancelled context
// is noticed promptly.
const pollTimeout = 100 * time.Millisecond

// Reader reads records from a fixed set of partitions, without a consumer
// group. Not safe for concurrent use, except that Pause and Resume may
// be called while another goroutine is in Read (stream.Concurrently
// does): they only ask the consumer, which is safe for that.
type Reader struct {
	cfg    Config
	c      *rdk.Consumer
	ac     *rdk.AdminClient
	logs   *logSink
	ranges []PartitionRange
	// parts holds each read partition's state, indexed by partition id.
	parts     map[string]partStates
	bounded   bool
	remaining int // partitions not yet done, for a bounded read
	watch     brokerWatch
	// batch polls the consumer's messages a batch at a time; nil where
	// the client's queue is out of reach, and Poll serves.
	batch *batchPoller
	// A followed read watches its topics' metadata: a deleted topic ends
	// it, new partitions join it (unless the partitions were named).
	fixedPartitions bool
	metadata        chan []rdk.TopicDescription
	stopWatch       context.CancelFunc
	watchDone       chan struct{}
	// wakes feeds wakeLeader's goroutine, started by the first Resume.
	wakes     chan TopicPartition
	wakesDone chan struct{}
	closing   atomic.Bool
}

// followCheckInterval is how often a followed read looks for deleted
// topics and added partitions.
const followCheckInterval = time.Second

// TopicDeletedError ends a followed read whose topic was deleted.
type TopicDeletedError struct{ Topic string }

func (e *TopicDeletedError) Error() string {
	return fmt.Sprintf("topic %q was deleted while following it", e.Topic)
}

type partState struct {
	topic     string
	partition int32
	start     int64
	end       int64 // -1: unbounded
	// next is the offset after the last record read: one below it was
	// read already (see message).
	next int64
	done bool
}

// NewReader resolves opts against the cluster (its topics, their
// watermarks and, for @TIME positions, the offsets for those times),
// captures the end offsets and starts fetching. Errors wrap ErrUnreachable
// when the brokers do not answer within the timeout, and are an
// *UnknownTopicError for a topic that does not exist.
func NewReader(ctx context.Context, cfg Config, opts ReadOptions) (*Reader, error) {
	rs, err := NewReaders(ctx, cfg, opts, 1)
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// NewReaders is NewReader for a bounded read whose partitions are divided
// among up to n readers, each with a consumer of its own, to be read on a
// goroutine each (stream.Concurrently): a consumer converts each message
// it polls on the polling goroutine, about half of a bulk read's CPU, so
// one consumer a core reads faster than one for all. The partitions are
// divided by how many offsets each reads. A followed read, or one of a
// single partition, gets one reader. The readers' Ranges together are
// NewReader's.
func NewReaders(ctx context.Context, cfg Config, opts ReadOptions, n int) ([]*Reader, error) {
	if len(opts.Topics) == 0 {
		return nil, errors.New("no topic to read")
	}
	bounded := !opts.Follow || !opts.To.IsZero()
	m, err := readerConfig(cfg, bounded)
	if err != nil {
		return nil, err
	}
	c, logs, err := newConsumer(m)
	if err != nil {
		return nil, err
	}
	ac, err := rdk.NewAdminClientFromConsumer(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	r := &Reader{cfg: cfg, c: c, ac: ac, logs: logs, bounded: bounded, parts: map[string]partStates{}, watch: brokerWatch{cfg: cfg, logs: logs, mc: c},
		fixedPartitions: opts.Partitions != nil}
	if err := r.start(ctx, opts); err != nil {
		r.Close()
		return nil, err
	}
	rs := []*Reader{r}
	if bounded && n > 1 && r.remaining > 1 {
		if rs, err = r.split(m, min(n, r.remaining)); err != nil {
			r.Close()
			return nil, err
		}
	}
	for _, r := range rs {
		if err := r.assign(); err != nil {
			closeAll(rs)
			return nil, err
		}
		r.batch = newBatchPoller(r.c)
	}
	if !bounded {
		r.watchTopics()
	}
	return rs, nil
}

// readerConfig is a Reader's consumer configuration.
func readerConfig(cfg Config, bounded bool) (*rdk.ConfigMap, error) {
	defaults := append(slices.Clip(readDefaults), readerFetchSize)
	if bounded {
		// End-of-partition events settle partitions whose last offsets are
		// transaction markers or aborted records, never delivered.
		defaults = append(slices.Clip(defaults), [2]string{"enable.partition.eof", "true"})
	}
	return cfg.configMap(defaults)
}

// split divides r's partitions that are still to read among n readers:
// r keeps the first share, the others get a consumer each (configured by
// m) and no admin client, which only a followed read needs.
func (r *Reader) split(m *rdk.ConfigMap, n int) ([]*Reader, error) {
	open := slices.DeleteFunc(slices.Clone(r.ranges), func(pr PartitionRange) bool { return pr.Start >= pr.End })
	// Largest first, each to the share with the fewest offsets so far.
	slices.SortStableFunc(open, func(a, b PartitionRange) int { return cmp.Compare(b.End-b.Start, a.End-a.Start) })
	shares := make([][]PartitionRange, n)
	sizes := make([]int64, n)
	for _, pr := range open {
		i := slices.Index(sizes, slices.Min(sizes))
		shares[i] = append(shares[i], pr)
		sizes[i] += pr.End - pr.Start
	}
	rs := []*Reader{r}
	for _, share := range shares[1:] {
		c, logs, err := newConsumer(m)
		if err != nil {
			closeAll(rs[1:])
			return nil, err
		}
		o := &Reader{cfg: r.cfg, c: c, logs: logs, bounded: true, parts: map[string]partStates{}, watch: brokerWatch{cfg: r.cfg, logs: logs, mc: c}}
		for _, pr := range share {
			ps := r.part(pr.Topic, pr.Partition)
			r.parts[pr.Topic][pr.Partition] = nil
			r.remaining--
			o.addPart(ps)
			o.remaining++
			o.ranges = append(o.ranges, pr)
		}
		r.ranges = slices.DeleteFunc(r.ranges, func(pr PartitionRange) bool { return slices.Contains(share, pr) })
		rs = append(rs, o)
	}
	return rs, nil
}

func closeAll(rs []*Reader) {
	for _, r := range rs {
		r.Close()
	}
}

// watchTopics describes the followed topics every followCheckInterval on
// a goroutine of its own, so a slow broker never holds up Read, which
// applies what it finds; Close cancels a description under way at once.
func (r *Reader) watchTopics() {
	topics := slices.Sorted(maps.Keys(r.parts))
	r.metadata = make(chan []rdk.TopicDescription, 1)
	ctx, cancel := context.WithCancel(context.Background())
	r.stopWatch, r.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(r.watchDone)
		tick := time.NewTicker(followCheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			dctx, dcancel := r.cfg.withTimeout(ctx)
			res, err := r.ac.DescribeTopics(dctx, rdk.NewTopicCollectionOfTopicNames(topics))
			dcancel()
			if err != nil {
				continue // brokers that stay down are the broker watch's to report
			}
			select {
			case r.metadata <- res.TopicDescriptions:
			default: // Read has not taken the last one yet
			}
		}
	}()
}

// followTopics ends the read when a followed topic is gone, and starts
// reading partitions added since the read began, from their start.
func (r *Reader) followTopics(descs []rdk.TopicDescription) error {
	var add []rdk.TopicPartition
	for _, t := range descs {
		switch t.Error.Code() {
		case rdk.ErrNoError:
		case rdk.ErrUnknownTopicOrPart, rdk.ErrUnknownTopic:
			return &TopicDeletedError{Topic: t.Name}
		default:
			continue
		}
		if r.fixedPartitions || r.parts[t.Name] == nil {
			continue
		}
		for _, p := range t.Partitions {
			id := int32(p.Partition)
			if id < 0 || r.part(t.Name, id) != nil {
				continue
			}
			ps := &partState{topic: t.Name, partition: id, end: -1}
			byID := r.parts[t.Name]
			for int(id) >= len(byID) {
				byID = append(byID, nil)
			}
			byID[id] = ps
			r.parts[t.Name] = byID
			r.ranges = append(r.ranges, PartitionRange{Topic: t.Name, Partition: id, End: -1})
			add = append(add, rdk.TopicPartition{Topic: &ps.topic, Partition: id, Offset: rdk.OffsetBeginning})
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := r.c.IncrementalAssign(add); err != nil {
		return fmt.Errorf("cannot read the partitions added to %s: %w", *add[0].Topic, err)
	}
	return nil
}

// start resolves opts and sets up the partitions' state; assign then
// has them fetched.
func (r *Reader) start(ctx context.Context, opts ReadOptions) error {
	md, err := clusterMetadata(ctx, r.cfg, r.logs, r.c)
	if err != nil {
		return err
	}
	var tps []topicPartition
	topics, err := expandTopics(md, opts.Topics)
	if err != nil {
		return err
	}
	for i, topic := range topics {
		if slices.Index(topics, topic) < i {
			continue // named twice
		}
		t, err := topicIn(md, topic)
		if err != nil {
			return err
		}
		have := make([]int32, len(t.Partitions))
		for i, p := range t.Partitions {
			have[i] = p.ID
		}
		slices.Sort(have)
		want := have
		if opts.Partitions != nil {
			want = slices.Compact(slices.Sorted(slices.Values(opts.Partitions)))
		}
		for _, p := range want {
			if _, found := slices.BinarySearch(have, p); !found {
				return fmt.Errorf("topic %q has no partition %d (it has %d: 0-%d); check --partition",
					topic, p, len(have), len(have)-1)
			}
			tps = append(tps, topicPartition{topic, p})
		}
	}

	level := isolation(r.cfg)
	low, high, err := watermarks(ctx, r.cfg, r.logs, r.ac, tps, level)
	if err != nil {
		return err
	}
	from := opts.From.Or(position.StartPos)
	to := opts.To.Or(position.EndPos)
	atFrom, err := r.offsetsForTime(ctx, from, tps, level)
	if err != nil {
		return err
	}
	atTo, err := r.offsetsForTime(ctx, to, tps, level)
	if err != nil {
		return err
	}

	for _, tp := range tps {
		lo, hi := low[tp], high[tp]
		pr := PartitionRange{Topic: tp.topic, Partition: tp.partition, Low: lo, High: hi, End: -1}
		pr.Start = from.Resolve(lo, hi, atFrom[tp])
		if off, ok := opts.StartOffsets[TopicPartition{tp.topic, tp.partition}]; ok {
			pr.Start = min(max(off, lo), hi)
		}
		if r.bounded {
			end := to.Resolve(lo, hi, atTo[tp])
			if off, ok := opts.StopOffsets[TopicPartition{tp.topic, tp.partition}]; ok {
				end = min(max(off, lo), hi)
			}
			pr.End = max(end, pr.Start)
		}
		r.ranges = append(r.ranges, pr)

		ps := &partState{topic: tp.topic, partition: tp.partition, start: pr.Start, end: pr.End, next: pr.Start, done: r.bounded && pr.Start >= pr.End}
		r.addPart(ps)
		if !ps.done {
			r.remaining++
		}
	}
	return nil
}

func (r *Reader) addPart(ps *partState) {
	byID := r.parts[ps.topic]
	for int(ps.partition) >= len(byID) {
		byID = append(byID, nil)
	}
	byID[ps.partition] = ps
	r.parts[ps.topic] = byID
}

// assign has the consumer fetch the reader's partitions that are still to
// read, from their starts.
func (r *Reader) assign() error {
	var assign []rdk.TopicPartition
	for _, pr := range r.ranges {
		if ps := r.part(pr.Topic, pr.Partition); ps != nil && !ps.done {
			assign = append(assign, rdk.TopicPartition{Topic: &ps.topic, Partition: ps.partition, Offset: rdk.Offset(ps.start)})
		}
	}
	if len(assign) == 0 {
		return nil
	}
	if err := r.c.Assign(assign); err != nil {
		return fmt.Errorf("cannot assign partitions: %w", err)
	}
	return nil
}

// offsetsForTime returns, for a Time position, each partition's offset of
// the first record at or after that time.
func (r *Reader) offsetsForTime(ctx context.Context, p position.Position, tps []topicPartition, level rdk.IsolationLevel) (map[topicPartition]int64, error) {
	return offsetsForTime(ctx, r.cfg, r.logs, r.ac, p, tps, level)
}

func offsetsForTime(ctx context.Context, cfg Config, logs *logSink, ac *rdk.AdminClient,
	p position.Position, tps []topicPartition, level rdk.IsolationLevel) (map[topicPartition]int64, error) {
	if !p.NeedsTime() {
		return nil, nil
	}
	specs := make(map[topicPartition]rdk.OffsetSpec, len(tps))
	for _, tp := range tps {
		specs[tp] = rdk.NewOffsetSpecForTimestamp(p.Time.UnixMilli())
	}
	return listOffsets(ctx, cfg, logs, ac, specs, level)
}

// Ranges returns what the reader reads, partition by partition, in topic
// order then partition order.
func (r *Reader) Ranges() []PartitionRange { return slices.Clone(r.ranges) }

// Each reads to the end of a bounded read, calling fn with each record;
// an error of fn stops it and is returned as it is.
func (r *Reader) Each(ctx context.Context, fn func(*record.Message) error) error {
	for {
		m, err := r.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// Read returns the next record. A bounded read returns io.EOF once every
// partition has reached its end; a followed read waits until a record
// arrives or ctx is done, and then returns ctx.Err(). Records of one
// partition come in offset order; partitions interleave.
func (r *Reader) Read(ctx context.Context) (*record.Message, error) { return r.read(ctx, false) }

// ReadOrClose is Read, except that it also returns, with neither a record
// nor an error, when a partition of a bounded read closed without a
// record: its last offsets held none (transaction markers, aborted
// records). A time-merge waits for a record of every open partition;
// one waiting on such a partition, with the others paused, waited in Read
// for good.
func (r *Reader) ReadOrClose(ctx context.Context) (*record.Message, error) { return r.read(ctx, true) }

func (r *Reader) read(ctx context.Context, orClose bool) (*record.Message, error) {
	open := r.remaining
	for {
		if r.bounded && r.remaining == 0 {
			return nil, io.EOF
		}
		if orClose && r.remaining != open {
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case descs := <-r.metadata: // nil channel for a bounded read
			if err := r.followTopics(descs); err != nil {
				return nil, err
			}
		default:
		}
		if r.batch != nil {
			if m, err := r.readBatch(ctx); m != nil || err != nil {
				return m, err
			}
			continue
		}
		switch e := r.c.Poll(int(pollTimeout / time.Millisecond)).(type) {
		case *rdk.Message:
			if m, err := r.message(e); m != nil || err != nil {
				return m, err
			}
		case rdk.PartitionEOF:
			if e.Topic != nil {
				r.finish(r.part(*e.Topic, e.Partition))
			}
		case rdk.Error:
			if err := r.watch.event(ctx, e); err != nil {
				return nil, err
			}
		case nil:
			if err := r.watch.check(ctx); err != nil {
				return nil, err
			}
		}
	}
}

// readBatch is the loop's step for a batch poller: a message, an error,
// or neither when the entry was another event or the wait ended.
func (r *Reader) readBatch(ctx context.Context) (*record.Message, error) {
	e, ok := r.batch.next(pollTimeout)
	if !ok {
		return nil, r.watch.check(ctx)
	}
	switch e.kind {
	case entryMessage:
		if ps := r.admit(r.parts[string(e.topic)].at(e.partition), e.offset); ps != nil {
			m := r.batch.build(ps.topic, e)
			r.admitted(ps, e.offset)
			return m, nil
		}
	case entryMessageError:
		return nil, fmt.Errorf("cannot read %s[%d]: %w", e.topic, e.partition, e.err)
	case entryEOF:
		r.finish(r.parts[string(e.topic)].at(e.partition))
	case entryError:
		return nil, r.watch.event(ctx, e.event)
	}
	return nil, nil
}

// message converts a fetched message, or returns nil for one past its
// partition's end.
func (r *Reader) message(e *rdk.Message) (*record.Message, error) {
	tp := e.TopicPartition
	if tp.Error != nil {
		return nil, fmt.Errorf("cannot read %s[%d]: %w", topicOf(tp), tp.Partition, tp.Error)
	}
	ps := r.admit(r.part(topicOf(tp), tp.Partition), int64(tp.Offset))
	if ps == nil {
		return nil, nil
	}
	m := toMessage(ps.topic, e)
	r.admitted(ps, m.Offset)
	return m, nil
}

// admit returns the state of a fetched record's partition, or nil when
// the record is not to be returned: past its partition's end, or read
// already.
func (r *Reader) admit(ps *partState, off int64) *partState {
	r.watch.up()
	if ps == nil || ps.done {
		return nil // prefetched before its partition was done
	}
	if ps.end >= 0 && off >= ps.end {
		r.finish(ps)
		return nil
	}
	// A pause that comes while another goroutine polls the partition
	// (Pause, stream.Concurrently) can resume it at a record that poll
	// was returning: librdkafka fetches again from the offset after the
	// last record it had returned when the pause took effect. The record
	// comes twice; it is read once (1000002 records of 1M seen).
	if off < ps.next {
		return nil
	}
	return ps
}

// admitted records that the record at off of ps is returned.
func (r *Reader) admitted(ps *partState, off int64) {
	ps.next = off + 1
	if ps.end >= 0 && off+1 >= ps.end {
		r.finish(ps)
	}
}

// messageWithHeaders holds a message and its headers, when they are few,
// in one allocation instead of two: one less for every record read.
type messageWithHeaders struct {
	m record.Message
	h [4]record.RawHeader
}

// newMessage returns a message with room for n headers.
func newMessage(n int) *record.Message {
	if n > 0 && n <= len(messageWithHeaders{}.h) {
		mh := &messageWithHeaders{}
		mh.m.Headers = mh.h[:n:n]
		return &mh.m
	}
	m := &record.Message{}
	if n > 0 {
		m.Headers = make([]record.RawHeader, n)
	}
	return m
}

// toMessage converts a fetched message of topic.
func toMessage(topic string, e *rdk.Message) *record.Message {
	m := newMessage(len(e.Headers))
	m.Topic = topic
	m.Partition = e.TopicPartition.Partition
	m.Offset = int64(e.TopicPartition.Offset)
	m.Key, m.Value = e.Key, e.Value
	if !e.Timestamp.IsZero() {
		m.Timestamp = e.Timestamp.UTC()
	}
	switch e.TimestampType {
	case rdk.TimestampCreateTime:
		m.TimestampType = record.TimestampCreateTime
	case rdk.TimestampLogAppendTime:
		m.TimestampType = record.TimestampLogAppendTime
	}
	for i, h := range e.Headers {
		m.Headers[i] = record.RawHeader{Key: h.Key, Value: h.Value}
	}
	return m
}

func topicOf(tp rdk.TopicPartition) string {
	if tp.Topic == nil {
		return ""
	}
	return *tp.Topic
}

func (r *Reader) part(topic string, partition int32) *partState {
	return r.parts[topic].at(partition)
}

// partStates are a topic's partitions' states, indexed by partition id.
type partStates []*partState

func (ps partStates) at(partition int32) *partState {
	if partition < 0 || int(partition) >= len(ps) {
		return nil
	}
	return ps[partition]
}

// finish marks a partition of a bounded read done and stops fetching it.
func (r *Reader) finish(ps *partState) {
	if ps == nil || ps.done || !r.bounded {
		return
	}
	ps.done = true
	r.remaining--
	// Pausing only saves fetches; a failure changes nothing we return.
	_ = r.c.Pause([]rdk.TopicPartition{{Topic: &ps.topic, Partition: ps.partition}})
}

// Open reports whether a partition of a bounded read may still yield
// records (a followed partition always may).
func (r *Reader) Open(topic string, partition int32) bool {
	ps := r.part(topic, partition)
	return ps != nil && !ps.done
}

// Remaining is how many partitions of a bounded read may still yield
// records.
func (r *Reader) Remaining() int { return r.remaining }

// Pause stops fetching a partition until Resume. What librdkafka fetched
// of it meanwhile is dropped, and Resume fetches again after the last
// record Read returned: nothing is lost or repeated.
func (r *Reader) Pause(topic string, partition int32) error {
	if err := r.c.Pause([]rdk.TopicPartition{{Topic: &topic, Partition: partition}}); err != nil {
		return fmt.Errorf("cannot pause %s[%d]: %w", topic, partition, err)
	}
	return nil
}

// Resume undoes Pause, and has the partition fetched again at once.
func (r *Reader) Resume(topic string, partition int32) error {
	if err := r.c.Resume([]rdk.TopicPartition{{Topic: &topic, Partition: partition}}); err != nil {
		return fmt.Errorf("cannot resume %s[%d]: %w", topic, partition, err)
	}
	r.wakeLeader(topic, partition)
	return nil
}

// wakeLeader has the thread that fetches from a partition's leader look
// at its partitions now. librdkafka does not wake it on a resume: a
// resumed partition waited for that thread's next round, up to a second
// when all its other partitions were paused or done, and a time-merge
// could hand out nothing past it meanwhile. On a 3-node Apache Kafka
// cluster two partitions of the bank topic took 23 s for 2 CPU-s, 4.7 s
// with this (bench/README.md). Any request to the leader wakes the
// thread; a watermark query is the cheapest one that names the partition,
// and it is sent on a goroutine of its own as Read must not wait for it.
func (r *Reader) wakeLeader(topic string, partition int32) {
	if r.wakes == nil {
		r.wakes = make(chan TopicPartition, 64)
		r.wakesDone = make(chan struct{})
		go func() {
			defer close(r.wakesDone)
			for tp := range r.wakes {
				if r.closing.Load() {
					continue
				}
				// The answer does not matter: the request is queued, and
				// the thread woken, before the query waits for it.
				_, _, _ = r.c.QueryWatermarkOffsets(tp.Topic, tp.Partition, int(wakeTimeout/time.Millisecond))
			}
		}()
	}
	select {
	case r.wakes <- TopicPartition{topic, partition}:
	default: // as many wakes are queued: the threads will be up
	}
}

// wakeTimeout bounds how long a wake waits for its answer, and so how
// long Close may wait for a wake under way.
const wakeTimeout = 100 * time.Millisecond

// Close stops the reader; it commits nothing.
func (r *Reader) Close() {
	if r.stopWatch != nil {
		r.stopWatch()
		<-r.watchDone
	}
	if r.wakes != nil {
		r.closing.Store(true)
		close(r.wakes)
		<-r.wakesDone
	}
	closeWhenIdle(func() {
		if r.ac != nil {
			r.ac.Close()
		}
		r.batch.close()
		// The consumer never joined a group, so closing leaves none.
		_ = r.c.Close()
	})
}
