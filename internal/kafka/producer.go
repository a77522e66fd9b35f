package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/record"
)

// Delivery is the broker's answer for one record a Producer sent.
type Delivery struct {
	Seq       int // what Send was given
	Topic     string
	Partition int32
	Offset    int64
	Err       error // nil: the record is stored (committed too, once its transaction is)
}

func delivery(m *rdk.Message) Delivery {
	d := Delivery{Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset), Topic: topicOf(m.TopicPartition)}
	if seq, ok := m.Opaque.(int); ok {
		d.Seq = seq
	}
	if err := m.TopicPartition.Error; err != nil {
		d.Err = fmt.Errorf("cannot deliver to topic %q: %w%s", d.Topic, err, tooLargeHint(err, "; the record is over the topic's max.message.bytes"))
		if purged(err) {
			d.Err = errors.New("not sent: the transaction was aborted")
		}
	}
	return d
}

// ProducerOptions configure a Producer.
type ProducerOptions struct {
	// Partitioner places records whose Partition is AnyPartition (see
	// partition.Names); "" is murmur2_random. A -X partitioner overrides it.
	Partitioner     string
	MaxMessageBytes int
	// TransactionalID, when set, makes the producer transactional: Begin,
	// Commit and Abort then bound what readers (read_committed) see.
	TransactionalID string
	// OnDelivery hears every record's outcome, from another goroutine.
	OnDelivery func(Delivery)
}

// Producer sends records one at a time, idempotently, and reports each
// one's delivery: evctl produce. Not safe for concurrent use.
type Producer struct {
	w   *Writer
	txn bool
}

// NewProducer returns a producer; a transactional one registers its
// transactional id with the cluster first.
func NewProducer(ctx context.Context, cfg Config, opts ProducerOptions) (*Producer, error) {
	defaults := slices.Clip(writeDefaults)
	if opts.Partitioner != "" {
		if err := partition.Check(opts.Partitioner); err != nil {
			return nil, err
		}
		defaults = append(defaults, [2]string{"partitioner", partition.LibrdkafkaName(opts.Partitioner)})
	}
	if opts.TransactionalID != "" {
		defaults = append(defaults, [2]string{"transactional.id", opts.TransactionalID})
	}
	w, err := newWriter(cfg, sizedFor(defaults, opts.MaxMessageBytes), true)
	if err != nil {
		return nil, err
	}
	w.onDelivery = opts.OnDelivery
	p := &Producer{w: w, txn: opts.TransactionalID != ""}
	if p.txn {
		ictx, cancel := cfg.withTimeout(ctx)
		defer cancel()
		if err := w.p.InitTransactions(ictx); err != nil {
			w.Close()
			if isUnreachable(err) || ictx.Err() != nil {
				return nil, unreachable(ictx, cfg, w.logs, err)
			}
			return nil, fmt.Errorf("cannot start transactions as %q: %w", opts.TransactionalID, err)
		}
	}
	return p, nil
}

// Send queues m (see Writer.Produce); its Delivery carries seq. An error
// is about m alone (too large, say) unless the producer failed as a whole,
// which Err says.
func (p *Producer) Send(ctx context.Context, m *record.Message, seq int) error {
	return p.w.produce(ctx, m, nil, seq)
}

// Err is the failure that stopped the producer as a whole, if any.
func (p *Producer) Err() error { return p.w.failure() }

// Flush waits until every record sent has its Delivery, at most until no
// record is acknowledged for the timeout, or ctx is done.
func (p *Producer) Flush(ctx context.Context) error { return p.w.Flush(ctx) }

// Begin opens a transaction.
func (p *Producer) Begin() error {
	if err := p.w.p.BeginTransaction(); err != nil {
		return fmt.Errorf("cannot begin a transaction: %w", err)
	}
	return nil
}

// Commit flushes and commits the open transaction, within the timeout
// even when ctx is cancelled: once begun, a commit completes or fails.
func (p *Producer) Commit(ctx context.Context) error {
	cctx, cancel := p.w.cfg.withTimeout(context.WithoutCancel(ctx))
	defer cancel()
	if err := p.w.p.CommitTransaction(cctx); err != nil {
		if isUnreachable(err) || cctx.Err() != nil {
			return unreachable(cctx, p.w.cfg, p.w.logs, err)
		}
		return fmt.Errorf("cannot commit the transaction: %w", err)
	}
	return nil
}

// Abort aborts the open transaction: none of its records is ever seen
// by a read_committed reader.
func (p *Producer) Abort(ctx context.Context) error {
	actx, cancel := p.w.cfg.withTimeout(context.WithoutCancel(ctx))
	defer cancel()
	if err := p.w.p.AbortTransaction(actx); err != nil {
		return fmt.Errorf("cannot abort the transaction: %w", err)
	}
	return nil
}

// Close releases the producer; records not yet acknowledged are dropped.
func (p *Producer) Close() { p.w.Close() }
