package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kconsumeMain is the kconsume program of the scripts (a program, not a
// script command, so that `exec kconsume ... &` runs it in the
// background):
//
//	kconsume [-batch N] [-hold FILE] group topic N
//
// It joins group with franz-go (a client evctl did not write), consumes N
// records of topic from where the group left off (the start when it has
// committed nothing), commits after every batch of at most -batch records
// and leaves the group. With -hold it stays in the group once it has its
// partitions and N records: it writes FILE, then leaves when FILE is
// removed (scripts: `exec kconsume -hold held ... &`, `waitenv held`, ...,
// `rm held`, `wait`). It reads EVCTL_BROKERS.
func kconsumeMain() int {
	fs := flag.NewFlagSet("kconsume", flag.ContinueOnError)
	batch := fs.Int("batch", 10, "commit after this many records at most")
	hold := fs.String("hold", "", "stay in the group until this file, written once assigned, is removed")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() != 3 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "usage: kconsume [-batch N] [-hold FILE] group topic N")
		return 2
	}
	group, topic := fs.Arg(0), fs.Arg(1)
	n, err := strconv.Atoi(fs.Arg(2))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kconsume:", err)
		return 2
	}
	if err := kconsume(os.Getenv("EVCTL_BROKERS"), group, topic, n, *batch, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "kconsume:", err)
		return 1
	}
	return 0
}

func kconsume(brokers, group, topic string, n, batch int, hold string) error {
	assigned := make(chan struct{})
	var once sync.Once
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { once.Do(func() { close(assigned) }) }))
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
	if hold == "" {
		return nil
	}
	// Keep polling (a member that stops polling is evicted) until the
	// script removes the file.
	go func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		return fmt.Errorf("no partitions assigned: %w", ctx.Err())
	}
	if err := writeHold(hold, "KCONSUME_HELD"); err != nil {
		return err
	}
	for ctx.Err() == nil {
		if _, err := os.Stat(hold); os.IsNotExist(err) {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s was not removed: %w", hold, ctx.Err())
}

// writeHold writes a script's hold file, an export line for waitenv:
// whole, then renamed, so that waitenv never reads half of it.
func writeHold(path, name string) error {
	if err := os.WriteFile(path+".tmp", []byte("export "+name+"=1\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
