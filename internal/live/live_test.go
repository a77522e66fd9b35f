package live

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/check"
	"github.com/evctl/evctl/internal/kafka"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
	"github.com/evctl/evctl/internal/sandbox"
	"github.com/evctl/evctl/internal/schema"
)

// A slow, bounded write side: tests never depend on how fast it goes.
const (
	testRate   = 200
	testEvents = 300
)

func startSandbox(t *testing.T, opts sandbox.Options) (*sandbox.Sandbox, kafka.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb, kafka.Config{Brokers: sb.Brokers(), Timeout: 20 * time.Second}
}

func write(t *testing.T, sb *sandbox.Sandbox, cfg kafka.Config, n int) {
	t.Helper()
	ws, err := sb.WriteSide()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Write(context.Background(), cfg, ws, WriteOptions{Rate: testRate, Max: n})
	if err != nil || got != n {
		t.Fatalf("Write = %d, %v; want %d events", got, err, n)
	}
}

// decoded reads topic to its end, decoded by evctl's decoder.
func decoded(t *testing.T, sb *sandbox.Sandbox, cfg kafka.Config, topic string) []*record.Record {
	t.Helper()
	ctx := context.Background()
	reg, err := schema.NewRegistryClient(schema.RegistryConfig{URL: sb.RegistryURL()})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.NewDecoder(schema.DecoderOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	r, err := kafka.NewReader(ctx, cfg, kafka.ReadOptions{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*record.Record
	for {
		m, err := r.Read(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dec.Decode(ctx, m))
	}
}

func bankProjection(t *testing.T) *replay.Projection {
	t.Helper()
	p, err := replay.ParseProjection("account-balance.yaml", sandbox.AccountBalanceProjection)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWriteSideBreaksNoRule: evctl check, every rule on and the balance
// asserted, finds nothing in the seeded history and what the live write
// side appended to it.
func TestWriteSideBreaksNoRule(t *testing.T) {
	sb, cfg := startSandbox(t, sandbox.Options{Accounts: 10, Events: 100, Seed: 4})
	write(t, sb, cfg, testEvents)

	c, err := check.New(check.Options{
		VersionField: ".value.version",
		IDField:      `.headers["event-id"]`,
		Terminal:     []string{sandbox.TypeAccountClosed},
		Projection:   bankProjection(t),
		Asserts:      []string{".state.balanceCents >= 0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := decoded(t, sb, cfg, sandbox.TopicAccountEvents)
	types := map[string]int{}
	for _, r := range recs {
		types[record.ShortType(r.Type)]++
		if err := c.Check(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	rep := c.Report()
	if rep.Records != 100+testEvents {
		t.Errorf("checked %d records, want %d", rep.Records, 100+testEvents)
	}
	if rep.Total() != 0 {
		t.Errorf("%d findings: %+v", rep.Total(), rep.Findings)
	}
	if len(rep.Disabled) != 0 {
		t.Errorf("rules that did not run: %v", rep.Disabled)
	}
	if types[sandbox.TypeAccountOpened] <= 10 || types[sandbox.TypeMoneyWithdrawn] == 0 {
		t.Errorf("event types %v: want new accounts and withdrawals", types)
	}
}

// groupLag is the projector group's lag on bank.account-events.
func groupLag(t *testing.T, a *kafka.Admin) kafka.GroupLag {
	t.Helper()
	lags, err := a.Lag(context.Background(), []string{sandbox.ProjectorGroup}, []string{sandbox.TopicAccountEvents})
	if err != nil {
		t.Fatal(err)
	}
	if len(lags) != 1 {
		t.Fatalf("lag of %s: %+v", sandbox.ProjectorGroup, lags)
	}
	return lags[0]
}

// eventually polls cond until it holds, failing the test after a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// TestProjectorPausesAndCatchesUp: paused from the start, the projector
// has committed where it starts, and its lag and oldest unconsumed record
// stay put while the write side goes on (so the record's age grows);
// resumed, it catches up, and the read model then equals a rebuild of
// every event by the jq projection, but for the drifted accounts.
func TestProjectorPausesAndCatchesUp(t *testing.T) {
	sb, cfg := startSandbox(t, sandbox.Options{Accounts: 10, Events: 100, Seed: 6, Drift: 2})
	fold, err := sb.Projector()
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	p := NewProjector(cfg, fold, ProjectorOptions{Behind: 50 * time.Millisecond, Paused: true,
		Logf: func(format string, args ...any) { logs = append(logs, format) }})
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	p.Pause()
	if err := p.WaitPaused(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := kafka.NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if l := groupLag(t, a); l.Lag() != 0 {
		t.Errorf("lag before any write: %d, want 0 (the seeded states stand at the end)", l.Lag())
	}

	write(t, sb, cfg, 20)
	first := groupLag(t, a)
	if first.Lag() != 20 || first.Oldest().IsZero() {
		t.Fatalf("paused, after 20 events: lag %d, oldest %s; want 20 and a time", first.Lag(), first.Oldest())
	}
	write(t, sb, cfg, 20)
	second := groupLag(t, a)
	if second.Lag() != 40 || !second.Oldest().Equal(first.Oldest()) {
		t.Errorf("paused, after 20 more: lag %d, oldest %s; want 40 and still %s", second.Lag(), second.Oldest(), first.Oldest())
	}

	p.Resume()
	eventually(t, "the projector catches up", func() bool { return groupLag(t, a).Lag() == 0 })
	write(t, sb, cfg, 60) // and follows the writes that come after
	eventually(t, "the projector catches up again", func() bool { return groupLag(t, a).Lag() == 0 })
	p.Pause()
	if err := p.WaitPaused(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff([]string{"projector paused", "projector resumed", "projector paused"}, logs); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}

	// Exactly once: the read model equals the rebuild, key by key, but for
	// the accounts the seeded projector left wrong.
	rebuilt := bankProjection(t).NewFold()
	for _, r := range decoded(t, sb, cfg, sandbox.TopicAccountEvents) {
		if _, err := rebuilt.Apply(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	live := map[string]sandbox.Balance{}
	for _, r := range decoded(t, sb, cfg, sandbox.TopicAccountBalances) {
		var b sandbox.Balance
		if err := json.Unmarshal(r.Value, &b); err != nil {
			t.Fatal(err)
		}
		live[b.AccountID] = b
	}
	var wrong []string
	for id, state := range rebuilt.States() {
		var want sandbox.Balance
		if err := json.Unmarshal(state, &want); err != nil {
			t.Fatal(err)
		}
		if live[id] != want {
			wrong = append(wrong, id)
		}
	}
	if rebuilt.Len() != len(live) || rebuilt.Len() <= 10 {
		t.Errorf("rebuilt %d accounts, the read model has %d; want the same, new ones included", rebuilt.Len(), len(live))
	}
	if diff := cmp.Diff(sandbox.DriftedAccounts(sb.Options()), slices.Sorted(slices.Values(wrong))); diff != "" {
		t.Errorf("accounts the live read model has wrong (-drifted +wrong):\n%s", diff)
	}
}

// stopCopier returns one record from Read, cancelling the projector's
// context as it does, and records the calls that follow.
type stopCopier struct {
	m      *record.Message
	cancel context.CancelFunc
	calls  []string
}

func (c *stopCopier) Read(ctx context.Context) (*record.Message, error) {
	if c.m == nil {
		return nil, ctx.Err()
	}
	m := c.m
	c.m = nil
	c.cancel() // Ctrl-C as the record arrives
	return m, nil
}

func (c *stopCopier) Write(_ context.Context, m *record.Message) error {
	c.calls = append(c.calls, "write "+string(m.Key))
	return nil
}

func (c *stopCopier) Checkpoint(context.Context) error {
	c.calls = append(c.calls, "checkpoint")
	return nil
}

func (c *stopCopier) Close() error {
	c.calls = append(c.calls, "close")
	return nil
}

// TestProjectorAppliesWhatItReadBeforeItStops: a record Read returned as
// the projector is stopped is applied before the checkpoint that commits
// its offset, or it would be lost.
func TestProjectorAppliesWhatItReadBeforeItStops(t *testing.T) {
	sb, cfg := startSandbox(t, sandbox.Options{Accounts: 3, Events: 10})
	ws, err := sb.WriteSide()
	if err != nil {
		t.Fatal(err)
	}
	e, msgs, err := ws.Next(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fold, err := sb.Projector()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"acct-0001", "acct-0002", "acct-0003"} {
		v, _ := json.Marshal(sandbox.Balance{AccountID: a, Status: sandbox.StatusOpen, UpdatedAt: "2026-01-01T00:00:00.000Z"})
		if err := fold.Restore(&record.Message{Key: []byte(a), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &stopCopier{m: &msgs[0], cancel: cancel}
	p := NewProjector(cfg, fold, ProjectorOptions{})
	p.cp = c
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"write " + e.AccountID, "checkpoint", "close"}, c.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
