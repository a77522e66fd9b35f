package kafka

import (
	"context"
	"testing"
	"time"
)

// TestGroupCheckCoordinatorLate: a copier waiting for its group asks for
// the group's offsets while the lookup of the group's coordinator takes
// longer than the timeout, as it does while the coordinator's broker is
// SIGKILLed; the lookup is answered later. The check gives up and asks
// again, and the process lives on. The copier asked through the admin
// API (groupOffsetsOnce) before, with the timeout as the request's, and
// librdkafka 2.15 aborted the process at such a late answer
// (rd_kafka_enq_once_del_source_return: Assertion 'eonce->refcnt > 0'
// failed), as this test did with the admin call in place of the check,
// and a hard broker cell of bounce_matrix.txtar did (see
// coordinatorRequestTimeout).
func TestGroupCheckCoordinatorLate(t *testing.T) {
	if onRealKafka {
		t.Skip("holds the embedded broker's answers back, which the real cluster's cannot be")
	}
	cfg, cluster := newCluster(t, 1, "src", "dst")
	seedSource(t, cfg, "src", 1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cp := newCopier(t, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, DestTopic: "dst"})
	cp.cfg.Timeout = time.Second // the checks give up sooner than the lookup ends

	h := holdCoordinatorLookup(cluster, "g")
	defer h.release()
	// Checks, until one waits on the held lookup and gives up on it.
	for {
		done, err := cp.groupDone(ctx)
		if err != nil || done {
			t.Fatalf("groupDone = %v, %v before any record was copied; want false, nil", done, err)
		}
		select {
		case <-h.holding:
		case <-ctx.Done():
			t.Fatal("no check looked the group's coordinator up")
		default:
			continue
		}
		break
	}
	if done, err := cp.groupDone(ctx); err != nil || done {
		t.Fatalf("groupDone while the lookup is held = %v, %v; want false, nil (ask again)", done, err)
	}
	h.release()

	// Another member copies it all: the checks see it, through the late
	// answer and after it.
	commitOffset(t, ctx, cfg, "g", "src", 0, 10)
	for {
		done, err := cp.groupDone(ctx)
		if err != nil {
			t.Fatalf("groupDone after the late answer: %v", err)
		}
		late := h.lateAnswered()
		if done && late {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the group's offsets were never read as done (the held lookup answered: %v)", late)
		}
	}
}
