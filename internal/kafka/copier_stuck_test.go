package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCopyCloseAfterStuckCommit: a commit that librdkafka still holds
// past its bound (the broker does not answer it) ends the checkpoint with
// an error; Close then does not call the transactional API again, which
// would conflict with the call still running, and returns without error.
func TestCopyCloseAfterStuckCommit(t *testing.T) {
	if onRealKafka {
		t.Skip("holds a commit in the broker, which only kfake lets a test do")
	}
	cfg, cluster := newCluster(t, 1, "src", "dst")
	cfg.Timeout = time.Second
	cfg.Props = append(cfg.Props, [2]string{"transaction.timeout.ms", "2000"})
	seedSource(t, cfg, "src", 1, 20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cp, err := NewCopier(ctx, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, DestTopic: "dst", CheckpointAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	copyUnchecked(ctx, t, cp, "dst", 5)
	release := make(chan struct{})
	defer close(release)
	cluster.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		cluster.SleepControl(func() {
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
		return nil, nil, false
	})
	start := time.Now()
	err = cp.Checkpoint(ctx)
	t.Logf("checkpoint after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil {
		t.Fatal("the checkpoint succeeded while its commit was held")
	}
	start = time.Now()
	if err := cp.Close(); err != nil {
		t.Errorf("Close after the stuck commit: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	}
}
