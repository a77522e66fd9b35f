package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCopyMemberKilledBeforeSync is replay_group.txtar's flake: "group
// "crew" has made no progress for 45s on bank.account-events[3]: a member
// holds them without copying". A process of the group was SIGKILLed while
// one of its copiers, new to the group, waited in JoinGroup. The live
// members joined too, so the join completed with the dead one in it, and
// kfake gave it partitions; its answer went to a closed connection, so
// kfake gave it no session timer, and once the leader synced the group
// was stable with the dead member holding its partitions for good. The
// copier whose own share is done now leaves and joins the group again
// when nothing moves: the rebalance drops the member that does not join
// it. Apache Kafka expires the dead member after its session timeout.
//
// The dead joiner is a connection that sends JoinGroup and closes while it
// waits for the answer, as a SIGKILLed process's does.
func TestCopyMemberKilledBeforeSync(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the dead member's rebalance timeout")
	}
	if onRealKafka {
		t.Skip("holds the copier's fetches, which only kfake lets a test do; Apache Kafka expires the dead member after its session")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	cfg.Props = append(cfg.Props, [2]string{"session.timeout.ms", "6000"}, [2]string{"transaction.timeout.ms", "2000"})
	seedSource(t, cfg, "src", 2, 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// No fetch is answered until the dead joiner holds partitions in a
	// stable generation: the copier has its records left then, not read
	// before it noticed the joiner.
	zombie := make(chan struct{})
	cluster.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		cluster.SleepControl(func() {
			select {
			case <-zombie:
			case <-ctx.Done():
			}
		})
		return nil, nil, false
	})
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	// The copier joins at its first Read, which stops once it is the
	// group's one member, holding both partitions.
	joinCtx, joined := context.WithCancel(ctx)
	go func() {
		watchGroup(joinCtx, cfg, "g", func(g kmsg.DescribeGroupsResponseGroup) bool { return g.State == "Stable" && len(g.Members) == 1 })
		joined()
	}()
	if _, err := cp.Read(joinCtx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the copier's first Read, while no fetch is answered: %v", err)
	}
	// The copier does not poll meanwhile, so it joins the rebalance the
	// joiner starts only once copyLoop goes on. kfake's answer to the dead
	// joiner fails or not (its connection's select has both ways ready):
	// it then has no session timer or its own, which is kfake's longest,
	// five minutes. Its rebalance timeout is the copier's.
	joinAndDie(ctx, t, cfg, "g", "src", 300_000, 6000)
	var stable kmsg.DescribeGroupsResponseGroup // the generation with the dead joiner
	go func() {
		defer close(zombie)
		watchGroup(ctx, cfg, "g", func(g kmsg.DescribeGroupsResponseGroup) bool {
			stable = g
			return g.State == "Stable" && len(g.Members) == 2
		})
	}()
	n, err := copyLoop(ctx, cp, "dst", 100, 0)
	<-zombie
	if !holds(stable, deadJoiner) {
		t.Errorf("the dead joiner held no partition in a stable generation (%s, %d members): the test did not reproduce the fault", stable.State, len(stable.Members))
	}
	if err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	if n != 2000 {
		t.Errorf("the copier copied %d records, want 2000", n)
	}
	checkCopy(t, cfg, "src", "dst")
}

// deadJoiner is joinAndDie's client id.
const deadJoiner = "dead-joiner"

// holds reports whether the member of g with clientID holds partitions.
func holds(g kmsg.DescribeGroupsResponseGroup, clientID string) bool {
	for _, m := range g.Members {
		var a kmsg.ConsumerMemberAssignment
		if m.ClientID == clientID && a.ReadFrom(m.MemberAssignment) == nil {
			for _, t := range a.Topics {
				if len(t.Partitions) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// joinAndDie joins group as a new member subscribed to topic, over a
// connection of its own to the one broker, which it closes while the
// JoinGroup waits for the rebalance to complete: as a SIGKILLed
// process's would.
func joinAndDie(ctx context.Context, t *testing.T, cfg Config, group, topic string, sessionMs, rebalanceMs int32) {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	format := kmsg.NewRequestFormatter(kmsg.FormatterClientID(deadJoiner))
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join := func(memberID string, corr int32) error {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 5 // the member id step, and no tagged fields
		req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = sessionMs, rebalanceMs
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "roundrobin", meta.AppendTo(nil)
		req.Protocols = append(req.Protocols, p)
		_, err := conn.Write(format.AppendRequest(nil, req, corr))
		return err
	}
	// The first JoinGroup is answered at once: MEMBER_ID_REQUIRED, with
	// the member id to join with.
	if err := join("", 1); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	size := make([]byte, 4)
	if _, err := io.ReadFull(conn, size); err != nil {
		t.Fatalf("the joiner's first JoinGroup: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatalf("the joiner's first JoinGroup: %v", err)
	}
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = 5
	if err := resp.ReadFrom(body[4:]); err != nil { // after the correlation id
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("the joiner's first JoinGroup: %v, want MEMBER_ID_REQUIRED", kerr.ErrorForCode(resp.ErrorCode))
	}
	if err := join(resp.MemberID, 2); err != nil {
		t.Fatal(err)
	}
	waitGroup(ctx, t, cfg, group, "PreparingRebalance", 2) // the copier and the joiner
}

// watchGroup describes group every 20 ms until ok accepts what it sees
// (true) or ctx ends (false).
func watchGroup(ctx context.Context, cfg Config, group string, ok func(kmsg.DescribeGroupsResponseGroup) bool) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...))
	if err != nil {
		return false
	}
	defer cl.Close()
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		if resp, err := req.RequestWith(ctx, cl); err == nil && len(resp.Groups) == 1 && ok(resp.Groups[0]) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stableWithTwo returns a channel closed once group "g" is stable with
// two members.
func stableWithTwo(ctx context.Context, cfg Config) <-chan struct{} {
	both := make(chan struct{})
	go func() {
		if watchGroup(ctx, cfg, "g", func(g kmsg.DescribeGroupsResponseGroup) bool { return g.State == "Stable" && len(g.Members) == 2 }) {
			close(both)
		}
	}()
	return both
}

// copyAllOf runs copyLoop on every copier at once, a checkpoint every 50
// records, and returns what each copied and its error.
func copyAllOf(ctx context.Context, cps ...*Copier) ([]int, []error) {
	counts, errs := make([]int, len(cps)), make([]error, len(cps))
	var wg sync.WaitGroup
	for i, cp := range cps {
		wg.Go(func() { counts[i], errs[i] = copyLoop(ctx, cp, "dst", 50, 0) })
	}
	wg.Wait()
	return counts, errs
}

// heldCommitCluster is the setup of the tests that hold a copier's commit
// in kfake: src and dst of two partitions, records seeded into src, a
// session of 6 s and transactions that outlast the held commit, and a
// context bounded by d. Skipped with -short and on the real tier.
func heldCommitCluster(t *testing.T, records int, d time.Duration) (Config, *kfake.Cluster, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("holds a commit for longer than a session")
	}
	if onRealKafka {
		t.Skip("holds a commit in the broker, which only kfake lets a test do")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	cfg.Props = append(cfg.Props, [2]string{"session.timeout.ms", "6000"}, [2]string{"transaction.timeout.ms", "60000"})
	seedSource(t, cfg, "src", 2, records)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return cfg, cluster, ctx
}

// TestCopyLongCheckpointStaysInGroup: a checkpoint may wait up to the
// timeout and the transaction's timeout while the cluster answers (a broker
// lost, its partitions between leaders), longer than the copier's poll
// bound, its session timeout. The copier served its consumer only between
// Reads, so librdkafka left the group in the middle of the commit, and the
// member joined again after it: a rebalance for every member, for
// nothing. The copier now keeps its consumer served while a transactional
// call waits. kfake holds one commit here for longer than the poll bound.
func TestCopyLongCheckpointStaysInGroup(t *testing.T) {
	cfg, cluster, ctx := heldCommitCluster(t, 400, 2*time.Minute)
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, CheckpointAfter: -1})
	if n, err := copyLoop(ctx, cp, "dst", 50, 100); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	var joins, held atomic.Int32
	cluster.ControlKey(int16(kmsg.JoinGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		joins.Add(1)
		return nil, nil, false
	})
	cluster.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !kreq.(*kmsg.EndTxnRequest).Commit || held.Add(1) > 1 {
			return nil, nil, false
		}
		// Past the poll bound, well within the checkpoint's.
		cluster.SleepControl(func() {
			select {
			case <-time.After(copySessionTimeout(cfg) + 3*time.Second):
			case <-ctx.Done():
			}
		})
		return nil, nil, false
	})
	n, err := copyLoop(ctx, cp, "dst", 50, 0)
	if err != nil {
		t.Fatalf("after %d more records: %v", n, err)
	}
	if held.Load() == 0 {
		t.Fatal("no commit was held: the test did not reproduce the long checkpoint")
	}
	if n := joins.Load(); n > 0 {
		t.Errorf("the copier joined its group %d times after a long checkpoint, want 0", n)
	}
	if n != 300 {
		t.Errorf("copied %d more records, want 300", n)
	}
	checkCopy(t, cfg, "src", "dst")
}

// TestCopyRebalanceDuringLongCheckpoint: a second member joins while the
// first one's commit is held. The first one joins the rebalance from
// inside its commit's wait, and takes its new share once the commit is
// over; kfake answers the commit only once the group is stable with both
// members (or after a minute: the test then fails). The copy is exact.
func TestCopyRebalanceDuringLongCheckpoint(t *testing.T) {
	cfg, cluster, ctx := heldCommitCluster(t, 2000, 3*time.Minute)
	first := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, CheckpointAfter: -1})
	if n, err := copyLoop(ctx, first, "dst", 50, 100); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	// Made now: it reads the group's offsets, which the held commit holds.
	second := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, TransactionalID: "g-second", CheckpointAfter: -1})
	both := stableWithTwo(ctx, cfg) // closed once the group is stable with both members
	var held atomic.Int32
	var gaveUp atomic.Bool
	cluster.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !kreq.(*kmsg.EndTxnRequest).Commit || held.Add(1) > 1 {
			return nil, nil, false
		}
		cluster.SleepControl(func() {
			select {
			case <-both:
			case <-time.After(time.Minute):
				gaveUp.Store(true)
			}
		})
		return nil, nil, false
	})
	counts, errs := copyAllOf(ctx, first, second)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if gaveUp.Load() {
		t.Error("the group was stable with both members only once the held commit was answered: the first member did not join the rebalance from inside its commit")
	}
	if held.Load() == 0 {
		t.Fatal("no commit was held: the test did not reproduce the long checkpoint")
	}
	t.Logf("records copied by each member after the first 100: %v", counts)
	checkCopy(t, cfg, "src", "dst")
}
