package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
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
