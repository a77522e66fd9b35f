package sandbox_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
)

// TestWriteSideKeepsTheBankRules runs the live write side for many events
// past a seeded history and checks each event against the rules with a
// model of its own: versions follow on from the history, nothing after
// AccountClosed, no balance below zero, new accounts open at version 1,
// times never go back; and evctl's own decoder reads every record as the
// event it carries.
func TestWriteSideKeepsTheBankRules(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 20, Events: 300, Seed: 5}
	s := start(t, opts)
	ws, err := s.WriteSide()
	if err != nil {
		t.Fatal(err)
	}
	dec := evctlDecoder(t, s)

	type model struct {
		version int
		balance int64
		closed  bool
	}
	accounts := map[string]*model{}
	for id, b := range sandbox.ExpectedBalances(s.Options()) {
		accounts[id] = &model{version: b.Version, balance: b.BalanceCents, closed: b.Status == sandbox.StatusClosed}
	}
	seeded := len(accounts)
	types := map[string]int{}
	var last time.Time
	now := testNow.Add(-time.Hour) // before the history's end: times must not go back
	const events = 5000
	for i := range events {
		now = now.Add(time.Millisecond)
		e, msgs, err := ws.Next(now)
		if err != nil {
			t.Fatal(err)
		}
		types[e.Type]++
		if e.OccurredAt.Before(last) {
			t.Fatalf("event %d at %s, before the previous at %s", i, e.OccurredAt, last)
		}
		last = e.OccurredAt
		a := accounts[e.AccountID]
		switch {
		case e.Type == sandbox.TypeAccountOpened:
			if a != nil {
				t.Fatalf("event %d opens %s, which exists", i, e.AccountID)
			}
			if e.Version != 1 {
				t.Fatalf("event %d opens %s at version %d", i, e.AccountID, e.Version)
			}
			a = &model{}
			accounts[e.AccountID] = a
		case a == nil:
			t.Fatalf("event %d: %s of %s, which never opened", i, e.Type, e.AccountID)
		case a.closed:
			t.Fatalf("event %d: %s of %s after AccountClosed", i, e.Type, e.AccountID)
		case e.Version != a.version+1:
			t.Fatalf("event %d: %s of %s at version %d after %d", i, e.Type, e.AccountID, e.Version, a.version)
		}
		a.version = e.Version
		switch e.Type {
		case sandbox.TypeMoneyDeposited:
			a.balance += e.AmountCents
		case sandbox.TypeMoneyWithdrawn:
			a.balance -= e.AmountCents
			if a.balance < 0 || e.AmountCents <= 0 {
				t.Fatalf("event %d: withdrawal of %d leaves %s at %d", i, e.AmountCents, e.AccountID, a.balance)
			}
		case sandbox.TypeAccountClosed:
			a.closed = true
		}

		if msgs[0].Topic != sandbox.TopicAccountEvents || string(msgs[0].Key) != e.AccountID || !msgs[0].Timestamp.Equal(e.OccurredAt) {
			t.Fatalf("event %d: record %s %q at %s", i, msgs[0].Topic, msgs[0].Key, msgs[0].Timestamp)
		}
		if i%50 == 0 { // evctl's decoder reads what the write side wrote
			r := dec.Decode(context.Background(), &msgs[0])
			var v struct {
				AccountID string `json:"accountId"`
				Version   int    `json:"version"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil || r.Error != "" || v.AccountID != e.AccountID || v.Version != e.Version || record.ShortType(r.Type) != e.Type {
				t.Fatalf("event %d decodes as %s %s (%v, %s)", i, r.Type, r.Value, err, r.Error)
			}
		}
	}
	for _, typ := range []string{sandbox.TypeAccountOpened, sandbox.TypeMoneyDeposited, sandbox.TypeMoneyWithdrawn, sandbox.TypeAccountClosed} {
		if types[typ] == 0 {
			t.Errorf("no %s in %d live events: %v", typ, events, types)
		}
	}
	if len(accounts) <= seeded {
		t.Errorf("no account opened: %d accounts", len(accounts))
	}
}

// TestProjectorFoldsTheLiveEvents restores a projector from the seeded
// read model, feeds it the write side's records and compares its states
// with a fold of all the events, seeded and live; a drifted account stays
// as wrong as the seeded read model left it.
func TestProjectorFoldsTheLiveEvents(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 15, Events: 200, Seed: 8, Drift: 2}
	s := start(t, opts)
	ws, err := s.WriteSide()
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Projector()
	if err != nil {
		t.Fatal(err)
	}
	for id, b := range sandbox.LiveBalances(s.Options()) {
		v, _ := json.Marshal(b)
		if err := p.Restore(&record.Message{Topic: sandbox.TopicAccountBalances, Key: []byte(id), Value: v}); err != nil {
			t.Fatal(err)
		}
	}

	want := sandbox.ExpectedBalances(s.Options())
	drifted := map[string]int64{} // live minus expected balance
	for _, d := range sandbox.Drifts(s.Options()) {
		drifted[d.Account] = d.Live.BalanceCents - d.Want.BalanceCents
	}
	now := testNow
	for i := range 1000 {
		now = now.Add(10 * time.Millisecond)
		e, msgs, err := ws.Next(now)
		if err != nil {
			t.Fatal(err)
		}
		b := want[e.AccountID]
		switch e.Type {
		case sandbox.TypeAccountOpened:
			b = sandbox.Balance{AccountID: e.AccountID, Owner: e.Owner, Currency: e.Currency, Status: sandbox.StatusOpen}
		case sandbox.TypeMoneyDeposited:
			b.BalanceCents += e.AmountCents
		case sandbox.TypeMoneyWithdrawn:
			b.BalanceCents -= e.AmountCents
		case sandbox.TypeAccountClosed:
			b.Status = sandbox.StatusClosed
		}
		b.Version, b.UpdatedAt = e.Version, e.OccurredAt.Format(sandbox.TimeFormat)
		want[e.AccountID] = b

		msgs[0].Partition, msgs[0].Offset = 3, int64(i)
		out, err := p.Apply(&msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		var got sandbox.Balance
		if err := json.Unmarshal(out.Value, &got); err != nil {
			t.Fatal(err)
		}
		b.BalanceCents += drifted[e.AccountID]
		if out.Topic != sandbox.TopicAccountBalances || string(out.Key) != e.AccountID || !out.Timestamp.Equal(e.OccurredAt) {
			t.Fatalf("event %d: state record %s %q at %s", i, out.Topic, out.Key, out.Timestamp)
		}
		if got.BalanceCents != b.BalanceCents || got.Version != b.Version || got.Status != b.Status || got.UpdatedAt != b.UpdatedAt {
			t.Fatalf("event %d (%s of %s): state %+v, want %+v", i, e.Type, e.AccountID, got, b)
		}
	}

	got := p.Balances()
	var wrong []string
	for id, w := range want {
		if got[id] != w {
			wrong = append(wrong, id)
		}
	}
	if diff := cmp.Diff(sandbox.DriftedAccounts(s.Options()), slices.Sorted(slices.Values(wrong))); diff != "" {
		t.Errorf("accounts the projector has wrong (-drifted +wrong):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Errorf("projector has %d accounts, the fold %d", len(got), len(want))
	}

	if _, err := p.Apply(&record.Message{Topic: sandbox.TopicAccountEvents, Value: []byte(`{"not":"avro"}`)}); err == nil {
		t.Error("Apply of a plain JSON value: no error")
	}
}
