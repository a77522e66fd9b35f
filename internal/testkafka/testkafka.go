// Package testkafka gives tests the real test tier's Kafka cluster: the one
// EVCTL_TEST_KAFKA names, started by scripts/kafka.sh. The tests that use
// it keep the fixed topic and group names they use on the embedded broker
// (the sandbox's bank topics, golden outputs naming them), so they take
// the cluster one at a time, across test processes, each on a clean slate:
// Acquire waits for the cluster, deletes every topic and group a test left,
// and hands it over.
//
// Deleting everything is safe only on a throwaway cluster, so Acquire
// refuses a cluster whose id does not start with ClusterIDPrefix, which
// scripts/kafka.sh gives the clusters it formats.
package testkafka

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// Env names the cluster's PLAINTEXT bootstrap list, host:port,...
	Env = "EVCTL_TEST_KAFKA"
	// ClusterIDPrefix starts the id of every cluster scripts/kafka.sh formats.
	ClusterIDPrefix = "evctlTest"
	// SkipMessage is the one line a skipped real tier says.
	SkipMessage = "real Kafka tier not run: start a cluster with `eval \"$(scripts/kafka.sh start)\"`, which sets " +
		Env + " (README: Testing against a real Kafka)"
)

// resetTimeout bounds one clean-up: deleting topics, and waiting for
// groups whose killed members have not timed out yet.
const resetTimeout = 90 * time.Second

// Brokers returns the real cluster's bootstrap list, or "" when the tier is off.
func Brokers() string { return os.Getenv(Env) }

// Var returns another of the variables scripts/kafka.sh exports
// (EVCTL_TEST_KAFKA_SASL, _USER, _PASSWORD, _SSL, _CA, _DIR).
func Var(suffix string) string { return os.Getenv(Env + "_" + suffix) }

var inProcess sync.Mutex

// Acquire waits until no other test, in this process or another, holds the
// cluster, then cleans it and returns its bootstrap list and the release
// function, which cleans it again (reporting what it could not delete) and
// hands it on. It fails when the tier is off; check Brokers first.
func Acquire(ctx context.Context) (brokers string, release func() error, err error) {
	brokers = Brokers()
	if brokers == "" {
		return "", nil, errors.New(SkipMessage)
	}
	inProcess.Lock()
	unlock, err := lockFile(lockPath(brokers))
	if err != nil {
		inProcess.Unlock()
		return "", nil, err
	}
	done := func() { unlock(); inProcess.Unlock() }
	if err := Reset(ctx, brokers); err != nil {
		done()
		return "", nil, err
	}
	var once sync.Once
	release = func() error {
		var err error
		once.Do(func() {
			defer done()
			ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
			defer cancel()
			err = Reset(ctx, brokers)
		})
		return err
	}
	return brokers, release, nil
}

func lockPath(brokers string) string {
	sum := sha256.Sum256([]byte(brokers))
	return filepath.Join(os.TempDir(), fmt.Sprintf("evctl-test-kafka-%x.lock", sum[:6]))
}

// Reset deletes every topic (but the broker's internal ones) and every
// consumer group of the cluster at brokers, and waits until they are gone.
// A group still holding members killed without leaving is retried until
// the broker expires them.
func Reset(ctx context.Context, brokers string) error {
	ctx, cancel := context.WithTimeout(ctx, resetTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("real tier: metadata of %s: %w", brokers, err)
	}
	if id := str(md.ClusterID); !strings.HasPrefix(id, ClusterIDPrefix) {
		return fmt.Errorf("real tier: %s=%s is cluster %q, not one scripts/kafka.sh started (its ids start with %q); "+
			"the tier deletes every topic and group, so it runs only on such a throwaway cluster", Env, brokers, id, ClusterIDPrefix)
	}
	if err := deleteTopics(ctx, cl, md); err != nil {
		return err
	}
	return deleteGroups(ctx, cl)
}

func deleteTopics(ctx context.Context, cl *kgo.Client, md *kmsg.MetadataResponse) error {
	var names []string
	for _, t := range md.Topics {
		if name := str(t.Topic); !t.IsInternal && !strings.HasPrefix(name, "__") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30_000
	for _, n := range names {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = append(req.TopicNames, n)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("real tier: delete topics: %w", err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("real tier: delete topic %s: %w", str(t.Topic), err)
		}
	}
	// Deleted in the controller's metadata is not yet gone from every
	// broker's: wait until no broker lists them.
	for {
		left, err := topicsLeft(ctx, cl, names)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if err := pause(ctx, fmt.Sprintf("deleting topics %v", left)); err != nil {
			return err
		}
	}
}

func topicsLeft(ctx context.Context, cl *kgo.Client, names []string) ([]string, error) {
	var left []string
	for _, b := range brokerIDs(ctx, cl) {
		req := kmsg.NewPtrMetadataRequest()
		for _, n := range names {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl.Broker(int(b)))
		if err != nil {
			return nil, fmt.Errorf("real tier: metadata from broker %d: %w", b, err)
		}
		for _, t := range resp.Topics {
			if t.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				left = append(left, str(t.Topic))
			}
		}
	}
	return left, nil
}

func brokerIDs(ctx context.Context, cl *kgo.Client) []int32 {
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil
	}
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	return ids
}

func deleteGroups(ctx context.Context, cl *kgo.Client) error {
	for {
		lresp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("real tier: list groups: %w", err)
		}
		if len(lresp.Groups) == 0 {
			return nil
		}
		req := kmsg.NewPtrDeleteGroupsRequest()
		for _, g := range lresp.Groups {
			req.Groups = append(req.Groups, g.Group)
		}
		shards := cl.RequestSharded(ctx, req)
		var busy []string
		for _, sh := range shards {
			if sh.Err != nil {
				return fmt.Errorf("real tier: delete groups: %w", sh.Err)
			}
			for _, g := range sh.Resp.(*kmsg.DeleteGroupsResponse).Groups {
				switch err := kerr.ErrorForCode(g.ErrorCode); {
				case err == nil, errors.Is(err, kerr.GroupIDNotFound):
				case errors.Is(err, kerr.NonEmptyGroup), errors.Is(err, kerr.CoordinatorLoadInProgress),
					errors.Is(err, kerr.NotCoordinator), errors.Is(err, kerr.CoordinatorNotAvailable):
					busy = append(busy, g.Group)
				default:
					return fmt.Errorf("real tier: delete group %s: %w", g.Group, err)
				}
			}
		}
		if len(busy) == 0 {
			return nil
		}
		if err := pause(ctx, fmt.Sprintf("deleting groups %v, whose members have not left", busy)); err != nil {
			return err
		}
	}
}

// pause waits a little before the next try, or says what it was waiting
// for once ctx is done.
func pause(ctx context.Context, what string) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("real tier: still %s: %w", what, ctx.Err())
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
