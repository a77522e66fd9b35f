package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/evctl/evctl/internal/testkafka"
)

// realKafka keys, in Env.Values, the real cluster's bootstrap list while a
// script runs in the real tier; the sandbox command seeds that cluster.
type realKafka struct{}

// TestScriptsRealKafka runs every script that starts a sandbox again, on
// the real Kafka cluster EVCTL_TEST_KAFKA names (scripts/kafka.sh): the
// sandbox command seeds the bank domain into it instead of an embedded
// broker. The scripts keep their fixed topic and group names, so they take
// the cluster one at a time, each on a clean slate (see testkafka). The
// condition [realkafka] is true there, for the few lines a real broker
// answers differently.
func TestScriptsRealKafka(t *testing.T) {
	if testkafka.Brokers() == "" {
		t.Skip(testkafka.SkipMessage)
	}
	files, err := clusterScripts("../../testdata/script")
	if err != nil {
		t.Fatal(err)
	}
	p := scriptParams()
	p.Dir, p.Files, p.UpdateScripts = "", files, false
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		brokers, release, err := testkafka.Acquire(ctx)
		if err != nil {
			return err
		}
		env.Defer(func() {
			if err := release(); err != nil {
				env.T().Fatal(fmt.Sprintf("cleaning up after the script: %v", err))
			}
		})
		env.Values[realKafka{}] = brokers
		// The cluster's other listeners, for the scripts that use them.
		for _, v := range []string{"SASL", "USER", "PASSWORD", "SSL", "CA"} {
			env.Setenv(testkafka.Env+"_"+v, testkafka.Var(v))
		}
		return nil
	}
	p.Condition = func(cond string) (bool, error) {
		if cond == "realkafka" {
			return true, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	testscript.Run(t, p)
}

// cmdKafkaCluster exports KAFKA_ADDR, an empty cluster for evctl dev
// --kafka to seed: an embedded kfake broker, or in the real tier the real
// cluster, emptied.
func cmdKafkaCluster(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: kafkacluster")
	}
	if brokers, ok := ts.Value(realKafka{}).(string); ok {
		ts.Check(testkafka.Reset(context.Background(), brokers))
		ts.Setenv("KAFKA_ADDR", brokers)
		return
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.AllowAutoTopicCreation())
	ts.Check(err)
	ts.Defer(c.Close)
	ts.Setenv("KAFKA_ADDR", strings.Join(c.ListenAddrs(), ","))
}

// clusterScripts lists the scripts in dir that start a sandbox or take a
// cluster with kafkacluster.
func clusterScripts(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, path := range paths {
		uses, err := startsSandbox(path)
		if err != nil {
			return nil, err
		}
		if uses {
			out = append(out, path)
		}
	}
	return out, nil
}

func startsSandbox(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-- ") { // the script ends where its files begin
			return false, nil
		}
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "sandbox" || f[0] == "kafkacluster") {
			return true, nil
		}
	}
	return false, sc.Err()
}
