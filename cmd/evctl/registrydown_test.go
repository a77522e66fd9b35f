package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// schemaIDPath is a lookup of one schema by id, as the registry's API has it.
var schemaIDPath = regexp.MustCompile(`^/schemas/ids/([0-9]+)`)

// cmdRegistryDown exports DOWN_REGISTRY: a proxy to $EVCTL_REGISTRY that
// goes down when a client asks for a second schema id. The first id's
// lookups (its references too) and everything before pass; from the
// request for another id on, every connection is closed unanswered, as a
// registry that stopped midway does. It does not depend on timing: a
// client that looks schemas up as it reads its input meets the outage
// at its first line of another schema.
func cmdRegistryDown(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: registrydown")
	}
	target, err := url.Parse(ts.Getenv("EVCTL_REGISTRY"))
	if err != nil || target.Host == "" {
		ts.Fatalf("registrydown: no sandbox registry in $EVCTL_REGISTRY")
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	first, down := "", false
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if m := schemaIDPath.FindStringSubmatch(r.URL.Path); m != nil && !down {
			if first == "" {
				first = m[1]
			}
			down = m[1] != first
		}
		isDown := down
		mu.Unlock()
		if isDown {
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("registrydown: the server cannot hijack connections")
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	ts.Defer(func() { _ = srv.Close() })
	ts.Setenv("DOWN_REGISTRY", "http://"+l.Addr().String())
}
