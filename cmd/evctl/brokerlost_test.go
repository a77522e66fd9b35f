package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/sandbox"
)

// openRecords is how many records of an open transaction lose-broker
// waits for before it closes the broker.
const openRecords = 5

// cmdLoseBroker is `lose-broker topic N status evctl [args...]`: it
// starts a sandbox of its own, runs evctl against it, closes the sandbox
// (its broker gone, as when evctl dev is killed) once topic holds N
// committed offsets and a transaction is open with records after them,
// and requires the exit status. evctl's stderr lands
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
	// The broker goes while a transaction has records in topic (its high
	// watermarks past its last stable offsets), so that the replay has
	// written records it must not count: closing it just after a
	// checkpoint, which a loaded machine's slow copier made likely, left
	// nothing uncommitted to leave out of the summary.
	cond := fmt.Sprintf("%d committed offsets in %s and an open transaction's records after them", n, topic)
	if waitUntil(ts, p, cond, func(ctx context.Context) bool {
		lso := pr.dstLSO(ctx)
		return lso >= n && pr.dstHWM(ctx) >= lso+openRecords
	}) {
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

// cmdCtrlCSilent is `ctrlc-silent evctl [args...]`: it runs evctl
// with --brokers naming a listener that accepts connections and never
// answers, sends SIGINT once evctl has connected, and requires exit
// status 130 long before any --timeout of a minute or more. evctl's
// stderr lands in silent.stderr.
func cmdCtrlCSilent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || args[0] != "evctl" {
		ts.Fatalf("usage: ctrlc-silent evctl [args...]")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	accepted := make(chan struct{}, 1)
	var conns []net.Conn
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	defer func() {
		l.Close()
		<-served
		for _, c := range conns {
			c.Close()
		}
	}()
	p := startEvctl(ts, "evctl", "silent.stderr", append(args[1:], "--brokers", l.Addr().String()))
	select {
	case <-accepted:
	case <-p.done:
		ts.Fatalf("evctl %s exited before it connected; its stderr:\n%s", strings.Join(args[1:], " "), p.stderr())
	case <-time.After(runDeadline):
		p.kill()
		ts.Fatalf("evctl %s never connected to the broker", strings.Join(args[1:], " "))
	}
	ts.Check(p.cmd.Process.Signal(os.Interrupt))
	p.waitExit(ts, 20*time.Second)
	p.requireExit(ts, 130)
}
