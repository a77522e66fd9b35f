package cli

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/schema"
)

// silentBroker accepts connections and never answers, as a wedged broker
// or a wrong port behind a proxy does. accepted gets a token per
// connection.
func silentBroker(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 64)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), ch
}

// TestCtrlCWhileBrokerSilent: Ctrl-C while the broker accepts connections
// and never answers ends each command at once, with exit status 130,
// although --timeout is a minute. (The deadline is far below it, not a
// measure of speed: these waited the whole timeout before.)
func TestCtrlCWhileBrokerSilent(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "c.jsonl")
	if err := os.WriteFile(capture, []byte(`{"key":"k1","value":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const timeout = time.Minute
	for _, c := range []struct {
		name string
		run  func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error
	}{
		{"topics", func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error {
			o, err := parseFlags(t, NewCmdTopics)
			if err != nil {
				t.Fatal(err)
			}
			o.Kafka = cfg
			return topicsRun(ctx, o)
		}},
		{"tail", func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error {
			o, err := parseFlags(t, NewCmdTail, "t")
			if err != nil {
				t.Fatal(err)
			}
			o.Kafka, o.Registry = cfg, noRegistry
			return tailRun(ctx, o)
		}},
		{"history", func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error {
			o, err := parseFlags(t, NewCmdHistory, "t", "k1")
			if err != nil {
				t.Fatal(err)
			}
			o.Kafka, o.Registry = cfg, noRegistry
			return historyRun(ctx, o)
		}},
		{"replay", func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error {
			o, err := parseFlags(t, NewCmdReplay, "t", "--to-topic", "u", "--create")
			if err != nil {
				t.Fatal(err)
			}
			o.Kafka, o.Registry = cfg, noRegistry
			return replayRun(ctx, o)
		}},
		{"replay --from-file", func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error {
			o, err := parseFlags(t, NewCmdReplay, "--from-file", capture, "--to-topic", "u", "--create")
			if err != nil {
				t.Fatal(err)
			}
			o.Kafka, o.Registry = cfg, noRegistry
			return replayRun(ctx, o)
		}},
		{"diff", func(ctx context.Context, t *testing.T, cfg func() (kafka.Config, error)) error {
			o, err := parseFlags(t, NewCmdDiff, "t", capture)
			if err != nil {
				t.Fatal(err)
			}
			o.Kafka, o.Registry = cfg, noRegistry
			return diffRun(ctx, o)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, accepted := silentBroker(t)
			cfg := func() (kafka.Config, error) { return kafka.Config{Brokers: addr, Timeout: timeout}, nil }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.run(ctx, t, cfg) }()
			select {
			case <-accepted: // the command is waiting on the broker now
			case err := <-done:
				t.Fatalf("returned before reaching the broker: %v", err)
			case <-time.After(timeout / 2):
				t.Fatal("never connected to the broker")
			}
			cancel()
			select {
			case err := <-done:
				if got := exitStatus(err, ctx, io.Discard, "evctl "+c.name); got != ExitInterrupt {
					t.Errorf("exit status %d (err %v), want %d", got, err, ExitInterrupt)
				}
			case <-time.After(timeout / 4):
				t.Fatalf("still waiting on the broker %s after Ctrl-C", timeout/4)
			}
		})
	}
}

func noRegistry() (*schema.RegistryClient, error) { return nil, nil }
