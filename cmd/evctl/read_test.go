package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// cmdKTxn writes N records keyed prefix-0..prefix-N-1 (values {"n":i},
// timestamps a second apart from -at, default 2026-11-20T12:00:00Z) to
// topic in one transaction with franz-go, and commits it, or with -abort
// aborts it: their offsets stay taken, by the records and the
// transaction's marker, though a read_committed reader never sees them.
// With -partition P they all go to partition P. It returns once the
// transaction's markers are written (Apache Kafka writes them a moment
// after the commit returns): each partition's last stable offset is its
// high watermark.
func cmdKTxn(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("ktxn", flag.ContinueOnError)
	abort := fs.Bool("abort", false, "")
	partition := fs.Int("partition", -1, "")
	at := fs.String("at", "2026-11-20T12:00:00Z", "")
	ts.Check(fs.Parse(args))
	if neg || fs.NArg() != 3 {
		ts.Fatalf("usage: ktxn [-abort] [-partition P] [-at TIME] topic N key-prefix")
	}
	topic, prefix := fs.Arg(0), fs.Arg(2)
	n, err := strconv.Atoi(fs.Arg(1))
	ts.Check(err)
	base, err := time.Parse(time.RFC3339, *at)
	ts.Check(err)
	opts := []kgo.Opt{kgo.SeedBrokers(scriptBrokers(ts)...), kgo.AllowAutoTopicCreation(),
		kgo.TransactionalID("evctl-script-" + prefix), kgo.DefaultProduceTopic(topic)}
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	ts.Check(err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts.Check(cl.BeginTransaction())
	var mu sync.Mutex
	var failed error
	for i := range n {
		rec := &kgo.Record{Key: []byte(fmt.Sprintf("%s-%d", prefix, i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Timestamp: base.Add(time.Duration(i) * time.Second), Partition: int32(max(*partition, 0))}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			failed = cmp.Or(failed, err)
		})
	}
	ts.Check(cl.Flush(ctx))
	ts.Check(failed)
	commit := kgo.TryCommit
	if *abort {
		commit = kgo.TryAbort
	}
	ts.Check(cl.EndTransaction(ctx, commit))
	ts.Check(awaitMarkers(ctx, cl, topic))
}

// awaitMarkers waits until every partition of topic has its last stable
// offset at its high watermark: no transaction open, all markers written.
func awaitMarkers(ctx context.Context, cl *kgo.Client, topic string) error {
	ends := func(isolation int8) (map[int32]int64, error) {
		md := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(topic)
		md.Topics = append(md.Topics, mt)
		mresp, err := md.RequestWith(ctx, cl)
		if err != nil {
			return nil, err
		}
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = isolation
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, t := range mresp.Topics {
			for _, p := range t.Partitions {
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Partition, rp.Timestamp = p.Partition, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
		}
		req.Topics = append(req.Topics, rt)
		// Each partition's leader answers for it.
		out := map[int32]int64{}
		for _, shard := range cl.RequestSharded(ctx, req) {
			if shard.Err != nil {
				return nil, shard.Err
			}
			for _, t := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
						return nil, fmt.Errorf("%s[%d]: %w", topic, p.Partition, err)
					}
					out[p.Partition] = p.Offset
				}
			}
		}
		return out, nil
	}
	for {
		high, err := ends(0)
		if err != nil {
			return err
		}
		stable, err := ends(1)
		if err != nil {
			return err
		}
		if len(high) > 0 && maps.Equal(high, stable) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the markers of %s's transaction were never all written (ends %v, last stable %v): %w", topic, high, stable, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cmdAvroKeys implements `avrokeys topic N partitions partitioner`: it
// creates topic with that many partitions and writes N records keyed
// cust-0..cust-N-1, the keys serialized by confluent-kafka-go's avrov2
// serializer (an Avro "string" key schema, auto-registered under
// topic-key), with a librdkafka producer whose partitioner places them:
// the usual Confluent setup, none of it evctl's code.
func cmdAvroKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: avrokeys topic N partitions partitioner")
	}
	topic, partitioner := args[0], args[3]
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	partitions, err := strconv.Atoi(args[2])
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conf := &kafka.ConfigMap{"bootstrap.servers": ts.Getenv("EVCTL_BROKERS"), "partitioner": partitioner}
	p, err := kafka.NewProducer(conf)
	ts.Check(err)
	defer p.Close()
	admin, err := kafka.NewAdminClientFromProducer(p)
	ts.Check(err)
	defer admin.Close()
	res, err := admin.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}})
	ts.Check(err)
	for _, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			ts.Fatalf("avrokeys: create %s: %v", topic, r.Error)
		}
	}

	reg, err := schemaregistry.NewClient(schemaregistry.NewConfig(ts.Getenv("EVCTL_REGISTRY")))
	ts.Check(err)
	defer func() { _ = reg.Close() }()
	ser, err := avrov2.NewSerializer(reg, serde.KeySerde, avrov2.NewSerializerConfig())
	ts.Check(err)
	delivered := make(chan kafka.Event, n)
	for i := range n {
		id := fmt.Sprintf("cust-%d", i)
		key, err := ser.Serialize(topic, &id)
		ts.Check(err)
		msg := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            key, Value: []byte(fmt.Sprintf(`{"customer":%q,"n":%d}`, id, i)),
			Timestamp: time.Date(2026, 11, 20, 12, 0, i, 0, time.UTC),
		}
		ts.Check(p.Produce(msg, delivered))
	}
	for range n {
		select {
		case e := <-delivered:
			if m, ok := e.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				ts.Fatalf("avrokeys: %v", m.TopicPartition.Error)
			}
		case <-ctx.Done():
			ts.Fatalf("avrokeys: deliveries not confirmed within 30s")
		}
	}
}

// cmdFollowChange implements
//
//	followchange delete topic -- cmd [args...]
//	followchange grow topic N key -- cmd [args...]
//
// It runs cmd (a follower, like evctl tail -f), waits for its first line
// of output, then changes topic under it: delete removes the topic and
// waits for cmd to exit; grow adds partitions up to N, writes one record
// keyed key to the last one, waits for key in cmd's output and interrupts
// it. cmd's output lands in followchange.stdout and followchange.stderr,
// its exit status in followchange.status.
func cmdFollowChange(ts *testscript.TestScript, neg bool, args []string) {
	sep := slices.Index(args, "--")
	if neg || sep < 2 || sep == len(args)-1 {
		ts.Fatalf("usage: followchange {delete topic|grow topic N key} -- cmd [args...]")
	}
	change, topic := args[0], args[1]
	cmd := scriptCommand(ts, args[sep+1], args[sep+2:]...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ts.Check(cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor := func(what string, ok func() bool) {
		deadline := time.After(60 * time.Second)
		for !ok() {
			select {
			case err := <-exited:
				exited <- err
				ts.Fatalf("%s exited (%v) before %s\nstderr: %s", args[sep+1], err, what, stderr.String())
			case <-deadline:
				_ = cmd.Process.Kill()
				ts.Fatalf("no %s within 60s\nstdout: %s\nstderr: %s", what, stdout.String(), stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitFor("first line of output", func() bool { return strings.Contains(stdout.String(), "\n") })

	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ts.Check(err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch change {
	case "delete":
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TopicNames = []string{topic}
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = &topic
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		ts.Check(err)
		ts.Check(kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	case "grow":
		if sep != 4 {
			ts.Fatalf("usage: followchange grow topic N key -- cmd [args...]")
		}
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		key := args[3]
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, int32(n)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		ts.Check(err)
		ts.Check(kerr.ErrorForCode(resp.Topics[0].ErrorCode))
		rec := &kgo.Record{Topic: topic, Partition: int32(n - 1), Key: []byte(key), Value: []byte(`{"new":true}`)}
		// On Apache Kafka the brokers' metadata shows the new partitions a
		// moment after CreatePartitions answers: until then franz-go refuses
		// the partition ("invalid record partitioning choice").
		for err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil; err = cl.ProduceSync(ctx, rec).FirstErr() {
			cl.ForceMetadataRefresh()
			select {
			case <-ctx.Done():
				ts.Fatalf("cannot produce to the new partition %d of %s: %v", n-1, topic, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		waitFor(key+" in the output", func() bool { return regexp.MustCompile(regexp.QuoteMeta(key)).MatchString(stdout.String()) })
		ts.Check(cmd.Process.Signal(os.Interrupt))
	default:
		ts.Fatalf("followchange: unknown change %q", change)
	}
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("%s did not exit within 60s of the change\nstderr: %s", args[sep+1], stderr.String())
	}
	status := 0
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			ts.Fatalf("%s: %v", args[sep+1], werr)
		}
		status = ee.ExitCode()
	}
	ts.Check(os.WriteFile(ts.MkAbs("followchange.stdout"), []byte(stdout.String()), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("followchange.stderr"), []byte(stderr.String()), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("followchange.status"), []byte(strconv.Itoa(status)+"\n"), 0o644))
}

// syncBuffer is a strings.Builder safe to write from a process's copier
// while the script reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
