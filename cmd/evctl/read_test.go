package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cmdAuthRegistry starts a registry endpoint that answers every request
// with "schema not found" and appends "METHOD PATH auth=HEADER" to
// authregistry.log, so a script sees which credentials reached it.
// It exports AUTH_REGISTRY.
func cmdAuthRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: authregistry")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	log := ts.MkAbs("authregistry.log")
	ts.Check(os.WriteFile(log, nil, 0o644))
	var mu sync.Mutex
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %s auth=%s\n", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			_ = f.Close()
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
	})}
	go func() { _ = srv.Serve(l) }()
	ts.Defer(func() { _ = srv.Close() })
	ts.Setenv("AUTH_REGISTRY", "http://"+l.Addr().String())
}

// cmdKTxn writes N records keyed prefix-0..prefix-N-1 (values {"n":i})
// to topic in one transaction with franz-go, and commits it, or with
// -abort aborts it: their offsets stay taken, by the records and the
// transaction's marker, though a read_committed reader never sees them.
func cmdKTxn(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("ktxn", flag.ContinueOnError)
	abort := fs.Bool("abort", false, "")
	ts.Check(fs.Parse(args))
	if neg || fs.NArg() != 3 {
		ts.Fatalf("usage: ktxn [-abort] topic N key-prefix")
	}
	topic, prefix := fs.Arg(0), fs.Arg(2)
	n, err := strconv.Atoi(fs.Arg(1))
	ts.Check(err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.Getenv("EVCTL_BROKERS")), kgo.AllowAutoTopicCreation(),
		kgo.TransactionalID("evctl-script-"+prefix), kgo.DefaultProduceTopic(topic))
	ts.Check(err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts.Check(cl.BeginTransaction())
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for i := range n {
		rec := &kgo.Record{Key: []byte(fmt.Sprintf("%s-%d", prefix, i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i)), Timestamp: base.Add(time.Duration(i) * time.Second)}
		ts.Check(cl.ProduceSync(ctx, rec).FirstErr())
	}
	commit := kgo.TryCommit
	if *abort {
		commit = kgo.TryAbort
	}
	ts.Check(cl.EndTransaction(ctx, commit))
}
