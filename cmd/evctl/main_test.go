package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/cli"
	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/testkafka"
)

var update = flag.Bool("update", os.Getenv("EVCTL_UPDATE_SCRIPTS") != "", "rewrite the expected output in testdata/script/*.txtar")

// scriptT keys the script's testscript.T in Env.Values.
type scriptT struct{}

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"evctl":    func() { os.Exit(cli.Main("v0.0.0-test")) },
		"kconsume": func() { os.Exit(kconsumeMain()) },
		"kwrite":   func() { os.Exit(kwriteMain()) },
	})
}

// TestScripts runs testdata/script/*.txtar over the real main. Scripts get
// these commands besides testscript's own:
//
//	sandbox [-accounts N] [-events N] [-seed S] [-drift N] [-faults]
//	                                             start a sandbox; exports EVCTL_BROKERS, EVCTL_REGISTRY
//	exits N cmd [args...]                        run cmd and require exit status N
//	kproduce topic key hex-value [h=v...]        produce one record with franz-go (a client evctl did not write);
//	                                             hex-value NxHH is N bytes of HH;
//	                                             key or value "-" is null; a header h without =v is null
//	lose-broker topic N status evctl [args...]   run evctl against a sandbox of its own, close the sandbox once
//	                                             topic has N committed offsets, require exit status; stderr
//	                                             in lost.stderr (brokerlost_test.go)
//	ctrlc-silent evctl [args...]                 run evctl against a broker that never answers, SIGINT it once
//	                                             connected, require exit 130 well within its --timeout
//	pyproduce topic key json [h=v|h...]          produce one record with confluent-kafka-python (a header h
//	                                             alone is null); skips where no python3 has it (headers_test.go)
//	deadport                                     export DEAD_ADDR: a loopback address nothing listens on
//	slowregistry                                 export SLOW_REGISTRY: a registry that never answers in time
//	registrydown                                 export DOWN_REGISTRY: the sandbox's registry, gone down from the
//	                                             lookup of a second schema id on (registrydown_test.go)
//	waitenv file                                 wait for an export file (evctl dev --env-file) and export its variables
//	interrupt-on regexp N cmd [args...]          run cmd, send SIGINT once its stdout matches regexp, require exit N;
//	                                             its output lands in interrupted.stdout and interrupted.stderr
//	sortfile file                                sort a file's lines in place (partitions interleave in no fixed order)
//	docblock doc.md lang out                     write the first ```lang block of doc.md to out, so docs run as tests
//	srregister subject {AVRO|JSON|PROTOBUF} file register a schema in the sandbox's registry; exports SCHEMA_ID
//	avrov2produce topic                          write records with confluent-kafka-go's avrov2 serializer to topic,
//	                                             topic.refs and topic.evo (see crosscheck_test.go)
//	protoproduce topic file.proto records        write records with confluent-kafka-go's Protobuf serializer (crosscheck_test.go)
//	protoset out.pb file.proto [dir...]          write file.proto's descriptor set, imports included, as protoc would (protoset_test.go)
//	kevent [-p P] [-type T] topic key json [h=v...]  produce one JSON (Schema) event to partition P (see check_test.go)
//	exec kconsume [-batch N] [-hold F] group topic N  a program, so it runs in the background with &: consume N
//	                                             records in group with franz-go, committing; -hold: then stay
//	                                             in the group, write F, leave when F is removed (groups_test.go)
//	exec kwrite [-group G] hold src rm           a program: write events to src and their states to rm in
//	                                             transactions, without pause, until hold is removed (writer_test.go)
//	replay-chaos [-rounds N] [-seed S] [-group G] [-every K] src dst [evctl flags...]
//	                                             run evctl replay src --to-topic dst, SIGKILL it at a point
//	                                             -seed picks, N times (--resume after the first), then
//	                                             --resume to the end; replay-verify src dst (chaos_test.go)
//	replay-group [-procs N] [-seed S] [-group G] [-every K] src dst [evctl flags...]
//	                                             N evctl replay processes in one group, one SIGKILLed
//	                                             midway; the others must finish; replay-verify src dst
//	interrupt-at topic N status evctl [args...]  run evctl, SIGINT it once topic's committed offsets
//	                                             reach N, require exit status; stderr lands in interrupted.stderr
//	tty [-size WxH] [-exit N] script prog [args] run program in a pseudo-terminal, driven by script's
//	                                             wait/send/screen lines (tty_test.go)
//	authregistry                                 export AUTH_REGISTRY: a registry that logs each request's
//	                                             Authorization header to authregistry.log (read_test.go)
//	ktxn [-abort] [-partition P] [-at TIME] topic N prefix
//	                                             write N records keyed prefix-I in one transaction, committed
//	                                             or aborted, all to P with -partition, a second apart from TIME
//	                                             with -at; returns once its markers are written (read_test.go)
//	avrokeys topic N partitions partitioner      N records keyed cust-I, keys Avro-serialized by confluent-kafka-go,
//	                                             placed by librdkafka's partitioner (read_test.go)
//	followchange {delete topic|grow topic N key} -- cmd [args...]
//	                                             change topic under a follower once it printed (read_test.go)
//	kafkacluster                                 export KAFKA_ADDR: an empty cluster to seed, kfake or, in the
//	                                             real tier, the real one emptied (realtier_test.go)
//	replay-verify src dst                        require that a read_committed reader of dst sees every
//	                                             record of src exactly once, in order, byte for byte
//
// and, for the real tier's broker faults (faults_test.go; the nodes of the
// scripts/kafka.sh cluster, whose ids are 1, 2, 3):
//
//	ktopic name partitions [config=value...]     create a topic, replication factor the cluster's default
//	kseed topic N                                produce records 0..N-1 round-robin over the partitions
//	                                             (value the number, key one of 97, headers), acks=all
//	await-commit group topic N below             wait until group has committed N offsets of topic; fail
//	                                             if it has already committed `below` or more
//	kafka-leader topic partition VAR             export VAR: the partition's leader's node id
//	kafka-coord group VAR                        export VAR: the node id of the group's coordinator
//	kafka-node {kill|stop|start} id              SIGKILL or stop a node and wait until the cluster drops it,
//	                                             or start it and wait until every replica is in sync again;
//	                                             a node left down is started when the script ends
//	tail-kill [-n N] topic                       evctl tail -f topic; N records, SIGKILL the leader, N more:
//	                                             tail must print all 2N, in order; restart the node
//	bounce-copy -mode {hard|clean} -target {brokers|clients} [-partitions P[,P...]] [-records N] [-procs K]
//	                                             transactions_test.py's cells on evctl replay, one per partition
//	                                             count, side by side (faults_test.go); skips its script unless
//	                                             -records or $EVCTL_BOUNCE_RECORDS is set
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams())
}

// scriptParams are TestScripts' parameters, which the real tier reuses
// (realtier_test.go).
func scriptParams() testscript.Params {
	return testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			// Scripts must not read the developer's real config.
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("NO_COLOR", "1")
			env.Setenv("EVCTL_BROKERS", "")
			env.Setenv("EVCTL_REGISTRY", "")
			env.Values[scriptT{}] = env.T() // lets a command skip its script
			testdata, err := filepath.Abs("../../testdata")
			env.Setenv("TESTDATA", testdata)
			return err
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sandbox":       cmdSandbox,
			"exits":         cmdExits,
			"kproduce":      cmdKProduce,
			"deadport":      cmdDeadPort,
			"slowregistry":  cmdSlowRegistry,
			"registrydown":  cmdRegistryDown,
			"waitenv":       cmdWaitEnv,
			"interrupt-on":  cmdInterruptOn,
			"sortfile":      cmdSortFile,
			"docblock":      cmdDocBlock,
			"srregister":    cmdSRRegister,
			"avrov2produce": cmdAvroV2Produce,
			"protoproduce":  cmdProtoProduce,
			"protoset":      cmdProtoSet,
			"kevent":        cmdKEvent,
			"replay-chaos":  cmdReplayChaos,
			"replay-group":  cmdReplayGroup,
			"rebuild-group": cmdRebuildGroup,
			"interrupt-at":  cmdInterruptAt,
			"replay-verify": cmdReplayVerify,
			"tty":           cmdTTY,
			"kafkacluster":  cmdKafkaCluster,
			"pyproduce":     cmdPyProduce,
			"lose-broker":   cmdLoseBroker,
			"ctrlc-silent":  cmdCtrlCSilent,
			"authregistry":  cmdAuthRegistry,
			"ktxn":          cmdKTxn,
			"avrokeys":      cmdAvroKeys,
			"followchange":  cmdFollowChange,
			"ktopic":        cmdKTopic,
			"kseed":         cmdKSeed,
			"await-commit":  cmdAwaitCommit,
			"kafka-leader":  cmdKafkaLeader,
			"kafka-coord":   cmdKafkaCoord,
			"kafka-node":    cmdKafkaNode,
			"tail-kill":     cmdTailKill,
			"bounce-copy":   cmdBounceCopy,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "realkafka" { // true in TestScriptsRealKafka
				return false, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	}
}

func cmdSandbox(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! sandbox")
	}
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	opts := sandbox.Options{Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	fs.IntVar(&opts.Accounts, "accounts", 20, "")
	fs.IntVar(&opts.Events, "events", 200, "")
	fs.Int64Var(&opts.Seed, "seed", 1, "")
	fs.IntVar(&opts.Drift, "drift", 0, "")
	fs.BoolVar(&opts.Faults, "faults", false, "")
	ts.Check(fs.Parse(args))
	if brokers, ok := ts.Value(realKafka{}).(string); ok {
		// The real tier seeds the real cluster, emptied of what an earlier
		// sandbox of the same script seeded.
		ts.Check(testkafka.Reset(context.Background(), brokers))
		opts.Brokers = brokers
	}
	sb, err := sandbox.Start(context.Background(), opts)
	ts.Check(err)
	ts.Defer(func() { _ = sb.Close() })
	ts.Setenv("EVCTL_BROKERS", sb.Brokers())
	ts.Setenv("EVCTL_REGISTRY", sb.RegistryURL())
}

// scriptBrokers splits the script's EVCTL_BROKERS for franz-go, which
// takes one seed broker an argument.
func scriptBrokers(ts *testscript.TestScript) []string {
	return strings.Split(ts.Getenv("EVCTL_BROKERS"), ",")
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func cmdKProduce(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: kproduce topic key hex-value [header=value...]")
	}
	var value []byte
	if n, b, ok := strings.Cut(args[2], "x"); ok { // NxHH: N bytes of HH
		count, err := strconv.Atoi(n)
		ts.Check(err)
		c, err := hex.DecodeString(b)
		ts.Check(err)
		value = bytes.Repeat(c, count)
	} else if args[2] != "-" {
		var err error
		value, err = hex.DecodeString(args[2])
		ts.Check(err)
	}
	// A fixed timestamp keeps the scripts' expected output stable.
	rec := &kgo.Record{Topic: args[0], Key: []byte(args[1]), Value: value, Timestamp: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	if args[1] == "-" {
		rec.Key = nil
	}
	for _, h := range args[3:] {
		k, v, ok := strings.Cut(h, "=")
		hdr := kgo.RecordHeader{Key: k}
		if ok {
			hdr.Value = []byte(v) // h= is an empty value, h alone a null one
		}
		rec.Headers = append(rec.Headers, hdr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...), kgo.AllowAutoTopicCreation(), kgo.ProducerBatchMaxBytes(64<<20))
	ts.Check(err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts.Check(cl.ProduceSync(ctx, rec).FirstErr())
}

func cmdDeadPort(ts *testscript.TestScript, _ bool, _ []string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := l.Addr().String()
	ts.Check(l.Close())
	ts.Setenv("DEAD_ADDR", addr)
}

func cmdSlowRegistry(ts *testscript.TestScript, _ bool, _ []string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	ts.Defer(func() { close(release); _ = srv.Close() })
	ts.Setenv("SLOW_REGISTRY", "http://"+l.Addr().String())
}

func cmdWaitEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitenv file")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
				if !ok {
					ts.Fatalf("%s: not an export line: %q", args[0], line)
				}
				ts.Setenv(k, v)
			}
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within 60s", args[0])
		}
		<-time.After(50 * time.Millisecond)
	}
}

func cmdInterruptOn(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: interrupt-on regexp N command [args...]")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	cmd := scriptCommand(ts, args[2], args[3:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	var stdout strings.Builder
	matched := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		signalled := false
		for {
			n, err := out.Read(buf)
			stdout.Write(buf[:n])
			if !signalled && re.MatchString(stdout.String()) {
				signalled = true
				close(matched)
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-matched:
		ts.Check(cmd.Process.Signal(os.Interrupt))
	case <-copied:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("stdout never matched %q within 60s", args[0])
	}
	<-copied
	err = cmd.Wait()
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[2], err)
		}
		got = ee.ExitCode()
	}
	ts.Check(os.WriteFile(ts.MkAbs("interrupted.stdout"), []byte(stdout.String()), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("interrupted.stderr"), []byte(stderr.String()), 0o644))
	if got != want {
		ts.Fatalf("%s exited %d, want %d\nstderr: %s", args[2], got, want, stderr.String())
	}
}

// scriptCommand is a program on the script's PATH, run in its work
// directory with its connection environment.
func scriptCommand(ts *testscript.TestScript, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(lookPath(ts, name), args...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = os.Environ()
	for _, k := range []string{"EVCTL_BROKERS", "EVCTL_REGISTRY", "XDG_CONFIG_HOME", "NO_COLOR", "HOME", "PATH"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	return cmd
}

// lookPath finds a program on the script's PATH, where testscript puts evctl.
func lookPath(ts *testscript.TestScript, name string) string {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
	}
	ts.Fatalf("%s not found on the script's PATH", name)
	return ""
}

func cmdSortFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sortfile file")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	slices.Sort(lines)
	ts.Check(os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644))
}

func cmdDocBlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: docblock doc.md lang out")
	}
	doc := ts.ReadFile(args[0])
	fence := "```" + args[1] + "\n"
	start := strings.Index(doc, fence)
	if start < 0 {
		ts.Fatalf("%s has no %s block", args[0], fence)
	}
	body := doc[start+len(fence):]
	end := strings.Index(body, "```")
	if end < 0 {
		ts.Fatalf("%s: the %s block does not end", args[0], args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(body[:end]), 0o755))
}

func cmdSRRegister(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: srregister subject {AVRO|JSON|PROTOBUF} file")
	}
	var typ sr.SchemaType
	ts.Check(typ.UnmarshalText([]byte(args[1])))
	cl, err := sr.NewClient(sr.URLs(ts.Getenv("EVCTL_REGISTRY")))
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ss, err := cl.CreateSchema(ctx, args[0], sr.Schema{Schema: ts.ReadFile(args[2]), Type: typ})
	ts.Check(err)
	ts.Setenv("SCHEMA_ID", strconv.Itoa(ss.ID))
}
