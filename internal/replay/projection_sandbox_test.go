package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/schema"
)

// projectionTestNow anchors test sandboxes so that runs compare.
var projectionTestNow = time.Date(2026, 11, 20, 9, 14, 3, 0, time.UTC)

const accountBalanceSpec = "../../testdata/projections/account-balance.yaml"

// sandboxAccountEvents starts a sandbox and returns its bank.account-events,
// decoded by evctl's decoder as replay --projection decodes them (with
// Record.Values), in offset order per partition (partition 0 first).
func sandboxAccountEvents(tb testing.TB, opts sandbox.Options) (*sandbox.Sandbox, []*record.Record) {
	tb.Helper()
	sb, messages, dec := sandboxAccountMessages(tb, opts, schema.DecoderOptions{Values: true})
	records := make([]*record.Record, len(messages))
	for i, m := range messages {
		r := dec.Decode(context.Background(), m)
		if r.Error != "" {
			tb.Fatalf("decode %s/%d@%d: %s", r.Topic, r.Partition, r.Offset, r.Error)
		}
		records[i] = r
	}
	return sb, records
}

// sandboxAccountMessages starts a sandbox and returns its
// bank.account-events as read from Kafka, in offset order per partition
// (partition 0 first), with a decoder of opts on its registry.
func sandboxAccountMessages(tb testing.TB, opts sandbox.Options, decOpts schema.DecoderOptions) (*sandbox.Sandbox, []*record.Message, *schema.Decoder) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		tb.Fatalf("start sandbox: %v", err)
	}
	tb.Cleanup(func() {
		if err := sb.Close(); err != nil {
			tb.Errorf("close sandbox: %v", err)
		}
	})

	reg, err := schema.NewRegistryClient(schema.RegistryConfig{URL: sb.RegistryURL()})
	if err != nil {
		tb.Fatal(err)
	}
	decOpts.Registry = reg
	dec, err := schema.NewDecoder(decOpts)
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(sb.Brokers()),
		kgo.ConsumeTopics(sandbox.TopicAccountEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()

	want := sandbox.ExpectedCounts(sb.Options())[sandbox.TopicAccountEvents]
	byPartition := map[int32][]*record.Message{}
	for n := 0; n < want; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			tb.Fatalf("consume %s: have %d of %d records: %v", sandbox.TopicAccountEvents, n, want, err)
		}
		fetches.EachError(func(topic string, p int32, err error) { tb.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(kr *kgo.Record) {
			m := &record.Message{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp, Key: kr.Key, Value: kr.Value}
			for _, h := range kr.Headers {
				m.Headers = append(m.Headers, record.RawHeader{Key: h.Key, Value: h.Value})
			}
			byPartition[m.Partition] = append(byPartition[m.Partition], m)
			n++
		})
	}
	var out []*record.Message
	for _, p := range slices.Sorted(func(yield func(int32) bool) {
		for p := range byPartition {
			if !yield(p) {
				return
			}
		}
	}) {
		out = append(out, byPartition[p]...)
	}
	return sb, out, dec
}

// TestAccountBalanceRebuildsSandboxReadModel is the cross-check DESIGN asks
// for: the shipped spec, folded over the sandbox's events as evctl decodes
// them, equals the sandbox's independent Go read model exactly.
func TestAccountBalanceRebuildsSandboxReadModel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	sb, records := sandboxAccountEvents(t, sandbox.Options{Accounts: 50, Events: 2000, Now: projectionTestNow})
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]any{}
	for id, b := range sandbox.ExpectedBalances(sb.Options()) {
		want[id] = canonicalJSON(t, mustMarshal(t, b))
	}

	check := func(t *testing.T, states func(yield func(string, json.RawMessage) bool)) {
		t.Helper()
		got := map[string]any{}
		var ids []string
		for id, state := range states {
			ids = append(ids, id)
			if state == nil {
				t.Errorf("%s: deleted, want a balance", id)
				continue
			}
			got[id] = canonicalJSON(t, state)
		}
		if !slices.IsSorted(ids) {
			t.Errorf("States not sorted by id: %v", ids)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rebuilt balances differ from the sandbox's (-sandbox +projection):\n%s", diff)
		}
	}

	t.Run("Fold", func(t *testing.T) {
		fold := p.NewFold()
		for _, r := range records {
			if _, err := fold.Apply(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		if fold.Len() != len(want) {
			t.Errorf("Len() = %d, want %d", fold.Len(), len(want))
		}
		check(t, fold.States())
	})
	t.Run("ParallelFold", func(t *testing.T) {
		pf := foldParallel(t, p, 3, records...)
		if pf.Len() != len(want) {
			t.Errorf("Len() = %d, want %d", pf.Len(), len(want))
		}
		check(t, pf.States())
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonicalJSON parses JSON keeping numbers as written, so that 12000 and
// 1.2e+04 or 12000.0 differ.
func canonicalJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}
