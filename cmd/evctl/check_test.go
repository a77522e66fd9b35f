package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
)

// cmdKEvent produces one event to an explicit partition, creating the topic
// when it does not exist:
//
//	kevent [-partitions N] [-p P] [-ts RFC3339] [-type T] topic key json [h=v...]
//
// With -type the value is JSON Schema framed (0x00, the 4-byte id, the JSON)
// under a schema titled T, registered as subject topic-T, so evctl decodes
// it with type T; without, the value is plain JSON with no schema. The
// timestamp defaults to 2026-11-20T12:00:00Z, as kproduce's.
func cmdKEvent(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! kevent")
	}
	fs := flag.NewFlagSet("kevent", flag.ContinueOnError)
	partitions := fs.Int("partitions", 3, "partitions of the topic, when kevent creates it")
	partition := fs.Int("p", 0, "partition")
	at := fs.String("ts", "2026-11-20T12:00:00Z", "timestamp")
	typ := fs.String("type", "", "JSON Schema title: the event type")
	ts.Check(fs.Parse(args))
	if fs.NArg() < 3 {
		ts.Fatalf("usage: kevent [-partitions N] [-p P] [-ts RFC3339] [-type T] topic key json [h=v...]")
	}
	topic, key, value := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	if !json.Valid([]byte(value)) {
		ts.Fatalf("kevent: value is not JSON: %s", value)
	}
	when, err := time.Parse(time.RFC3339Nano, *at)
	ts.Check(err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	payload := []byte(value)
	if *typ != "" {
		reg, err := sr.NewClient(sr.URLs(ts.Getenv("EVCTL_REGISTRY")))
		ts.Check(err)
		schema, _ := json.Marshal(map[string]string{"title": *typ, "type": "object"})
		ss, err := reg.CreateSchema(ctx, topic+"-"+*typ, sr.Schema{Schema: string(schema), Type: sr.TypeJSON})
		ts.Check(err)
		payload = binary.BigEndian.AppendUint32([]byte{0}, uint32(ss.ID))
		payload = append(payload, value...)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(scriptBrokers(ts)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ts.Check(err)
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, int32(*partitions), 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	ts.Check(err)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		ts.Fatalf("kevent: create topic %s: %v", topic, err)
	}

	rec := &kgo.Record{Topic: topic, Partition: int32(*partition), Key: []byte(key), Value: payload, Timestamp: when}
	for _, h := range fs.Args()[3:] {
		k, v, _ := strings.Cut(h, "=")
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	ts.Check(cl.ProduceSync(ctx, rec).FirstErr())
}
