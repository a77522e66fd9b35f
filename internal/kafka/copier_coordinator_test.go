package kafka

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestGroupCheckCoordinatorLate: a copier waiting for its group asks for
// the group's offsets while the lookup of the group's coordinator takes
// longer than the timeout, as it does while the coordinator's broker is
// SIGKILLed; the lookup is answered later. The check gives up and asks
// again, and the process lives on. The copier asked through the admin
// API (groupOffsetsOnce) before, and librdkafka 2.15 aborted the process
// at such a late answer (rd_kafka_enq_once_del_source_return: Assertion
// 'eonce->refcnt > 0' failed), as this test did with the admin call in
// place of the check, and a hard broker cell of bounce_matrix.txtar did.
func TestGroupCheckCoordinatorLate(t *testing.T) {
	if onRealKafka {
		t.Skip("holds the embedded broker's answers back, which the real cluster's cannot be")
	}
	cfg, cluster := newCluster(t, 1, "src", "dst")
	seedSource(t, cfg, "src", 1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cp, err := NewCopier(ctx, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, DestTopic: "dst"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Close() }()
	cp.cfg.Timeout = time.Second // the checks give up sooner than the lookup ends

	var mu sync.Mutex
	held, answered := false, false
	holding, release := make(chan struct{}), make(chan struct{})
	cluster.ControlKey(int16(kmsg.FindCoordinator), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := kreq.(*kmsg.FindCoordinatorRequest)
		if r.CoordinatorKey != "g" && !slices.Contains(r.CoordinatorKeys, "g") {
			return nil, nil, false
		}
		mu.Lock()
		first := !held
		held = true
		mu.Unlock()
		if first {
			close(holding)
			cluster.SleepControl(func() { <-release })
			mu.Lock()
			answered = true
			mu.Unlock()
		}
		return nil, nil, false // answered as kfake does, late for the first
	})
	// Checks, until one waits on the held lookup and gives up on it.
	for {
		done, err := cp.groupDone(ctx)
		if err != nil || done {
			t.Fatalf("groupDone = %v, %v before any record was copied; want false, nil", done, err)
		}
		select {
		case <-holding:
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
	close(release)

	// Another member copies it all: the checks see it, through the late
	// answer and after it.
	// OffsetCommit before topic ids (v10), which kfake does not map back.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "g", -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "src"
	cpart := kmsg.NewOffsetCommitRequestTopicPartition()
	cpart.Partition, cpart.Offset = 0, 10
	ct.Partitions = append(ct.Partitions, cpart)
	commit.Topics = append(commit.Topics, ct)
	resp, err := commit.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("committing for the other member: %v", err)
	}
	for {
		done, err := cp.groupDone(ctx)
		if err != nil {
			t.Fatalf("groupDone after the late answer: %v", err)
		}
		mu.Lock()
		late := answered
		mu.Unlock()
		if done && late {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the group's offsets were never read as done (the held lookup answered: %v)", late)
		}
	}
}
