package main

// Broker faults on the real cluster (issue 7, item 4): script commands that
// stop, SIGKILL and restart nodes of the scripts/kafka.sh cluster the real
// tier runs on (TestScriptsRealKafka), and the transactions bounce matrix
// Apache Kafka runs on its own transactional copier
// (tests/kafkatest/tests/core/transactions_test.py), run on evctl replay.
//
// They run only in the real tier, whose scripts take the cluster one at a
// time (testkafka.Acquire): a bounce never disturbs another test. Every
// node a script took down is started again when the script ends, and the
// script waits until every partition has its replicas back in sync, so the
// cluster is healthy for the next one.

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/testkafka"
)

// faultDeadline bounds each wait on the cluster while nodes come and go:
// a node's restart, its replicas catching up, a copy moving on.
const faultDeadline = 3 * time.Minute

// nodeSet is what a script did to the cluster's nodes.
type nodeSet struct {
	mu   sync.Mutex
	down map[int]bool
}

// scriptNodes maps each running script to its nodeSet.
var scriptNodes sync.Map // *testscript.TestScript -> *nodeSet

// clusterNodes returns the script's nodeSet; the first call registers
// the restart of every node the script leaves down.
func clusterNodes(ts *testscript.TestScript) *nodeSet {
	if _, ok := ts.Value(realKafka{}).(string); !ok {
		ts.Fatalf("bounces brokers: runs only in the real tier (TestScriptsRealKafka), after [!realkafka] skip")
	}
	if testkafka.Var("DIR") == "" {
		ts.Fatalf("%s_DIR is not set: bouncing brokers needs the directory of the scripts/kafka.sh cluster", testkafka.Env)
	}
	ns := &nodeSet{down: map[int]bool{}}
	if v, loaded := scriptNodes.LoadOrStore(ts, ns); loaded {
		return v.(*nodeSet)
	}
	brokers := scriptBrokers(ts) // the script's environment is gone when its defers run
	ts.Defer(func() {
		scriptNodes.Delete(ts)
		ns.mu.Lock()
		down := slices.Sorted(maps.Keys(ns.down))
		ns.mu.Unlock()
		for _, id := range down {
			if err := kafkaScript("start-node", id); err != nil {
				ts.Logf("restarting node %d after the script: %v", id, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
		defer cancel()
		if err := awaitInSync(ctx, brokers); err != nil {
			ts.Logf("the cluster after the script: %v", err)
		}
	})
	return ns
}

// kafkaScript runs scripts/kafka.sh OP-node ID on the real tier's cluster.
func kafkaScript(op string, id int) error {
	script, err := filepath.Abs("../../scripts/kafka.sh")
	if err != nil {
		return err
	}
	out, err := exec.Command("bash", script, op, strconv.Itoa(id), "--dir", testkafka.Var("DIR")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/kafka.sh %s %d: %w: %s", op, id, err, out)
	}
	return nil
}

// bounceNode takes node id down (SIGKILL when hard, else a clean SIGTERM
// shutdown) and waits until the cluster no longer lists it as a broker.
func bounceNode(ts *testscript.TestScript, ns *nodeSet, id int, hard bool) {
	op := "stop"
	if hard {
		op = "kill"
	}
	ns.mu.Lock()
	ns.down[id] = true
	ns.mu.Unlock()
	ts.Check(kafkaScript(op+"-node", id))
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	ts.Check(awaitBroker(ctx, scriptBrokers(ts), id, false))
}

// restartNode starts node id again, which waits until the cluster lists
// it, and with inSync until every partition's replicas are in sync.
func restartNode(ts *testscript.TestScript, ns *nodeSet, id int, inSync bool) {
	ts.Check(kafkaScript("start-node", id))
	ns.mu.Lock()
	delete(ns.down, id)
	ns.mu.Unlock()
	if inSync {
		ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
		defer cancel()
		ts.Check(awaitInSync(ctx, scriptBrokers(ts)))
	}
}

// cmdKafkaNode is kafka-node: see TestScripts.
func cmdKafkaNode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: kafka-node {kill|stop|start} node-id")
	}
	id, err := strconv.Atoi(args[1])
	ts.Check(err)
	ns := clusterNodes(ts)
	start := time.Now()
	switch args[0] {
	case "kill", "stop":
		bounceNode(ts, ns, id, args[0] == "kill")
	case "start":
		restartNode(ts, ns, id, true)
	default:
		ts.Fatalf("usage: kafka-node {kill|stop|start} node-id")
	}
	ts.Logf("kafka-node %s %d: done in %s", args[0], id, time.Since(start).Round(time.Millisecond))
}

// metadata asks the cluster for the brokers and the partitions of topics
// (all topics when none is named).
func metadata(ctx context.Context, brokers []string, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	if len(topics) == 0 {
		req.Topics = nil // all
	}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req.RequestWith(ctx, cl)
}

// awaitBroker waits until broker id is listed (up) or not (down).
func awaitBroker(ctx context.Context, brokers []string, id int, up bool) error {
	var last string
	for {
		md, err := metadata(ctx, brokers)
		if err == nil {
			listed := slices.ContainsFunc(md.Brokers, func(b kmsg.MetadataResponseBroker) bool { return int(b.NodeID) == id })
			if listed == up {
				return nil
			}
			last = fmt.Sprintf("%d brokers listed", len(md.Brokers))
		} else {
			last = err.Error()
		}
		if err := pauseOn(ctx); err != nil {
			return fmt.Errorf("broker %d never was up=%v: %s: %w", id, up, last, err)
		}
	}
}

// awaitInSync waits until every broker of the cluster is up and every
// partition of every topic, the internal ones included, has a leader and
// all its replicas in sync.
func awaitInSync(ctx context.Context, brokers []string) error {
	var last string
	for {
		md, err := metadata(ctx, brokers)
		if err == nil {
			last = outOfSync(md)
			if last == "" {
				return nil
			}
		} else {
			last = err.Error()
		}
		if err := pauseOn(ctx); err != nil {
			return fmt.Errorf("the cluster never was back in sync: %s: %w", last, err)
		}
	}
}

// outOfSync says what keeps the cluster from being healthy, "" when nothing.
func outOfSync(md *kmsg.MetadataResponse) string {
	up := map[int32]bool{}
	for _, b := range md.Brokers {
		up[b.NodeID] = true
	}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			for _, r := range p.Replicas {
				if !up[r] {
					return fmt.Sprintf("broker %d (a replica of %s[%d]) is not up", r, *t.Topic, p.Partition)
				}
			}
			if p.Leader < 0 || len(p.ISR) < len(p.Replicas) {
				return fmt.Sprintf("%s[%d]: leader %d, in-sync replicas %v of %v", *t.Topic, p.Partition, p.Leader, p.ISR, p.Replicas)
			}
		}
	}
	return ""
}

func pauseOn(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// cmdKafkaLeader is kafka-leader: see TestScripts.
func cmdKafkaLeader(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: kafka-leader topic partition VAR")
	}
	p, err := strconv.Atoi(args[1])
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := metadata(ctx, scriptBrokers(ts), args[0])
	ts.Check(err)
	for _, t := range md.Topics {
		for _, mp := range t.Partitions {
			if int(mp.Partition) == p && mp.Leader >= 0 {
				ts.Setenv(args[2], strconv.Itoa(int(mp.Leader)))
				return
			}
		}
	}
	ts.Fatalf("%s[%d] has no leader", args[0], p)
}

// cmdKafkaCoord is kafka-coord: see TestScripts.
func cmdKafkaCoord(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: kafka-coord group VAR")
	}
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	id, err := groupCoordinator(ctx, scriptBrokers(ts), args[0])
	ts.Check(err)
	ts.Setenv(args[1], strconv.Itoa(id))
}

// groupCoordinator asks the cluster (FindCoordinator) which node
// coordinates group: the leader of its partition of __consumer_offsets.
// It asks again while the cluster answers that the coordinator is not
// available yet.
func groupCoordinator(ctx context.Context, brokers []string, group string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var last error
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey, req.CoordinatorKeys = group, []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			node, code := resp.NodeID, resp.ErrorCode
			if len(resp.Coordinators) > 0 { // v4+
				node, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
			}
			if err = kerr.ErrorForCode(code); err == nil {
				return int(node), nil
			}
		}
		last = err
		if err := pauseOn(ctx); err != nil {
			return 0, fmt.Errorf("no coordinator of group %s: %w: %w", group, last, err)
		}
	}
}

// cmdKTopic is ktopic: see TestScripts.
func cmdKTopic(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: ktopic name partitions [config=value...]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	configs := map[string]string{}
	for _, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("ktopic: %q is not config=value", kv)
		}
		configs[k] = v
	}
	ts.Check(createTopic(scriptBrokers(ts), args[0], int32(n), configs))
}

// createTopic creates topic with the cluster's default replication factor
// and waits until every broker lists it.
func createTopic(brokers []string, topic string, partitions int32, configs map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(configs[k])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return fmt.Errorf("create topic %s: %w", t.Topic, err)
		}
	}
	return sandbox.AwaitTopics(ctx, strings.Join(brokers, ","), []string{topic})
}

// cmdKSeed is kseed: see TestScripts.
func cmdKSeed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: kseed topic N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	ts.Check(seedSequence(scriptBrokers(ts), args[0], 0, n))
}

// seedSequence produces the records first..first+n-1 to topic, record i
// to partition i mod the partition count, its value the number i, its
// key one of 97, two headers, a timestamp i ms after a fixed instant; all
// acknowledged by every in-sync replica, each once (idempotent).
func seedSequence(brokers []string, topic string, first, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	parts, err := func() ([]int32, error) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		return topicPartitions(ctx, cl, topic)
	}()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return err
	}
	defer cl.Close()
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var first1 error
	for i := first; i < first+n; i++ {
		r := &kgo.Record{
			Topic:     topic,
			Partition: parts[i%len(parts)],
			Key:       []byte("k" + strconv.Itoa(i%97)),
			Value:     []byte(strconv.Itoa(i)),
			Headers:   []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}, {Key: "empty", Value: []byte{}}},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first1 = cmp.Or(first1, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return first1
}

// cmdAwaitCommit is await-commit: see TestScripts.
func cmdAwaitCommit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: await-commit group topic N below")
	}
	n, err := strconv.ParseInt(args[2], 10, 64)
	ts.Check(err)
	below, err := strconv.ParseInt(args[3], 10, 64)
	ts.Check(err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...))
	ts.Check(err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	for {
		offs, err := groupOffsets(ctx, cl, args[0], args[1])
		if got := sumOffsets(offs); err == nil && got >= n {
			if got >= below {
				ts.Fatalf("group %s has committed %d offsets of %s already, not below %d: the fault would come too late (slow the copy down)", args[0], got, args[1], below)
			}
			ts.Logf("group %s has committed %d offsets of %s", args[0], got, args[1])
			return
		}
		if err := pauseOn(ctx); err != nil {
			ts.Fatalf("group %s never committed %d offsets of %s: %v", args[0], n, args[1], err)
		}
	}
}

// cmdTailKill is tail-kill: see TestScripts.
func cmdTailKill(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("tail-kill", flag.ContinueOnError)
	n := fs.Int("n", 20, "records produced before the kill, and as many after")
	ts.Check(fs.Parse(args))
	if neg || fs.NArg() != 1 {
		ts.Fatalf("usage: tail-kill [-n N] topic")
	}
	topic := fs.Arg(0)
	ns := clusterNodes(ts)
	brokers := scriptBrokers(ts)

	cmd := scriptCommand(ts, "evctl", "tail", topic, "-f", "--from", "start", "--max", strconv.Itoa(2**n), "-o", "json")
	stderrPath := ts.MkAbs("tail.stderr")
	ef, err := os.Create(stderrPath)
	ts.Check(err)
	defer ef.Close()
	cmd.Stderr = ef
	out, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	lines := make(chan string, 2**n)
	go func() {
		defer close(lines)
		buf := make([]byte, 0, 64<<10)
		tmp := make([]byte, 4096)
		for {
			k, err := out.Read(tmp)
			buf = append(buf, tmp[:k]...)
			for {
				i := slices.Index(buf, '\n')
				if i < 0 {
					break
				}
				lines <- string(buf[:i])
				buf = buf[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ts.Defer(func() { _ = cmd.Process.Kill() })

	var got []string
	await := func(want int, what string) {
		deadline := time.After(faultDeadline)
		for len(got) < want {
			select {
			case l, ok := <-lines:
				if !ok {
					ts.Fatalf("tail -f ended after %d records, %s; its stderr:\n%s", len(got), what, readFile(stderrPath))
				}
				got = append(got, l)
			case <-deadline:
				ts.Fatalf("HANG: tail -f printed %d records of %d, %s, within %s; its stderr:\n%s", len(got), want, what, faultDeadline, readFile(stderrPath))
			}
		}
	}
	ts.Check(seedSequence(brokers, topic, 0, *n))
	await(*n, "before the kill")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	md, err := metadata(ctx, brokers, topic)
	cancel()
	ts.Check(err)
	leader := int(md.Topics[0].Partitions[0].Leader)
	bounceNode(ts, ns, leader, true)
	ts.Logf("tail-kill: SIGKILLed node %d, the leader of %s[0], after tail -f printed %d records", leader, topic, len(got))
	ts.Check(seedSequence(brokers, topic, *n, *n))
	await(2**n, fmt.Sprintf("after node %d was killed", leader))
	select {
	case err := <-exited:
		if err != nil {
			ts.Fatalf("tail -f --max %d: %v; its stderr:\n%s", 2**n, err, readFile(stderrPath))
		}
	case <-time.After(faultDeadline):
		ts.Fatalf("HANG: tail -f --max %d printed them all but did not exit", 2**n)
	}
	// The records in the order produced, the ones after the kill included.
	for i, l := range got {
		if !strings.Contains(l, fmt.Sprintf(`"value":%d,`, i)) {
			ts.Fatalf("tail -f's record #%d is not record %d: %s", i, i, l)
		}
	}
	restartNode(ts, ns, leader, true)
	ts.Logf("tail-kill: %d records followed through the kill; node %d is back", len(got), leader)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// cmdBounceCopy is bounce-copy: see TestScripts.
func cmdBounceCopy(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("bounce-copy", flag.ContinueOnError)
	mode := fs.String("mode", "hard", "{hard|clean}: SIGKILL, or SIGTERM (a clean shutdown)")
	target := fs.String("target", "brokers", "{brokers|clients}: bounce each node in turn, or each replay process three times")
	partitionList := fs.String("partitions", "1", "partitions of the source and the destination; a list (1,3) runs one cell per count, side by side")
	records := fs.Int("records", 0, "records to copy per cell (default: $EVCTL_BOUNCE_RECORDS)")
	procs := fs.Int("procs", 0, "replay processes in each cell's group (default: 1 with one partition, else 2)")
	copyTime := fs.Duration("copy-time", 0, "how long a copy takes at its --rate (default: 180s bouncing brokers, 45s clients)")
	ts.Check(fs.Parse(args))
	var partitions []int
	for _, f := range strings.Split(*partitionList, ",") {
		p, err := strconv.Atoi(f)
		if err != nil || p < 1 {
			neg = true
		}
		partitions = append(partitions, p)
	}
	if neg || fs.NArg() != 0 || (*mode != "hard" && *mode != "clean") || (*target != "brokers" && *target != "clients") {
		ts.Fatalf("usage: bounce-copy -mode {hard|clean} -target {brokers|clients} [-partitions P[,P...]] [-records N] [-procs K] [-copy-time D]")
	}
	if *records == 0 {
		n, err := strconv.Atoi(os.Getenv(bounceRecordsEnv))
		if err != nil || n <= 0 {
			// Each cell takes minutes (a broker bounce, a JVM start or two):
			// the matrix runs when asked for.
			ts.Value(scriptT{}).(testscript.T).Skip(fmt.Sprintf("the bounce matrix runs when %s gives the records per cell: "+
				"%s=10000 go test ./cmd/evctl -run 'TestScriptsRealKafka/bounce_matrix$' (the full matrix: 100000)", bounceRecordsEnv, bounceRecordsEnv))
		}
		*records = n
	}
	ns := clusterNodes(ts)
	hard := *mode == "hard"
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	ts.Check(awaitInSync(ctx, scriptBrokers(ts))) // the last cells' bounces are over
	if *copyTime == 0 {
		// Bouncing a node takes up to a minute on a loaded machine (a JVM
		// starts twice), and the copy must outlast three.
		*copyTime = map[string]time.Duration{"brokers": 180 * time.Second, "clients": 45 * time.Second}[*target]
	}
	brokers := scriptBrokers(ts)
	cells := make([]*bounceCell, len(partitions))
	for i, p := range partitions {
		cells[i] = newBounceCell(ts, brokers, *mode, *target, p, *procs, *records, *copyTime)
	}
	for _, c := range cells {
		c.startMember(ts, 0)
	}
	for _, c := range cells {
		for i := 1; i < len(c.members); i++ {
			// Once the first has made the group: later members resume it.
			awaitCommitted(ts, c.pr, 1, c.members[0], c.what)
			c.startMember(ts, i)
		}
	}
	switch *target {
	case "brokers":
		// Every cell's copy meets each bounce.
		for id := 1; id <= 3; id++ {
			before := make([]int64, len(cells))
			for i, c := range cells {
				awaitCommitted(ts, c.pr, c.total*int64(id*20)/100, c.members[0], c.what)
				c.notDone(ts, fmt.Sprintf("node %d's %s bounce", id, *mode))
				before[i] = c.progress()
			}
			t0 := time.Now()
			bounceNode(ts, ns, id, hard)
			t1 := time.Now()
			// The copies go on on two of three brokers (min.insync.replicas 2).
			more := make([]string, len(cells))
			for i, c := range cells {
				down := awaitCommitted(ts, c.pr, min(before[i]+int64(c.every), c.total), c.members[0], c.what+", with node "+strconv.Itoa(id)+" down")
				more[i] = fmt.Sprintf("%d more committed %s later", down-before[i], time.Since(t1).Round(time.Millisecond))
			}
			t2 := time.Now()
			// As transactions_test.py does, the next bounce does not wait
			// for this node's replicas to catch up.
			restartNode(ts, ns, id, false)
			for i, c := range cells {
				c.bounced(ts, fmt.Sprintf("node %d at %d%% (gone from the cluster in %s, %s, back %s after that)",
					id, before[i]*100/c.total, t1.Sub(t0).Round(time.Millisecond), more[i], time.Since(t2).Round(time.Millisecond)))
			}
		}
	case "clients":
		// Each process of each cell three times, at 20 % steps of its
		// cell's progress, the cells' bounces in the order of those steps.
		type bounce struct{ cell, member, at int }
		var plan []bounce
		for round := 1; round <= 3; round++ {
			for ci, c := range cells {
				for i := range c.members {
					plan = append(plan, bounce{ci, i, round*20 + i*20/len(c.members)})
				}
			}
		}
		slices.SortStableFunc(plan, func(a, b bounce) int { return cmp.Compare(a.at, b.at) })
		for _, b := range plan {
			c := cells[b.cell]
			m := c.members[b.member]
			awaitCommitted(ts, c.pr, c.total*int64(b.at)/100, m, c.what)
			c.notDone(ts, fmt.Sprintf("%s's %s bounce", m.name, *mode))
			at := c.progress()
			if hard {
				m.kill()
				<-m.done
			} else {
				ts.Check(m.cmd.Process.Signal(syscall.SIGTERM))
				m.waitExit(ts, faultDeadline)
				// Stopped at a transaction boundary (130), or done (0).
				if code := m.exitCode(); code != 130 && code != 0 {
					m.requireExit(ts, 130)
				}
			}
			c.bounced(ts, fmt.Sprintf("member %d at %d%%", b.member, at*100/c.total))
			c.startMember(ts, b.member)
		}
	}
	// Each copy's time: until its group has committed every record.
	ctx, cancel = context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	for pending := len(cells); pending > 0; {
		pending = 0
		for _, c := range cells {
			if c.copied == 0 && c.progress() >= c.total {
				c.copied = time.Since(c.start)
			}
			if c.copied == 0 {
				pending++
				for _, m := range c.members {
					if m.exited() && m.exitCode() != 0 {
						m.requireExit(ts, 0)
					}
				}
			}
		}
		if pending == 0 {
			break
		}
		if err := pauseOn(ctx); err != nil {
			ts.Fatalf("HANG: %d of the copies did not finish within %s after the bounces: %v", pending, faultDeadline, err)
		}
	}
	for _, c := range cells {
		for _, m := range c.members {
			m.waitExit(ts, faultDeadline)
			m.requireExit(ts, 0)
		}
		ts.Logf("%s: bounced %s; copied in %s (--rate %d/s per process, %d processes)",
			c.what, strings.Join(c.bounces, ", "), c.copied.Round(time.Millisecond), c.rate, len(c.members))
	}
	var failed []string
	for _, c := range cells {
		failed = append(failed, c.check(ts, brokers)...)
	}
	if len(failed) > 0 {
		ts.Fatalf("EXACTLY-ONCE VIOLATED:\n%s", strings.Join(failed, "\n"))
	}
}

// bounceCell is one cell of the bounce matrix: a copy from src to dst by
// a group of replay processes, read by a concurrent reader.
type bounceCell struct {
	what, src, dst, group, name string
	total                       int64
	every, rate                 int
	pr                          *probe
	reader                      *concurrentReader
	base, resume                []string
	members                     []*evctlProc
	runs                        []int
	start                       time.Time
	copied                      time.Duration
	bounces                     []string
}

// newBounceCell makes a cell's topics (replication factor 3,
// min.insync.replicas 2) and source, and starts its concurrent reader.
func newBounceCell(ts *testscript.TestScript, brokers []string, mode, target string, partitions, procs, records int, copyTime time.Duration) *bounceCell {
	if procs == 0 {
		procs = min(partitions, 2)
	}
	c := &bounceCell{name: fmt.Sprintf("bounce.%s.%s.%dp", mode, target, partitions), total: int64(records)}
	c.src, c.dst, c.group = c.name+".src", c.name+".dst", c.name
	c.what = fmt.Sprintf("bounce-copy %s bounces of %s, %d partitions, %d records", mode, target, partitions, records)
	isr := map[string]string{"min.insync.replicas": "2"}
	ts.Check(createTopic(brokers, c.src, int32(partitions), isr))
	ts.Check(createTopic(brokers, c.dst, int32(partitions), isr))
	ts.Check(seedSequence(brokers, c.src, 0, records))
	c.pr = newProbe(ts, c.src, c.dst, c.group)
	c.reader = startConcurrentReader(ts, brokers, c.dst)
	// Each process copies at most its share of rate, so that the copy
	// lasts for the bounces; checkpoints every 1% keep the progress fine.
	c.rate = int(math.Ceil(float64(records) / copyTime.Seconds() / float64(procs)))
	c.every = max(records/100, 10)
	c.base = []string{"replay", c.src, "--to-topic", c.dst, "--group", c.group, "--checkpoint-every", strconv.Itoa(c.every),
		"--no-progress", "--rate", strconv.Itoa(c.rate) + "/s"}
	c.resume = append(slices.Clone(c.base), "--resume")
	c.members = make([]*evctlProc, procs)
	c.runs = make([]int, procs)
	return c
}

// startMember starts (again) the cell's replay process i: the first run
// of the first creates the group, every other run resumes it.
func (c *bounceCell) startMember(ts *testscript.TestScript, i int) {
	if c.start.IsZero() {
		c.start = time.Now()
	}
	c.runs[i]++
	args := c.resume
	if i == 0 && c.runs[i] == 1 {
		args = c.base
	}
	c.members[i] = startEvctl(ts, fmt.Sprintf("%s member %d run %d", c.name, i, c.runs[i]), fmt.Sprintf("%s-%d-%d.stderr", c.name, i, c.runs[i]), args)
	c.members[i].probe = c.pr
}

// progress is the records the cell's group has committed.
func (c *bounceCell) progress() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.pr.committed(ctx)
}

// notDone fails when the copy is done before a bounce meant to hit it.
func (c *bounceCell) notDone(ts *testscript.TestScript, bounce string) {
	if got := c.progress(); got >= c.total {
		ts.Fatalf("%s: the copy was done before %s (%d of %d committed after %s): nothing was bounced while it ran; give it a longer -copy-time",
			c.what, bounce, got, c.total, time.Since(c.start).Round(time.Millisecond))
	}
}

func (c *bounceCell) bounced(ts *testscript.TestScript, what string) {
	c.bounces = append(c.bounces, what)
	ts.Logf("%s: bounced %s", c.what, what)
}

// check reads the source and the destination once the copy is done, and
// says how the final and the concurrent reader's records differ from the
// source's: none missing, none twice, in source order, byte for byte.
func (c *bounceCell) check(ts *testscript.TestScript, brokers []string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	srcRecs, _, err := readTopic(ctx, strings.Join(brokers, ","), c.src)
	ts.Check(err)
	final, markers, err := readTopic(ctx, strings.Join(brokers, ","), c.dst)
	ts.Check(err)
	concurrent, err := c.reader.finish(ctx, c.pr)
	ts.Check(err)
	var failed []string
	for _, read := range []struct {
		who  string
		recs map[int32][]*kgo.Record
	}{{"the final reader", final}, {"the concurrent reader", concurrent}} {
		n, dups := sequenceCounts(read.recs)
		if problems := compareCopies(c.src, c.dst, srcRecs, read.recs); len(problems) > 0 || dups > 0 || int64(n) != c.total {
			failed = append(failed, fmt.Sprintf("%s: %s: %d records, %d duplicates\n%s", c.what, read.who, n, dups, strings.Join(problems, "\n")))
			continue
		}
		ts.Logf("%s: %s read %d records of %d, 0 duplicates, the same set as the source, in source order per partition, byte for byte",
			c.what, read.who, n, c.total)
	}
	ts.Logf("%s: %d commit and %d abort markers; checked %s after start", c.what, markers.commits, markers.aborts, time.Since(c.start).Round(time.Millisecond))
	return failed
}

// bounceRecordsEnv gives bounce-copy's records per cell.
const bounceRecordsEnv = "EVCTL_BOUNCE_RECORDS"

// awaitCommitted waits until the group has committed n offsets and
// returns how many it has; it fails if p exits with an error first, or
// after faultDeadline.
func awaitCommitted(ts *testscript.TestScript, pr *probe, n int64, p *evctlProc, what string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	brokers := scriptBrokers(ts)
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		offs, err := groupOffsets(cctx, pr.cl, pr.group, pr.src)
		ccancel()
		if err != nil {
			// The probe's client may keep asking the SIGKILLed coordinator
			// (the hard broker cell hung so for 3 minutes, the group done):
			// ask through a fresh one.
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			offs, err = freshGroupOffsets(cctx, brokers, pr.group, pr.src)
			ccancel()
		}
		got := sumOffsets(offs)
		if err != nil {
			pr.lastErr = err
		}
		if got >= n {
			return got
		}
		if p.exited() && p.exitCode() != 0 {
			p.requireExit(ts, 0)
		}
		select {
		case <-ctx.Done():
			ts.Fatalf("HANG (%s): the group committed %d offsets, not %d, within %s\n%s", what, got, n, faultDeadline, pr.diagnose())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freshGroupOffsets reads group's committed offsets of topic through a
// client of its own.
func freshGroupOffsets(ctx context.Context, brokers []string, group, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return groupOffsets(ctx, cl, group, topic)
}

// sequenceCounts counts the records and the duplicated values among them.
func sequenceCounts(recs map[int32][]*kgo.Record) (n, dups int) {
	seen := map[string]bool{}
	for _, rs := range recs {
		for _, r := range rs {
			n++
			if seen[string(r.Value)] {
				dups++
			}
			seen[string(r.Value)] = true
		}
	}
	return n, dups
}

// concurrentReader reads a topic read_committed from its start while a
// copy writes it, as transactions_test.py's concurrent consumer does.
type concurrentReader struct {
	cl    *kgo.Client
	topic string
	mu    sync.Mutex
	recs  map[int32][]*kgo.Record
	last  map[int32]int64 // offset of the last record or marker read
	err   error
	stop  context.CancelFunc
	done  chan struct{}
	parts []int32
}

func startConcurrentReader(ts *testscript.TestScript, brokers []string, topic string) *concurrentReader {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	ts.Check(err)
	parts, err := topicPartitions(ctx, adm, topic)
	adm.Close()
	ts.Check(err)
	offsets := map[int32]kgo.Offset{}
	for _, p := range parts {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords())
	ts.Check(err)
	rctx, stop := context.WithCancel(context.Background())
	r := &concurrentReader{cl: cl, topic: topic, recs: map[int32][]*kgo.Record{}, last: map[int32]int64{}, stop: stop, done: make(chan struct{}), parts: parts}
	go r.run(rctx)
	ts.Defer(func() { r.stop(); <-r.done; cl.Close() })
	return r
}

func (r *concurrentReader) run(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		fs := r.cl.PollFetches(ctx)
		r.mu.Lock()
		fs.EachError(func(t string, p int32, err error) {
			// Brokers come and go: the client retries what it can.
			if !errors.Is(err, context.Canceled) && !kerr.IsRetriable(err) && r.err == nil {
				r.err = fmt.Errorf("concurrent reader of %s[%d]: %w", t, p, err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			r.last[rec.Partition] = rec.Offset
			if !rec.Attrs.IsControl() {
				r.recs[rec.Partition] = append(r.recs[rec.Partition], rec)
			}
		})
		r.mu.Unlock()
	}
}

// finish waits until the reader has read each partition up to its high
// watermark (once no transaction is open on it) and returns what it read.
func (r *concurrentReader) finish(ctx context.Context, pr *probe) (map[int32][]*kgo.Record, error) {
	var hwm, lso map[int32]int64
	var err error
	for {
		hwm, err = endOffsets(ctx, pr.cl, r.topic, r.parts, false)
		if err == nil {
			lso, err = endOffsets(ctx, pr.cl, r.topic, r.parts, true)
		}
		if err == nil && maps.Equal(hwm, lso) {
			break
		}
		if err := pauseOn(ctx); err != nil {
			return nil, fmt.Errorf("%s: a transaction stays open (last stable offsets %v, high watermarks %v): %w", r.topic, lso, hwm, err)
		}
	}
	for {
		r.mu.Lock()
		caught, rerr := true, r.err
		for p, h := range hwm {
			if h > 0 && r.last[p] < h-1 {
				caught = false
			}
		}
		last := maps.Clone(r.last)
		r.mu.Unlock()
		if rerr != nil {
			return nil, rerr
		}
		if caught {
			break
		}
		if err := pauseOn(ctx); err != nil {
			return nil, fmt.Errorf("the concurrent reader read %s up to %v of %v: %w", r.topic, last, hwm, err)
		}
	}
	r.stop()
	<-r.done
	return r.recs, nil
}
