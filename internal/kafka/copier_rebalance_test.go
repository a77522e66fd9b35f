package kafka

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCopyNoRedoAfterRebalance: the group rebalances while a member's
// checkpoint waits (a second member joins; the first joins the rebalance
// from inside its commit's wait), and the commit then fails with an error
// that a redo would pass: the transaction aborted, written again, and its
// offsets committed under the member's new generation, though its
// partitions may now be the other member's, which reads them again from
// the committed offsets. On Apache Kafka, with the coordinator's broker
// SIGKILLed, a replay so copied a checkpoint's records twice and counted
// them twice ("replayed 30500 records" of 30000; broker_kill.txtar). The
// member must give its partitions up instead (as when the group refuses
// its offsets), and the copy hold every record once.
func TestCopyNoRedoAfterRebalance(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a commit for a rebalance")
	}
	if onRealKafka {
		t.Skip("holds a commit in the broker, which only kfake lets a test do")
	}
	cfg, cluster := newCluster(t, 2, "src", "dst")
	cfg.Timeout = 2 * time.Second
	cfg.Props = append(cfg.Props, [2]string{"session.timeout.ms", "6000"}, [2]string{"transaction.timeout.ms", "4000"})
	seedSource(t, cfg, "src", 2, 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, CheckpointAfter: -1})
	if n, err := copyLoop(ctx, first, "dst", 50, 100); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	second := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, TransactionalID: "g-second", CheckpointAfter: -1})
	both := stableWithTwo(ctx, cfg)
	var held atomic.Int32
	bound := first.checkpointTimeout()
	cluster.ControlKey(int16(kmsg.EndTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !kreq.(*kmsg.EndTxnRequest).Commit || held.Add(1) > 1 {
			return nil, nil, false
		}
		// Until the group is stable with both members, and past the
		// checkpoint's bound: the commit fails, after the rebalance.
		start := time.Now()
		cluster.SleepControl(func() {
			select {
			case <-both:
			case <-ctx.Done():
			}
			select {
			case <-time.After(bound + time.Second - time.Since(start)):
			case <-ctx.Done():
			}
		})
		return nil, nil, false
	})
	counts, errs := copyAllOf(ctx, first, second)
	t.Logf("records copied by each member after the first 100: %v (errors %v)", counts, errs)
	if held.Load() == 0 {
		t.Fatal("no commit was held: the test did not reproduce the long checkpoint")
	}
	checkCopy(t, cfg, "src", "dst")
}
