package kafka

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Admin answers questions about the cluster's topics.
type Admin struct {
	cfg  Config
	c    *rdk.Consumer // the handle ac is derived from
	ac   *rdk.AdminClient
	logs *logSink
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Name       string
	Partitions int
	// Records is the sum over partitions of high minus low watermark: exact
	// for a plain topic, an upper bound for a compacted or transactional one.
	Records       int64
	CleanupPolicy string // delete, compact, or "compact,delete"
	Internal      bool   // the cluster's own, like __consumer_offsets
}

// NewAdmin returns an Admin; it does not touch the network.
//
// Its admin client is derived from a consumer with a group id it never
// joins (neverJoined). A plain admin client has no consumer group, and
// librdkafka (2.15 and 2.16) dereferences that missing group when a broker
// answers OffsetFetch with "not coordinator", as one does for a moment
// after a group's coordinator moves: SIGSEGV in rd_kafka_cgrp_op, which
// killed the real tier's TestGroupOffsets on every fresh Apache Kafka
// cluster (librdkafka issue 5040). With a group the same answer only
// makes that group look its coordinator up again, and the Admin asks
// again (groupOffsetsOnce).
func NewAdmin(cfg Config) (*Admin, error) {
	m, err := cfg.configMap(neverJoined)
	if err != nil {
		return nil, err
	}
	c, logs, err := newConsumer(m)
	if err != nil {
		return nil, err
	}
	ac, err := rdk.NewAdminClientFromConsumer(c)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	return &Admin{cfg: cfg, c: c, ac: ac, logs: logs}, nil
}

// Close releases the client.
func (a *Admin) Close() {
	closeWhenIdle(func() {
		a.ac.Close()
		// The consumer never joined a group, so closing leaves none.
		_ = a.c.Close()
	})
}

// TopicNames returns the names of the cluster's topics, internal ones
// included, sorted.
func (a *Admin) TopicNames(ctx context.Context) ([]string, error) {
	md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
	if err != nil {
		return nil, err
	}
	names := topicNames(md)
	sort.Strings(names)
	return names, nil
}

// Topics describes the topics whose names match pattern, a glob as in
// path.Match ("bank.*"); empty matches all. A pattern without wildcards
// that names no topic is an *UnknownTopicError.
func (a *Admin) Topics(ctx context.Context, pattern string) ([]TopicInfo, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("invalid topic pattern %q: %w", pattern, err)
	}
	md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
	if err != nil {
		return nil, err
	}
	names := topicNames(md)
	var infos []TopicInfo
	var tps []topicPartition
	for _, name := range names {
		if !matchesTopic(pattern, name) {
			continue
		}
		t := md.Topics[name]
		infos = append(infos, TopicInfo{Name: name, Partitions: len(t.Partitions), Internal: isInternal(name)})
		for _, p := range t.Partitions {
			tps = append(tps, topicPartition{name, p.ID})
		}
	}
	if len(infos) == 0 {
		if pattern != "" && !isTopicPattern(pattern) {
			return nil, unknownTopic(pattern, names)
		}
		return nil, nil
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })

	low, high, err := watermarks(ctx, a.cfg, a.logs, a.ac, tps, rdk.IsolationLevelReadUncommitted)
	if err != nil {
		return nil, err
	}
	records := make(map[string]int64, len(infos))
	for _, tp := range tps {
		records[tp.topic] += high[tp] - low[tp]
	}
	policies, err := a.cleanupPolicies(ctx, infos)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		infos[i].Records = records[infos[i].Name]
		infos[i].CleanupPolicy = policies[infos[i].Name]
	}
	return infos, nil
}

// cleanupPolicies reads cleanup.policy of each topic in one request.
func (a *Admin) cleanupPolicies(ctx context.Context, infos []TopicInfo) (map[string]string, error) {
	resources := make([]rdk.ConfigResource, len(infos))
	for i, t := range infos {
		resources[i] = rdk.ConfigResource{Type: rdk.ResourceTopic, Name: t.Name}
	}
	ctx, cancel := a.cfg.withTimeout(ctx)
	defer cancel()
	res, err := a.ac.DescribeConfigs(ctx, resources, rdk.SetAdminRequestTimeout(a.cfg.timeout()))
	if err != nil {
		if isUnreachable(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, unreachable(ctx, a.cfg, a.logs, err)
		}
		return nil, fmt.Errorf("cannot describe topic configs: %w", err)
	}
	out := make(map[string]string, len(res))
	for _, r := range res {
		if r.Error.Code() != rdk.ErrNoError {
			return nil, fmt.Errorf("cannot describe topic %q: %w", r.Name, r.Error)
		}
		out[r.Name] = r.Config["cleanup.policy"].Value
	}
	return out, nil
}

// ErrTopicExists is wrapped by CreateTopic's error when the topic exists.
var ErrTopicExists = errors.New("topic exists")

// TopicDescription is what a copy of a topic needs to know of it.
type TopicDescription struct {
	Name       string
	Partitions int
	// Configs holds the topic's own settings (cleanup.policy=compact...),
	// not the broker defaults it inherits.
	Configs map[string]string
	// MaxMessageBytes is the largest record batch the topic takes, its own
	// max.message.bytes or the one it inherits; 0 when not known.
	MaxMessageBytes int
}

// DescribeTopic returns a topic's partition count and its non-default
// configs; an *UnknownTopicError when it does not exist.
func (a *Admin) DescribeTopic(ctx context.Context, name string) (TopicDescription, error) {
	md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
	if err != nil {
		return TopicDescription{}, err
	}
	t, err := topicIn(md, name)
	if err != nil {
		return TopicDescription{}, err
	}
	desc := TopicDescription{Name: name, Partitions: len(t.Partitions), Configs: map[string]string{}}

	ctx, cancel := a.cfg.withTimeout(ctx)
	defer cancel()
	res, err := a.describeTopicConfigs(ctx, name)
	if err != nil {
		return TopicDescription{}, err
	}
	for _, r := range res {
		for k, e := range r.Config {
			if e.Source == rdk.ConfigSourceDynamicTopic && !e.IsSensitive {
				desc.Configs[k] = e.Value
			}
			if k == "max.message.bytes" {
				desc.MaxMessageBytes, _ = strconv.Atoi(e.Value)
			}
		}
	}
	return desc, nil
}

// describeTopicConfigs asks for a topic's configs. The metadata already
// showed the topic, so a broker that answers it is unknown has not caught
// up with the controller yet (Apache Kafka, three nodes, right after a
// create: the request goes to any broker): ask again until ctx ends.
func (a *Admin) describeTopicConfigs(ctx context.Context, name string) ([]rdk.ConfigResourceResult, error) {
	for {
		res, err := a.ac.DescribeConfigs(ctx, []rdk.ConfigResource{{Type: rdk.ResourceTopic, Name: name}},
			rdk.SetAdminRequestTimeout(a.cfg.timeout()))
		if err != nil {
			if isUnreachable(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, unreachable(ctx, a.cfg, a.logs, err)
			}
			return nil, fmt.Errorf("cannot describe topic %q: %w", name, err)
		}
		var rerr rdk.Error
		for _, r := range res {
			if r.Error.Code() != rdk.ErrNoError {
				rerr = r.Error
			}
		}
		switch {
		case rerr.Code() == rdk.ErrNoError:
			return res, nil
		case rerr.Code() != rdk.ErrUnknownTopicOrPart:
			return nil, fmt.Errorf("cannot describe topic %q: %w", name, rerr)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cannot describe topic %q: %w (the brokers did not all know it within %s)", name, rerr, a.cfg.timeout())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CreateTopic creates a topic with the brokers' default replication
// factor. Its error wraps ErrTopicExists when the topic exists.
func (a *Admin) CreateTopic(ctx context.Context, name string, partitions int, configs map[string]string) error {
	if partitions <= 0 {
		return fmt.Errorf("cannot create topic %q with %d partitions", name, partitions)
	}
	ctx, cancel := a.cfg.withTimeout(ctx)
	defer cancel()
	res, err := a.ac.CreateTopics(ctx, []rdk.TopicSpecification{{
		Topic: name, NumPartitions: partitions, ReplicationFactor: -1, Config: configs,
	}}, rdk.SetAdminOperationTimeout(a.cfg.timeout()), rdk.SetAdminRequestTimeout(a.cfg.timeout()))
	if err != nil {
		if isUnreachable(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return unreachable(ctx, a.cfg, a.logs, err)
		}
		return fmt.Errorf("cannot create topic %q: %w", name, err)
	}
	for _, r := range res {
		switch r.Error.Code() {
		case rdk.ErrNoError:
		case rdk.ErrTopicAlreadyExists:
			return fmt.Errorf("cannot create topic %q: %w", name, ErrTopicExists)
		default:
			if isUnreachable(r.Error) {
				return unreachable(ctx, a.cfg, a.logs, r.Error)
			}
			return fmt.Errorf("cannot create topic %q: %w", name, r.Error)
		}
	}
	return a.awaitTopic(ctx, name, partitions)
}

// awaitTopic waits until the cluster's metadata shows topic with its
// partitions and their leaders. On a cluster of several brokers the
// controller acknowledges a creation before the brokers have it, and a
// client that asked one at once was told the new topic did not exist
// (Apache Kafka 4.4, three nodes: replay --create failed so).
func (a *Admin) awaitTopic(ctx context.Context, topic string, partitions int) error {
	for {
		md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
		if err != nil {
			return err
		}
		if t, err := topicIn(md, topic); err == nil && len(t.Partitions) == partitions && allLed(t) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("created topic %q, but the cluster's metadata did not show it within %s; check the brokers' health", topic, a.cfg.timeout())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allLed(t rdk.TopicMetadata) bool {
	for _, p := range t.Partitions {
		if p.Leader < 0 || p.Error.Code() != rdk.ErrNoError {
			return false
		}
	}
	return true
}

// GroupOffsets returns the offsets group has committed on every partition
// of topics, -1 where it has none. It reads only stable offsets: while a
// transaction that commits offsets for the group is open, it waits for it
// to end (a killed copier's, for at most its transaction timeout).
func (a *Admin) GroupOffsets(ctx context.Context, group string, topics []string) (map[TopicPartition]int64, error) {
	md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
	if err != nil {
		return nil, err
	}
	var tps []TopicPartition
	for _, topic := range topics {
		t, err := topicIn(md, topic)
		if err != nil {
			return nil, err
		}
		for _, p := range t.Partitions {
			tps = append(tps, TopicPartition{topic, p.ID})
		}
	}
	return groupOffsets(ctx, a.cfg, a.logs, a.ac, group, tps, a.cfg.timeout()+DefaultTransactionTimeout)
}
