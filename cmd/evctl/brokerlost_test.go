package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/sandbox"
)

// cmdLoseBroker is `lose-broker topic N status evctl [args...]`: it
// starts a sandbox of its own, runs evctl against it, closes the sandbox
// (its broker gone, as when evctl dev is killed) once topic holds N
// committed offsets, and requires the exit status. evctl's stderr lands
// in lost.stderr.
func cmdLoseBroker(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 || args[3] != "evctl" {
		ts.Fatalf("usage: lose-broker topic N status evctl [args...]")
	}
	topic := args[0]
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Accounts: 20, Events: 1000, Seed: 1, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)})
	ts.Check(err)
	closed := false
	ts.Defer(func() {
		if !closed {
			_ = sb.Close()
		}
	})
	ts.Setenv("EVCTL_BROKERS", sb.Brokers())
	ts.Setenv("EVCTL_REGISTRY", sb.RegistryURL())
	cl, err := kgo.NewClient(kgo.SeedBrokers(sb.Brokers()))
	ts.Check(err)
	pr := &probe{cl: cl, dst: topic}
	p := startEvctl(ts, "evctl", "lost.stderr", args[4:])
	if waitUntil(ts, p, fmt.Sprintf("%d committed offsets in %s", n, topic), func(ctx context.Context) bool { return pr.dstLSO(ctx) >= n }) {
		cl.Close()
		ts.Check(sb.Close())
		closed = true
	} else {
		cl.Close()
	}
	p.waitExit(ts, runDeadline)
	ts.Check(os.WriteFile(ts.MkAbs("lost.stdout"), nil, 0o644))
	p.requireExit(ts, want)
}
