package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rdk "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

// DefaultTransactionTimeout is the copier's transaction.timeout.ms: the
// broker aborts a transaction left open this long, so one left by a killed
// process stops holding back read_committed readers (and a resumed run
// that finds its offsets in it) after at most this long.
const DefaultTransactionTimeout = 10 * time.Second

// groupStallAfter is how long a member whose own partitions are done
// waits for the rest of the group to move before it gives up, at least:
// see stallBounds.
const groupStallAfter = 45 * time.Second

// groupCheckInterval is how often a copier whose own partitions are done
// asks whether the whole group is.
const groupCheckInterval = 500 * time.Millisecond

// CopyOptions say what a Copier copies, and as which consumer group.
type CopyOptions struct {
	// Group is the consumer group that holds the copy's progress: its
	// committed offsets are where a rerun resumes. Required.
	Group string
	// Topics are the source topics.
	Topics []string
	// From is where partitions without a committed offset of Group start;
	// the zero Position means start.
	From position.Position
	// To is where each partition's copy stops, exclusive; the zero Position
	// means end. Both are resolved when the copier starts (read_committed).
	To position.Position
	// TransactionalID names the producer's transactions; empty means
	// Group-hostname-pid, unique per process, and Group-hostname-pid-M for
	// Member M > 0. Group generations fence zombies (KIP-447), so
	// uniqueness is all it needs.
	TransactionalID string
	// Member numbers the copiers of one group that one process runs side
	// by side (replay --parallel), from 0.
	Member int
	// DestTopic is where Write produces, whatever topic a record names;
	// empty: the record's own topic.
	DestTopic string
	// CheckpointAfter makes Read checkpoint on its own, before returning a
	// record, once the open transaction is this old, so that a slow copy
	// never outlives the transaction timeout. Zero means a third of the
	// transaction timeout; negative never.
	CheckpointAfter time.Duration
	// MaxMessageBytes is DestTopic's max.message.bytes, when known: the
	// producer takes records that large, and the consumer fetches them.
	MaxMessageBytes int
	// Follow copies for as long as the caller reads, as a service does:
	// no end offsets are captured (To is ignored), where the group starts
	// is committed at once, Read waits for new records and never returns
	// io.EOF, and the caller may stop calling Read for as long as it likes
	// (to pause) after a Checkpoint.
	Follow bool
	// Behind, with Follow, makes Read return a record only once it is this
	// old by its timestamp, checkpointing what came before while it waits
	// (per CheckpointAfter): a projector that runs behind its source on
	// purpose.
	Behind time.Duration
	// Changelog makes the copy stateful (a projection rebuilt by a
	// group): see Changelog. It needs a DestTopic with as many partitions
	// as the one source topic.
	Changelog Changelog
	// Sequential reads the assigned partitions one after another, in the
	// order of Topics and then of partition number, each in offset order,
	// where a copier otherwise interleaves them as the fetches come back:
	// whatever acts on the first record of a kind (a fold's first
	// failure) then meets the same one on every run with the same
	// assignment. The price is one partition's fetches at a time.
	Sequential bool
}

// copyConsumerDefaults tune the copier's consumer: readDefaults' bulk
// fetching, in a group that never commits on its own.
var copyConsumerDefaults = append(slices.Clip(readDefaults),
	[2]string{"isolation.level", "read_committed"},
	[2]string{"enable.partition.eof", "true"},
	// Eager rebalancing: every member checkpoints and releases everything,
	// then takes its new share from the committed offsets.
	[2]string{"partition.assignment.strategy", "roundrobin"},
	[2]string{"session.timeout.ms", strconv.Itoa(copySessionTimeoutMs)},
	[2]string{"heartbeat.interval.ms", "1000"},
)

// copyMaxPollInterval is the copier's max.poll.interval.ms: its session
// timeout (the copier's 10 s, or -X session.timeout.ms), the shortest
// librdkafka takes. librdkafka sends it as the member's rebalance
// timeout, and kfake (the sandbox's broker) keeps a member that was
// killed while it waited in JoinGroup until that timeout ends: it never
// syncs, and kfake gives it no session timer. One process of --parallel
// N SIGKILLed leaves up to N of them; each generation they are part of
// waits the whole timeout, and at 15 s a resumed replay stalled for 30 s
// (replay_parallel.txtar's chaos), near the copier's 45 s stall report.
// Apache Kafka expires such members after their session timeout, which
// this matches. What else it bounds: a member that does not poll for
// that long leaves the group, and one that takes longer to rejoin a
// rebalance is left out of it. A copier polls many times a second, and
// keeps polling while a transactional call waits longer (keepServed): a
// checkpoint may wait the timeout and the transaction's timeout (a broker
// lost, its partitions waiting for new leaders). A follower keeps a long
// interval: its caller may pause between two Reads (see Follow).
func copyMaxPollInterval(cfg Config) int {
	return int(copySessionTimeout(cfg) / time.Millisecond)
}

// copySessionTimeout is the copier's session timeout: copySessionTimeoutMs,
// or -X session.timeout.ms.
func copySessionTimeout(cfg Config) time.Duration {
	return time.Duration(propMs(cfg, "session.timeout.ms", copySessionTimeoutMs)) * time.Millisecond
}

// copyRebalanceTimeout is the rebalance timeout librdkafka sends for a
// copier that does not follow: copyMaxPollInterval, or -X
// max.poll.interval.ms.
func copyRebalanceTimeout(cfg Config) time.Duration {
	return time.Duration(propMs(cfg, "max.poll.interval.ms", copyMaxPollInterval(cfg))) * time.Millisecond
}

// propMs is the positive integer -X property key, or def.
func propMs(cfg Config, key string, def int) int {
	if v, ok := cfg.prop(key); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// copySessionTimeoutMs is the copier's session.timeout.ms: a killed
// member holds its partitions until its session times out; keep that
// short (librdkafka's default is 45 s).
const copySessionTimeoutMs = 10000

// copyConsumerConfig is the configuration of a copier's consumer.
func copyConsumerConfig(cfg Config, opts CopyOptions) (*rdk.ConfigMap, error) {
	defaults := sizedFor(append(slices.Clip(copyConsumerDefaults), [2]string{"group.id", opts.Group}), opts.MaxMessageBytes)
	if opts.Follow {
		// A follower's caller may pause between two Reads for as long as
		// it likes; the broker still drops a member whose heartbeats stop.
		defaults = append(defaults, [2]string{"max.poll.interval.ms", "86400000"})
	} else {
		defaults = append(defaults, [2]string{"max.poll.interval.ms", strconv.Itoa(copyMaxPollInterval(cfg))})
	}
	return cfg.configMap(defaults)
}

// copyProducerDefaults configure the transactional producer: batches
// linger 20 ms, not the writer's 5 (a commit sends what lingers at
// once). A copy of 1M bank events on kfake, two copiers, six runs each
// alternated on a loaded machine: 6.3 CPU-s in evctl and 0.55 in the
// broker (medians) against 6.6 and 0.77 at 5 ms: fewer, fuller
// batches; on Apache Kafka (3 nodes, RF 3) 7.3 CPU-s against 8.9
// (medians of 3). Neither linger.ms 50 or 100 (with batch.num.messages
// 100000), lz4, nor the consumer fetching less often (fetch.wait.max.ms
// 500, fetch.queue.backoff.ms 100) took less.
var copyProducerDefaults = append(slices.Clip(writeDefaults),
	[2]string{"transaction.timeout.ms", strconv.Itoa(int(DefaultTransactionTimeout / time.Millisecond))},
	[2]string{"linger.ms", "20"},
)

// copyProducerProps are the defaults of a copier's producer with
// transactional id id, for a destination whose max.message.bytes is
// maxBytes (0: unknown).
func copyProducerProps(id string, maxBytes int) [][2]string {
	return sizedFor(append(slices.Clip(copyProducerDefaults), [2]string{"transactional.id", id}), maxBytes)
}

// Copier copies records exactly once from source topics to where its
// caller writes them, as one member of a consumer group: it reads its
// share of the source partitions (Read), writes inside a transaction
// (Write), and commits the writes with the group's progress (Checkpoint).
// Several copiers in one group split the partitions; a rerun resumes from
// the committed progress. Not safe for concurrent use.
type Copier struct {
	cfg  Config
	opts CopyOptions
	c    *rdk.Consumer
	ac   *rdk.AdminClient
	logs *logSink
	w    *Writer
	// batch polls the consumer's queue a batch at a time (see
	// batchPoller); nil where Poll serves: where the client's queue is out
	// of reach, and for Behind, which holds a fetched message back.
	batch      *batchPoller
	txnID      string
	txnTimeout time.Duration
	// stuck: a transactional call outlived its timeout inside librdkafka;
	// Close then leaves the producer alone rather than wait for it.
	stuck           bool
	stuckCall       <-chan error // the stuck call's result, once it returns
	checkpointAfter time.Duration
	ranges          []PartitionRange
	parts           map[TopicPartition]*copyPart
	held            *rdk.Message // fetched, not yet Behind old (Follow)
	order           []*copyPart
	resumed         bool
	destPartitions  int
	topics          []string // subscribed to at the first Read
	joined          bool

	inTxn    bool
	txnStart time.Time
	// txnLog holds the records written in the open transaction, while they
	// take at most maxRedoBytes, so that a transaction the cluster aborted
	// under the copy (a broker lost, its partitions between leaders) is
	// written again instead of ending the copy: see redo.
	txnLog    []*record.Message
	txnBytes  int
	redoable  bool
	redos     int   // since the last commit
	rejoins   int   // since the last commit
	err       error // sticky: the copier can only be closed
	eof       bool
	lastCheck time.Time
	// progress is the group's committed total at lastProgress; a group
	// that stops moving while this member waits for it is reported, not
	// waited on for ever.
	progress     int64
	lastProgress time.Time
	// assignedAt is when the rebalance that gave this member its share
	// ended; zero while it has none (a rebalance under way). nudged: it
	// rejoined the group since the last progress (see nudge).
	assignedAt time.Time
	nudged     bool
	closing    bool
	// rebalancing: inside a rebalance callback. serving: keepServed polls
	// the consumer while a transactional call waits, and deferred holds
	// the rebalances it met, for after the call.
	rebalancing, serving bool
	deferred             []rdk.Event
	replaying            bool        // a deferred rebalance is handled (replayDeferred)
	paused               []*copyPart // by keepServed
	// unanswered is when the group's coordinator stopped answering this
	// member's checks (zero while it answers); checker is the client that
	// asks, a fresh one since (see coordinatorMoving).
	unanswered time.Time
	checker    *groupChecker
	watch      brokerWatch
	destTopic  *string // DestTopic, for every Write; nil without one
	// current is the partition a Sequential copier fetches; the other
	// assigned partitions are paused.
	current *copyPart

	// committed and rewound are Track's: told of each commit, and of the
	// records returned since the last one dropped to be read again.
	onCommit, onRewind func()

	mu sync.Mutex // guards the progress Remaining reports
}

// copyPart is one source partition's state.
type copyPart struct {
	tp   TopicPartition
	from int64 // where to start without a committed offset
	end  int64 // exclusive

	known    int64 // the group's last known committed offset, -1 none
	assigned bool
	start    int64 // where this assignment started: committed or from
	next     int64 // offset after the last record returned
	done     bool  // no record below end is left to return
}

// NewCopier resolves opts against the cluster (topics, watermarks, the
// group's committed offsets), captures the end offsets, initialises the
// transactional producer and joins the group. Errors wrap ErrUnreachable
// when the brokers do not answer within the timeout.
func NewCopier(ctx context.Context, cfg Config, opts CopyOptions) (*Copier, error) {
	if opts.Group == "" {
		return nil, errors.New("a copy needs a consumer group")
	}
	if len(opts.Topics) == 0 {
		return nil, errors.New("no topic to copy")
	}
	if opts.Behind > 0 && !opts.Follow {
		return nil, errors.New("a copy runs behind its source only when it follows it")
	}
	if opts.Changelog != nil && (opts.DestTopic == "" || len(opts.Topics) != 1) {
		return nil, errors.New("a stateful copy reads one topic into a DestTopic")
	}
	m, err := copyConsumerConfig(cfg, opts)
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
	cp := &Copier{cfg: cfg, opts: opts, c: c, ac: ac, logs: logs, parts: map[TopicPartition]*copyPart{}, watch: brokerWatch{cfg: cfg, logs: logs, mc: c}}
	if opts.Behind == 0 {
		if cp.batch = newBatchPoller(c); cp.batch != nil {
			cp.batch.repoll = copyRepoll
		}
	}
	if err := cp.start(ctx); err != nil {
		cp.closing = true
		_ = cp.release()
		return nil, err
	}
	return cp, nil
}

// copyRepoll is how long a copier reads the records polled already
// before it looks for a rebalance (batchPoller.pollMore).
const copyRepoll = 50 * time.Millisecond

func (cp *Copier) start(ctx context.Context) error {
	cp.txnTimeout = DefaultTransactionTimeout
	if v, ok := cp.cfg.prop("transaction.timeout.ms"); ok {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return fmt.Errorf("invalid transaction.timeout.ms %q; check -X properties", v)
		}
		cp.txnTimeout = time.Duration(ms) * time.Millisecond
	}
	// A cooperative rebalance moves partitions between generations in a
	// way that fences the transactional offset commits; copies rebalance
	// eagerly.
	if v, ok := cp.cfg.prop("partition.assignment.strategy"); ok && strings.Contains(v, "cooperative") {
		return fmt.Errorf("partition.assignment.strategy %q is not supported by an exactly-once replay; use range or roundrobin", v)
	}
	cp.checkpointAfter = cp.opts.CheckpointAfter
	if cp.checkpointAfter == 0 {
		cp.checkpointAfter = cp.txnTimeout / 3
	}

	md, err := clusterMetadata(ctx, cp.cfg, cp.logs, cp.c)
	if err != nil {
		return err
	}
	var tps []topicPartition
	topics := slices.Compact(slices.Clone(cp.opts.Topics))
	for i, topic := range topics {
		if slices.Index(topics, topic) < i {
			continue
		}
		t, err := topicIn(md, topic)
		if err != nil {
			return err
		}
		ids := make([]int32, len(t.Partitions))
		for i, p := range t.Partitions {
			ids[i] = p.ID
		}
		slices.Sort(ids)
		for _, id := range ids {
			tps = append(tps, topicPartition{topic, id})
		}
	}
	if cp.opts.DestTopic != "" {
		cp.destTopic = &cp.opts.DestTopic
		t, err := topicIn(md, cp.opts.DestTopic)
		if err != nil {
			return err
		}
		cp.destPartitions = len(t.Partitions)
		if cp.opts.Changelog != nil && cp.destPartitions != len(tps) {
			return fmt.Errorf("%s has %d partitions and %s %d: a rebuild split over a group writes each source partition's state to the destination partition of its number; make the destination with %d",
				cp.opts.Topics[0], len(tps), cp.opts.DestTopic, cp.destPartitions, len(tps))
		}
	}

	level := rdk.IsolationLevelReadCommitted
	low, high, err := watermarks(ctx, cp.cfg, cp.logs, cp.ac, tps, level)
	if err != nil {
		return err
	}
	from := cp.opts.From.Or(position.StartPos)
	to := cp.opts.To.Or(position.EndPos)
	atFrom, err := offsetsForTime(ctx, cp.cfg, cp.logs, cp.ac, from, tps, level)
	if err != nil {
		return err
	}
	atTo, err := offsetsForTime(ctx, cp.cfg, cp.logs, cp.ac, to, tps, level)
	if err != nil {
		return err
	}
	all := make([]TopicPartition, len(tps))
	for i, tp := range tps {
		all[i] = TopicPartition{tp.topic, tp.partition}
	}
	// A killed copier's transaction may hold the group's offsets until the
	// broker aborts it. Through the admin API, which waits for that (the
	// consumer's read_committed OffsetFetch would not say why it waits):
	// a question it leaves unanswered ends the copier, and with it the
	// admin client, well within the request's hour (see
	// coordinatorRequestTimeout).
	committed, err := groupOffsets(ctx, cp.cfg, cp.logs, cp.ac, cp.opts.Group, all, cp.cfg.timeout()+cp.txnTimeout)
	if err != nil {
		return err
	}
	for _, tp := range tps {
		key := TopicPartition{tp.topic, tp.partition}
		lo, hi := low[tp], high[tp]
		p := &copyPart{tp: key, from: from.Resolve(lo, hi, atFrom[tp]), known: committed[key]}
		p.end = max(to.Resolve(lo, hi, atTo[tp]), p.from)
		if cp.opts.Follow {
			p.end = math.MaxInt64
		}
		start := p.from
		if p.known >= 0 {
			cp.resumed = true
			start = p.known
		}
		cp.parts[key] = p
		cp.order = append(cp.order, p)
		r := PartitionRange{Topic: tp.topic, Partition: tp.partition, Low: lo, High: hi, Start: start, End: max(p.end, start)}
		if cp.opts.Follow {
			r.End = -1
		}
		cp.ranges = append(cp.ranges, r)
	}

	cp.txnID = cp.opts.TransactionalID
	if cp.txnID == "" {
		host, _ := os.Hostname()
		cp.txnID = fmt.Sprintf("%s-%s-%d", cp.opts.Group, host, os.Getpid())
		if cp.opts.Member > 0 {
			cp.txnID += "-" + strconv.Itoa(cp.opts.Member)
		}
	}
	if err := cp.startProducer(ctx, cp.cfg.timeout()); err != nil {
		return err
	}
	if cp.opts.Follow {
		if err := cp.commitStart(ctx); err != nil {
			return err
		}
	} else if cp.Remaining() == 0 {
		// The group has done it all: joining would only start a rebalance
		// that Close then has to settle.
		cp.eof = true
		return nil
	}
	cp.topics = topics
	return nil
}

// join subscribes to the source topics, at the first Read: from then on
// the copier must poll within max.poll.interval.ms (its session timeout,
// see copyMaxPollInterval), and the members of replay --parallel start
// one after another, seconds apart on a loaded machine, a resumed one
// waiting for its group's offsets to settle. Joining in NewCopier, the
// first ones left the group before their first poll, and each rejoin
// started another rebalance (replay_parallel.txtar's chaos).
func (cp *Copier) join() error {
	cp.joined = true
	if err := cp.c.SubscribeTopics(cp.topics, cp.rebalance); err != nil {
		cp.err = fmt.Errorf("cannot join group %q: %w", cp.opts.Group, err)
		return cp.err
	}
	return nil
}

// commitStart commits where a follower starts on the partitions its group
// has no offset for, before it joins: the group's lag counts from there at
// once, even while its caller has not read yet.
func (cp *Copier) commitStart(ctx context.Context) error {
	var tps []rdk.TopicPartition
	for _, p := range cp.order {
		if p.known < 0 {
			tps = append(tps, rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(p.from)})
		}
	}
	if len(tps) == 0 {
		return nil
	}
	actx, cancel := cp.cfg.withTimeout(ctx)
	defer cancel()
	// Sent to the group's coordinator: the request's own timeout must
	// outlast the coordinator's lookup, as for every such admin request
	// (coordinatorRequestTimeout); actx bounds the wait.
	res, err := cp.ac.AlterConsumerGroupOffsets(actx, []rdk.ConsumerGroupTopicPartitions{{Group: cp.opts.Group, Partitions: tps}},
		rdk.SetAdminRequestTimeout(coordinatorRequestTimeout))
	if err == nil {
		for _, g := range res.ConsumerGroupsTopicPartitions {
			for _, tp := range g.Partitions {
				if tp.Error != nil && err == nil {
					err = tp.Error
				}
			}
		}
	}
	if err != nil {
		if isUnreachable(err) || actx.Err() != nil {
			return unreachable(actx, cp.cfg, cp.logs, err)
		}
		return fmt.Errorf("cannot commit where group %q starts: %w", cp.opts.Group, err)
	}
	for _, p := range cp.order {
		if p.known < 0 {
			p.known = p.from
		}
	}
	return nil
}

// Ranges returns the source partitions' ranges captured at the start:
// Start is the group's committed offset or From, End the captured end.
func (cp *Copier) Ranges() []PartitionRange { return slices.Clone(cp.ranges) }

// Resumed reports whether the group had committed offsets on the source
// partitions when the copier started.
func (cp *Copier) Resumed() bool { return cp.resumed }

// DestPartitions is DestTopic's partition count, 0 without a DestTopic.
func (cp *Copier) DestPartitions() int { return cp.destPartitions }

// TransactionalID is the producer's transactional.id.
func (cp *Copier) TransactionalID() string { return cp.txnID }

// Track gives the copier the calls that keep its caller's counts exact
// (replay.Rewinder): committed after each commit, when every record Read
// returned is in the destination for good, and rewound when the records
// returned since the last commit were dropped and are read again: the
// group moved on under the copier (a lost coordinator expired its member,
// a rebalance fenced its generation), its transaction was aborted, and
// it takes its share again from the committed offsets. Either is called
// from inside Read or Checkpoint.
func (cp *Copier) Track(committed, rewound func()) {
	cp.onCommit, cp.onRewind = committed, rewound
}

// Remaining returns how many offsets are left to copy, by the whole group,
// as far as this copier knows: its own partitions' positions and the
// others' committed offsets when it last looked. An upper bound on the
// records left (transaction markers and aborted records take offsets).
// A follower (CopyOptions.Follow) has no end: 0.
func (cp *Copier) Remaining() int64 {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.opts.Follow {
		return 0
	}
	var n int64
	for _, p := range cp.order {
		pos := p.from
		switch {
		case p.assigned:
			pos = p.next
		case p.known >= 0:
			pos = p.known
		}
		n += max(p.end-pos, 0)
	}
	return n
}

// rebalance runs inside Poll, that is inside Read, when the caller has
// handled every record returned before.
func (cp *Copier) rebalance(_ *rdk.Consumer, ev rdk.Event) error {
	if cp.serving {
		// Inside a transactional call's wait (keepServed): librdkafka
		// assigns or revokes as told, and the copier catches up once the
		// call is over (replayDeferred).
		cp.deferred = append(cp.deferred, ev)
		return nil
	}
	cp.rebalancing = true
	defer func() { cp.rebalancing = false }()
	switch e := ev.(type) {
	case rdk.AssignedPartitions:
		cp.assign(e.Partitions)
	case rdk.RevokedPartitions:
		cp.revoke(e.Partitions)
	}
	return nil
}

// keepServed polls the consumer while a transactional call that began at
// started waits, once it has waited a third of the poll bound: a
// checkpoint may wait the timeout and the transaction's timeout while
// the cluster answers (see checkpointTimeout), longer than the copier's
// max.poll.interval.ms (one session, see copyMaxPollInterval), and
// librdkafka would leave the group in the middle of it and join again
// after, a rebalance for every member. The assigned partitions are
// paused first, so that no record comes; a rebalance the poll serves is
// left to librdkafka until the call is over (see rebalance). Not inside
// a rebalance callback, where librdkafka takes no poll.
func (cp *Copier) keepServed(started time.Time) {
	if cp.opts.Follow || !cp.joined || cp.rebalancing || time.Since(started) < copyRebalanceTimeout(cp.cfg)/3 {
		return
	}
	if !cp.serving {
		cp.serving = true
		cp.mu.Lock()
		for _, p := range cp.order {
			if p.assigned && !p.done && (!cp.opts.Sequential || p == cp.current) { // the others are paused already
				cp.paused = append(cp.paused, p)
			}
		}
		cp.mu.Unlock()
		_ = cp.c.Pause(cp.servedParts()) // a record that still comes is dropped: endServing seeks back
	}
	// What the batch poller took off the queue already comes first, as
	// Poll would have returned it.
	for e, ok := cp.batch.buffered(); ok; e, ok = cp.batch.buffered() {
		switch e.kind {
		case entryRebalance:
			cp.onRebalance(e.rebalance)
		case entryError:
			cp.servedError(e.event)
		}
	}
	for range 100 {
		switch e := cp.c.Poll(0).(type) {
		case nil:
			return
		case rdk.Error:
			cp.servedError(e)
		}
	}
}

// servedError is keepServed's handling of an error event.
func (cp *Copier) servedError(e rdk.Error) {
	if err := cp.watch.event(context.Background(), e); err != nil && cp.err == nil && (e.IsFatal() || errors.Is(err, ErrUnreachable)) {
		cp.err = err
	}
}

// onRebalance hands the copier a rebalance the batch poller took off the
// queue, as the client's Poll does: to the callback (rebalance), and, if
// the callback left it (deferred it), to the client's own assign or
// unassign.
func (cp *Copier) onRebalance(ev rdk.Event) {
	deferred := cp.serving
	_ = cp.rebalance(cp.c, ev)
	if !deferred {
		return
	}
	cp.batch.dropAll()
	switch e := ev.(type) {
	case rdk.AssignedPartitions:
		_ = cp.c.Assign(e.Partitions)
	case rdk.RevokedPartitions:
		_ = cp.c.Unassign()
	}
}

// endServing resumes the partitions keepServed paused, each where the
// copier stands (a Sequential copier only the one it reads).
func (cp *Copier) endServing() {
	if !cp.serving {
		return
	}
	cp.serving = false
	// librdkafka keeps a partition paused across a new assignment.
	_ = cp.c.Resume(cp.servedParts())
	paused := cp.paused
	cp.paused = nil
	if len(cp.deferred) > 0 {
		return // the group rebalanced: the partitions start again where assign says
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range paused {
		tp := rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(p.next)}
		cp.batch.drop(p.tp)
		if err := cp.c.Seek(tp, 0); err != nil && cp.err == nil {
			cp.err = fmt.Errorf("cannot read %s[%d] again from offset %d after a long commit: %w", p.tp.Topic, p.tp.Partition, p.next, err)
		}
	}
}

// servedParts lists the partitions keepServed paused.
func (cp *Copier) servedParts() []rdk.TopicPartition {
	tps := make([]rdk.TopicPartition, len(cp.paused))
	for i, p := range cp.paused {
		tps[i] = rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition}
	}
	return tps
}

// replayDeferred hands the copier the rebalances librdkafka went through
// while keepServed polled, in order; outside any transactional call.
func (cp *Copier) replayDeferred() {
	for len(cp.deferred) > 0 && !cp.rebalancing {
		ev := cp.deferred[0]
		cp.deferred = cp.deferred[1:]
		cp.replaying = true
		_ = cp.rebalance(cp.c, ev)
		cp.replaying = false
	}
}

// assign starts each partition at the group's committed offset, or From.
func (cp *Copier) assign(tps []rdk.TopicPartition) {
	if cp.err != nil || cp.closing || len(tps) == 0 {
		cp.setAssignment(nil, tps)
		return
	}
	committed, err := cp.committed(tps)
	if err != nil {
		cp.err = fmt.Errorf("cannot read the committed offsets of group %q: %w", cp.opts.Group, err)
		if isUnreachable(err) {
			cp.err = unreachable(context.Background(), cp.cfg, cp.logs, err)
		}
		cp.setAssignment(nil, tps)
		return
	}
	var assign []rdk.TopicPartition
	var restore []TopicPartition
	cp.mu.Lock()
	for _, tp := range committed {
		p := cp.parts[TopicPartition{topicOf(tp), tp.Partition}]
		if p == nil {
			continue
		}
		start := p.from
		if tp.Offset >= 0 {
			start = int64(tp.Offset)
			p.known = start
		}
		p.assigned, p.start, p.next, p.done = true, start, start, start >= p.end
		if !p.done {
			assign = append(assign, rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(start)})
			if tp.Offset >= 0 {
				restore = append(restore, p.tp)
			}
		}
	}
	cp.mu.Unlock()
	if cp.opts.Changelog != nil {
		if err := cp.restore(context.Background(), restore); err != nil {
			cp.err = err
			if isUnreachable(err) {
				cp.err = unreachable(context.Background(), cp.cfg, cp.logs, err)
			}
			cp.setAssignment(nil, tps)
			return
		}
	}
	cp.setAssignment(assign, tps)
	cp.assignedAt = time.Now()
	cp.mu.Lock()
	cp.current = nil
	cp.sequence()
	cp.mu.Unlock()
}

// sequence lets a Sequential copier fetch only the first assigned
// partition it has not finished. Pausing purges what librdkafka fetched
// for a partition, so the one that takes its turn seeks to where it
// stands. Called with mu held.
func (cp *Copier) sequence() {
	if !cp.opts.Sequential || cp.err != nil {
		return
	}
	var next *copyPart
	var hold []rdk.TopicPartition
	for _, p := range cp.order {
		switch {
		case !p.assigned || p.done:
		case next == nil:
			next = p
		default:
			hold = append(hold, rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition})
		}
	}
	if len(hold) > 0 {
		if err := cp.c.Pause(hold); err != nil {
			cp.err = fmt.Errorf("cannot pause %d partitions to read them in order: %w", len(hold), err)
			return
		}
	}
	if next == nil || next == cp.current {
		return
	}
	cp.current = next
	tp := rdk.TopicPartition{Topic: &next.tp.Topic, Partition: next.tp.Partition, Offset: rdk.Offset(next.next)}
	if err := cp.c.Resume([]rdk.TopicPartition{tp}); err != nil {
		cp.err = fmt.Errorf("cannot resume %s[%d]: %w", next.tp.Topic, next.tp.Partition, err)
		return
	}
	cp.batch.drop(next.tp)
	if err := cp.c.Seek(tp, 0); err != nil {
		cp.err = fmt.Errorf("cannot read %s[%d] from offset %d: %w", next.tp.Topic, next.tp.Partition, next.next, err)
	}
}

// committed reads the group's committed offsets of tps. A coordinator
// whose broker was SIGKILLed answers nothing until the cluster notices and
// another broker loads the group (a replay failed so on the real cluster,
// bounce_matrix.txtar): while the cluster answers, it asks again, three
// times at most.
func (cp *Copier) committed(tps []rdk.TopicPartition) ([]rdk.TopicPartition, error) {
	timeout := cp.cfg.timeout() + cp.txnTimeout
	for try := 1; ; try++ {
		committed, err := cp.c.Committed(tps, int(timeout/time.Millisecond))
		if err == nil || !isUnreachable(err) || try == 3 {
			return committed, err
		}
		if _, merr := clusterMetadata(context.Background(), cp.cfg, cp.logs, cp.ac); merr != nil {
			return nil, err
		}
	}
}

func (cp *Copier) setAssignment(assign, all []rdk.TopicPartition) {
	cp.batch.dropAll()
	if err := cp.c.Assign(assign); err != nil && cp.err == nil {
		cp.err = fmt.Errorf("cannot assign %d partitions: %w", len(all), err)
	}
}

// revoke commits the work done so far, then lets the partitions go; after
// a lost assignment it aborts instead: the group has moved on.
func (cp *Copier) revoke(tps []rdk.TopicPartition) {
	cp.assignedAt = time.Time{}
	// A revoke replayed after a transactional call (replayDeferred) comes
	// after librdkafka went through the rebalance: the partitions may be
	// another member's already, which reads them from the committed
	// offsets, and a checkpoint now would commit their offsets under the
	// new generation, which the group accepts. Drop the progress instead,
	// as for a lost assignment.
	if cp.replaying || cp.c.AssignmentLost() {
		cp.discard()
		if cp.onRewind != nil && cp.err == nil {
			cp.onRewind() // the records since the last commit are read again
		}
	} else if !cp.closing && cp.err == nil {
		if err := cp.Checkpoint(context.Background()); err != nil && cp.err == nil {
			cp.err = err
		}
	}
	cp.mu.Lock()
	revoked := make([]TopicPartition, 0, len(tps))
	for _, tp := range tps {
		if p := cp.parts[TopicPartition{topicOf(tp), tp.Partition}]; p != nil && p.assigned {
			p.assigned = false
			revoked = append(revoked, p.tp)
		}
	}
	cp.mu.Unlock()
	if cp.opts.Changelog != nil {
		cp.opts.Changelog.Revoked(revoked)
	}
	cp.batch.dropAll()
	if err := cp.c.Unassign(); err != nil && cp.err == nil && !cp.closing {
		cp.err = fmt.Errorf("cannot release partitions: %w", err)
	}
}

// Read returns the next source record of this copier's partitions, in
// offset order per partition. It returns io.EOF once the whole group is
// done: the group's committed offsets reach the captured ends on every
// source partition. While its own partitions are done and others are not,
// it checkpoints its work and keeps waiting, ready to take over the
// partitions of a member that leaves or dies. Read may checkpoint (on a
// rebalance, or per CopyOptions.CheckpointAfter): every record returned
// before must have been handled.
func (cp *Copier) Read(ctx context.Context) (*record.Message, error) {
	if !cp.joined && !cp.eof && cp.err == nil {
		if err := cp.join(); err != nil {
			return nil, err
		}
	}
	for {
		cp.replayDeferred()
		switch {
		case cp.err != nil:
			return nil, cp.err
		case cp.eof:
			return nil, io.EOF
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		if cp.inTxn && cp.checkpointAfter > 0 && time.Since(cp.txnStart) >= cp.checkpointAfter {
			if err := cp.Checkpoint(ctx); err != nil {
				return nil, err
			}
		}
		if cp.held != nil {
			m, err := cp.releaseHeld(ctx)
			if m != nil || err != nil {
				return m, err
			}
			continue
		}
		if !cp.opts.Follow && cp.ownDone() && time.Since(cp.lastCheck) >= groupCheckInterval {
			if err := cp.Checkpoint(ctx); err != nil {
				return nil, err
			}
			done, err := cp.groupDone(ctx)
			if err != nil {
				return nil, err
			}
			cp.lastCheck = time.Now()
			if done {
				cp.eof = true
				return nil, io.EOF
			}
			if cp.shouldNudge() {
				if err := cp.nudge(); err != nil {
					return nil, err
				}
			}
		}
		if cp.batch != nil {
			if m, err := cp.readBatch(ctx); m != nil || err != nil {
				return m, err
			}
			continue
		}
		switch e := cp.c.Poll(int(pollTimeout / time.Millisecond)).(type) {
		case *rdk.Message:
			if cp.opts.Behind > 0 && e.TopicPartition.Error == nil {
				cp.held = e
				continue
			}
			m, err := cp.message(e)
			if m != nil || err != nil {
				return m, err
			}
		case rdk.PartitionEOF:
			cp.partitionEOF(topicOf(rdk.TopicPartition(e)), e.Partition, int64(e.Offset))
		case rdk.Error:
			if err := cp.onError(ctx, e); err != nil {
				return nil, err
			}
		case nil:
			if err := cp.idle(ctx); err != nil {
				return nil, err
			}
		}
	}
}

// readBatch is Read's step for a batch poller: a record, an error, or
// neither when the entry was another event or the wait ended.
func (cp *Copier) readBatch(ctx context.Context) (*record.Message, error) {
	e, ok := cp.batch.next(pollTimeout)
	if !ok {
		return nil, cp.idle(ctx)
	}
	switch e.kind {
	case entryMessage:
		topic := cp.batch.key(e.topic)
		cp.mu.Lock()
		defer cp.mu.Unlock()
		if p := cp.admit(topic, e.partition, e.offset); p != nil {
			return cp.batch.build(p.tp.Topic, e), nil
		}
	case entryMessageError:
		return nil, fmt.Errorf("cannot read %s[%d]: %w", e.topic, e.partition, e.err)
	case entryEOF:
		cp.partitionEOF(cp.batch.key(e.topic), e.partition, e.offset)
	case entryError:
		return nil, cp.onError(ctx, e.event)
	case entryRebalance:
		cp.onRebalance(e.rebalance)
	}
	return nil, nil
}

// partitionEOF finishes a partition that reached its end.
func (cp *Copier) partitionEOF(topic string, partition int32, offset int64) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if p := cp.parts[TopicPartition{topic, partition}]; p != nil && p.assigned && offset >= p.end {
		cp.finish(p)
	}
}

// onError handles an error event of the consumer's queue.
func (cp *Copier) onError(ctx context.Context, e rdk.Error) error {
	err := cp.watch.event(ctx, e)
	if err != nil && (e.IsFatal() || errors.Is(err, ErrUnreachable)) {
		cp.err = err // sticky: the copier can only be closed
	}
	return err
}

// idle is Read's step when a poll's wait ended with nothing.
func (cp *Copier) idle(ctx context.Context) error {
	err := cp.watch.check(ctx)
	if errors.Is(err, ErrUnreachable) {
		cp.err = err // no abort or commit can reach them either
	}
	return err
}

// releaseHeld returns the held record once it is CopyOptions.Behind old.
// Until then it waits, a poll's time at most, without polling: the held
// record stands first in line, and a rebalance, which only a poll serves,
// waits for it. Read checkpoints the records returned before it meanwhile,
// as CheckpointAfter says: not at every record, so that the group's
// offsets stay still long enough for a reader to pin them.
func (cp *Copier) releaseHeld(ctx context.Context) (*record.Message, error) {
	wait := time.Until(cp.held.Timestamp.Add(cp.opts.Behind))
	if wait <= 0 {
		e := cp.held
		cp.held = nil
		return cp.message(e)
	}
	t := time.NewTimer(min(wait, pollTimeout))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	return nil, nil
}

// message converts a fetched message, or returns nil for one this copier
// must not return: of a partition it no longer owns, already returned, or
// past the end.
func (cp *Copier) message(e *rdk.Message) (*record.Message, error) {
	tp := e.TopicPartition
	if tp.Error != nil {
		return nil, fmt.Errorf("cannot read %s[%d]: %w", topicOf(tp), tp.Partition, tp.Error)
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if p := cp.admit(topicOf(tp), tp.Partition, int64(tp.Offset)); p != nil {
		return toMessage(p.tp.Topic, e), nil
	}
	return nil, nil
}

// admit returns the partition of a fetched record to return, having
// moved the partition past it, or nil for a record this copier must not
// return (see message). Called with mu held.
func (cp *Copier) admit(topic string, partition int32, off int64) *copyPart {
	cp.watch.up()
	p := cp.parts[TopicPartition{topic, partition}]
	if p == nil || !p.assigned || p.done || off < p.next {
		return nil
	}
	if cp.opts.Sequential && p != cp.current {
		return nil // fetched before its pause took hold: its turn seeks back to it
	}
	if off >= p.end {
		cp.finish(p)
		return nil
	}
	p.next = off + 1
	if p.next >= p.end {
		cp.finish(p)
	}
	return p
}

// finish marks a partition done up to its end, so that the next
// checkpoint commits the end even when the last offsets are transaction
// markers, and stops fetching it. Called with mu held.
func (cp *Copier) finish(p *copyPart) {
	p.done = true
	p.next = max(p.next, p.end)
	// Pausing only saves fetches.
	_ = cp.c.Pause([]rdk.TopicPartition{{Topic: &p.tp.Topic, Partition: p.tp.Partition}})
	cp.sequence()
}

func (cp *Copier) ownDone() bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range cp.order {
		if p.assigned && !p.done {
			return false
		}
	}
	return true
}

// groupDone asks whether the group's committed offsets reach every source
// partition's end; offsets in an open transaction do not count yet.
func (cp *Copier) groupDone(ctx context.Context) (bool, error) {
	tps := make([]TopicPartition, 0, len(cp.order))
	for _, p := range cp.order {
		tps = append(tps, p.tp)
	}
	if cp.checker == nil {
		g, err := newGroupChecker(cp.cfg, cp.opts.Group)
		if err != nil {
			return false, err
		}
		cp.checker = g
	}
	committed, err := committedOffsets(ctx, cp.cfg, cp.checker.logs, cp.checker.c, cp.opts.Group, tps)
	if errors.Is(err, errUnstable) || errors.Is(err, ErrUnreachable) && cp.coordinatorMoving(ctx) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cp.unanswered = time.Time{}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	done := true
	var total int64
	var stuck []string
	for _, p := range cp.order {
		off := committed[p.tp]
		if off >= 0 {
			p.known = off
			total += off
		}
		if off < p.end && (off >= 0 || p.from < p.end) {
			done = false
			stuck = append(stuck, fmt.Sprintf("%s[%d]", p.tp.Topic, p.tp.Partition))
		}
	}
	now := time.Now()
	if _, report := cp.stallBounds(); done || total != cp.progress || cp.lastProgress.IsZero() {
		cp.progress, cp.lastProgress, cp.nudged = total, now, false
	} else if now.Sub(cp.lastProgress) >= report {
		why := " (a killed process whose session has not expired?)"
		if cp.nudged {
			why = ", even after this one rejoined the group to rebalance it"
		}
		return false, fmt.Errorf("group %q has made no progress for %s on %s: a member holds them without copying%s; stop and run the replay again with --resume, or check evctl lag %s",
			cp.opts.Group, report, strings.Join(stuck, ", "), why, cp.opts.Group)
	}
	return done, nil
}

// stallBounds say how long the group may make no progress while this
// member waits for it: before the member nudges it, and before it reports
// the group stalled. A dead member's partitions go to a live one after
// its session timeout (S) and a rebalance (R, the rebalance timeout),
// once the broker has aborted its open transaction, whose offsets the new
// owner waits for (T, the transaction timeout), and the new owner commits
// within T: the nudge comes after S+T without progress in this member's
// generation, and the report after a rebalance more, and T, or after
// groupStallAfter, whichever is longer.
func (cp *Copier) stallBounds() (nudge, report time.Duration) {
	nudge = copySessionTimeout(cp.cfg) + cp.txnTimeout
	return nudge, max(groupStallAfter, nudge+2*copyRebalanceTimeout(cp.cfg)+2*cp.txnTimeout)
}

// shouldNudge reports whether the group has made no progress for longer
// than it should in this member's generation (see stallBounds), and the
// member has not nudged it since the last progress. Only a member that
// was given partitions (all done now) nudges: one given none is one of
// more members than partitions, or of a generation still starting, where
// a rebalance more would only hold the others up.
func (cp *Copier) shouldNudge() bool {
	if cp.nudged || cp.assignedAt.IsZero() || cp.lastProgress.IsZero() {
		return false
	}
	nudge, _ := cp.stallBounds()
	if time.Since(cp.lastProgress) < nudge || time.Since(cp.assignedAt) < nudge {
		return false
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range cp.order {
		if p.assigned {
			return true
		}
	}
	return false
}

// nudge leaves the group and joins it again, which starts a rebalance; a
// rebalance drops every member that does not join it within the rebalance
// timeout. kfake (the sandbox's broker) keeps a member SIGKILLed while it
// waited in JoinGroup as a new member in the generation that join
// completes: the member's partitions are assigned, its answer goes to a
// closed connection, it gets no session timer, and once the leader syncs
// it holds them for good (replay_group.txtar stalled so, 1 run in 3
// under load). Apache Kafka expires such a member after its session
// timeout; there a nudge costs one rebalance when something else holds
// the group still. The member's own partitions are done and checkpointed:
// it gives up nothing.
func (cp *Copier) nudge() error {
	cp.nudged = true
	if err := cp.c.Unsubscribe(); err != nil {
		cp.err = fmt.Errorf("cannot leave group %q to rebalance it: %w", cp.opts.Group, err)
		return cp.err
	}
	return cp.join()
}

// coordinatorMoving reports, after a question to the group's coordinator
// went unanswered, whether to ask again at the next check: the cluster
// answers, so the coordinator is likely moving to another broker (its own
// was SIGKILLed), and it has not been silent for groupStallAfter. The
// next check asks through a fresh client: librdkafka kept sending the
// copier's to the dead broker's handle long after the group had moved
// (broker_kill.txtar).
func (cp *Copier) coordinatorMoving(ctx context.Context) bool {
	if cp.unanswered.IsZero() {
		cp.unanswered = time.Now()
	}
	if time.Since(cp.unanswered) >= groupStallAfter {
		return false
	}
	// Through the producer's connections: the question that went
	// unanswered may hold up the consumer's.
	mctx, cancel := context.WithTimeout(ctx, max(cp.cfg.timeout()/2, 500*time.Millisecond))
	defer cancel()
	if _, err := clusterMetadata(mctx, cp.cfg, cp.logs, cp.w.p); err != nil {
		return false
	}
	if cp.checker != nil {
		cp.checker.close() // groupDone starts a fresh one
		cp.checker = nil
	}
	return true
}

// groupChecker reads a copy's group offsets (committedOffsets) through a
// consumer of the group that never joins it, read_uncommitted: offsets in
// an open transaction are not counted yet, and do not make it wait.
type groupChecker struct {
	c    *rdk.Consumer
	logs *logSink
}

func newGroupChecker(cfg Config, group string) (*groupChecker, error) {
	m, err := cfg.configMap(append(slices.Clip(neverJoined), [][2]string{
		{"group.id", group},
		{"isolation.level", "read_uncommitted"},
	}...))
	if err != nil {
		return nil, err
	}
	c, logs, err := newConsumer(m)
	if err != nil {
		return nil, err
	}
	return &groupChecker{c: c, logs: logs}, nil
}

// close releases the consumer, after any call abandoned in it.
func (g *groupChecker) close() {
	closeWhenIdle(func() { _ = g.c.Close() }) // it never joined: no group to leave
}

// Write produces m inside the current transaction, beginning one if
// needed: to DestTopic, at partition m.Partition when it is 0 or more,
// else (AnyPartition) to the one murmur2_random picks from the key.
func (cp *Copier) Write(ctx context.Context, m *record.Message) error {
	if cp.err != nil {
		return cp.err
	}
	if err := cp.begin(); err != nil {
		return err
	}
	err := cp.produce(ctx, m)
	if err != nil && cp.canRedo(err) {
		// An earlier record of the transaction was lost: do it again.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cp.checkpointTimeout())
		err = cp.redo(rctx, err, nil)
		if err == nil {
			err = cp.produce(rctx, m)
		}
		cancel()
		if err != nil {
			return cp.txnFailed(context.Background(), "write again the transaction the cluster aborted", err)
		}
	}
	if err == nil {
		cp.logWrite(m)
	}
	return err
}

// produce writes m to DestTopic, or to its own topic when there is none.
func (cp *Copier) produce(ctx context.Context, m *record.Message) error {
	if cp.destTopic != nil {
		// A record read from the source names the source: never write
		// back into it.
		return cp.w.produce(ctx, m, cp.destTopic, nil)
	}
	return cp.w.Produce(ctx, m)
}

func (cp *Copier) begin() error {
	if cp.inTxn {
		return nil
	}
	if err := cp.w.p.BeginTransaction(); err != nil {
		return cp.txnFailed(context.Background(), "begin transaction", err)
	}
	cp.inTxn, cp.txnStart = true, time.Now()
	cp.txnLog, cp.txnBytes, cp.redoable = cp.txnLog[:0], 0, true
	return nil
}

// startProducer makes the transactional producer and initialises its
// transactions within the bound, which fences any earlier producer with
// the same id and aborts its open transaction.
func (cp *Copier) startProducer(ctx context.Context, within time.Duration) error {
	// No delivery reports: a record not delivered fails the commit of its
	// transaction, which is where the copier reports failures.
	w, err := newWriter(cp.cfg, copyProducerProps(cp.txnID, cp.opts.MaxMessageBytes), false)
	if err != nil {
		return err
	}
	cp.w = w
	ictx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := cp.w.p.InitTransactions(ictx); err != nil {
		if isUnreachable(err) || ictx.Err() != nil {
			return unreachable(ictx, cp.cfg, cp.w.logs, err)
		}
		return fmt.Errorf("cannot start transactions as %q: %w", cp.txnID, err)
	}
	return nil
}

// maxRedoBytes bounds the records a copier keeps to write a transaction
// again: a checkpoint's worth of ordinary events, not of 1 MB records.
const maxRedoBytes = 64 << 20

// logWrite keeps m for redo, until the transaction's records outgrow
// maxRedoBytes.
func (cp *Copier) logWrite(m *record.Message) {
	if !cp.redoable {
		return
	}
	cp.txnBytes += BatchSize(m)
	if cp.txnBytes > maxRedoBytes {
		cp.txnLog, cp.redoable = nil, false
		return
	}
	cp.txnLog = append(cp.txnLog, m)
}

// abortable reports whether err, from a write or a transactional call,
// may pass when the transaction is aborted and done again: the cluster
// lost its records (a delivery timed out while partitions moved between
// leaders) or aborted it. Not a fatal or fencing error, nor a record too
// large, which a second time would meet again.
func abortable(err error) bool {
	var ke rdk.Error
	if !errors.As(err, &ke) || ke.IsFatal() {
		return false
	}
	switch ke.Code() {
	case rdk.ErrFenced, rdk.ErrProducerFenced, rdk.ErrInvalidProducerEpoch, rdk.ErrMsgSizeTooLarge:
		return false
	}
	return true
}

// canRedo reports whether the failure err of the open transaction may
// pass when it is done again (see redo): an abortable error, or the
// producer fenced, which with the copier's own transactional id means
// the coordinator aborted the transaction on its timeout (no other
// process has the id). Not when no broker answers.
func (cp *Copier) canRedo(err error) bool {
	if !cp.redoable || cp.redos >= maxRedos || errors.Is(err, errClusterLost) || errors.Is(err, ErrUnreachable) {
		return false
	}
	if cp.producerFenced() || cp.w.p.GetFatalError() != nil {
		// A new producer with the id takes over (dropTxn).
		return cp.opts.TransactionalID == ""
	}
	return abortable(err) || errors.Is(err, context.DeadlineExceeded)
}

// producerFenced reports whether the producer has failed for good because
// its epoch was fenced.
func (cp *Copier) producerFenced() bool {
	var ke rdk.Error
	if err := cp.w.p.GetFatalError(); err == nil || !errors.As(err, &ke) {
		return false
	}
	switch ke.Code() {
	case rdk.ErrFenced, rdk.ErrProducerFenced, rdk.ErrInvalidProducerEpoch:
		return true
	}
	return false
}

// maxRedos bounds how often one checkpoint's transaction is done again
// (about 30 s of waits between them): a record the destination refuses
// for good fails the copy, after all.
const maxRedos = 10

// redo aborts the open transaction and writes its records again in a new
// one, as Apache Kafka's transactional copier does after an abortable
// error: a broker SIGKILLed under a copy can leave its transaction
// aborted (its records timed out, or the coordinator gave up on it), and
// the copy goes on on the brokers left. The offsets are committed by the
// checkpoint that follows. It gives up at ctx's deadline. landed holds
// the offsets of a commit whose outcome is unknown (outcomeUnknown): once
// the transaction is over it checks whether that commit landed, and then
// writes nothing again and returns errLanded.
func (cp *Copier) redo(ctx context.Context, cause error, landed []rdk.TopicPartition) error {
	if !cp.redoable || cp.redos >= maxRedos {
		return cause
	}
	cp.redos++
	// The cluster needs a moment to replace a lost broker (a coordinator
	// answers "transport failure" until then): wait longer each time.
	select {
	case <-time.After(time.Duration(cp.redos) * 500 * time.Millisecond):
	case <-ctx.Done():
		return cause
	}
	if err := cp.dropTxn(ctx, cause); err != nil {
		return err
	}
	if len(landed) > 0 {
		switch ok, err := cp.landedAlready(landed); {
		case err != nil:
			return errors.Join(cause, err)
		case ok:
			cp.txnLog, cp.txnBytes = cp.txnLog[:0], 0
			return errLanded
		}
	}
	log := cp.txnLog
	if err := cp.begin(); err != nil {
		return err
	}
	cp.txnLog = append(cp.txnLog, log...)
	cp.txnBytes = 0
	for _, m := range log {
		cp.txnBytes += BatchSize(m)
		if err := cp.produce(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// dropTxn ends the open transaction that failed with cause, so that a
// new one may begin: it aborts it, or starts a new producer with the same
// transactional id, whose InitTransactions fences the old one and aborts
// its transaction. A new producer takes over when the old one failed for
// good: the coordinator fenced it (it aborted the transaction on its
// timeout), or the abort met a fatal error (INVALID_TXN_STATE, once a
// broker SIGKILLed under the copy timed its records out); and when the
// old one is wedged: a call outlived its bound, or the abort did not
// finish within the timeout. On Apache Kafka, with the group's
// coordinator SIGKILLed, librdkafka held the transaction's offsets for
// the dead broker until the call's timeout, and the abort waited as
// long again, while two brokers answered (broker_kill.txtar).
func (cp *Copier) dropTxn(ctx context.Context, cause error) error {
	if !cp.stuck && cp.w.p.GetFatalError() == nil {
		actx, cancel := cp.cfg.withTimeout(ctx)
		err := cp.retry(actx, cp.w.p.AbortTransaction)
		cancel()
		if err == nil {
			cp.inTxn = false
			// The aborted records' reports (purged, or timed out) come first.
			for cp.w.pending.Load() > 0 {
				if err := pauseCtx(ctx); err != nil {
					return errors.Join(cause, err)
				}
			}
			cp.w.resetFailure()
			return nil
		}
		if errors.Is(err, errClusterLost) || !cp.stuck && cp.w.p.GetFatalError() == nil && !isUnreachable(err) {
			return errors.Join(cause, fmt.Errorf("abort: %w", err))
		}
	}
	cp.retire()
	cp.inTxn = false
	// The new producer's InitTransactions waits while the coordinator
	// aborts the old one's transaction, which may be moving too.
	if err := cp.startProducer(ctx, cp.checkpointTimeout()); err != nil {
		return errors.Join(cause, err)
	}
	return nil
}

// retire closes the producer the copier leaves for a new one: in the
// background, after its stuck call (if any) returns, since a wedged
// producer may take its own timeouts to close.
func (cp *Copier) retire() {
	w, call := cp.w, cp.stuckCall
	cp.stuck, cp.stuckCall = false, nil
	go func() {
		if call != nil {
			<-call //nolint:errcheck // its error went with the producer left
		}
		w.Close()
	}()
}

func pauseCtx(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Millisecond):
		return nil
	}
}

// Checkpoint commits the open transaction together with the group's
// progress: for each partition, the offset after the last record Read
// returned. Every record returned before must have been handled. Once it
// returns, a rerun of the group resumes after those records; when it
// fails, the transaction is aborted and the copier can only be closed.
// When the group refuses the offsets because it moved on without this
// member, the copy goes on instead (see rejoin): the transaction is
// aborted, Track's rewound is called, and Checkpoint returns nil with
// nothing committed.
func (cp *Copier) Checkpoint(ctx context.Context) error {
	if cp.err != nil {
		return cp.err
	}
	if cp.opts.Changelog != nil {
		if err := cp.opts.Changelog.Flush(ctx); err != nil {
			return err
		}
	}
	cp.mu.Lock()
	var offsets []rdk.TopicPartition
	for _, p := range cp.order {
		if p.assigned && p.next > p.start {
			offsets = append(offsets, rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(p.next)})
		}
	}
	cp.mu.Unlock()
	if !cp.inTxn && len(offsets) == 0 {
		return nil
	}
	defer cp.replayDeferred()
	if err := cp.begin(); err != nil {
		return err
	}
	// A checkpoint once begun completes (or fails) within its bound, even
	// when the caller's context is cancelled: Ctrl-C stops at it.
	base := context.WithoutCancel(ctx)
	for {
		if len(cp.deferred) > 0 {
			// The group rebalanced while a transactional call waited (a
			// redo's abort, or a Write's): commit nothing under the new
			// generation (see below).
			return cp.rejoin(base, "commit the group's offsets", errRebalanced)
		}
		actx, cancel := context.WithTimeout(base, cp.checkpointTimeout())
		what, err := cp.commit(actx, offsets)
		if err == nil {
			cancel()
			break
		}
		if movedOn(err) || len(cp.deferred) > 0 {
			// Doing it again would meet the same refusal: the group is to
			// be joined again first. So too when the group rebalanced
			// while the commit waited (keepServed deferred it): this
			// member's partitions may be another's now, which reads them
			// again from the committed offsets, and a redo would commit
			// their offsets under the new generation, which the group
			// accepts: their records twice in the destination
			// (TestCopyNoRedoAfterRebalance).
			cancel()
			return cp.rejoin(base, what, err)
		}
		if !cp.canRedo(err) {
			cancel()
			return cp.txnFailed(base, what, err)
		}
		// The cluster aborted the transaction under the copy: do it again,
		// within a bound of its own.
		cancel()
		// A commit whose answer is lost may have landed; so may one that
		// finds the producer fenced, since a coordinator that completes
		// a transaction bumps the producer's epoch too.
		var landed []rdk.TopicPartition
		if what == commitWhat && (outcomeUnknown(err) || cp.producerFenced()) {
			landed = offsets
		}
		rctx, cancel := context.WithTimeout(base, cp.checkpointTimeout())
		rerr := cp.redo(rctx, err, landed)
		cancel()
		if errors.Is(rerr, errLanded) {
			break
		}
		if rerr != nil {
			return cp.txnFailed(base, "write again the transaction the cluster aborted", rerr)
		}
	}
	if err := cp.w.failure(); err != nil {
		cp.err = err
		return err
	}
	cp.inTxn = false
	cp.mu.Lock()
	for _, tp := range offsets {
		p := cp.parts[TopicPartition{*tp.Topic, tp.Partition}]
		p.start, p.known = int64(tp.Offset), int64(tp.Offset)
	}
	cp.mu.Unlock()
	if cp.onCommit != nil {
		cp.onCommit()
	}
	return nil
}

// commit sends the offsets to the open transaction and commits it; it
// says what failed.
func (cp *Copier) commit(ctx context.Context, offsets []rdk.TopicPartition) (string, error) {
	if len(offsets) > 0 {
		md, err := cp.c.GetConsumerGroupMetadata()
		if err != nil {
			return "read the group metadata", err
		}
		if err := cp.retry(ctx, func(ctx context.Context) error {
			return cp.w.p.SendOffsetsToTransaction(ctx, offsets, md)
		}); err != nil {
			return "commit the group's offsets", err
		}
	}
	if err := cp.retry(ctx, cp.w.p.CommitTransaction); err != nil {
		return commitWhat, err
	}
	cp.redos, cp.rejoins = 0, 0
	return "", nil
}

// commitWhat is what commit says failed when the commit itself did.
const commitWhat = "commit the transaction"

// outcomeUnknown reports whether a commit that failed with err may have
// committed all the same: its answer did not come in time, though the
// coordinator may have written the commit (its broker SIGKILLed after
// the write; the next coordinator completes it).
func outcomeUnknown(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || isCode(err, rdk.ErrTimedOut) ||
		isCode(err, rdk.ErrTimedOutQueue) || isCode(err, rdk.ErrTransport)
}

// errRebalanced says the group rebalanced while a transactional call
// waited (keepServed deferred it).
var errRebalanced = errors.New("the group rebalanced while a transactional call waited")

// errLanded says a checkpoint's commit whose answer was lost committed.
var errLanded = errors.New("the commit landed")

// landedAlready reports whether the group's committed offsets are those
// of a commit whose outcome was unknown: then it committed, and writing
// its transaction again would copy its records twice. Call it once the
// transaction is over: dropTxn's abort, or its new producer's
// InitTransactions, which waits until the coordinator has completed or
// aborted it.
func (cp *Copier) landedAlready(offsets []rdk.TopicPartition) (bool, error) {
	tps := make([]rdk.TopicPartition, len(offsets))
	for i, tp := range offsets {
		tps[i] = rdk.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	committed, err := cp.committed(tps)
	if err != nil {
		return false, err
	}
	want := make(map[TopicPartition]rdk.Offset, len(offsets))
	for _, tp := range offsets {
		want[TopicPartition{*tp.Topic, tp.Partition}] = tp.Offset
	}
	for _, tp := range committed {
		if tp.Error != nil || want[TopicPartition{topicOf(tp), tp.Partition}] != tp.Offset {
			return false, nil
		}
	}
	return len(committed) == len(offsets), nil
}

// movedOn reports whether err says the group went on without this
// member: the coordinator no longer knows it (its session expired while
// its coordinator was SIGKILLed: Apache Kafka answers UNKNOWN_MEMBER_ID),
// or its generation is old (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, a
// fenced epoch). The transaction's offsets are refused, as they must be
// (KIP-447): the member's partitions may be another's now.
func movedOn(err error) bool {
	var ke rdk.Error
	if !errors.As(err, &ke) || ke.IsFatal() {
		return false
	}
	switch ke.Code() {
	case rdk.ErrUnknownMemberID, rdk.ErrIllegalGeneration, rdk.ErrRebalanceInProgress,
		rdk.ErrFencedInstanceID, rdk.ErrFencedMemberEpoch, rdk.ErrStaleMemberEpoch:
		return true
	}
	return false
}

// maxRejoins bounds how often the group may refuse a checkpoint's
// offsets without one commit in between: a member that is refused again
// after each rebalance is not let back in.
const maxRejoins = 5

// rejoin answers a checkpoint whose offsets the group refused (see
// movedOn): it aborts the transaction, gives the member's partitions up
// with their progress since the last commit, and tells Track's rewound.
// librdkafka joins the group again on its own once it learns what the
// coordinator said, and the rebalance assigns partitions again from the
// committed offsets: their records since the last commit are read again,
// by this copier or by the member that has them now, and the aborted
// transaction's records are never in the destination. Nothing was
// committed, but the copy goes on: it returns nil.
func (cp *Copier) rejoin(ctx context.Context, what string, cause error) error {
	if cp.rejoins++; cp.rejoins > maxRejoins {
		return cp.txnFailed(ctx, what, fmt.Errorf("group %q refused this member's offsets %d times without a commit in between: %w", cp.opts.Group, maxRejoins, cause))
	}
	actx, cancel := context.WithTimeout(ctx, cp.checkpointTimeout())
	defer cancel()
	if err := cp.dropTxn(actx, cause); err != nil {
		return cp.txnFailed(ctx, "abort the transaction the group refused", err)
	}
	cp.yield()
	if cp.onRewind != nil {
		cp.onRewind()
	}
	return cp.err
}

// yield gives up every assigned partition, dropping its progress since
// the last commit, until the group's next rebalance assigns partitions
// again (assign): the member's generation is over.
func (cp *Copier) yield() {
	cp.held, cp.assignedAt = nil, time.Time{}
	cp.mu.Lock()
	var released []TopicPartition
	for _, p := range cp.order {
		if p.assigned {
			p.assigned, p.next, p.done = false, p.start, p.start >= p.end
			released = append(released, p.tp)
		}
	}
	cp.current = nil
	cp.mu.Unlock()
	if cp.opts.Changelog != nil && len(released) > 0 {
		cp.opts.Changelog.Revoked(released)
	}
	cp.batch.dropAll()
	if err := cp.c.Unassign(); err != nil && cp.err == nil {
		cp.err = fmt.Errorf("cannot release partitions for group %q to assign again: %w", cp.opts.Group, err)
	}
}

// checkpointTimeout bounds a checkpoint while the cluster answers: the
// timeout, and the transaction's timeout on top. A broker SIGKILLed under
// the copy leads its partitions (or coordinates the transaction) until
// the cluster notices, after its broker session timeout (9 s on Apache
// Kafka): a commit waits that long for the new leaders, longer than the
// timeout (the real tier's broker_kill.txtar failed so), and until the
// transaction's timeout it may still succeed. When no broker answers,
// retry gives up after the timeout.
func (cp *Copier) checkpointTimeout() time.Duration {
	return cp.cfg.timeout() + cp.txnTimeout
}

// errClusterLost says no broker answered a checkpoint for the timeout.
var errClusterLost = fmt.Errorf("no broker answers: %w", context.DeadlineExceeded)

// retry runs a transactional call again while librdkafka says it may be
// retried (a timeout, mostly), all tries within ctx's deadline, and past
// the timeout only while the cluster answers a metadata request.
// librdkafka may hold a call well past the deadline it was given (9 s of
// a 2 s timeout with the broker gone; three tries took 20 s), so retry
// stops waiting at the deadline and leaves the call to finish on its own.
func (cp *Copier) retry(ctx context.Context, call func(context.Context) error) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost atomic.Bool
	check := time.AfterFunc(cp.cfg.timeout(), func() {
		// Half a timeout: a quarter, as brokerWatch gives, was too short on
		// a loaded machine while a broker was down, and a replay ended
		// "unreachable" on a cluster that answered (bounce_matrix.txtar).
		mctx, mcancel := context.WithTimeout(tctx, max(cp.cfg.timeout()/2, 500*time.Millisecond))
		defer mcancel()
		if _, err := clusterMetadata(mctx, cp.cfg, cp.logs, cp.ac); err != nil && tctx.Err() == nil {
			lost.Store(true)
			cancel()
		}
	})
	defer check.Stop()
	var err error
	started := time.Now()
	serve := time.NewTicker(pollTimeout)
	defer serve.Stop()
	defer cp.endServing()
	for range 3 {
		done := make(chan error, 1)
		go func() { done <- call(tctx) }()
		var answered bool
		for !answered {
			select {
			case err = <-done:
				answered = true
			case <-serve.C:
				cp.keepServed(started)
			case <-tctx.Done():
				// Give the call a moment to report its own error.
				select {
				case err = <-done:
					answered = true
				case <-time.After(100 * time.Millisecond):
					cp.stuck, cp.stuckCall = true, done
					if lost.Load() {
						return errClusterLost
					}
					return context.DeadlineExceeded // the brokers did not answer in time
				}
			}
		}
		if lost.Load() {
			return errClusterLost
		}
		var ke rdk.Error
		if err == nil || !errors.As(err, &ke) || !ke.IsRetriable() || tctx.Err() != nil {
			return err
		}
	}
	return err
}

// txnFailed turns a failed transactional call into the copier's final
// error, aborting the transaction when that is still possible.
func (cp *Copier) txnFailed(ctx context.Context, what string, err error) error {
	var ke rdk.Error
	switch {
	case errors.As(err, &ke) && (ke.Code() == rdk.ErrFenced || ke.Code() == rdk.ErrProducerFenced ||
		ke.Code() == rdk.ErrInvalidProducerEpoch):
		cp.err = fmt.Errorf("cannot %s: another copier took over transactional id %q (%w); "+
			"run one copier per transactional id", what, cp.txnID, err)
	case errors.As(err, &ke) && ke.IsFatal():
		cp.err = fmt.Errorf("cannot %s: %w; rerun with --resume", what, err)
	case isUnreachable(err):
		// No abort: it would wait the timeout again for brokers that are
		// gone. The broker aborts the transaction after its timeout, and
		// no read_committed reader ever sees it.
		cp.inTxn = false
		cp.forget()
		cp.err = unreachable(ctx, cp.cfg, cp.w.logs, err)
	default:
		cp.discard()
		cp.err = fmt.Errorf("cannot %s, transaction aborted: %w; rerun with --resume", what, err)
	}
	return cp.err
}

// discard aborts the open transaction, and forgets the progress not
// committed, so that a new assignment starts from the committed offsets.
func (cp *Copier) discard() {
	if cp.inTxn {
		ctx, cancel := cp.cfg.withTimeout(context.Background())
		// A failed abort leaves the transaction to the broker's timeout.
		_ = cp.w.p.AbortTransaction(ctx)
		cancel()
		cp.inTxn = false
	}
	cp.forget()
}

// forget drops the progress not committed: the partitions restart at
// their last checkpoint.
func (cp *Copier) forget() {
	cp.held = nil // it is fetched again from the committed offsets
	cp.mu.Lock()
	for _, p := range cp.order {
		if p.assigned {
			p.next, p.done = p.start, p.start >= p.end
		}
	}
	cp.mu.Unlock()
}

// Abort aborts the open transaction: its writes are discarded and the
// records returned since the last checkpoint are read again.
func (cp *Copier) Abort(ctx context.Context) error {
	if cp.err != nil {
		return cp.err
	}
	if !cp.inTxn {
		return nil
	}
	actx, cancel := cp.cfg.withTimeout(context.WithoutCancel(ctx))
	defer cancel()
	if err := cp.w.p.AbortTransaction(actx); err != nil {
		return cp.txnFailed(actx, "abort the transaction", err)
	}
	cp.inTxn = false
	var held TopicPartition
	if cp.held != nil {
		held = TopicPartition{topicOf(cp.held.TopicPartition), cp.held.TopicPartition.Partition}
		cp.held = nil // the rewind fetches it again
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range cp.order {
		if !p.assigned || p.next == p.start && p.tp != held {
			continue
		}
		p.next, p.done = p.start, p.start >= p.end
		tp := rdk.TopicPartition{Topic: &p.tp.Topic, Partition: p.tp.Partition, Offset: rdk.Offset(p.start)}
		_ = cp.c.Resume([]rdk.TopicPartition{tp})
		cp.batch.drop(p.tp)
		if err := cp.c.Seek(tp, 0); err != nil {
			cp.err = fmt.Errorf("cannot rewind %s[%d] after the abort: %w", p.tp.Topic, p.tp.Partition, err)
			return cp.err
		}
	}
	cp.current = nil
	cp.sequence()
	return cp.err
}

// Close aborts the open transaction (call Checkpoint first to keep it),
// leaves the group and releases the clients.
func (cp *Copier) Close() error {
	cp.closing = true
	var err error
	if errors.Is(cp.err, ErrUnreachable) {
		cp.inTxn = false // the broker aborts it: waiting again would not help
	}
	if cp.inTxn && cp.w != nil {
		ctx, cancel := cp.cfg.withTimeout(context.Background())
		err = cp.w.p.AbortTransaction(ctx)
		cancel()
		cp.inTxn = false
		if err != nil {
			err = fmt.Errorf("cannot abort the open transaction (the broker aborts it within %s): %w", cp.txnTimeout, err)
		}
	}
	return errors.Join(err, cp.release())
}

func (cp *Copier) release() (err error) {
	if cp.checker != nil {
		cp.checker.close()
	}
	// A rebalance the batch poller took off the queue is the copier's to
	// answer (assign or unassign), or the close would wait for that.
	for e, ok := cp.batch.buffered(); ok; e, ok = cp.batch.buffered() {
		if e.kind == entryRebalance {
			cp.onRebalance(e.rebalance)
		}
	}
	if !running.idle() {
		// A call abandoned at Ctrl-C may still run in the consumer: close
		// after it, in the background, and do not wait.
		closeWhenIdle(func() {
			cp.ac.Close()
			cp.batch.close()
			_ = cp.c.Close()
			if cp.w != nil {
				cp.w.Close()
			}
		})
		return nil
	}
	cp.ac.Close()
	// Closing leaves the group; the revoke it triggers commits nothing.
	// librdkafka can block for good in the assign that a join completing
	// during the close calls for; the broker drops a member that did not
	// leave after its session timeout, so give up waiting after --timeout.
	closed := make(chan struct{})
	go func() {
		cp.batch.close()
		_ = cp.c.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(cp.cfg.timeout()):
		err = fmt.Errorf("leaving group %q did not finish within %s; the broker drops this member after its session timeout", cp.opts.Group, cp.cfg.timeout())
	}
	if cp.w != nil && !cp.stuck {
		cp.w.Close()
	}
	return err
}
