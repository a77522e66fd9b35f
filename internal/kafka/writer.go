package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/record"
)

// writeDefaults make writes faithful and ordered; -X properties override them.
var writeDefaults = [][2]string{
	// No duplicates and no reordering on retries.
	{"enable.idempotence", "true"},
	// Keys land where the Java clients (and Kafka Streams) put them.
	{"partitioner", "murmur2_random"},
	{"linger.ms", "5"},
	// Delivery reports carry only the outcome; we do not need the payload back.
	{"go.delivery.report.fields", "none"},
}

// AnyPartition in a record.Message asks the Writer to let the partitioner
// choose.
const AnyPartition = partition.Any

// Writer produces records asynchronously; delivery failures surface from
// the next Produce or from Flush. Not safe for concurrent use.
type Writer struct {
	cfg     Config
	p       *rdk.Producer
	logs    *logSink
	pending atomic.Int64 // produced, not yet reported
	drained chan struct{}
	// maxBytes is the producer's message.max.bytes: it refuses a record
	// larger than that itself.
	maxBytes int
	// delivery: librdkafka reports each delivery, which Flush counts. A
	// transactional producer goes without (the transaction's commit fails
	// when a record was not delivered): one event fewer per record.
	delivery bool

	// onDelivery, when set, hears each record's outcome (Producer), and a
	// record that fails is its business rather than the Writer's failure.
	onDelivery func(Delivery)

	// msg and headers are reused by every produce.
	msg     rdk.Message
	headers []rdk.Header
	// direct produces without delivery reports (see directProducer); nil
	// where Produce serves.
	direct *directProducer

	mu  sync.Mutex
	err error // the first delivery failure
}

// WriterOptions tune a Writer.
type WriterOptions struct {
	// Partitioner places records whose Partition is negative (see
	// Partitioners); empty means murmur2_random, where the Java clients put
	// keys. A -X partitioner property overrides it.
	Partitioner string
	// MaxMessageBytes is the destination topic's max.message.bytes, when
	// known: the producer takes records that large. -X overrides it.
	MaxMessageBytes int
}

// BatchSize bounds the size of a record batch holding m alone, which a
// topic's max.message.bytes limits: m's key, value and headers, the batch
// header (61 bytes) and the record's framing at its widest (varints: 36
// bytes, and 10 for each header).
func BatchSize(m *record.Message) int {
	n := 61 + 36 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// NewWriter returns a Writer; it does not touch the network. At most one
// WriterOptions is used.
func NewWriter(cfg Config, opts ...WriterOptions) (*Writer, error) {
	defaults := writeDefaults
	if len(opts) > 0 && opts[0].Partitioner != "" {
		if err := partition.Check(opts[0].Partitioner); err != nil {
			return nil, err
		}
		defaults = append(slices.Clip(defaults), [2]string{"partitioner", partition.LibrdkafkaName(opts[0].Partitioner)})
	}
	if len(opts) > 0 {
		defaults = sizedFor(defaults, opts[0].MaxMessageBytes)
	}
	return newWriter(cfg, defaults, true)
}

// newWriter returns a Writer over a producer configured with defaults,
// then the user's properties; reports says whether it asks for delivery
// reports (see Writer.reports).
func newWriter(cfg Config, defaults [][2]string, reports bool) (*Writer, error) {
	m, err := cfg.configMap(defaults)
	if err != nil {
		return nil, err
	}
	if !reports {
		(*m)["go.delivery.reports"] = false
	}
	// confluent-kafka-go buffers Events() and the unused ProduceChannel()
	// for a million entries each by default: 32 MB of pointers live for
	// the producer's life, which the garbage collector scans at every
	// cycle. Under tuneGCForStreaming's 48 MB limit, two copiers' 46 MB
	// of them left it collecting without end (27% of the CPU in GC, twice
	// one copier's CPU for the same records). Events are drained at once;
	// a fuller channel makes librdkafka wait, not drop.
	for k, n := range map[string]int{"go.events.channel.size": 10000, "go.produce.channel.size": 0} {
		if _, set := (*m)[k]; !set {
			(*m)[k] = n
		}
	}
	p, err := rdk.NewProducer(m)
	if err != nil {
		return nil, configError(err)
	}
	w := &Writer{cfg: cfg, p: p, logs: drainLogs(p.Logs()), drained: make(chan struct{}), maxBytes: defaultMessageMaxBytes, delivery: reports}
	if !reports {
		w.direct = newDirectProducer(p)
	}
	if v, ok := (*m)["message.max.bytes"]; ok {
		if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil {
			w.maxBytes = n
		}
	}
	go w.reports()
	return w, nil
}

// reports records delivery outcomes until the producer closes.
func (w *Writer) reports() {
	defer close(w.drained)
	for ev := range w.p.Events() {
		switch e := ev.(type) {
		case *rdk.Message:
			if w.onDelivery != nil {
				w.onDelivery(delivery(e))
			} else if err := e.TopicPartition.Error; err != nil && !purged(err) {
				w.fail(fmt.Errorf("cannot deliver to topic %q: %w%s", topicOf(e.TopicPartition), err, tooLargeHint(err, "; a record is over the topic's max.message.bytes: raise it")))
			}
			w.pending.Add(-1)
		case rdk.Error:
			if e.IsFatal() {
				w.fail(fmt.Errorf("kafka producer: %w", e))
			}
		}
	}
}

// tooLargeHint is hint when err says a record is too large (for the
// producer or the topic), and nothing for other errors.
func tooLargeHint(err error, hint string) string {
	var ke rdk.Error
	if !errors.As(err, &ke) || ke.Code() != rdk.ErrMsgSizeTooLarge {
		return ""
	}
	return hint
}

// purged reports whether a delivery failed because an aborted transaction
// discarded the record, which is what the abort asked for.
func purged(err error) bool {
	var ke rdk.Error
	return errors.As(err, &ke) && (ke.Code() == rdk.ErrPurgeQueue || ke.Code() == rdk.ErrPurgeInflight)
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// resetFailure forgets the delivery failures of an aborted transaction,
// which is written again.
func (w *Writer) resetFailure() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = nil
}

func (w *Writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Produce queues m for its topic: to partition m.Partition when it is 0 or
// more, else (AnyPartition) to the one the partitioner picks from the key;
// a record built from scratch must set Partition to AnyPartition, as the
// zero value names partition 0. m.Offset is ignored. Nil and empty keys
// and values stay apart, headers keep their order and repeats, and a
// non-zero Timestamp is kept as the record's create time. It waits while
// librdkafka's queue is full, at most for the timeout without progress.
func (w *Writer) Produce(ctx context.Context, m *record.Message) error {
	return w.produce(ctx, m, nil, nil)
}

// produce is Produce to topic, or m.Topic when topic is nil (a copier
// names its destination once, not once a record), with an opaque value
// that the record's delivery report carries back.
func (w *Writer) produce(ctx context.Context, m *record.Message, topic *string, opaque any) error {
	if topic == nil {
		t := m.Topic
		topic = &t
	}
	if err := w.failure(); err != nil {
		return err
	}
	partition := rdk.PartitionAny
	if m.Partition >= 0 {
		partition = m.Partition
	}
	direct := w.direct != nil && opaque == nil && packable(m)
	km := &w.msg
	if !direct {
		// librdkafka copies the record (and the client its headers)
		// before Produce returns: one message and one header slice serve
		// every record, not two allocations each.
		w.headers = w.headers[:0]
		for _, h := range m.Headers {
			w.headers = append(w.headers, rdk.Header{Key: h.Key, Value: h.Value})
		}
		*km = rdk.Message{
			TopicPartition: rdk.TopicPartition{Topic: topic, Partition: partition},
			Key:            m.Key,
			Value:          m.Value,
			Timestamp:      m.Timestamp,
			Opaque:         opaque,
		}
		if len(w.headers) > 0 {
			km.Headers = w.headers
		}
	}
	var deadline time.Time // set once the queue is full
	for {
		w.pending.Add(1)
		var err error
		if direct {
			err = w.direct.produce(*topic, partition, m)
		} else {
			err = w.p.Produce(km, nil)
		}
		if err == nil {
			if !w.delivery {
				w.pending.Add(-1) // no report will come for it
			}
			return nil
		}
		w.pending.Add(-1)
		var ke rdk.Error
		if !errors.As(err, &ke) || ke.Code() != rdk.ErrQueueFull {
			hint := tooLargeHint(err, fmt.Sprintf(" (the record takes up to %d bytes, over the producer's message.max.bytes of %d); raise the topic's max.message.bytes, which the producer follows", BatchSize(m), w.maxBytes))
			if partition >= 0 {
				return fmt.Errorf("cannot produce to topic %q partition %d: %w%s", *topic, partition, err, hint)
			}
			return fmt.Errorf("cannot produce to topic %q: %w%s", *topic, err, hint)
		}
		// The queue drains as the brokers acknowledge; let it.
		if deadline.IsZero() {
			deadline = time.Now().Add(w.cfg.timeout())
		}
		before := w.p.Len()
		w.p.Flush(10)
		if w.p.Len() < before {
			deadline = time.Now().Add(w.cfg.timeout())
		}
		if err := w.failure(); err != nil {
			return err
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return unreachable(ctx, w.cfg, w.logs, err)
		}
	}
}

// Flush waits until every produced record is acknowledged and returns the
// first delivery failure. It gives up when no record is acknowledged for
// the timeout (brokers unreachable) or when ctx is done.
func (w *Writer) Flush(ctx context.Context) error {
	deadline := time.Now().Add(w.cfg.timeout())
	last := w.unacked()
	for {
		w.p.Flush(100)
		n := w.unacked()
		if n == 0 {
			return w.failure()
		}
		if err := w.failure(); err != nil {
			return err
		}
		if n < last {
			last, deadline = n, time.Now().Add(w.cfg.timeout())
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return unreachable(ctx, w.cfg, w.logs, fmt.Errorf("%d records not acknowledged", n))
		}
	}
}

// unacked counts the records produced and not yet acknowledged.
func (w *Writer) unacked() int64 {
	if !w.delivery {
		return int64(w.p.Len()) // queued, in flight, or waiting for a report
	}
	return w.pending.Load()
}

// Close releases the producer without waiting for unacknowledged records;
// call Flush first to deliver them.
func (w *Writer) Close() {
	w.direct.close()
	w.p.Close()
	<-w.drained
}
