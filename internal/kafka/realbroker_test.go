package kafka

// Behaviours the real tier found on Apache Kafka, pinned down on kfake.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCopyMemberKilledJoining is issue 7's stuck --resume. A member is
// SIGKILLed while it waits in JoinGroup for another, already dead member;
// when that one's session expires the join completes with only the
// joiner, whose answer goes to a closed connection. kfake then gives the
// joiner no session timer and keeps it until the rebalance timeout, which
// librdkafka takes from max.poll.interval.ms (300 s by default): a resumed
// copier found the group stalled and gave up after 45 s. Apache Kafka
// drops the member when its session times out. With the copier's bounded
// rebalance timeout the resumed copier copies everything on both.
func TestCopyMemberKilledJoining(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the killed members' timeouts")
	}
	cfg, _ := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	member := startHelper(t, cfg, "member", "ready-to-kill")
	kill(t, member)
	joiner := startHelper(t, cfg, "join", "joining")
	waitGroup(ctx, t, cfg, "g", "PreparingRebalance", 2) // the dead member and the joiner
	kill(t, joiner)
	// The dead member's session expires; the joiner alone is in the new
	// generation, and never syncs.
	waitGroup(ctx, t, cfg, "g", "CompletingRebalance", 1)

	resumed := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	n, err := copyLoop(ctx, resumed, "dst", 100, 0)
	if err != nil {
		t.Fatalf("the resumed copier, after %d records: %v", n, err)
	}
	if n != 2000 {
		t.Errorf("the resumed copier copied %d records, want 2000", n)
	}
	checkCopy(t, cfg, "src", "dst")
}

// startHelper runs TestCopyHelperProcess at stage and waits for it to
// print ready.
func startHelper(t *testing.T, cfg Config, stage, ready string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCopyHelperProcess$")
	cmd.Env = append(os.Environ(), "EVCTL_COPY_HELPER="+stage, "EVCTL_BROKERS="+cfg.Brokers)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == ready {
			return cmd
		}
	}
	_ = cmd.Wait()
	t.Fatalf("helper %s did not print %q: %s", stage, ready, stderr.String())
	return nil
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// waitGroup waits until group is in state with members members.
func waitGroup(ctx context.Context, t *testing.T, cfg Config, group, state string, members int) {
	t.Helper()
	last := "no answer"
	if !watchGroup(ctx, cfg, group, func(g kmsg.DescribeGroupsResponseGroup) bool {
		last = g.State + " with " + strings.Repeat("a member ", len(g.Members))
		return g.State == state && len(g.Members) == members
	}) {
		t.Fatalf("group %s never was %s with %d members: last %s", group, state, members, last)
	}
}

// TestReadLeaderMoving: a partition between leaders (a topic just created
// on a real cluster, a broker bounced) answers ListOffsets with "not
// leader" for a moment. A reader asks again instead of failing; on Apache
// Kafka a read right after creating a topic failed so.
func TestReadLeaderMoving(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do")
	}
	cfg, cluster := newCluster(t, 2, "t")
	produce(t, cfg, &kgo.Record{Topic: "t", Partition: 1, Value: []byte("v")})
	var answered atomic.Int32 // kfake calls the control on its own goroutine
	cluster.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if answered.Add(1) > 2 {
			return nil, nil, false
		}
		cluster.KeepControl()
		req := kreq.(*kmsg.ListOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotLeaderForPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	got := readAll(t, newReader(t, cfg, ReadOptions{Topics: []string{"t"}}))
	if len(got) != 1 {
		t.Errorf("read %d records, want 1", len(got))
	}
	if n := answered.Load(); n <= 2 {
		t.Errorf("ListOffsets was asked %d times; the first two answered 'not leader'", n)
	}
}

// TestCopyRedoesAbortedTransaction: a broker SIGKILLed under a copy on
// Apache Kafka left the open transaction to be aborted (its records timed
// out while the dead broker's partitions had no leader), and the replay
// failed ("cannot commit the group's offsets, transaction aborted: ...
// Erroneous state"; broker_kill.txtar). The copier now aborts and writes
// the transaction again, as Apache Kafka's own copier does, and the copy
// is exact. kfake refuses one Produce of the destination for good here.
func TestCopyRedoesAbortedTransaction(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do; broker_kill.txtar kills a real broker")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 200)
	var refused atomic.Int32
	cluster.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		if refused.Load() > 0 || len(req.Topics) == 0 || req.Topics[0].Topic != "dst" || req.TransactionID == nil {
			cluster.KeepControl()
			return nil, nil, false
		}
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	copyAll(t, cfg)
	if n := refused.Load(); n != 1 {
		t.Fatalf("kfake refused %d Produce requests, want 1", n)
	}
	checkCopy(t, cfg, "src", "dst")
}

// TestCopyFencedByTimeout: on the loaded real cluster, a transaction held
// up past its timeout by a SIGKILLed broker was aborted by its
// coordinator, which fenced the producer's epoch, and the replay failed
// for good ("This instance has been fenced by a newer instance",
// bounce_matrix.txtar). With its own transactional id no other copier
// can have fenced it: the copier starts a new producer with the id and
// writes the transaction again. kfake answers one EndTxn so here.
func TestCopyFencedByTimeout(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do; bounce_matrix.txtar bounces real brokers")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 200)
	fenced := fenceOneCommit(cluster)
	copyAll(t, cfg)
	if n := fenced.Load(); n != 1 {
		t.Fatalf("kfake fenced %d commits, want 1", n)
	}
	checkCopy(t, cfg, "src", "dst")
}

// copyAll copies src to dst with one copier of group "g", a checkpoint
// every 50 records, and fails the test at an error.
func copyAll(t *testing.T, cfg Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if n, err := copyLoop(ctx, cp, "dst", 50, 0); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
}

// fenceOneCommit makes kfake answer the first transaction commit with
// PRODUCER_FENCED, as a coordinator that aborted the transaction on its
// timeout does; it counts the commits so answered.
func fenceOneCommit(cluster *kfake.Cluster) *atomic.Int32 {
	var fenced atomic.Int32
	cluster.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.EndTxnRequest)
		if fenced.Load() > 0 || !req.Commit {
			return nil, nil, false
		}
		fenced.Add(1)
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.ProducerFenced.Code
		return resp, nil, true
	})
	return &fenced
}

// TestCopyMemberExpired is the "unknown member" of broker_kill.txtar and
// the hard broker cells of bounce_matrix.txtar: the SIGKILLed broker
// coordinated the copy's group, the member's heartbeats went nowhere until
// its session expired, and the broker then refused the transaction's
// offsets with UNKNOWN_MEMBER_ID; the replay failed (exit 2). Here kfake's
// answers to the member's heartbeats are lost the same way
// (COORDINATOR_NOT_AVAILABLE) until kfake has expired it. The copier must
// abort that transaction, take its share of the group again, read again
// from the committed offsets, and tell its caller so through Track, which
// keeps a count exact.
func TestCopyMemberExpired(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do; broker_kill.txtar kills the real coordinator")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	// The open transaction outlives the member's session (6 s, kfake's
	// least) without its coordinator aborting it: the offsets meet the
	// expired member, not a fenced producer.
	cfg.Props = append(cfg.Props, [2]string{"session.timeout.ms", "6000"}, [2]string{"transaction.timeout.ms", "60000"})
	seedSource(t, cfg, "src", 2, 400)
	var blackout atomic.Bool
	var lost atomic.Int32
	cluster.ControlKey(int16(kmsg.Heartbeat), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !blackout.Load() {
			return nil, nil, false
		}
		lost.Add(1)
		resp := kreq.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})
	var refused atomic.Int32
	cluster.ControlKey(int16(kmsg.TxnOffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if blackout.Load() {
			refused.Add(1) // kfake refuses it: the member is gone
		}
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, CheckpointAfter: -1})
	// As replay.Run counts: each record written, less those the copier
	// drops to read again.
	counted, atCommit := 0, 0
	cp.Track(func() { atCommit = counted }, func() { counted = atCommit })
	copyCounted := func(limit int, checkpoint bool) {
		t.Helper()
		for n := 0; limit <= 0 || n < limit; n++ {
			m, err := cp.Read(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("after %d records counted: %v", counted, err)
			}
			m.Topic = "dst"
			if err := cp.Write(ctx, m); err != nil {
				t.Fatalf("after %d records counted: %v", counted, err)
			}
			counted++
			if checkpoint && counted%50 == 0 {
				if err := cp.Checkpoint(ctx); err != nil {
					t.Fatalf("after %d records counted: %v", counted, err)
				}
			}
		}
		if checkpoint {
			if err := cp.Checkpoint(ctx); err != nil {
				t.Fatalf("after %d records counted: %v", counted, err)
			}
		}
	}
	copyCounted(100, true)
	copyCounted(50, false) // in the transaction the expiry dooms

	blackout.Store(true)
	waitGroup(ctx, t, cfg, "g", "Empty", 0)
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatalf("the checkpoint after the member expired: %v", err)
	}
	if refused.Load() == 0 {
		t.Fatal("no transactional offset commit met the expired member: the test did not reproduce the fault")
	}
	if counted != 100 {
		t.Errorf("after the refused checkpoint the count is %d, want the 100 committed before", counted)
	}
	blackout.Store(false)
	copyCounted(0, true)
	if counted != 400 {
		t.Errorf("counted %d records through Track, want 400", counted)
	}
	t.Logf("%d heartbeats lost, %d offset commits refused", lost.Load(), refused.Load())
	checkCopy(t, cfg, "src", "dst")
}

// TestCopyGroupCheckCoordinatorMoving: a member whose own partitions are
// done asks whether the whole group is. On Apache Kafka, with the group's
// coordinator SIGKILLed, that question went to the dead broker until its
// timeout, and the replay failed, "cannot reach brokers" (broker_kill.txtar),
// while two brokers answered and the group was moving to one of them.
// kfake answers "coordinator not available" for longer than the first
// question's timeout here: the member must ask again, and end when the
// group is done.
func TestCopyGroupCheckCoordinatorMoving(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do; broker_kill.txtar kills the real coordinator")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}})
	if n, err := copyLoop(ctx, cp, "dst", 50, 100); err != nil || n != 100 {
		t.Fatalf("copied %d: %v", n, err)
	}
	// The coordinator is not available for longer than the first
	// question's timeout.
	var first, refused atomic.Int64
	cluster.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		if time.Duration(now-first.Load()) > cfg.Timeout+time.Second {
			return nil, nil, false
		}
		refused.Add(1)
		return offsetFetchRefusal(kreq, kerr.CoordinatorNotAvailable.Code), nil, true
	})
	if _, err := cp.Read(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Read once every record is copied: %v, want io.EOF", err)
	}
	if refused.Load() == 0 {
		t.Fatal("no OffsetFetch refused: the test did not reproduce the fault")
	}
	checkCopy(t, cfg, "src", "dst")
}

// TestCopyReplacementProducerWaitsForCoordinator: the producer that
// replaces a fenced one (TestCopyFencedByTimeout) starts while the
// transaction coordinator is busy, as it is when it moves to another
// broker or still aborts the old producer's transaction: its first
// InitProducerId requests are answered "coordinator load in progress"
// and "concurrent transactions". The new producer waits them out, and the
// copy is exact.
func TestCopyReplacementProducerWaitsForCoordinator(t *testing.T) {
	if onRealKafka {
		t.Skip("injects the broker's answer, which only kfake lets a test do; bounce_matrix.txtar bounces real brokers")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	seedSource(t, cfg, "src", 2, 200)
	fenced := fenceOneCommit(cluster)
	var busy atomic.Int32
	codes := []int16{kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code, kerr.CoordinatorLoadInProgress.Code}
	cluster.ControlKey(int16(kmsg.InitProducerID), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.InitProducerIDRequest)
		if fenced.Load() == 0 || req.TransactionalID == nil || int(busy.Load()) >= len(codes) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = codes[busy.Add(1)-1]
		return resp, nil, true
	})
	copyAll(t, cfg)
	if n := fenced.Load(); n != 1 {
		t.Fatalf("kfake fenced %d commits, want 1", n)
	}
	if n := busy.Load(); int(n) != len(codes) {
		t.Fatalf("kfake answered %d InitProducerId requests as busy, want %d: the replacement producer did not start", n, len(codes))
	}
	checkCopy(t, cfg, "src", "dst")
}
