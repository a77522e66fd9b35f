package kafka

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCopyBrokerLost: the cluster goes away in the middle of a copy. The
// checkpoint (or the read) fails with ErrUnreachable, and the copier
// gives up and closes within a bound set by the timeout, not by
// librdkafka's retries: it once took 20 s with a 2 s timeout.
func TestCopyBrokerLost(t *testing.T) {
	for _, during := range []string{"checkpoint", "read"} {
		t.Run(during, func(t *testing.T) {
			if onRealKafka {
				t.Skip("closes the embedded cluster, which the real tier cannot do to a shared one")
			}
			cfg, cluster := newCluster(t, 2, "src", "dst")
			seedSource(t, cfg, "src", 2, 40)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cp, err := NewCopier(ctx, cfg, CopyOptions{Group: "g", Topics: []string{"src"}, DestTopic: "dst"})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := copyLoop(ctx, cp, "dst", 10, 20); err != nil || n != 20 {
				t.Fatalf("copied %d: %v", n, err)
			}
			if during == "checkpoint" {
				copyUnchecked(ctx, t, cp, "dst", 5) // in the open transaction
			}
			// From here on, waits are bounded by a shorter timeout.
			cp.cfg.Timeout, cp.watch.cfg.Timeout, cp.w.cfg.Timeout = time.Second, time.Second, time.Second
			cluster.Close()
			start := time.Now()
			if during == "checkpoint" {
				err = cp.Checkpoint(ctx)
			} else {
				for err == nil {
					_, err = cp.Read(ctx)
				}
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("%s: err = %v, want ErrUnreachable", during, err)
			}
			if aerr := cp.Abort(ctx); !errors.Is(aerr, err) {
				t.Errorf("Abort after the loss = %v, want the same error at once", aerr)
			}
			if cerr := cp.Close(); cerr != nil {
				t.Errorf("Close: %v", cerr)
			}
			// Generous for a loaded machine; before the fix this took
			// three librdkafka calls of up to 9 s each, then two aborts.
			if took := time.Since(start); took > 8*time.Second {
				t.Errorf("gave up after %v with a 1s timeout", took)
			}
		})
	}
}
