package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// heldLookup holds the embedded broker's answers to lookups of a group's
// coordinator (FindCoordinator), as a broker does while the coordinator's
// broker is SIGKILLed: each lookup that arrives before release is
// answered after it.
type heldLookup struct {
	holding chan struct{} // closed when the first held lookup arrives
	late    chan struct{} // closed when a held lookup is answered
	release func()
	mu      sync.Mutex
	held    int
}

func holdCoordinatorLookup(cluster *kfake.Cluster, group string) *heldLookup {
	h := &heldLookup{holding: make(chan struct{}), late: make(chan struct{})}
	release := make(chan struct{})
	h.release = sync.OnceFunc(func() { close(release) })
	answered := sync.OnceFunc(func() { close(h.late) })
	cluster.ControlKey(int16(kmsg.FindCoordinator), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := kreq.(*kmsg.FindCoordinatorRequest)
		if r.CoordinatorKey != group && !slices.Contains(r.CoordinatorKeys, group) {
			return nil, nil, false
		}
		select {
		case <-release:
			return nil, nil, false
		default:
		}
		h.mu.Lock()
		h.held++
		if h.held == 1 {
			close(h.holding)
		}
		h.mu.Unlock()
		cluster.SleepControl(func() { <-release })
		answered()
		return nil, nil, false // answered as kfake does, late
	})
	return h
}

func (h *heldLookup) lateAnswered() bool {
	select {
	case <-h.late:
		return true
	default:
		return false
	}
}

// commitOffset commits offset for group on topic[partition] as another
// client of the group would, outside any generation.
func commitOffset(t *testing.T, ctx context.Context, cfg Config, group, topic string, partition int32, offset int64) {
	t.Helper()
	// OffsetCommit before topic ids (v10), which kfake does not map back.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cfg.Brokers, ",")...), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = group, -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = topic
	cpart := kmsg.NewOffsetCommitRequestTopicPartition()
	cpart.Partition, cpart.Offset = partition, offset
	ct.Partitions = append(ct.Partitions, cpart)
	commit.Topics = append(commit.Topics, ct)
	resp, err := commit.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("committing %s[%d] for group %s: %v", topic, partition, group, err)
	}
}

// TestAdminGroupCoordinatorLate: each Admin call that reads a group's
// offsets or members, asked while the lookup of the group's coordinator
// takes longer than the timeout (its broker SIGKILLed, say) and answered
// later, says the brokers did not answer; the same Admin answers once the
// lookup is answered, and the process lives on. librdkafka 2.15 aborts
// the process at such a late answer to an admin request sent to a
// group's coordinator (rd_kafka_enq_once_del_source_return: Assertion
// 'eonce->refcnt > 0' failed; librdkafka issue 4605), which these calls
// made through ListConsumerGroupOffsets and DescribeConsumerGroups.
func TestAdminGroupCoordinatorLate(t *testing.T) {
	if onRealKafka {
		t.Skip("holds the embedded broker's answers back, which the real cluster's cannot be")
	}
	want := map[TopicPartition]int64{{"src", 0}: 7, {"src", 1}: -1}
	for _, tc := range []struct {
		name string
		call func(context.Context, *Admin) error
	}{
		{"GroupOffsets", func(ctx context.Context, a *Admin) error {
			got, err := a.GroupOffsets(ctx, "g", []string{"src"})
			if err == nil && !maps.Equal(got, want) {
				return fmt.Errorf("offsets %v; want %v", got, want)
			}
			return err
		}},
		{"CommittedOffsets", func(ctx context.Context, a *Admin) error {
			got, err := a.CommittedOffsets(ctx, "g")
			if want := (map[TopicPartition]int64{{"src", 0}: 7}); err == nil && !maps.Equal(got, want) {
				return fmt.Errorf("offsets %v; want %v", got, want)
			}
			return err
		}},
		{"SettledGroupOffsets", func(ctx context.Context, a *Admin) error {
			got, _, _, err := a.SettledGroupOffsets(ctx, "g", []string{"src"}, []string{"dst"}, time.Second)
			if err == nil && !maps.Equal(got, want) {
				return fmt.Errorf("offsets %v; want %v", got, want)
			}
			return err
		}},
		{"Lag", func(ctx context.Context, a *Admin) error {
			lags, err := a.Lag(ctx, []string{"g"}, nil)
			if err == nil && (len(lags) != 1 || lags[0].Lag() != 3+10) {
				return fmt.Errorf("lag %+v; want group g 13 behind", lags)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, cluster := newCluster(t, 2, "src", "dst")
			seedSource(t, cfg, "src", 2, 20)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			commitOffset(t, ctx, cfg, "g", "src", 0, 7)
			cfg.Timeout = time.Second // the calls give up sooner than the lookup ends
			a, err := NewAdmin(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()

			h := holdCoordinatorLookup(cluster, "g")
			defer h.release()
			err = tc.call(ctx, a)
			select {
			case <-h.holding:
			default:
				t.Fatalf("the call did not look the group's coordinator up (err %v)", err)
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("while the lookup is held: err %v; want the brokers unreachable", err)
			}
			// The cluster answers metadata: the error says so, not "check --brokers".
			// (SettledGroupOffsets lists the ends at the same time, on the
			// same connection, which kfake holds behind the lookup.)
			if msg := err.Error(); !strings.Contains(msg, `the coordinator of group "g" did not answer within 1s`) &&
				(tc.name != "SettledGroupOffsets" || !strings.Contains(msg, "not every broker answered within 1s")) ||
				!strings.Contains(msg, ", though the cluster at ") ||
				!strings.Contains(msg, " answers: a broker may be down or restarting; try again, or give a longer --timeout") ||
				strings.Contains(msg, "check --brokers") {
				t.Errorf("while the lookup is held: %q; want it to name the group's coordinator and say the cluster answers", msg)
			}
			h.release()
			// The late answer arrives; the Admin answers after it.
			for {
				err := tc.call(ctx, a)
				if err == nil && h.lateAnswered() {
					break
				}
				if err != nil && !errors.Is(err, ErrUnreachable) {
					t.Fatalf("after the late answer: %v", err)
				}
				if ctx.Err() != nil {
					t.Fatalf("the Admin never answered after the late lookup (answered: %v, last err %v)", h.lateAnswered(), err)
				}
			}
		})
	}
}

// TestAdminClosedCoordinatorLate: an Admin closed while the requests it
// stopped waiting for still wait for the lookup of the group's
// coordinator (a command ending at the error) closes, and the lookup's
// late answer does not abort the process.
func TestAdminClosedCoordinatorLate(t *testing.T) {
	if onRealKafka {
		t.Skip("holds the embedded broker's answers back, which the real cluster's cannot be")
	}
	cfg, cluster := newCluster(t, 1, "src")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	commitOffset(t, ctx, cfg, "g", "src", 0, 1)
	short := cfg
	short.Timeout = time.Second
	a, err := NewAdmin(short)
	if err != nil {
		t.Fatal(err)
	}
	h := holdCoordinatorLookup(cluster, "g")
	defer h.release()
	if _, err := a.Lag(ctx, []string{"g"}, nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Lag while the lookup is held: err %v; want the brokers unreachable", err)
	}
	if _, err := a.CommittedOffsets(ctx, "g"); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("CommittedOffsets while the lookup is held: err %v; want the brokers unreachable", err)
	}
	a.Close()
	h.release()

	// The held lookups are answered; a fresh Admin reads the group.
	b, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	select {
	case <-h.late:
	case <-ctx.Done():
		t.Fatal("the held lookups were never answered")
	}
	got, err := b.CommittedOffsets(ctx, "g")
	if want := (map[TopicPartition]int64{{"src", 0}: 1}); err != nil || !maps.Equal(got, want) {
		t.Fatalf("CommittedOffsets after the late answers = %v, %v; want %v", got, err, want)
	}
}

// TestAdminCoordinatorLoading: a broker just made a group's coordinator
// (the old one SIGKILLed) answers "coordinator load in progress" until it
// has loaded the group, which librdkafka's admin calls report rather
// than retry; Group and Lag ask again until it has, within the timeout.
// On Apache Kafka `evctl lag` ended with exit 2 at this answer
// (broker_kill.txtar).
func TestAdminCoordinatorLoading(t *testing.T) {
	if onRealKafka {
		t.Skip("makes the embedded broker answer as a loading coordinator, which the real cluster's cannot be made to")
	}
	cfg, cluster := newCluster(t, 1, "src")
	seedSource(t, cfg, "src", 1, 5)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	commitOffset(t, ctx, cfg, "g", "src", 0, 2)

	const loading = 3 // answers of each kind that say the group is loading
	var mu sync.Mutex
	answered := map[int16]int{}
	for _, key := range []kmsg.Key{kmsg.ListGroups, kmsg.DescribeGroups} {
		cluster.ControlKey(int16(key), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			cluster.KeepControl()
			mu.Lock()
			defer mu.Unlock()
			if answered[kreq.Key()] >= loading {
				return nil, nil, false
			}
			answered[kreq.Key()]++
			code := kerr.CoordinatorLoadInProgress.Code
			switch req := kreq.(type) {
			case *kmsg.ListGroupsRequest:
				resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
				resp.ErrorCode = code
				return resp, nil, true
			case *kmsg.DescribeGroupsRequest:
				resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
				for _, g := range req.Groups {
					rg := kmsg.NewDescribeGroupsResponseGroup()
					rg.Group, rg.ErrorCode = g, code
					resp.Groups = append(resp.Groups, rg)
				}
				return resp, nil, true
			}
			return nil, nil, false
		})
	}
	a, err := NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if g, err := a.Group(ctx, "g"); err != nil || g.ID != "g" {
		t.Fatalf("Group while the coordinator loads = %+v, %v; want group g", g, err)
	}
	lags, err := a.Lag(ctx, []string{"g"}, nil)
	if err != nil || len(lags) != 1 || lags[0].Lag() != 3 {
		t.Fatalf("Lag while the coordinator loads = %+v, %v; want group g 3 behind", lags, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, key := range []kmsg.Key{kmsg.ListGroups, kmsg.DescribeGroups} {
		if answered[int16(key)] != loading {
			t.Errorf("%s answered %d times as loading; want %d (the test's answers never reached evctl)", key.Name(), answered[int16(key)], loading)
		}
	}
}
