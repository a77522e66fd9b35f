package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Balance is the value of a bank.account-balances record (JSON, keyed by
// account id), the latest state of one account:
//
//	{"accountId":"acct-0042","owner":"Ada Lovelace","currency":"EUR",
//	 "balanceCents":12000,"status":"open","version":7,
//	 "updatedAt":"2025-01-02T03:04:05.678Z"}
//
// balanceCents is the balance in integer minor units, so a jq projection
// that sums the events' decimal amounts times 100 matches it exactly. status
// is "open" or "closed"; version is the version of the account's last event
// and updatedAt its occurredAt (RFC 3339, milliseconds, UTC). The record
// timestamp is updatedAt too.
//
// It is computed by plain Go code from the generated events, independent of
// any projection spec, so that rebuilding it with a projection is a real
// cross-check.
type Balance struct {
	AccountID    string `json:"accountId"`
	Owner        string `json:"owner"`
	Currency     string `json:"currency"`
	BalanceCents int64  `json:"balanceCents"`
	Status       string `json:"status"`
	Version      int    `json:"version"`
	UpdatedAt    string `json:"updatedAt"`
}

// Account statuses in Balance.Status.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// TimeFormat is how the JSON topics write times: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Notification is the value of a bank.notifications record (plain JSON, no
// schema, keyed by account id): a welcome on every AccountOpened, a notice on
// every AccountClosed and an alert on every withdrawal of 1000.00 or more.
type Notification struct {
	AccountID string `json:"accountId"`
	EventID   string `json:"eventId"`
	Channel   string `json:"channel"` // email, sms or push
	Message   string `json:"message"`
	SentAt    string `json:"sentAt"` // the event's occurredAt, TimeFormat
}

// largeWithdrawalCents is the smallest withdrawal that sends a notification.
const largeWithdrawalCents = 100_000

// readModel folds events into balances.
type readModel struct {
	accounts map[string]*accountState
}

type accountState struct {
	Balance
	updated time.Time
	// lastDelta is what the account's last event did to BalanceCents:
	// +amount, -amount, or 0 for AccountOpened and AccountClosed. Drift
	// uses it to leave a projector's typical bugs behind.
	lastDelta int64
}

func newReadModel() *readModel {
	return &readModel{accounts: map[string]*accountState{}}
}

func (m *readModel) apply(e Event) {
	a := m.accounts[e.AccountID]
	if a == nil {
		a = &accountState{}
		m.accounts[e.AccountID] = a
	}
	a.lastDelta = 0
	switch e.Type {
	case TypeAccountOpened:
		a.Balance = Balance{AccountID: e.AccountID, Owner: e.Owner, Currency: e.Currency, Status: StatusOpen}
	case TypeMoneyDeposited:
		a.BalanceCents += e.AmountCents
		a.lastDelta = e.AmountCents
	case TypeMoneyWithdrawn:
		a.BalanceCents -= e.AmountCents
		a.lastDelta = -e.AmountCents
	case TypeAccountClosed:
		a.Status = StatusClosed
	}
	a.Version = e.Version
	a.updated = e.OccurredAt
}

// balances returns the state of every account, sorted by account id.
func (m *readModel) balances() []accountState {
	out := make([]accountState, 0, len(m.accounts))
	for _, a := range m.accounts {
		a.UpdatedAt = formatTime(a.updated)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b accountState) int { return strings.Compare(a.AccountID, b.AccountID) })
	return out
}

// notification returns what e sends to bank.notifications, if anything.
func notification(e Event) (Notification, bool) {
	n := Notification{AccountID: e.AccountID, EventID: e.EventID}
	switch {
	case e.Type == TypeAccountOpened:
		n.Channel = "sms"
		if e.Email != "" {
			n.Channel = "email"
		}
		n.Message = fmt.Sprintf("Welcome, %s! Your %s account %s is open.", e.Owner, e.Currency, e.AccountID)
	case e.Type == TypeAccountClosed:
		n.Channel = "email"
		n.Message = fmt.Sprintf("Your account %s is closed (%s).", e.AccountID, e.Reason)
	case e.Type == TypeMoneyWithdrawn && e.AmountCents >= largeWithdrawalCents:
		n.Channel = "push"
		n.Message = fmt.Sprintf("Large withdrawal of %s from %s.", formatCents(e.AmountCents), e.AccountID)
	default:
		return Notification{}, false
	}
	n.SentAt = formatTime(e.OccurredAt)
	return n, true
}

// ExpectedBalances returns the correct bank.account-balances state for
// opts, by account id: every event folded, what a projection rebuilt from
// bank.account-events yields. Start(opts) writes exactly this unless
// opts.Drift > 0; LiveBalances returns what it writes then. Pass
// Sandbox.Options() when opts.Now was zero.
func ExpectedBalances(opts Options) map[string]Balance {
	return balanceMap(fold(opts))
}

// LiveBalances returns the bank.account-balances state Start(opts) writes,
// by account id: ExpectedBalances with the opts.Drift accounts of
// DriftedAccounts left wrong (see Drift).
func LiveBalances(opts Options) map[string]Balance {
	states := fold(opts)
	applyDrift(opts, states)
	return balanceMap(states)
}

// fold folds the events of opts into the state of every account, sorted by
// account id.
func fold(opts Options) []accountState {
	m := newReadModel()
	for e := range Events(opts) {
		m.apply(e)
	}
	return m.balances()
}

func balanceMap(states []accountState) map[string]Balance {
	balances := make(map[string]Balance, len(states))
	for _, a := range states {
		balances[a.AccountID] = a.Balance
	}
	return balances
}

// ExpectedCounts returns how many records Start(opts) writes to each topic.
func ExpectedCounts(opts Options) map[string]int {
	opts = opts.withDefaults()
	counts := map[string]int{}
	accounts := map[string]bool{}
	for e := range Events(opts) {
		counts[TopicAccountEvents]++
		accounts[e.AccountID] = true
		if _, ok := notification(e); ok {
			counts[TopicNotifications]++
		}
		if _, ok := profile(e); ok {
			counts[TopicCustomerProfiles]++
		}
		if _, ok := transfer(e, opts, ""); ok {
			counts[TopicTransfers]++
		}
	}
	counts[TopicAccountBalances] = len(accounts)
	if opts.Faults {
		counts[FaultsTopic] = len(faultPlan(opts))
	}
	return counts
}

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

func formatCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
