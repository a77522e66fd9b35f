package kafka

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// topicPartition identifies a partition; a comparable map key, unlike
// rdk.TopicPartition.
type topicPartition struct {
	topic     string
	partition int32
}

// metadataClient is what Consumer, Producer and AdminClient share.
type metadataClient interface {
	GetMetadata(topic *string, allTopics bool, timeoutMs int) (*rdk.Metadata, error)
}

// clusterMetadata fetches every topic's metadata within the timeout. It
// returns at once when ctx is cancelled (Ctrl-C), though librdkafka's call
// takes a timeout, not a context: a broker that accepts connections and
// never answers would otherwise hold the command for the whole timeout.
func clusterMetadata(ctx context.Context, cfg Config, logs *logSink, mc metadataClient) (*rdk.Metadata, error) {
	ctx, cancel := cfg.withTimeout(ctx)
	defer cancel()
	type result struct {
		md  *rdk.Metadata
		err error
	}
	done := make(chan result, 1)
	go func() {
		md, err := mc.GetMetadata(nil, true, waitMs(ctx))
		done <- result{md, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			abandon(running, done) // closing its client waits for it
			return nil, ctx.Err()
		}
		r = <-done // librdkafka's own timeout is the same
	}
	md, err := r.md, r.err
	if err != nil {
		if isUnreachable(err) {
			return nil, unreachable(ctx, cfg, logs, err)
		}
		return nil, fmt.Errorf("cannot read cluster metadata: %w", err)
	}
	return md, nil
}

// topicIn finds topic in md. Only a topic the cluster does not have is an
// *UnknownTopicError; any other error of the topic's (not authorized, a
// leader being elected) is the broker's own, wrapped.
func topicIn(md *rdk.Metadata, topic string) (rdk.TopicMetadata, error) {
	t, ok := md.Topics[topic]
	if !ok || t.Error.Code() == rdk.ErrUnknownTopicOrPart || t.Error.Code() == rdk.ErrUnknownTopic {
		return t, unknownTopic(topic, topicNames(md))
	}
	if t.Error.Code() != rdk.ErrNoError {
		return t, fmt.Errorf("topic %q: %w", topic, t.Error)
	}
	return t, nil
}

// isTopicPattern reports whether a topic name is a glob (path.Match).
func isTopicPattern(name string) bool { return strings.ContainsAny(name, `*?[\`) }

// matchesTopic reports whether name matches pattern, a glob as in
// path.Match ("bank.*"); "" matches all.
func matchesTopic(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return pattern == "" || ok
}

// expandTopics replaces each glob among topics by the topics of md it
// matches, in name order, dropping names given twice; a glob reads the
// cluster's internal topics (__consumer_offsets...) only when it starts
// with "__". A glob that matches nothing is an error naming the topics
// there are.
func expandTopics(md *rdk.Metadata, topics []string) ([]string, error) {
	var out []string
	names := topicNames(md)
	slices.Sort(names)
	for _, t := range topics {
		if !isTopicPattern(t) {
			out = append(out, t)
			continue
		}
		if _, err := path.Match(t, ""); err != nil {
			return nil, fmt.Errorf("invalid topic pattern %q: %w", t, err)
		}
		n := len(out)
		for _, name := range names {
			if matchesTopic(t, name) && (!isInternal(name) || strings.HasPrefix(t, "__")) {
				out = append(out, name)
			}
		}
		if len(out) == n {
			have := unknownTopic(t, names).HaveText() // the visible topics, some of them
			return nil, fmt.Errorf("no topic matches %q (have: %s); check the pattern or --brokers", t, have)
		}
	}
	var uniq []string
	for _, t := range out {
		if !slices.Contains(uniq, t) {
			uniq = append(uniq, t)
		}
	}
	return uniq, nil
}

// topicNames lists the topics in md that exist.
func topicNames(md *rdk.Metadata) []string {
	names := make([]string, 0, len(md.Topics))
	for name, t := range md.Topics {
		if t.Error.Code() == rdk.ErrNoError {
			names = append(names, name)
		}
	}
	return names
}

// isolation is the isolation level the reader's consumer uses, so that
// the end offsets it captures are ones it can reach (the LSO under
// read_committed, librdkafka's default).
func isolation(cfg Config) rdk.IsolationLevel {
	if v, ok := cfg.prop("isolation.level"); ok && v == "read_uncommitted" {
		return rdk.IsolationLevelReadUncommitted
	}
	return rdk.IsolationLevelReadCommitted
}

// listOffsets asks for one offset per partition in a single request per
// leader: the earliest, the latest, or the first at a timestamp (negative
// when there is none).
func listOffsets(ctx context.Context, cfg Config, logs *logSink, ac *rdk.AdminClient,
	specs map[topicPartition]rdk.OffsetSpec, level rdk.IsolationLevel) (map[topicPartition]int64, error) {
	out := make(map[topicPartition]int64, len(specs))
	if len(specs) == 0 {
		return out, nil
	}
	req := make(map[rdk.TopicPartition]rdk.OffsetSpec, len(specs))
	for tp, spec := range specs {
		topic := tp.topic
		req[rdk.TopicPartition{Topic: &topic, Partition: tp.partition}] = spec
	}
	ctx, cancel := cfg.withTimeout(ctx)
	defer cancel()
	for {
		res, err := ac.ListOffsets(ctx, req,
			rdk.SetAdminIsolationLevel(level), rdk.SetAdminRequestTimeout(cfg.timeout()))
		if err != nil {
			if isUnreachable(err) || ctx.Err() != nil {
				return nil, unanswered(ctx, cfg, logs, "", err)
			}
			return nil, fmt.Errorf("cannot list offsets: %w", err)
		}
		var retry error
		for tp, info := range res.ResultInfos {
			if info.Error.Code() != rdk.ErrNoError {
				if isUnreachable(info.Error) {
					return nil, unanswered(ctx, cfg, logs, "", info.Error)
				}
				err := fmt.Errorf("cannot list offsets of %s[%d]: %w", *tp.Topic, tp.Partition, info.Error)
				if !leaderMoving(info.Error.Code()) {
					return nil, err
				}
				retry = err
				continue
			}
			out[topicPartition{*tp.Topic, tp.Partition}] = int64(info.Offset)
		}
		if retry == nil {
			return out, nil
		}
		// A partition between leaders (a new topic, a broker bounced)
		// answers "not leader" for a moment: ask again, within the timeout.
		select {
		case <-ctx.Done():
			return nil, retry
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leaderMoving reports the errors of a partition between leaders: a new
// topic's, or one whose leader was just bounced. They pass in a moment.
func leaderMoving(code rdk.ErrorCode) bool {
	switch code {
	case rdk.ErrNotLeaderForPartition, rdk.ErrLeaderNotAvailable, rdk.ErrFencedLeaderEpoch,
		rdk.ErrUnknownLeaderEpoch, rdk.ErrOffsetNotAvailable:
		return true
	}
	return false
}

// watermarks returns the low and high offsets of each partition.
func watermarks(ctx context.Context, cfg Config, logs *logSink, ac *rdk.AdminClient,
	tps []topicPartition, level rdk.IsolationLevel) (low, high map[topicPartition]int64, err error) {
	lowSpec := make(map[topicPartition]rdk.OffsetSpec, len(tps))
	highSpec := make(map[topicPartition]rdk.OffsetSpec, len(tps))
	for _, tp := range tps {
		lowSpec[tp] = rdk.EarliestOffsetSpec
		highSpec[tp] = rdk.LatestOffsetSpec
	}
	if low, err = listOffsets(ctx, cfg, logs, ac, lowSpec, level); err != nil {
		return nil, nil, err
	}
	if high, err = listOffsets(ctx, cfg, logs, ac, highSpec, level); err != nil {
		return nil, nil, err
	}
	return low, high, nil
}

// errUnstable says a group's offsets are part of an open transaction.
var errUnstable = errors.New("group offsets are part of an open transaction")

// groupOffsets reads group's committed offsets of tps (-1: none), waiting
// up to unstableWait for open transactions that commit offsets to end.
func groupOffsets(ctx context.Context, cfg Config, logs *logSink, ac *rdk.AdminClient,
	group string, tps []TopicPartition, unstableWait time.Duration) (map[TopicPartition]int64, error) {
	deadline := time.Now().Add(unstableWait)
	for {
		offs, err := groupOffsetsOnce(ctx, cfg, logs, ac, group, tps)
		if !errors.Is(err, errUnstable) || time.Now().After(deadline) {
			return offs, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// committedOffsets reads the committed offsets of tps (-1: none) of
// group, c's group.id (c a member of it or not), through the consumer
// group's own OffsetFetch. With c read_uncommitted, offsets in an open
// transaction are left out: the last committed ones are read (read_committed,
// librdkafka waits for the transaction to end, until the timeout). It
// returns at once when ctx is cancelled.
//
// A copy waiting for its group asks so, not through the admin API
// (groupOffsetsOnce), because it asks again and again while brokers
// come and go, through a client that lives on, for hours: an admin
// request it stopped waiting for could outlive its hour in librdkafka
// and abort the process when answered after that (see
// coordinatorRequestTimeout). A hard broker bounce of the group's
// coordinator did that to a replay when the request's timeout was the
// check's (bounce_matrix.txtar; TestGroupCheckCoordinatorLate).
func committedOffsets(ctx context.Context, cfg Config, logs *logSink, c *rdk.Consumer,
	group string, tps []TopicPartition) (map[TopicPartition]int64, error) {
	out := make(map[TopicPartition]int64, len(tps))
	if len(tps) == 0 {
		return out, nil
	}
	req := make([]rdk.TopicPartition, len(tps))
	for i, tp := range tps {
		topic := tp.Topic
		req[i] = rdk.TopicPartition{Topic: &topic, Partition: tp.Partition}
	}
	ctx, cancel := cfg.withTimeout(ctx)
	defer cancel()
	var parts []rdk.TopicPartition
	for {
		var err error
		parts, err = committedOnce(ctx, c, req)
		if err == nil {
			for _, p := range parts {
				if p.Error != nil && coordinatorMoving(p.Error) {
					err = p.Error
				}
			}
		}
		// For a moment after the group's coordinator moves, the brokers
		// answer "not coordinator" or "loading": ask again (as
		// listGroupOffsets does).
		if coordinatorMoving(err) {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			return nil, err
		case isCode(err, rdk.ErrGroupIDNotFound):
			parts = nil // no group, no offsets
		case isUnreachable(err) || ctx.Err() != nil:
			// Not unanswered(): the copy asks again at once, and says
			// what stalls it (groupChecker).
			return nil, unreachable(ctx, cfg, logs, err)
		default:
			return nil, fmt.Errorf("cannot read the offsets of group %q: %w", group, err)
		}
		break
	}
	for _, p := range parts {
		if p.Error != nil && !isCode(p.Error, rdk.ErrGroupIDNotFound) {
			if isUnstable(p.Error) {
				return nil, errUnstable
			}
			return nil, fmt.Errorf("cannot read the offsets of group %q on %s[%d]: %w", group, topicOf(p), p.Partition, p.Error)
		}
		out[TopicPartition{topicOf(p), p.Partition}] = max(int64(p.Offset), -1)
	}
	for _, tp := range tps {
		if _, ok := out[tp]; !ok {
			out[tp] = -1
		}
	}
	return out, nil
}

// committedOnce asks c for the committed offsets of tps once, within
// ctx's deadline; when ctx is cancelled it returns at once, leaving the
// call to finish on its own.
func committedOnce(ctx context.Context, c *rdk.Consumer, tps []rdk.TopicPartition) ([]rdk.TopicPartition, error) {
	type result struct {
		parts []rdk.TopicPartition
		err   error
	}
	done := make(chan result, 1)
	go func() {
		parts, err := c.Committed(tps, waitMs(ctx))
		done <- result{parts, err}
	}()
	select {
	case r := <-done:
		return r.parts, r.err
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			abandon(running, done) // closing its client waits for it
			return nil, ctx.Err()
		}
		r := <-done // librdkafka's own timeout is the same
		return r.parts, r.err
	}
}

func groupOffsetsOnce(ctx context.Context, cfg Config, logs *logSink, ac *rdk.AdminClient,
	group string, tps []TopicPartition) (map[TopicPartition]int64, error) {
	out := make(map[TopicPartition]int64, len(tps))
	if len(tps) == 0 {
		return out, nil
	}
	req := rdk.ConsumerGroupTopicPartitions{Group: group}
	for _, tp := range tps {
		topic := tp.Topic
		req.Partitions = append(req.Partitions, rdk.TopicPartition{Topic: &topic, Partition: tp.Partition})
	}
	ctx, cancel := cfg.withTimeout(ctx)
	defer cancel()
	res, err := listGroupOffsets(ctx, ac, req, true)
	if err != nil {
		if isUnstable(err) {
			return nil, errUnstable
		}
		if isCode(err, rdk.ErrGroupIDNotFound) {
			err = nil // no group, no offsets
		} else if isUnreachable(err) || ctx.Err() != nil {
			return nil, unanswered(ctx, cfg, logs, group, err)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read the offsets of group %q: %w", group, err)
		}
	}
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, p := range g.Partitions {
			if p.Error != nil && !isCode(p.Error, rdk.ErrGroupIDNotFound) {
				if isUnstable(p.Error) {
					return nil, errUnstable
				}
				return nil, fmt.Errorf("cannot read the offsets of group %q on %s[%d]: %w", group, topicOf(p), p.Partition, p.Error)
			}
			off := int64(p.Offset)
			if off < 0 {
				off = -1
			}
			out[TopicPartition{topicOf(p), p.Partition}] = off
		}
	}
	for _, tp := range tps {
		if _, ok := out[tp]; !ok {
			out[tp] = -1
		}
	}
	return out, nil
}

// listGroupOffsets reads the offsets req names (all the group's when it
// names no partition), stable ones only if stable, until ctx ends (see
// coordinatorRequestTimeout). For a moment after a group's coordinator
// moves (the offsets topic just created, a broker bounced) a broker
// answers "not coordinator", "coordinator not available" or "loading": it
// asks again until ctx ends. ac must be derived from a consumer (see
// NewAdmin), or librdkafka crashes on the first such answer.
func listGroupOffsets(ctx context.Context, ac *rdk.AdminClient,
	req rdk.ConsumerGroupTopicPartitions, stable bool) (rdk.ListConsumerGroupOffsetsResult, error) {
	var res rdk.ListConsumerGroupOffsetsResult
	err := whileCoordinatorMoves(ctx, func() (err error) {
		res, err = ac.ListConsumerGroupOffsets(ctx, []rdk.ConsumerGroupTopicPartitions{req},
			rdk.SetAdminRequireStableOffsets(stable), rdk.SetAdminRequestTimeout(coordinatorRequestTimeout))
		return err
	})
	return res, err
}

// whileCoordinatorMoves calls f again, every 100ms, while it fails
// because a group's coordinator is moving to another broker or loading
// the group (a broker SIGKILLed, say), which librdkafka's admin calls
// report rather than retry; once ctx is done, f's last error stands.
func whileCoordinatorMoves(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !coordinatorMoving(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// coordinatorRequestTimeout is librdkafka's own timeout of each admin
// request sent to a group's coordinator (ListConsumerGroupOffsets,
// DescribeConsumerGroups): its longest, one hour; the caller's ctx bounds
// the wait for the answer instead. librdkafka 2.15 aborts the process
// (rd_kafka_enq_once_del_source_return: Assertion 'eonce->refcnt > 0')
// when such a request times out before the group's coordinator is found
// and the coordinator is found later (its lookup answered late, or the
// coordinator's broker back up): the request's state is released twice
// (librdkafka issue 4605, PR 5397 open). A request its caller stopped
// waiting for stays in librdkafka until it is answered and its answer
// dropped, or until its client is closed: each caller ends with the
// error, and the client with it, long before the hour
// (TestAdminGroupCoordinatorLate). A client that keeps asking after an
// unanswered question for longer (a copy waiting for its group) asks
// through a consumer instead (committedOffsets).
const coordinatorRequestTimeout = time.Hour

// coordinatorMoving reports the errors of a group whose coordinator is
// moving or still loading the group's offsets. They pass in a moment.
func coordinatorMoving(err error) bool {
	return isCode(err, rdk.ErrNotCoordinator) || isCode(err, rdk.ErrCoordinatorNotAvailable) ||
		isCode(err, rdk.ErrCoordinatorLoadInProgress)
}

func isUnstable(err error) bool { return isCode(err, rdk.ErrUnstableOffsetCommit) }

func isCode(err error, code rdk.ErrorCode) bool {
	var ke rdk.Error
	return errors.As(err, &ke) && ke.Code() == code
}

// running tracks the librdkafka calls that a cancelled caller stopped
// waiting for. librdkafka must not destroy a client while a call runs in
// it, so closeWhenIdle waits for them first.
var running = &abandoned{set: map[<-chan struct{}]struct{}{}}

type abandoned struct {
	mu  sync.Mutex
	set map[<-chan struct{}]struct{} // closed when the call is over
}

// abandon notes a call whose result will arrive on done (buffered, one
// value) with no one waiting for it.
func abandon[T any](a *abandoned, done <-chan T) {
	over := make(chan struct{})
	a.mu.Lock()
	a.set[over] = struct{}{}
	a.mu.Unlock()
	go func() {
		<-done
		a.mu.Lock()
		delete(a.set, over)
		a.mu.Unlock()
		close(over)
	}()
}

// idle reports whether no abandoned call is running.
func (a *abandoned) idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.set) == 0
}

// closeWhenIdle runs closeClient now, or, while an abandoned call may
// still use the client, in the background once those calls are over: the
// command is ending (Ctrl-C), and must not wait for them.
func closeWhenIdle(closeClient func()) {
	running.mu.Lock()
	pending := make([]<-chan struct{}, 0, len(running.set))
	for ch := range running.set {
		pending = append(pending, ch)
	}
	running.mu.Unlock()
	if len(pending) == 0 {
		closeClient()
		return
	}
	go func() {
		for _, ch := range pending {
			<-ch
		}
		closeClient()
	}()
}
