package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kconsumeMain is the kconsume program of the scripts (a program, not a
// script command, so that `exec kconsume ... &` runs it in the
// background):
//
//	kconsume [-batch N] group topic N
//
// It joins group with franz-go (a client evctl did not write), consumes N
// records of topic from where the group left off (the start when it has
// committed nothing), commits after every batch of at most -batch records
// and leaves the group. It reads EVCTL_BROKERS.
func kconsumeMain() int {
	fs := flag.NewFlagSet("kconsume", flag.ContinueOnError)
	batch := fs.Int("batch", 10, "commit after this many records at most")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() != 3 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "usage: kconsume [-batch N] group topic N")
		return 2
	}
	group, topic := fs.Arg(0), fs.Arg(1)
	n, err := strconv.Atoi(fs.Arg(2))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kconsume:", err)
		return 2
	}
	if err := kconsume(os.Getenv("EVCTL_BROKERS"), group, topic, n, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "kconsume:", err)
		return 1
	}
	return 0
}

func kconsume(brokers, group, topic string, n, batch int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close() // leaves the group
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for got := 0; got < n; {
		fetches := cl.PollRecords(ctx, min(batch, n-got))
		if err := fetches.Err0(); err != nil {
			return fmt.Errorf("after %d of %d records: %w", got, n, err)
		}
		rs := fetches.Records()
		if err := cl.CommitRecords(ctx, rs...); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		got += len(rs)
	}
	return nil
}
