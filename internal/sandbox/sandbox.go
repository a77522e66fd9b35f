// Package sandbox runs an embedded Kafka cluster (kfake) and Schema Registry
// (srfake behind evctl's fidelity layer) on loopback, seeded with a
// deterministic event-sourced bank: `evctl dev`, `evctl demo` and every test
// that needs a cluster.
//
// Topics: bank.account-events (Avro events, a union of schema references),
// bank.account-balances (its compacted JSON read model, see Balance) and
// bank.notifications (plain JSON, see Notification), bank.transfers
// (Protobuf with a referenced import, see Transfer) and
// bank.customer-profiles (JSON Schema, see CustomerProfile); on request
// bank.account-events.faulty (FaultsTopic, one of each problem evctl check
// finds). Options.Drift leaves some live balances wrong (see Drift).
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/evctl/evctl/internal/sandbox/registry"
)

// Options configure Start. The zero value is a good sandbox.
type Options struct {
	Host string // default "127.0.0.1"
	// Brokers, when set, names an existing Kafka cluster ("host:port,...")
	// to seed instead of starting the embedded broker; BrokerPort is then
	// unused. Its topics are created with the cluster's default
	// replication factor, and must not exist yet.
	Brokers                  string
	BrokerPort, RegistryPort int   // 0 picks a free port
	Accounts                 int   // default 50; no more than Events are opened
	Events                   int   // bank events in all, AccountOpened included; default 1000
	Seed                     int64 // default 1; the same seed and options give the same records
	// Now anchors the history: events spread over the 7 days before it.
	// Zero means time.Now() truncated to the second.
	Now time.Time
	// Drift is how many accounts' live balances in bank.account-balances
	// are left wrong, as a buggy projector would leave them (see Drift,
	// DriftedAccounts); at most the number of accounts. The events are the
	// same whatever Drift is.
	Drift int
	// Faults also seeds FaultsTopic: a small history with one instance of
	// every problem evctl check finds (see Faults).
	Faults bool
	Logf   func(format string, args ...any) // seeding progress; nil is silent
}

const (
	defaultHost     = "127.0.0.1"
	defaultAccounts = 50
	defaultEvents   = 1000
	defaultSeed     = 1
	shutdownTimeout = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Host == "" {
		o.Host = defaultHost
	}
	if o.Accounts <= 0 {
		o.Accounts = defaultAccounts
	}
	if o.Events <= 0 {
		o.Events = defaultEvents
	}
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	if o.Now.IsZero() {
		o.Now = time.Now().Truncate(time.Second)
	}
	o.Now = o.Now.UTC()
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Sandbox is a running cluster and registry.
type Sandbox struct {
	opts        Options
	cluster     *kfake.Cluster
	registry    *registry.Registry
	server      *http.Server
	served      chan error
	brokers     string
	registryURL string
	closeOnce   sync.Once
	closeErr    error
}

// Start starts the cluster and the registry and seeds them. It returns once
// every record is acknowledged, so a reader sees all of them.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	opts = opts.withDefaults()
	if err := validateDrift(opts); err != nil {
		return nil, err
	}
	s := &Sandbox{opts: opts, registry: registry.New()}
	s.registry.SetCompiler(schemaCompiler{})

	if opts.Brokers != "" {
		s.brokers = opts.Brokers
	} else {
		cluster, err := kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.Ports(opts.BrokerPort),
			kfake.ListenFn(listenOn(opts.Host)),
			kfake.ClusterID("evctl-sandbox"),
			// As a default broker does: producing to a new topic creates it.
			kfake.AllowAutoTopicCreation(),
			kfake.DefaultNumPartitions(1),
		)
		if err != nil {
			return nil, fmt.Errorf("start kafka broker on %s: %w", net.JoinHostPort(opts.Host, strconv.Itoa(opts.BrokerPort)), err)
		}
		s.cluster = cluster
		s.brokers = cluster.ListenAddrs()[0]
	}

	if err := s.serveRegistry(); err != nil {
		s.Close()
		return nil, err
	}
	start := time.Now()
	if err := seed(ctx, s.brokers, s.registry, opts); err != nil {
		s.Close()
		return nil, err
	}
	opts.Logf("seeded %d bank events in %s", opts.Events, time.Since(start).Round(time.Millisecond))
	return s, nil
}

func (s *Sandbox) serveRegistry() error {
	addr := net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.RegistryPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("start schema registry on %s: %w", addr, err)
	}
	s.registryURL = "http://" + advertised(ln.Addr()).String()
	s.server = &http.Server{Handler: s.registry.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan error, 1)
	go func() { s.served <- s.server.Serve(ln) }()
	return nil
}

// Brokers returns the bootstrap address: "127.0.0.1:PORT", or
// Options.Brokers.
func (s *Sandbox) Brokers() string { return s.brokers }

// RegistryURL returns the registry's base URL, "http://127.0.0.1:PORT".
func (s *Sandbox) RegistryURL() string { return s.registryURL }

// Registry returns the registry, to register more schemas without HTTP.
func (s *Sandbox) Registry() *registry.Registry { return s.registry }

// Options returns the options the sandbox runs with, defaults filled in
// (Now included), for ExpectedBalances, LiveBalances, ExpectedCounts,
// DriftedAccounts and Faults.
func (s *Sandbox) Options() Options { return s.opts }

// Close stops the registry and the embedded cluster (an existing cluster
// keeps running, seeded). It is safe to call twice.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		if s.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := s.server.Shutdown(ctx); err != nil {
				s.closeErr = fmt.Errorf("stop schema registry: %w", err)
			}
			if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.closeErr = errors.Join(s.closeErr, fmt.Errorf("schema registry: %w", err))
			}
		}
		if s.cluster != nil {
			s.cluster.Close()
		}
	})
	return s.closeErr
}

// listenOn makes kfake, which always asks for 127.0.0.1, listen on host.
func listenOn(host string) func(network, address string) (net.Listener, error) {
	return func(network, address string) (net.Listener, error) {
		_, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen(network, net.JoinHostPort(host, port))
		if err != nil {
			return nil, err
		}
		return advertisedListener{ln}, nil
	}
}

// advertisedListener reports a connectable address: kfake advertises what
// Addr returns, and a client cannot connect to 0.0.0.0 or [::] everywhere.
type advertisedListener struct{ net.Listener }

func (l advertisedListener) Addr() net.Addr { return advertised(l.Listener.Addr()) }

func advertised(a net.Addr) net.Addr {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tcp.Port}
}
