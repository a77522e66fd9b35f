package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// kwriteMain is the kwrite program of the scripts: a live system that keeps
// writing while evctl verify runs (exec kwrite ... &):
//
//	kwrite [-group G] hold src rm
//
// It writes events {"n":i} to src and their states, the same value under
// the same key (k0..k4), to rm, in transactions, one after the other
// without pause. Without -group each event and its state commit together;
// with -group G it is a projector that commits its progress with its
// states: the event commits first, then the state with G's offset past the
// event. It writes the file hold after the first round and stops once hold
// is removed. It reads EVCTL_BROKERS.
func kwriteMain() int {
	fs := flag.NewFlagSet("kwrite", flag.ContinueOnError)
	group := fs.String("group", "", "commit this group's offsets with each state")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: kwrite [-group G] hold src rm")
		return 2
	}
	if err := kwrite(os.Getenv("EVCTL_BROKERS"), *group, fs.Arg(0), fs.Arg(1), fs.Arg(2)); err != nil {
		fmt.Fprintln(os.Stderr, "kwrite:", err)
		return 1
	}
	return 0
}

func kwrite(brokers, group, hold, src, rm string) error {
	// TxnOffsetCommit by topic name, not id (v6 wants ids).
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.TransactionalID("kwrite-"+src), kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxVersions(versions))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := createTopics(ctx, cl, src, rm); err != nil {
		return err
	}
	txn := func(write func() error) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := write(); err != nil {
			_ = cl.EndTransaction(ctx, kgo.TryAbort)
			return err
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		return cl.EndTransaction(ctx, kgo.TryCommit)
	}
	for i := 0; ; i++ {
		key := []byte(fmt.Sprintf("k%d", i%5))
		value := []byte(fmt.Sprintf(`{"n":%d}`, i))
		event := &kgo.Record{Topic: src, Key: key, Value: value}
		state := &kgo.Record{Topic: rm, Key: key, Value: value}
		if group == "" {
			err = txn(func() error { return cl.ProduceSync(ctx, event, state).FirstErr() })
		} else {
			err = txn(func() error { return cl.ProduceSync(ctx, event).FirstErr() })
			if err == nil {
				err = txn(func() error {
					if err := cl.ProduceSync(ctx, state).FirstErr(); err != nil {
						return err
					}
					return commitInTxn(ctx, cl, group, src, event.Partition, event.Offset+1)
				})
			}
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", i, err)
		}
		if i == 0 {
			if err := writeHold(hold, "KWRITE_HELD"); err != nil {
				return err
			}
		}
		if _, err := os.Stat(hold); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
}

// commitInTxn commits group's offset on topic's partition within the open
// transaction, as a transactional projector does.
func commitInTxn(ctx context.Context, cl *kgo.Client, group, topic string, partition int32, offset int64) error {
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return err
	}
	txnID := "kwrite-" + topic
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, id, epoch, group
	addResp, err := add.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(addResp.ErrorCode); err != nil {
		return fmt.Errorf("AddOffsetsToTxn: %w", err)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch, commit.Generation = txnID, group, id, epoch, -1
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = topic
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = partition, offset, -1
	t.Partitions = append(t.Partitions, p)
	commit.Topics = append(commit.Topics, t)
	resp, err := commit.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return fmt.Errorf("TxnOffsetCommit: %w", err)
			}
		}
	}
	return nil
}

// createTopics creates one-partition topics, unless they exist: a cluster
// may not create topics on first use.
func createTopics(ctx context.Context, cl *kgo.Client, topics ...string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	for _, name := range topics {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name, 1, -1
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t.Topic, err)
		}
	}
	return nil
}
