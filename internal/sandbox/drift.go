package sandbox

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Drift is one account whose live balance in bank.account-balances is wrong
// on purpose (Options.Drift): the state a buggy projector would have left.
// bank.account-events is untouched, so rebuilding the read model from the
// events and diffing it against the live topic finds exactly the drifted
// accounts, and in each only balanceCents and perhaps version differ: the
// key, owner, currency, status, updatedAt and the record timestamp are the
// correct ones.
type Drift struct {
	Account string
	Bug     DriftBug
	Want    Balance // the correct state, as in ExpectedBalances
	Live    Balance // what Start writes, as in LiveBalances
}

// DriftBug names the projector bug that left an account drifted.
type DriftBug string

const (
	// DriftMissedEvent: the account's last event, a deposit or withdrawal,
	// was never applied (an offset committed before the write): balanceCents
	// is that of the state before it and version is one lower.
	DriftMissedEvent DriftBug = "missed-event"
	// DriftAppliedTwice: the account's last event, a deposit or withdrawal,
	// was applied twice (a redelivery to a projector that is not
	// idempotent): its amount counts twice in balanceCents; version is
	// right, as the projector stamps the event's own version.
	DriftAppliedTwice DriftBug = "applied-twice"
	// DriftRounding: amounts summed as floats and truncated to cents lost
	// one cent: balanceCents is one lower; version is right.
	DriftRounding DriftBug = "rounding"
)

// driftBugs are dealt to the drifted accounts in turn, in the order they are
// drawn. An account whose last event moves no money (AccountOpened,
// AccountClosed) gets DriftRounding instead of the first two.
var driftBugs = []DriftBug{DriftMissedEvent, DriftAppliedTwice, DriftRounding}

// driftStream seeds the draw of drifted accounts ("drift"), apart from the
// events' source so that Drift never changes the events.
const driftStream = 0x6472696674

// DriftedAccounts returns the ids of the opts.Drift accounts Start(opts)
// leaves wrong in bank.account-balances, sorted. The same options always
// give the same accounts.
func DriftedAccounts(opts Options) []string {
	ids := make([]string, 0, max(opts.Drift, 0))
	for _, d := range Drifts(opts) {
		ids = append(ids, d.Account)
	}
	return ids
}

// Drifts returns what Start(opts) gets wrong in bank.account-balances,
// sorted by account id: opts.Drift accounts, none when it is 0.
func Drifts(opts Options) []Drift {
	opts = opts.withDefaults()
	if opts.Drift <= 0 {
		return nil
	}
	return applyDrift(opts, fold(opts))
}

// validateDrift reports a Drift that Start cannot honour.
func validateDrift(opts Options) error {
	n := min(opts.Accounts, opts.Events)
	switch {
	case opts.Drift < 0:
		return fmt.Errorf("drift %d: want 0 or more accounts", opts.Drift)
	case opts.Drift > n:
		return fmt.Errorf("drift %d: there are only %d accounts", opts.Drift, n)
	}
	return nil
}

// applyDrift makes opts.Drift of states, the fold of every account sorted
// by account id, wrong and returns how, sorted by account id.
func applyDrift(opts Options, states []accountState) []Drift {
	opts = opts.withDefaults()
	if opts.Drift <= 0 || len(states) == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), driftStream))
	picks := rng.Perm(len(states))[:min(opts.Drift, len(states))]
	drifts := make([]Drift, 0, len(picks))
	for i, p := range picks {
		a := &states[p]
		d := Drift{Account: a.AccountID, Bug: driftBugs[i%len(driftBugs)], Want: a.Balance}
		if a.lastDelta == 0 {
			d.Bug = DriftRounding
		}
		switch d.Bug {
		case DriftMissedEvent:
			a.BalanceCents -= a.lastDelta
			a.Version--
		case DriftAppliedTwice:
			a.BalanceCents += a.lastDelta
		case DriftRounding:
			a.BalanceCents--
		}
		d.Live = a.Balance
		drifts = append(drifts, d)
	}
	slices.SortFunc(drifts, func(a, b Drift) int { return strings.Compare(a.Account, b.Account) })
	return drifts
}
