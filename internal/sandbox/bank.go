package sandbox

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"time"
)

// Topics the sandbox seeds.
const (
	// TopicAccountEvents holds every bank event, Avro in the Confluent wire
	// format, keyed by account id, 6 partitions.
	TopicAccountEvents = "bank.account-events"
	// TopicAccountBalances is the compacted read model: one JSON Balance
	// per account, keyed by account id, 6 partitions.
	TopicAccountBalances = "bank.account-balances"
	// TopicNotifications holds plain JSON Notifications without a schema,
	// keyed by account id, 3 partitions.
	TopicNotifications = "bank.notifications"

	AccountEventsPartitions   = 6
	AccountBalancesPartitions = 6
	NotificationsPartitions   = 3
)

// Event types: the short names of the Avro records, also the event-type
// header.
const (
	TypeAccountOpened  = "AccountOpened"
	TypeMoneyDeposited = "MoneyDeposited"
	TypeMoneyWithdrawn = "MoneyWithdrawn"
	TypeAccountClosed  = "AccountClosed"
)

// Record headers on every bank.account-events record.
const (
	HeaderEventID       = "event-id"
	HeaderCorrelationID = "correlation-id"
	HeaderEventType     = "event-type"
)

const (
	history = 7 * 24 * time.Hour // events spread over the week before Options.Now
	// closeShare of the accounts with more than one event end closed.
	closeShare = 0.10

	firstNames = "Ada Alan Grace Edsger Barbara Donald Margaret Ken Dennis Frances Radia John Leslie Tony Niklaus Sophie Liskov Katherine Linus Guido"
	lastNames  = "Lovelace Turing Hopper Dijkstra Liskov Knuth Hamilton Thompson Ritchie Allen Perlman Backus Lamport Hoare Wirth Wilson Johnson Torvalds Rossum Kay"
)

// Event is one generated bank event. Events yields them in the order the
// sandbox writes them, which is the order of OccurredAt.
type Event struct {
	Type          string // TypeAccountOpened...
	EventID       string // uuid
	CorrelationID string // uuid
	AccountID     string
	OccurredAt    time.Time // whole milliseconds, UTC
	Version       int       // 1-based per account

	// AccountOpened
	Owner    string
	Currency string            // EUR, USD or GBP
	Email    string            // "" is Avro null
	Tags     map[string]string // at most one entry, so the bytes are the same every run

	// MoneyDeposited, MoneyWithdrawn
	AmountCents int64
	Reference   string // "" is Avro null

	// AccountClosed
	Reason string
}

// AccountID names account n (1-based): acct-0001, wider past 9999 accounts.
func AccountID(n, accounts int) string {
	width := max(4, len(fmt.Sprint(accounts)))
	return fmt.Sprintf("acct-%0*d", width, n)
}

// Events generates the bank history for opts: every account opens first,
// then deposits and withdraws (never below zero), and about one in ten of
// those with more than one event ends closed. The same options always give
// the same events; with a zero Now they are anchored at the current time, so
// pass Sandbox.Options() to see what a running sandbox holds.
func Events(opts Options) iter.Seq[Event] {
	opts = opts.withDefaults()
	return func(yield func(Event) bool) {
		g := newGenerator(opts)
		for i := range g.schedule {
			if !yield(g.next(i)) {
				return
			}
		}
	}
}

type account struct {
	id           string
	events, seen int
	closes       bool
	balance      int64
}

type generator struct {
	rng      *rand.Rand
	accounts []account
	schedule []int32 // account index of each event, in order
	start    time.Time
	step     time.Duration

	first, last []string
}

func newGenerator(opts Options) *generator {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x65766374)) // "evct"
	n := min(opts.Accounts, opts.Events)
	g := &generator{
		rng:      rng,
		accounts: make([]account, n),
		schedule: make([]int32, 0, opts.Events),
		start:    opts.Now.Add(-history),
		step:     history / time.Duration(max(opts.Events, 1)),
		first:    strings.Fields(firstNames),
		last:     strings.Fields(lastNames),
	}
	for i := range g.accounts {
		g.accounts[i] = account{id: AccountID(i+1, opts.Accounts), events: 1}
	}
	for range opts.Events - n {
		g.accounts[rng.IntN(n)].events++
	}
	for i := range g.accounts {
		a := &g.accounts[i]
		a.closes = a.events > 1 && rng.Float64() < closeShare
		for range a.events {
			g.schedule = append(g.schedule, int32(i))
		}
	}
	rng.Shuffle(len(g.schedule), func(i, j int) {
		g.schedule[i], g.schedule[j] = g.schedule[j], g.schedule[i]
	})
	return g
}

// next makes event i: its time lies in the i-th of Events equal slices of
// the week, so times rise with i.
func (g *generator) next(i int) Event {
	a := &g.accounts[g.schedule[i]]
	jitter := time.Duration(g.rng.Int64N(int64(max(g.step, 1))))
	e := Event{
		EventID:       g.uuid(),
		CorrelationID: g.uuid(),
		AccountID:     a.id,
		OccurredAt:    g.start.Add(time.Duration(i)*g.step + jitter).Truncate(time.Millisecond).UTC(),
		Version:       a.seen + 1,
	}
	a.seen++
	switch {
	case a.seen == 1:
		g.open(a, &e)
	case a.closes && a.seen == a.events:
		g.close(&e)
	case a.balance > 0 && g.rng.IntN(5) < 2:
		g.withdraw(a, &e)
	default:
		g.deposit(a, &e)
	}
	return e
}

func (g *generator) close(e *Event) {
	e.Type = TypeAccountClosed
	e.Reason = pick(g.rng, "customer request", "moved abroad", "duplicate account", "switched bank", "fraud suspected")
}

// withdraw makes e a withdrawal of at most a's balance, which must be
// above zero.
func (g *generator) withdraw(a *account, e *Event) {
	e.Type = TypeMoneyWithdrawn
	e.AmountCents = 1 + g.rng.Int64N(min(a.balance, 250_000))
	a.balance -= e.AmountCents
	if g.rng.IntN(2) == 0 {
		e.Reference = pick(g.rng, "atm", "card payment", "rent", "groceries", "transfer out")
	}
}

func (g *generator) deposit(a *account, e *Event) {
	e.Type = TypeMoneyDeposited
	e.AmountCents = 100 + g.rng.Int64N(300_000)
	a.balance += e.AmountCents
	if g.rng.IntN(2) == 0 {
		e.Reference = pick(g.rng, "salary", "transfer in", "cash deposit", "refund", "interest")
	}
}

func (g *generator) open(a *account, e *Event) {
	first, last := g.first[g.rng.IntN(len(g.first))], g.last[g.rng.IntN(len(g.last))]
	e.Type = TypeAccountOpened
	e.Owner = first + " " + last
	switch r := g.rng.IntN(20); {
	case r < 12:
		e.Currency = "EUR"
	case r < 17:
		e.Currency = "USD"
	default:
		e.Currency = "GBP"
	}
	if g.rng.IntN(10) < 7 {
		e.Email = strings.ToLower(first+"."+last) + "@example.com"
	}
	// At most one tag: hamba writes a map in Go's random order, and the
	// same seed must give the same bytes.
	e.Tags = map[string]string{}
	if g.rng.IntN(3) > 0 {
		e.Tags["segment"] = pick(g.rng, "retail", "private", "business")
	}
}

// uuid returns a random (version 4) UUID drawn from the generator's source.
func (g *generator) uuid() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], g.rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], g.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:], b[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

func pick(rng *rand.Rand, choices ...string) string {
	return choices[rng.IntN(len(choices))]
}
