package kafka

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/position"
)

// ConsumerGroup is one consumer group as the brokers list it.
type ConsumerGroup struct {
	ID    string
	State string // Stable, Empty, PreparingRebalance, ... as the broker says
}

// GroupLag is how far one consumer group is behind the end of the topics
// it has committed offsets for.
type GroupLag struct {
	Group string
	State string
	// Partitions holds every partition of those topics, sorted by topic
	// then partition.
	Partitions []PartitionLag
}

// PartitionLag is one partition of a GroupLag.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset, -1 when it has none.
	Committed int64
	// Low and End are the partition's watermarks (End is the last stable
	// offset under read_committed, the default).
	Low, End int64
	// Lag is End minus Committed, or End minus Low where the group has
	// committed nothing; never negative.
	Lag int64
	// Oldest is the timestamp of the first unconsumed record; zero when
	// Lag is 0 or no record arrived within the timeout.
	Oldest time.Time
}

// Lag sums the group's lag over its partitions.
func (g GroupLag) Lag() int64 {
	var n int64
	for _, p := range g.Partitions {
		n += p.Lag
	}
	return n
}

// Oldest is the earliest Oldest of its partitions; zero when none is known.
func (g GroupLag) Oldest() time.Time {
	var t time.Time
	for _, p := range g.Partitions {
		if !p.Oldest.IsZero() && (t.IsZero() || p.Oldest.Before(t)) {
			t = p.Oldest
		}
	}
	return t
}

// UnknownGroupError says a consumer group does not exist, and which do.
type UnknownGroupError struct {
	Group string
	// Similar are existing groups whose ids are close to Group, closest
	// first (at most 5).
	Similar []string
	// Have lists some existing groups (at most 10) when none is similar;
	// More counts the others.
	Have []string
	More int
}

func (e *UnknownGroupError) Error() string {
	return notFound("consumer group", e.Group, e.Similar, e.Have, e.More)
}

func unknownGroup(group string, groups []ConsumerGroup) *UnknownGroupError {
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	e := &UnknownGroupError{Group: group, Similar: english.Similar(group, ids, 5)}
	if len(e.Similar) == 0 {
		e.Have = ids[:min(len(ids), 10)]
		e.More = len(ids) - len(e.Have)
	}
	return e
}

// Groups lists the cluster's consumer groups, sorted by id.
func (a *Admin) Groups(ctx context.Context) ([]ConsumerGroup, error) {
	ctx, cancel := a.cfg.withTimeout(ctx)
	defer cancel()
	var res rdk.ListConsumerGroupsResult
	err := whileCoordinatorMoves(ctx, func() (err error) {
		// Every broker lists the groups it coordinates: one that is
		// loading them (just made their coordinator) answers with an
		// error, and the list is not whole until it has loaded them.
		res, err = a.ac.ListConsumerGroups(ctx, rdk.SetAdminRequestTimeout(a.cfg.timeout()))
		if err == nil && len(res.Errors) > 0 {
			err = res.Errors[0]
		}
		return err
	})
	if err != nil {
		if isUnreachable(err) || ctx.Err() != nil {
			return nil, unanswered(ctx, a.cfg, a.logs, "", err)
		}
		return nil, fmt.Errorf("cannot list consumer groups: %w", err)
	}
	out := make([]ConsumerGroup, 0, len(res.Valid))
	for _, g := range res.Valid {
		out = append(out, ConsumerGroup{ID: g.GroupID, State: groupState(g.State)})
	}
	slices.SortFunc(out, func(x, y ConsumerGroup) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// Group returns one consumer group; an *UnknownGroupError when the
// brokers do not list it.
func (a *Admin) Group(ctx context.Context, id string) (ConsumerGroup, error) {
	all, err := a.Groups(ctx)
	if err != nil {
		return ConsumerGroup{}, err
	}
	for _, g := range all {
		if g.ID == id {
			return g, nil
		}
	}
	return ConsumerGroup{}, unknownGroup(id, all)
}

// groupState names a state as Kafka's own tools do (Stable, Empty...).
func groupState(s rdk.ConsumerGroupState) string {
	switch s {
	case rdk.ConsumerGroupStatePreparingRebalance:
		return "PreparingRebalance"
	case rdk.ConsumerGroupStateCompletingRebalance:
		return "CompletingRebalance"
	case rdk.ConsumerGroupStateStable:
		return "Stable"
	case rdk.ConsumerGroupStateDead:
		return "Dead"
	case rdk.ConsumerGroupStateEmpty:
		return "Empty"
	}
	return "Unknown"
}

// CommittedOffsets returns the offsets group has committed, on every
// partition it has committed one; empty for a group that does not exist.
// Offsets a still-open transaction commits are not committed yet, so it
// never waits for one (unlike GroupOffsets).
func (a *Admin) CommittedOffsets(ctx context.Context, group string) (map[TopicPartition]int64, error) {
	ctx, cancel := a.cfg.withTimeout(ctx)
	defer cancel()
	// No partitions: all that the group has committed.
	res, err := listGroupOffsets(ctx, a.ac, rdk.ConsumerGroupTopicPartitions{Group: group}, false)
	if err != nil {
		if isCode(err, rdk.ErrGroupIDNotFound) {
			return map[TopicPartition]int64{}, nil
		}
		if isUnreachable(err) || ctx.Err() != nil {
			return nil, unanswered(ctx, a.cfg, a.logs, group, err)
		}
		return nil, fmt.Errorf("cannot read the offsets of group %q: %w", group, err)
	}
	out := map[TopicPartition]int64{}
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, p := range g.Partitions {
			if p.Error != nil {
				if isCode(p.Error, rdk.ErrGroupIDNotFound) {
					continue
				}
				return nil, fmt.Errorf("cannot read the offsets of group %q on %s[%d]: %w", group, topicOf(p), p.Partition, p.Error)
			}
			if p.Offset >= 0 {
				out[TopicPartition{topicOf(p), p.Partition}] = int64(p.Offset)
			}
		}
	}
	return out, nil
}

// Watermark is a partition's low and end offsets.
type Watermark struct {
	Low int64
	// End is the high watermark, or the last stable offset under
	// read_committed (the default): the end a consumer can reach.
	End int64
}

// Watermarks returns the watermarks of every partition of topics; an
// *UnknownTopicError for a topic that does not exist.
func (a *Admin) Watermarks(ctx context.Context, topics []string) (map[TopicPartition]Watermark, error) {
	tps, err := a.partitionsOf(ctx, topics)
	if err != nil {
		return nil, err
	}
	low, high, err := watermarks(ctx, a.cfg, a.logs, a.ac, tps, isolation(a.cfg))
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]Watermark, len(tps))
	for _, tp := range tps {
		out[TopicPartition{tp.topic, tp.partition}] = Watermark{Low: low[tp], End: high[tp]}
	}
	return out, nil
}

// EndOffsets returns the end offset of every partition of topics (the
// last stable offset under read_committed), all asked in one request per
// leader: the same instant on every topic, as far as the brokers allow.
func (a *Admin) EndOffsets(ctx context.Context, topics []string) (map[TopicPartition]int64, error) {
	tps, err := a.partitionsOf(ctx, topics)
	if err != nil {
		return nil, err
	}
	specs := make(map[topicPartition]rdk.OffsetSpec, len(tps))
	for _, tp := range tps {
		specs[tp] = rdk.LatestOffsetSpec
	}
	ends, err := listOffsets(ctx, a.cfg, a.logs, a.ac, specs, isolation(a.cfg))
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(ends))
	for tp, end := range ends {
		out[TopicPartition{tp.topic, tp.partition}] = end
	}
	return out, nil
}

// SettledEndOffsets returns the end offsets of every partition of topics
// (the last stable offsets under read_committed) as they all were at one
// instant when none held records of a transaction not yet committed or
// aborted: a transaction that wrote to several of these partitions is
// inside the ends on all of them or on none. One read of the end offsets
// (EndOffsets) cannot promise that on Apache Kafka: a commit becomes
// visible partition by partition, as each leader writes its marker, and
// each leader is asked at its own moment. So it reads the last stable and
// the high offsets until two reads in a row agree and every partition's
// two are equal: offsets only grow, so all the partitions held still, at
// once, between those reads, with no transaction open. settled is false
// when that did not happen in the reads made within the time given
// (writes that never pause, a transaction left open); the ends are then
// the last read's. A time, not a number of reads: a read takes a
// millisecond on an idle embedded broker and tens on a loaded cluster,
// while the pauses it waits for come at the writers' pace.
func (a *Admin) SettledEndOffsets(ctx context.Context, topics []string, within time.Duration) (ends map[TopicPartition]int64, settled bool, err error) {
	ends, _, settled, err = a.settledEnds(ctx, topics, nil, within)
	return ends, settled, err
}

// SettledGroupOffsets is SettledEndOffsets with group's committed offsets
// on groupTopics (as GroupOffsets) read alongside, and held still with
// the ends: the offsets a projector committed and the end of the read
// model it writes, at one instant with no transaction open on the read
// model. A transaction that commits the projector's offsets with its
// states is then inside both or neither.
func (a *Admin) SettledGroupOffsets(ctx context.Context, group string, groupTopics, topics []string, within time.Duration) (committed, ends map[TopicPartition]int64, settled bool, err error) {
	gtps, err := a.partitionsOf(ctx, groupTopics)
	if err != nil {
		return nil, nil, false, err
	}
	tps := make([]TopicPartition, len(gtps))
	for i, tp := range gtps {
		tps[i] = TopicPartition{tp.topic, tp.partition}
	}
	ends, committed, settled, err = a.settledEnds(ctx, topics, func() (map[TopicPartition]int64, error) {
		return groupOffsets(ctx, a.cfg, a.logs, a.ac, group, tps, a.cfg.timeout()+DefaultTransactionTimeout)
	}, within)
	return committed, ends, settled, err
}

// settledEnds reads the ends of topics, and what alongside reads (when
// not nil) at the same time, until two reads agree with no transaction
// open. Each read ends before the next begins, which is all that holding
// still between two reads needs.
func (a *Admin) settledEnds(ctx context.Context, topics []string, alongside func() (map[TopicPartition]int64, error),
	within time.Duration) (ends, along map[TopicPartition]int64, settled bool, err error) {
	tps, err := a.partitionsOf(ctx, topics)
	if err != nil {
		return nil, nil, false, err
	}
	specs := make(map[topicPartition]rdk.OffsetSpec, len(tps))
	for _, tp := range tps {
		specs[tp] = rdk.LatestOffsetSpec
	}
	type reading struct {
		stable, high map[topicPartition]int64
		along        map[TopicPartition]int64
	}
	read := func() (reading, error) {
		// All at once: the shorter a read, the likelier a pause of the
		// writers spans two.
		errs := make(chan error, 2)
		var r reading
		go func() {
			var err error
			r.high, err = listOffsets(ctx, a.cfg, a.logs, a.ac, specs, rdk.IsolationLevelReadUncommitted)
			errs <- err
		}()
		go func() {
			var err error
			if alongside != nil {
				r.along, err = alongside()
			}
			errs <- err
		}()
		var err error
		r.stable, err = listOffsets(ctx, a.cfg, a.logs, a.ac, specs, rdk.IsolationLevelReadCommitted)
		for range 2 {
			if e := <-errs; err == nil {
				err = e
			}
		}
		return r, err
	}
	start := time.Now()
	prev, err := read()
	if err != nil {
		return nil, nil, false, err
	}
	for first := true; first || time.Since(start) < within; first = false {
		cur, err := read()
		if err != nil {
			return nil, nil, false, err
		}
		if maps.Equal(prev.stable, cur.stable) && maps.Equal(prev.high, cur.high) && maps.Equal(prev.along, cur.along) &&
			maps.Equal(cur.stable, cur.high) {
			settled = true
			break
		}
		prev = cur
	}
	pick := prev.stable
	if isolation(a.cfg) == rdk.IsolationLevelReadUncommitted {
		pick = prev.high
	}
	ends = make(map[TopicPartition]int64, len(pick))
	for tp, end := range pick {
		ends[TopicPartition{tp.topic, tp.partition}] = end
	}
	return ends, prev.along, settled, nil
}

// OffsetsForTime returns each partition of topics' offset of its first
// record at or after t, or -1 when it has none yet.
func (a *Admin) OffsetsForTime(ctx context.Context, topics []string, t time.Time) (map[TopicPartition]int64, error) {
	tps, err := a.partitionsOf(ctx, topics)
	if err != nil {
		return nil, err
	}
	at, err := offsetsForTime(ctx, a.cfg, a.logs, a.ac, position.Position{Kind: position.Time, Time: t}, tps, isolation(a.cfg))
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		off, ok := at[tp]
		if !ok {
			off = -1
		}
		out[TopicPartition{tp.topic, tp.partition}] = off
	}
	return out, nil
}

// partitionsOf lists every partition of topics; an *UnknownTopicError for
// a topic the cluster does not have.
func (a *Admin) partitionsOf(ctx context.Context, topics []string) ([]topicPartition, error) {
	md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
	if err != nil {
		return nil, err
	}
	var tps []topicPartition
	for _, topic := range topics {
		t, err := topicIn(md, topic)
		if err != nil {
			return nil, err
		}
		for _, p := range t.Partitions {
			tps = append(tps, topicPartition{topic, p.ID})
		}
	}
	return tps, nil
}

// Lag measures each group's lag on every partition of the topics it
// consumes: those it has committed offsets for and those its members are
// assigned (a group that has committed nothing yet lags by everything;
// topics deleted since are left out). Topics, when given, are the topics
// measured instead: for named groups every one of them, with no groups
// only the groups that commit or are assigned there. It reads the
// timestamp of the first unconsumed record of each lagging partition. No
// groups means all of them. A group that does not exist is an
// *UnknownGroupError and a topic an *UnknownTopicError, reported before
// anything else is read.
func (a *Admin) Lag(ctx context.Context, groups, topics []string) ([]GroupLag, error) {
	all, err := a.Groups(ctx)
	if err != nil {
		return nil, err
	}
	states := make(map[string]string, len(all))
	for _, g := range all {
		states[g.ID] = g.State
	}
	named := len(groups) > 0
	if !named {
		for _, g := range all {
			groups = append(groups, g.ID)
		}
	}
	for _, g := range groups {
		if _, ok := states[g]; !ok {
			return nil, unknownGroup(g, all)
		}
	}
	md, err := clusterMetadata(ctx, a.cfg, a.logs, a.ac)
	if err != nil {
		return nil, err
	}
	for _, topic := range topics {
		if _, err := topicIn(md, topic); err != nil {
			return nil, err
		}
	}

	assigned, err := a.assignedTopics(ctx, groups)
	if err != nil {
		return nil, err
	}
	committed := make([]map[TopicPartition]int64, len(groups))
	consumes := make([][]string, len(groups)) // each group's topics, sorted
	topicSet := map[string]bool{}
	for i, g := range groups {
		if committed[i], err = a.CommittedOffsets(ctx, g); err != nil {
			return nil, err
		}
		mine := map[string]bool{}
		for tp := range committed[i] {
			mine[tp.Topic] = true
		}
		for _, t := range assigned[g] {
			mine[t] = true
		}
		if len(topics) > 0 {
			consumesAny := false
			for _, t := range topics {
				consumesAny = consumesAny || mine[t]
			}
			if !named && !consumesAny {
				continue
			}
			mine = map[string]bool{}
			for _, t := range topics {
				mine[t] = true
			}
		}
		for t := range mine {
			consumes[i] = append(consumes[i], t)
			topicSet[t] = true
		}
		sort.Strings(consumes[i])
	}
	partitions := map[string][]int32{}
	var tps []topicPartition
	for topic := range topicSet {
		t, ok := md.Topics[topic]
		if !ok || t.Error.Code() != rdk.ErrNoError {
			continue // deleted since the group committed
		}
		for _, p := range t.Partitions {
			partitions[topic] = append(partitions[topic], p.ID)
			tps = append(tps, topicPartition{topic, p.ID})
		}
	}
	low, high, err := watermarks(ctx, a.cfg, a.logs, a.ac, tps, isolation(a.cfg))
	if err != nil {
		return nil, err
	}

	out := make([]GroupLag, 0, len(groups))
	oldestAt := map[TopicPartition][]int64{} // the offsets whose timestamps to read
	for i, g := range groups {
		if len(topics) > 0 && consumes[i] == nil {
			continue // with --topic and no group named: not a consumer of those
		}
		gl := GroupLag{Group: g, State: states[g]}
		for _, topic := range consumes[i] {
			for _, p := range partitions[topic] {
				tp := TopicPartition{topic, p}
				pl := partitionLag(tp, committed[i], low[topicPartition{topic, p}], high[topicPartition{topic, p}])
				if pl.Lag > 0 {
					oldestAt[tp] = append(oldestAt[tp], max(pl.Committed, pl.Low))
				}
				gl.Partitions = append(gl.Partitions, pl)
			}
		}
		slices.SortFunc(gl.Partitions, func(x, y PartitionLag) int {
			return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
		})
		out = append(out, gl)
	}

	stamps, err := a.timestamps(ctx, oldestAt)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for j := range out[i].Partitions {
			p := &out[i].Partitions[j]
			if p.Lag > 0 {
				p.Oldest = stamps[offsetAt{TopicPartition{p.Topic, p.Partition}, max(p.Committed, p.Low)}]
			}
		}
	}
	return out, nil
}

// assignedTopics returns the topics each group's members are assigned,
// sorted: what a subscribed group consumes before it commits anything.
func (a *Admin) assignedTopics(ctx context.Context, groups []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(groups) == 0 {
		return out, nil
	}
	ctx, cancel := a.cfg.withTimeout(ctx)
	defer cancel()
	var res rdk.DescribeConsumerGroupsResult
	err := whileCoordinatorMoves(ctx, func() (err error) {
		res, err = a.ac.DescribeConsumerGroups(ctx, groups, rdk.SetAdminRequestTimeout(coordinatorRequestTimeout))
		for _, d := range res.ConsumerGroupDescriptions {
			if err == nil && coordinatorMoving(d.Error) {
				err = d.Error
			}
		}
		return err
	})
	if err != nil {
		if isUnreachable(err) || ctx.Err() != nil {
			group := ""
			if len(groups) == 1 {
				group = groups[0]
			}
			return nil, unanswered(ctx, a.cfg, a.logs, group, err)
		}
		return nil, fmt.Errorf("cannot describe consumer groups: %w", err)
	}
	for _, d := range res.ConsumerGroupDescriptions {
		if d.Error.Code() != rdk.ErrNoError {
			if d.Error.Code() == rdk.ErrGroupIDNotFound {
				continue
			}
			return nil, fmt.Errorf("cannot describe consumer group %q: %w", d.GroupID, d.Error)
		}
		var topics []string
		for _, m := range d.Members {
			for _, tp := range m.Assignment.TopicPartitions {
				if t := topicOf(tp); !slices.Contains(topics, t) {
					topics = append(topics, t)
				}
			}
		}
		sort.Strings(topics)
		out[d.GroupID] = topics
	}
	return out, nil
}

func partitionLag(tp TopicPartition, committed map[TopicPartition]int64, low, end int64) PartitionLag {
	pl := PartitionLag{Topic: tp.Topic, Partition: tp.Partition, Committed: -1, Low: low, End: end}
	from := low
	if off, ok := committed[tp]; ok {
		pl.Committed = off
		from = off
	}
	pl.Lag = max(end-from, 0)
	return pl
}

// offsetAt names one record.
type offsetAt struct {
	tp     TopicPartition
	offset int64
}

// Timestamp returns the timestamp of the first record at or after offset
// on one partition (records deleted by compaction, transaction markers and
// aborted records are skipped); ok is false when the partition holds none
// past offset or none arrived within the timeout.
func (a *Admin) Timestamp(ctx context.Context, tp TopicPartition, offset int64) (t time.Time, ok bool, err error) {
	stamps, err := a.timestamps(ctx, map[TopicPartition][]int64{tp: {offset}})
	if err != nil {
		return time.Time{}, false, err
	}
	t, ok = stamps[offsetAt{tp, offset}]
	return t, ok, nil
}

// oldestDefaults make a consumer that fetches a little from many partitions
// and says when a partition has nothing more.
var oldestDefaults = append(slices.Clip(neverJoined), [][2]string{
	{"enable.partition.eof", "true"},
	{"fetch.wait.max.ms", "100"},
	{"fetch.message.max.bytes", "65536"},
	{"queued.min.messages", "1"},
}...)

// timestamps reads the first record at or after each offset in at, with
// one consumer that assigns each partition at one offset per round; all
// rounds together take at most the timeout, and records that do not
// arrive in time are left out.
func (a *Admin) timestamps(ctx context.Context, at map[TopicPartition][]int64) (map[offsetAt]time.Time, error) {
	out := map[offsetAt]time.Time{}
	if len(at) == 0 {
		return out, nil
	}
	m, err := a.cfg.configMap(oldestDefaults)
	if err != nil {
		return nil, err
	}
	c, _, err := newConsumer(m)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()

	pending := make(map[TopicPartition][]int64, len(at))
	for tp, offs := range at {
		pending[tp] = slices.Compact(slices.Sorted(slices.Values(offs)))
	}
	deadline := time.Now().Add(a.cfg.timeout())
	for len(pending) > 0 && time.Now().Before(deadline) {
		round := make(map[TopicPartition]int64, len(pending))
		var assign []rdk.TopicPartition
		for tp, offs := range pending {
			round[tp] = offs[0]
			if len(offs) == 1 {
				delete(pending, tp)
			} else {
				pending[tp] = offs[1:]
			}
			topic := tp.Topic
			assign = append(assign, rdk.TopicPartition{Topic: &topic, Partition: tp.Partition, Offset: rdk.Offset(offs[0])})
		}
		if err := c.Assign(assign); err != nil {
			return nil, fmt.Errorf("cannot assign partitions: %w", err)
		}
		if err := firstRecords(ctx, c, round, deadline, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// firstRecords polls until every partition of round has delivered its
// first record or its end, or the deadline passes.
func firstRecords(ctx context.Context, c *rdk.Consumer, round map[TopicPartition]int64, deadline time.Time, out map[offsetAt]time.Time) error {
	left := len(round)
	settle := func(tp TopicPartition) {
		if _, ok := round[tp]; ok {
			delete(round, tp)
			left--
			topic := tp.Topic
			_ = c.Pause([]rdk.TopicPartition{{Topic: &topic, Partition: tp.Partition}}) // only saves fetches
		}
	}
	for left > 0 && time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch e := c.Poll(int(pollTimeout / time.Millisecond)).(type) {
		case *rdk.Message:
			tp := TopicPartition{topicOf(e.TopicPartition), e.TopicPartition.Partition}
			off, ok := round[tp]
			if !ok || e.TopicPartition.Error != nil || int64(e.TopicPartition.Offset) < off {
				continue
			}
			if !e.Timestamp.IsZero() {
				out[offsetAt{tp, off}] = e.Timestamp.UTC()
			}
			settle(tp)
		case rdk.PartitionEOF:
			settle(TopicPartition{topicOf(rdk.TopicPartition(e)), e.Partition})
		case rdk.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: %w", e)
			}
		}
	}
	return nil
}
