package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox/registry"
)

// progressEvery is how many events pass between two Logf progress lines.
const progressEvery = 250_000

type topicSpec struct {
	name       string
	partitions int32
	configs    map[string]string
}

func topics(opts Options) []topicSpec {
	ts := []topicSpec{
		{TopicAccountEvents, AccountEventsPartitions, nil},
		{TopicAccountBalances, AccountBalancesPartitions, map[string]string{"cleanup.policy": "compact"}},
		{TopicNotifications, NotificationsPartitions, nil},
		{TopicTransfers, TransfersPartitions, nil},
		{TopicCustomerProfiles, CustomerProfilesPartitions, nil},
	}
	if opts.Faults {
		ts = append(ts, topicSpec{FaultsTopic, FaultsPartitions, nil})
	}
	return ts
}

// seed registers the schemas, creates the topics and writes the bank with
// franz-go's client: batched, lingering, acknowledged once at the end.
func seed(ctx context.Context, brokers string, reg *registry.Registry, opts Options) error {
	codec, err := registerSchemas(reg)
	if err != nil {
		return err
	}
	formats, err := registerFormats(reg)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seedBrokers(brokers)...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2, as Java's
		kgo.ProducerLinger(5*time.Millisecond),
		// lz4 keeps 1M events in about half the memory, for no more CPU.
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(200_000),
	)
	if err != nil {
		return fmt.Errorf("connect to sandbox broker %s: %w", brokers, err)
	}
	defer cl.Close()

	if err := createTopics(ctx, cl, topics(opts), opts.Brokers != ""); err != nil {
		return err
	}
	if opts.Brokers != "" {
		var names []string
		for _, t := range topics(opts) {
			names = append(names, t.name)
		}
		if err := awaitTopics(ctx, cl, names); err != nil {
			return err
		}
	}

	p := newProducer(cl)
	model := newReadModel()
	n := 0
	for e := range Events(opts) {
		value, err := codec.encode(e)
		if err != nil {
			return err
		}
		p.produce(ctx, &kgo.Record{
			Topic:     TopicAccountEvents,
			Key:       []byte(e.AccountID),
			Value:     value,
			Timestamp: e.OccurredAt,
			Headers:   kgoHeaders(eventHeaders(e)),
		})
		if note, ok := notification(e); ok {
			if err := p.produceJSON(ctx, TopicNotifications, e.AccountID, note, e.OccurredAt); err != nil {
				return err
			}
		}
		more, err := formats.records(e, opts)
		if err != nil {
			return err
		}
		for _, r := range more {
			p.produce(ctx, r)
		}
		model.apply(e)
		if n++; n%progressEvery == 0 {
			opts.Logf("seeded %d/%d bank events", n, opts.Events)
		}
		if err := p.failed(); err != nil {
			return err
		}
	}

	// The live read model: the fold, with Drift accounts left wrong.
	states := model.balances()
	applyDrift(opts, states)
	for _, a := range states {
		if err := p.produceJSON(ctx, TopicAccountBalances, a.AccountID, a.Balance, a.updated); err != nil {
			return err
		}
	}

	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("seed sandbox: flush: %w", err)
	}
	if err := p.failed(); err != nil {
		return err
	}
	if opts.Faults {
		return seedFaults(ctx, brokers, reg, opts)
	}
	return nil
}

func kgoHeaders(hs []record.RawHeader) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

// producer produces asynchronously and keeps the first failure.
type producer struct {
	cl   *kgo.Client
	done func(*kgo.Record, error)

	mu  sync.Mutex
	err error
}

func newProducer(cl *kgo.Client) *producer {
	p := &producer{cl: cl}
	p.done = func(r *kgo.Record, err error) {
		if err == nil {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err == nil {
			p.err = fmt.Errorf("seed sandbox: produce to %s: %w", r.Topic, err)
		}
	}
	return p
}

func (p *producer) produce(ctx context.Context, r *kgo.Record) {
	p.cl.Produce(ctx, r, p.done)
}

func (p *producer) produceJSON(ctx context.Context, topic, key string, v any, ts time.Time) error {
	value, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("seed %s: %w", topic, err)
	}
	p.produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Timestamp: ts})
	return nil
}

func (p *producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// AwaitTopics waits until every broker of the cluster at brokers lists
// topics, each partition with a leader: a cluster of several brokers
// acknowledges a creation before they all know it, and a client that asked
// one too soon was told the topic did not exist. The real test tier uses it
// too.
func AwaitTopics(ctx context.Context, brokers string, topics []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seedBrokers(brokers)...))
	if err != nil {
		return err
	}
	defer cl.Close()
	return awaitTopics(ctx, cl, topics)
}

func awaitTopics(ctx context.Context, cl *kgo.Client, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, existingClusterTimeout)
	defer cancel()
	for {
		missing, err := topicsMissing(ctx, cl, topics)
		if err == nil && len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("brokers do not know %v yet", missing)
			}
			return fmt.Errorf("created the bank topics, but not every broker has them within %s (%w); check the cluster's health", existingClusterTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicsMissing lists the topics some broker does not list, or lists
// without a leader for every partition.
func topicsMissing(ctx context.Context, cl *kgo.Client, topics []string) ([]string, error) {
	all, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, b := range all.Brokers {
		req := kmsg.NewPtrMetadataRequest()
		for _, name := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl.Broker(int(b.NodeID)))
		if err != nil {
			return nil, err
		}
		for _, t := range resp.Topics {
			ok := t.ErrorCode == 0 && len(t.Partitions) > 0
			for _, p := range t.Partitions {
				ok = ok && p.ErrorCode == 0 && p.Leader >= 0
			}
			if !ok && t.Topic != nil {
				missing = append(missing, *t.Topic)
			}
		}
	}
	return missing, nil
}

// existingClusterTimeout bounds creating the topics on an existing cluster.
const existingClusterTimeout = 30 * time.Second

// seedBrokers splits a bootstrap list, "host:port,host:port".
func seedBrokers(brokers string) []string { return strings.Split(brokers, ",") }

// createTopics creates the sandbox's topics: with replication factor 1 on
// the embedded broker, with the cluster's default on an existing cluster,
// where a topic that is already there is an error (its records would mix
// with the seeded ones).
func createTopics(ctx context.Context, cl *kgo.Client, specs []topicSpec, existing bool) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	for _, t := range specs {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = t.name
		rt.NumPartitions = t.partitions
		rt.ReplicationFactor = 1
		configs := t.configs
		// The records are dated up to a week before Options.Now: a
		// cluster's default retention (7 days; kfake applies it every
		// hour, to compacted topics too) would delete them as the clock
		// moves on, so they are kept for good.
		configs = maps.Clone(configs)
		if configs == nil {
			configs = map[string]string{}
		}
		configs["retention.ms"] = "-1"
		if existing {
			rt.ReplicationFactor = -1
		}
		for k, v := range configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name = k
			c.Value = kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	if existing {
		// An unreachable cluster is an answer too, not a wait without end.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, existingClusterTimeout)
		defer cancel()
	}
	resp, err := req.RequestWith(ctx, cl)
	if existing && err != nil {
		return fmt.Errorf("cannot reach the Kafka cluster to create the bank topics (%w); check its address", err)
	}
	if err != nil {
		return fmt.Errorf("create sandbox topics: %w", err)
	}
	for _, t := range resp.Topics {
		err := kerr.ErrorForCode(t.ErrorCode)
		if existing && errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("topic %s already exists on the cluster; delete the bank topics first (seeding adds to no topic), or seed another cluster", t.Topic)
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", t.Topic, err)
		}
	}
	return nil
}
