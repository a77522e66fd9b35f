package sandbox_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/sandbox"
)

func TestDriftLeavesExactlyTheDriftedAccountsWrong(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 30, Events: 600, Seed: 3, Drift: 7}
	s := start(t, opts)

	live := map[string]sandbox.Balance{}
	for _, r := range consume(t, s, sandbox.TopicAccountBalances) {
		var b sandbox.Balance
		if err := json.Unmarshal(r.Value, &b); err != nil {
			t.Fatalf("balance %s: %v", r.Key, err)
		}
		if got := r.Timestamp.UTC().Format(sandbox.TimeFormat); got != b.UpdatedAt {
			t.Errorf("balance %s: timestamp %s, updatedAt %s", r.Key, got, b.UpdatedAt)
		}
		live[string(r.Key)] = b
	}
	if diff := cmp.Diff(sandbox.LiveBalances(s.Options()), live); diff != "" {
		t.Errorf("bank.account-balances differs from LiveBalances (-want +topic):\n%s", diff)
	}

	want := sandbox.ExpectedBalances(s.Options())
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(live))) {
		t.Fatalf("live accounts %v, want %v", slices.Sorted(maps.Keys(live)), slices.Sorted(maps.Keys(want)))
	}
	var differ []string
	for id, w := range want {
		l := live[id]
		if l == w {
			continue
		}
		differ = append(differ, id)
		// Only what a projector computes is wrong.
		l.BalanceCents, l.Version = w.BalanceCents, w.Version
		if l != w {
			t.Errorf("%s: more than balanceCents and version differ: live %+v, want %+v", id, live[id], w)
		}
	}
	slices.Sort(differ)
	drifted := sandbox.DriftedAccounts(s.Options())
	if len(drifted) != 7 {
		t.Errorf("DriftedAccounts = %v, want 7 accounts", drifted)
	}
	if diff := cmp.Diff(drifted, differ); diff != "" {
		t.Errorf("accounts that differ from the fold (-DriftedAccounts +differ):\n%s", diff)
	}

	// The events do not drift: the topic holds what Events says, whatever Drift.
	noDrift := s.Options()
	noDrift.Drift = 0
	if got, want := sandbox.ExpectedCounts(s.Options()), sandbox.ExpectedCounts(noDrift); !maps.Equal(got, want) {
		t.Errorf("ExpectedCounts with drift %v, without %v", got, want)
	}
	if diff := cmp.Diff(want, sandbox.LiveBalances(noDrift)); diff != "" {
		t.Errorf("LiveBalances without drift differs from ExpectedBalances:\n%s", diff)
	}
	if got := len(consume(t, s, sandbox.TopicAccountEvents)); got != 600 {
		t.Errorf("%s: %d records, want 600", sandbox.TopicAccountEvents, got)
	}
}

func TestDriftBugs(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 40, Events: 800, Seed: 11, Drift: 12}
	last := map[string]sandbox.Event{}
	for e := range sandbox.Events(opts) {
		last[e.AccountID] = e
	}
	want := sandbox.ExpectedBalances(opts)
	liveAll := sandbox.LiveBalances(opts)
	bugs := map[sandbox.DriftBug]int{}
	drifts := sandbox.Drifts(opts)
	if len(drifts) != 12 {
		t.Fatalf("%d drifts, want 12", len(drifts))
	}
	for _, d := range drifts {
		bugs[d.Bug]++
		if d.Want != want[d.Account] || d.Live != liveAll[d.Account] {
			t.Errorf("%s: Drift %+v does not match ExpectedBalances/LiveBalances", d.Account, d)
		}
		e := last[d.Account]
		var delta int64
		switch e.Type {
		case sandbox.TypeMoneyDeposited:
			delta = e.AmountCents
		case sandbox.TypeMoneyWithdrawn:
			delta = -e.AmountCents
		}
		wantLive := d.Want
		switch d.Bug {
		case sandbox.DriftMissedEvent:
			wantLive.BalanceCents -= delta
			wantLive.Version--
		case sandbox.DriftAppliedTwice:
			wantLive.BalanceCents += delta
		case sandbox.DriftRounding:
			wantLive.BalanceCents--
		default:
			t.Errorf("%s: unknown bug %q", d.Account, d.Bug)
		}
		if (d.Bug == sandbox.DriftMissedEvent || d.Bug == sandbox.DriftAppliedTwice) && delta == 0 {
			t.Errorf("%s: %s, but its last event is %s", d.Account, d.Bug, e.Type)
		}
		if d.Live != wantLive {
			t.Errorf("%s (%s, last event %s %d): live %+v, want %+v", d.Account, d.Bug, e.Type, e.AmountCents, d.Live, wantLive)
		}
		if d.Live == d.Want {
			t.Errorf("%s: %s left the balance right", d.Account, d.Bug)
		}
	}
	for _, bug := range []sandbox.DriftBug{sandbox.DriftMissedEvent, sandbox.DriftAppliedTwice, sandbox.DriftRounding} {
		if bugs[bug] == 0 {
			t.Errorf("no %s among %v", bug, bugs)
		}
	}
}

func TestDriftedAccountsAreDeterministic(t *testing.T) {
	opts := sandbox.Options{Now: testNow, Accounts: 50, Events: 500, Seed: 5, Drift: 4}
	a, b := sandbox.DriftedAccounts(opts), sandbox.DriftedAccounts(opts)
	if !slices.Equal(a, b) || len(a) != 4 || !slices.IsSorted(a) {
		t.Errorf("DriftedAccounts = %v, then %v: want the same 4 sorted ids", a, b)
	}
	// Now moves the times, not the choice.
	later := opts
	later.Now = testNow.Add(time.Hour)
	if c := sandbox.DriftedAccounts(later); !slices.Equal(a, c) {
		t.Errorf("DriftedAccounts with another Now = %v, want %v", c, a)
	}
	other := opts
	other.Seed = 6
	if c := sandbox.DriftedAccounts(other); slices.Equal(a, c) {
		t.Errorf("seeds 5 and 6 drift the same accounts %v", a)
	}
	if got := sandbox.DriftedAccounts(sandbox.Options{Now: testNow}); len(got) != 0 {
		t.Errorf("DriftedAccounts without Drift = %v", got)
	}
	all := sandbox.DriftedAccounts(sandbox.Options{Now: testNow, Accounts: 10, Events: 100, Drift: 10})
	if len(all) != 10 || all[0] != "acct-0001" || all[9] != "acct-0010" {
		t.Errorf("Drift = Accounts drifts %v, want every account", all)
	}
}

func TestStartRefusesImpossibleDrift(t *testing.T) {
	for _, tc := range []struct {
		opts sandbox.Options
		want string
	}{
		{sandbox.Options{Accounts: 5, Events: 50, Drift: 6}, "drift 6: there are only 5 accounts"},
		{sandbox.Options{Accounts: 50, Events: 3, Drift: 4}, "drift 4: there are only 3 accounts"},
		{sandbox.Options{Drift: -1}, "drift -1"},
	} {
		s, err := sandbox.Start(context.Background(), tc.opts)
		if err == nil {
			s.Close()
			t.Errorf("Start(%+v) succeeded", tc.opts)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}
