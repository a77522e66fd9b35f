package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/evctl/evctl/internal/partition"
	"github.com/evctl/evctl/internal/record"
)

// ProjectorGroup is the consumer group of the live projector (evctl dev
// --live): its committed offsets say how far bank.account-balances has
// got in bank.account-events.
const ProjectorGroup = "bank-projector"

// liveStream seeds the live write side's draws ("live"), apart from the
// seeded history's, so that the history is the same with or without it.
const liveStream = 0x6c697665

// Shares of the live events, in percent: the rest deposit or withdraw.
const (
	liveOpenShare  = 5 // a new account opens
	liveCloseShare = 1 // an account that has had more than its opening closes
)

// WriteSide is the bank's write side after seeding, for evctl dev --live:
// it continues the seeded history by the same rules, as the command
// handlers of a real bank would. No withdrawal takes more than the
// balance, a closed account takes no more events, each account's versions
// follow one another from where the seeded history left them, times never
// go back, and new accounts keep opening. The same options give the same
// events, but for their times. It does not touch the network: its caller
// produces the records. Not safe for concurrent use.
type WriteSide struct {
	codec    *valueCodec
	g        *generator
	accounts []*liveAccount // open accounts, in the order they opened
	opened   int            // accounts opened so far, seeded ones included
	width    int            // Options.Accounts, which sets the width of account ids
	last     time.Time      // the latest event's time
}

type liveAccount struct {
	account
	version int
}

// WriteSide returns the write side continuing the sandbox's seeded bank.
// It registers nothing new: the events are of the seeded schemas.
func (s *Sandbox) WriteSide() (*WriteSide, error) {
	codec, err := registerSchemas(s.registry)
	if err != nil {
		return nil, err
	}
	return newWriteSide(codec, s.opts), nil
}

func newWriteSide(codec *valueCodec, opts Options) *WriteSide {
	m := newReadModel()
	var last time.Time
	for e := range Events(opts) {
		m.apply(e)
		last = e.OccurredAt
	}
	w := &WriteSide{
		codec: codec,
		g: &generator{
			rng:   rand.New(rand.NewPCG(uint64(opts.Seed), liveStream)),
			first: strings.Fields(firstNames),
			last:  strings.Fields(lastNames),
		},
		opened: len(m.accounts),
		width:  opts.Accounts,
		last:   last,
	}
	for _, a := range m.balances() {
		if a.Status == StatusOpen {
			w.accounts = append(w.accounts, &liveAccount{account: account{id: a.AccountID, balance: a.BalanceCents}, version: a.Version})
		}
	}
	return w
}

// Next returns the next event, happening at now (or at the latest event's
// time, if now is earlier), and the records that carry it: the event for
// bank.account-events, and a notification for bank.notifications when
// the event sends one. The records' Partition is partition.Any: the
// producer's murmur2 partitioner places them by key, as it did the seeded
// ones.
func (w *WriteSide) Next(now time.Time) (Event, []record.Message, error) {
	e := w.next(now)
	value, err := w.codec.encode(e)
	if err != nil {
		return Event{}, nil, err
	}
	msgs := []record.Message{{
		Topic: TopicAccountEvents, Partition: partition.Any, Timestamp: e.OccurredAt,
		Key: []byte(e.AccountID), Value: value, Headers: eventHeaders(e),
	}}
	if note, ok := notification(e); ok {
		b, err := json.Marshal(note)
		if err != nil {
			return Event{}, nil, err
		}
		msgs = append(msgs, record.Message{Topic: TopicNotifications, Partition: partition.Any, Timestamp: e.OccurredAt, Key: []byte(e.AccountID), Value: b})
	}
	return e, msgs, nil
}

func (w *WriteSide) next(now time.Time) Event {
	g := w.g
	if now = now.UTC().Truncate(time.Millisecond); now.Before(w.last) {
		now = w.last
	}
	w.last = now
	e := Event{EventID: g.uuid(), CorrelationID: g.uuid(), OccurredAt: now}
	if len(w.accounts) == 0 || g.rng.IntN(100) < liveOpenShare {
		w.opened++
		a := &liveAccount{account: account{id: AccountID(w.opened, w.width)}, version: 1}
		w.accounts = append(w.accounts, a)
		e.AccountID, e.Version = a.id, 1
		g.open(&a.account, &e)
		return e
	}
	i := g.rng.IntN(len(w.accounts))
	a := w.accounts[i]
	a.version++
	e.AccountID, e.Version = a.id, a.version
	switch r := g.rng.IntN(100); {
	case r < liveCloseShare && a.version > 2:
		g.close(&e)
		w.accounts = append(w.accounts[:i], w.accounts[i+1:]...)
	case a.balance > 0 && r < 40:
		g.withdraw(&a.account, &e)
	default:
		g.deposit(&a.account, &e)
	}
	return e
}

// eventHeaders are the headers of e's bank.account-events record.
func eventHeaders(e Event) []record.RawHeader {
	return []record.RawHeader{
		{Key: HeaderEventID, Value: []byte(e.EventID)},
		{Key: HeaderCorrelationID, Value: []byte(e.CorrelationID)},
		{Key: HeaderEventType, Value: []byte(e.Type)},
	}
}

// Projector is the live projector's logic (evctl dev --live): it folds
// bank.account-events records into bank.account-balances records, by the
// same Go code that seeds the read model, independent of any projection
// spec and of evctl's decoders. It starts from the states it is given back
// (Restore), so a projector that left some accounts wrong (Options.Drift)
// keeps them wrong, as a buggy projector in production would. It does not
// touch the network. Not safe for concurrent use.
type Projector struct {
	codec *valueCodec
	model *readModel
}

// Projector returns a projector of the sandbox's bank with no state.
func (s *Sandbox) Projector() (*Projector, error) {
	codec, err := registerSchemas(s.registry)
	if err != nil {
		return nil, err
	}
	return &Projector{codec: codec, model: newReadModel()}, nil
}

// Restore takes back an account's state from its bank.account-balances
// record, the projector's changelog.
func (p *Projector) Restore(m *record.Message) error {
	if m.Value == nil {
		delete(p.model.accounts, string(m.Key))
		return nil
	}
	var b Balance
	if err := json.Unmarshal(m.Value, &b); err != nil {
		return fmt.Errorf("restore %s %d@%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	t, err := time.Parse(TimeFormat, b.UpdatedAt)
	if err != nil {
		return fmt.Errorf("restore %s %d@%d: updatedAt: %w", m.Topic, m.Partition, m.Offset, err)
	}
	p.model.accounts[b.AccountID] = &accountState{Balance: b, updated: t}
	return nil
}

// Apply folds one bank.account-events record into its account's state and
// returns the account's new bank.account-balances record (Partition
// partition.Any: by key, as the seeded ones).
func (p *Projector) Apply(m *record.Message) (record.Message, error) {
	e, err := p.codec.decode(m.Value)
	if err != nil {
		return record.Message{}, fmt.Errorf("project %s %d@%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	if a := p.model.accounts[e.AccountID]; a == nil && e.Type != TypeAccountOpened {
		return record.Message{}, fmt.Errorf("project %s %d@%d: %s of account %s, which never opened", m.Topic, m.Partition, m.Offset, e.Type, e.AccountID)
	}
	p.model.apply(e)
	a := p.model.accounts[e.AccountID]
	a.UpdatedAt = formatTime(a.updated)
	value, err := json.Marshal(a.Balance)
	if err != nil {
		return record.Message{}, err
	}
	return record.Message{Topic: TopicAccountBalances, Partition: partition.Any, Timestamp: a.updated, Key: []byte(e.AccountID), Value: value}, nil
}

// Balances returns the projector's states, by account id.
func (p *Projector) Balances() map[string]Balance { return balanceMap(p.model.balances()) }

// decode reads an event back from its record value (encode's output).
func (c *valueCodec) decode(value []byte) (Event, error) {
	if len(value) < len(c.prefix) || value[0] != 0 {
		return Event{}, errors.New("value is not in the Confluent wire format")
	}
	if [5]byte(value[:5]) != c.prefix {
		return Event{}, fmt.Errorf("value has schema id %d, not the bank's", binaryID(value))
	}
	var v any
	if err := c.api.Unmarshal(c.union, value[5:], &v); err != nil {
		return Event{}, fmt.Errorf("decode Avro: %w", err)
	}
	var e Event
	var h avroHead
	switch r := v.(type) {
	case avroAccountOpened:
		h, e.Type, e.Owner, e.Currency, e.Tags = r.avroHead, TypeAccountOpened, r.Owner, r.Currency, r.Tags
		if r.Email != nil {
			e.Email = *r.Email
		}
	case avroMoney:
		h, e.Type = r.avroHead, TypeMoneyDeposited
		e.AmountCents, e.Reference = cents(r.Amount), deref(r.Reference)
	case avroMoneyWithdrawn:
		h, e.Type = r.avroHead, TypeMoneyWithdrawn
		e.AmountCents, e.Reference = cents(r.Amount), deref(r.Reference)
	case avroAccountClosed:
		h, e.Type, e.Reason = r.avroHead, TypeAccountClosed, r.Reason
	default:
		return Event{}, fmt.Errorf("decode Avro: unexpected %T", v)
	}
	e.EventID, e.AccountID, e.OccurredAt, e.Version = h.EventID, h.AccountID, h.OccurredAt.UTC(), int(h.Version)
	return e, nil
}
