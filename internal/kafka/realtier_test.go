package kafka

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/testkafka"
)

// onRealKafka is true during the second pass of the package's tests, which
// TestMain runs against the real cluster EVCTL_TEST_KAFKA names.
var onRealKafka bool

// TestMain runs every test on the embedded broker, then, when
// EVCTL_TEST_KAFKA names a real cluster, every test again against it:
// newCluster then hands each test the real cluster, cleaned, with its
// topics created there.
//
// The real pass runs in a process of its own (the test binary again, with
// realPassEnv set), so that nothing the embedded pass left behind (clients
// closing in the background after a Ctrl-C'd call) reaches it. The crash
// that first made it so was not that: it was librdkafka's, on a fresh
// cluster's "not coordinator" answer (see NewAdmin).
func TestMain(m *testing.M) {
	if os.Getenv(realPassEnv) != "" {
		onRealKafka = true
		os.Exit(m.Run())
	}
	code := m.Run()
	if code == 0 && testkafka.Brokers() != "" {
		fmt.Printf("=== the real tier: the same tests against Apache Kafka at %s=%s\n", testkafka.Env, testkafka.Brokers())
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), realPassEnv+"=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("the real tier: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// realPassEnv marks the test process that runs the real tier's pass.
const realPassEnv = "EVCTL_KAFKA_REAL_PASS"

// TestRealKafkaTier says, when skipped, how to run the real tier.
func TestRealKafkaTier(t *testing.T) {
	if testkafka.Brokers() == "" {
		t.Skip(testkafka.SkipMessage)
	}
	if !onRealKafka {
		t.Skip("the embedded pass; TestMain runs the real tier next")
	}
}

// realCluster takes the real cluster for t and creates topics on it with
// partitions partitions each and the cluster's default replication factor.
func realCluster(t testing.TB, partitions int32, topics ...string) Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	brokers, release, err := testkafka.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := release(); err != nil {
			t.Errorf("cleaning up after the test: %v", err)
		}
	})
	if len(topics) > 0 {
		createRealTopics(ctx, t, brokers, partitions, topics...)
	}
	// A real broker's first transaction, group join or leader election
	// takes longer than kfake's; the tests' waits stay bounded.
	return Config{Brokers: brokers, Timeout: 30 * time.Second}
}

func createRealTopics(ctx context.Context, t testing.TB, brokers string, partitions int32, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	for _, name := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("create topic %s: %v", rt.Topic, err)
		}
	}
	if err := sandbox.AwaitTopics(ctx, brokers, topics); err != nil {
		t.Fatal(err)
	}
}
