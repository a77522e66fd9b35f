package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/sandbox/registry"
)

// The faulty topic (Options.Faults, evctl dev --faults): what `evctl check`
// must find.
//
// FaultsTopic has 6 partitions and holds bank events like
// bank.account-events (keyed by account id, Avro in the Confluent wire
// format, event-id, correlation-id and event-type headers, record timestamp
// = occurredAt), spread over the day before Options.Now: a clean history of
// six accounts, acct-0001 to acct-0006 (acct-0002 ends closed), and ten
// accounts with exactly one problem each, one record showing it, always
// the account's last record but in (b):
//
//	acct-0007 FaultVersionGap        versions 1, 2, 4: the MoneyDeposited v4
//	acct-0008 FaultDuplicateVersion  versions 1, 2, 2, 3: the second v2, a MoneyWithdrawn
//	acct-0009 FaultDuplicateEventID  a MoneyDeposited v3 with the eventId (and
//	                                 event-id header) of the MoneyDeposited v2
//	acct-0010 FaultSplitPartitions   its MoneyWithdrawn v3 is on the partition
//	                                 after the account's own (5, not 4); being
//	                                 the account's latest event, it is also the
//	                                 last one a reader sees in partition or
//	                                 time order, so versions and times stay clean
//	acct-0011 FaultAfterTerminal     AccountClosed v3, then MoneyDeposited v4
//	acct-0012 FaultTimeBackwards     its MoneyWithdrawn v3 occurred (occurredAt
//	                                 and record timestamp) between v1 and v2
//	acct-0013 FaultUndecodable       v3: the schema id of the 4-branch union,
//	                                 then a union branch index of 7 (byte 0x0e)
//	                                 and the rest of a MoneyDeposited
//	acct-0014 FaultNoSchema          v3: a MoneyDeposited as plain JSON, no
//	                                 schema id: {"type":"MoneyDeposited",
//	                                 "eventId":…,"accountId":…,"occurredAt":…,
//	                                 "version":3,"amount":"12.34","reference":null}
//	acct-0015 FaultUnknownType       v3: a com.bank.InterestAccrued, valid Avro
//	                                 under version 2 of the topic's value subject
//	                                 (the union plus InterestAccrued), which the
//	                                 bank's projection spec has no handler for
//	acct-0016 FaultNegativeBalance   v3: a MoneyWithdrawn of more than the
//	                                 balance, which folds to balanceCents < 0
//
// Every other record is sound: versions 1, 2, 3… per account, unique event
// ids, one partition per account (murmur2 of the key, as everywhere), no
// event after AccountClosed, occurredAt rising, every withdrawal covered.
// The undecodable record, the JSON one and the InterestAccrued one carry
// the headers a MoneyDeposited (resp. InterestAccrued) would. Faults returns
// each problem with the partition and offset of its record; the account
// names and kinds are fixed, the amounts, ids and times follow Seed and Now.
const (
	FaultsTopic      = "bank.account-events.faulty"
	FaultsPartitions = 6
	// SubjectFaultsValue is the faulty topic's value subject: version 1 is
	// the bank's union (the same schema, and id, as
	// bank.account-events-value), version 2 adds com.bank.InterestAccrued.
	SubjectFaultsValue = FaultsTopic + "-value"
	// TypeInterestAccrued is the event type only the faulty topic has.
	TypeInterestAccrued    = "InterestAccrued"
	SubjectInterestAccrued = "com.bank." + TypeInterestAccrued
)

// FaultKind names one problem in FaultsTopic.
type FaultKind string

// The problems in FaultsTopic, one instance each.
const (
	FaultVersionGap       FaultKind = "version-gap"
	FaultDuplicateVersion FaultKind = "duplicate-version"
	FaultDuplicateEventID FaultKind = "duplicate-event-id"
	FaultSplitPartitions  FaultKind = "split-partitions"
	FaultAfterTerminal    FaultKind = "after-terminal"
	FaultTimeBackwards    FaultKind = "time-backwards"
	FaultUndecodable      FaultKind = "undecodable"
	FaultNoSchema         FaultKind = "no-schema"
	FaultUnknownType      FaultKind = "unknown-type"
	FaultNegativeBalance  FaultKind = "negative-balance"
)

// Fault is one problem seeded in FaultsTopic and the record that shows it.
type Fault struct {
	Kind      FaultKind
	Account   string // the aggregate: the record key, and accountId
	Partition int32
	Offset    int64
	Version   int    // the record's version, the one it is meant to have when undecodable
	EventID   string // its event-id header (and eventId when decodable)
	Type      string // its event type, as its event-type header says
	Detail    string // what is wrong, for people
}

// Faults returns the problems Start(opts) seeds in FaultsTopic when
// opts.Faults is set, in the order of the list in FaultsTopic's comment.
// Pass Sandbox.Options() when opts.Now was zero.
func Faults(opts Options) []Fault {
	var out []Fault
	for _, r := range faultPlan(opts) {
		if r.fault == "" {
			continue
		}
		out = append(out, Fault{
			Kind: r.fault, Account: r.AccountID, Partition: r.partition, Offset: r.offset,
			Version: r.Version, EventID: r.EventID, Type: r.Type, Detail: r.detail,
		})
	}
	order := map[FaultKind]int{}
	for i, k := range faultKinds {
		order[k] = i
	}
	slices.SortFunc(out, func(a, b Fault) int { return order[a.Kind] - order[b.Kind] })
	return out
}

// faultKinds lists the faults in the order of their accounts, acct-0007 on.
var faultKinds = []FaultKind{
	FaultVersionGap, FaultDuplicateVersion, FaultDuplicateEventID, FaultSplitPartitions, FaultAfterTerminal,
	FaultTimeBackwards, FaultUndecodable, FaultNoSchema, FaultUnknownType, FaultNegativeBalance,
}

const (
	faultsCleanAccounts = 6
	faultsClosedAccount = 2 // the clean account that ends closed
	faultsHistory       = 24 * time.Hour
	faultsStream        = 0x6661756c7473 // "faults"
)

// encoding is how a planned record's value is written.
type encoding uint8

const (
	encodeAvro      encoding = iota // the bank's union, SubjectFaultsValue version 1
	encodeAvroV2                    // SubjectFaultsValue version 2, with InterestAccrued
	encodeCorrupt                   // a version 1 prefix, then a union branch that does not exist
	encodePlainJSON                 // JSON without a schema id
)

// plannedRecord is one FaultsTopic record, in produce order.
type plannedRecord struct {
	Event
	partition int32
	offset    int64
	encoding  encoding
	fault     FaultKind
	detail    string
}

// faultBuilder writes one account's history in version order.
type faultBuilder struct {
	g       *generator
	id      string
	balance int64
	version int
	// recs has room for every record of a history from the start, so the
	// pointers add returns stay valid.
	recs []plannedRecord
}

// maxFaultHistory bounds a FaultsTopic account's records: open, deposit,
// four more and a close.
const maxFaultHistory = 7

func (b *faultBuilder) add(typ string, amount int64) *plannedRecord {
	b.version++
	e := Event{Type: typ, EventID: b.g.uuid(), CorrelationID: b.g.uuid(), AccountID: b.id, Version: b.version, AmountCents: amount}
	switch typ {
	case TypeAccountOpened:
		b.g.open(nil, &e)
	case TypeMoneyDeposited:
		b.balance += amount
		if b.g.rng.IntN(2) == 0 {
			e.Reference = pick(b.g.rng, "salary", "transfer in", "cash deposit", "refund")
		}
	case TypeMoneyWithdrawn:
		b.balance -= amount
		if b.g.rng.IntN(2) == 0 {
			e.Reference = pick(b.g.rng, "atm", "card payment", "rent", "groceries")
		}
	case TypeAccountClosed:
		e.Reason = pick(b.g.rng, "customer request", "moved abroad", "switched bank")
	case TypeInterestAccrued:
		b.balance += amount
	}
	if len(b.recs) == cap(b.recs) {
		panic("sandbox: a FaultsTopic history outgrew maxFaultHistory")
	}
	b.recs = append(b.recs, plannedRecord{Event: e, partition: KeyPartition([]byte(b.id), FaultsPartitions)})
	return &b.recs[len(b.recs)-1]
}

func (b *faultBuilder) open() *plannedRecord { return b.add(TypeAccountOpened, 0) }
func (b *faultBuilder) deposit() *plannedRecord {
	return b.add(TypeMoneyDeposited, 100+b.g.rng.Int64N(300_000))
}

// withdraw takes out part of the balance, never all of it.
func (b *faultBuilder) withdraw() *plannedRecord {
	return b.add(TypeMoneyWithdrawn, 1+b.g.rng.Int64N(max(min(b.balance-1, 250_000), 1)))
}

// faultPlan returns every FaultsTopic record in produce order, partitions
// and offsets set. The same Seed and Now give the same plan.
func faultPlan(opts Options) []plannedRecord {
	opts = opts.withDefaults()
	g := &generator{
		rng:   rand.New(rand.NewPCG(uint64(opts.Seed), faultsStream)),
		first: strings.Fields(firstNames),
		last:  strings.Fields(lastNames),
	}
	accounts := faultsCleanAccounts + len(faultKinds)
	var histories [][]plannedRecord
	var backwards *faultBuilder // FaultTimeBackwards' account, fixed up once times are known
	for n := 1; n <= accounts; n++ {
		b := &faultBuilder{g: g, id: AccountID(n, accounts), recs: make([]plannedRecord, 0, maxFaultHistory)}
		b.open()
		b.deposit()
		if n <= faultsCleanAccounts {
			for range 1 + g.rng.IntN(4) {
				if g.rng.IntN(5) < 2 {
					b.withdraw()
				} else {
					b.deposit()
				}
			}
			if n == faultsClosedAccount {
				b.add(TypeAccountClosed, 0)
			}
			histories = append(histories, b.recs)
			continue
		}
		var r *plannedRecord
		kind := faultKinds[n-faultsCleanAccounts-1]
		switch kind {
		case FaultVersionGap:
			b.version++ // version 3 never happened
			r = b.deposit()
			r.detail = "version 4 follows version 2"
		case FaultDuplicateVersion:
			b.version--
			r = b.withdraw()
			b.deposit()
			r.detail = "a second event with version 2"
		case FaultDuplicateEventID:
			first := b.recs[1].EventID
			r = b.deposit()
			r.EventID = first
			r.detail = "version 3 reuses the event id of version 2 " + first
		case FaultSplitPartitions:
			r = b.withdraw()
			home := r.partition
			r.partition = (home + 1) % FaultsPartitions
			r.detail = fmt.Sprintf("version 3 is on partition %d, versions 1 and 2 on %d", r.partition, home)
		case FaultAfterTerminal:
			b.add(TypeAccountClosed, 0)
			r = b.deposit()
			r.detail = "a MoneyDeposited after AccountClosed"
		case FaultTimeBackwards:
			r = b.withdraw()
			backwards = b
			r.detail = "version 3 occurred before version 2"
		case FaultUndecodable:
			r = b.deposit()
			r.encoding = encodeCorrupt
			r.detail = "union branch index 7 after a valid schema id"
		case FaultNoSchema:
			r = b.deposit()
			r.encoding = encodePlainJSON
			r.detail = "a plain JSON value without a schema id"
		case FaultUnknownType:
			r = b.add(TypeInterestAccrued, 1+b.balance/1000)
			r.encoding = encodeAvroV2
			r.detail = "event type InterestAccrued has no handler in the bank's projection"
		case FaultNegativeBalance:
			r = b.add(TypeMoneyWithdrawn, b.balance+1+g.rng.Int64N(50_000))
			r.detail = fmt.Sprintf("withdraws %s, leaving %s", formatCents(r.AmountCents), formatSignedCents(b.balance))
		}
		r.fault = kind
		histories = append(histories, b.recs)
	}

	// Interleave the histories as they would happen, each in its order.
	var schedule []int
	for i, h := range histories {
		for range h {
			schedule = append(schedule, i)
		}
	}
	g.rng.Shuffle(len(schedule), func(i, j int) { schedule[i], schedule[j] = schedule[j], schedule[i] })
	start := opts.Now.Add(-faultsHistory)
	step := faultsHistory / time.Duration(len(schedule))
	next := make([]int, len(histories))
	plan := make([]plannedRecord, 0, len(schedule))
	for i, a := range schedule {
		r := &histories[a][next[a]]
		next[a]++
		jitter := time.Duration(g.rng.Int64N(int64(step)))
		r.OccurredAt = start.Add(time.Duration(i)*step + jitter).Truncate(time.Millisecond).UTC()
		plan = append(plan, *r)
	}
	if backwards != nil {
		for i := range plan {
			if r := &plan[i]; r.AccountID == backwards.id && r.fault == FaultTimeBackwards {
				// Between versions 1 and 2: earlier than the event before it.
				v1, v2 := backwards.recs[0].OccurredAt, backwards.recs[1].OccurredAt
				r.OccurredAt = v1.Add(v2.Sub(v1) / 2).Truncate(time.Millisecond)
			}
		}
	}
	offsets := make([]int64, FaultsPartitions)
	for i := range plan {
		plan[i].offset = offsets[plan[i].partition]
		offsets[plan[i].partition]++
	}
	return plan
}

// faultCodec encodes FaultsTopic values.
type faultCodec struct {
	v1, v2 *valueCodec
}

// interestAccruedSchema is com.bank.InterestAccrued, which only the faulty
// topic's version 2 value schema knows.
const interestAccruedSchema = `{
  "type": "record",
  "name": "InterestAccrued",
  "namespace": "com.bank",
  "doc": "Interest was credited to an account. Only bank.account-events.faulty has it.",
  "fields": [
    {"name": "eventId", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "accountId", "type": "string"},
    {"name": "occurredAt", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "version", "type": "int", "doc": "1-based position of the event in its account's history."},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}}
  ]
}`

// faultsUnionV2 is the bank's union plus InterestAccrued.
const faultsUnionV2 = `["com.bank.AccountOpened", "com.bank.MoneyDeposited", "com.bank.MoneyWithdrawn", "com.bank.AccountClosed", "com.bank.InterestAccrued"]`

type avroInterestAccrued struct {
	avroHead
	Amount *big.Rat `avro:"amount"`
}

// registerFaultSchemas registers SubjectFaultsValue's two versions and the
// InterestAccrued record, and returns their codecs.
func registerFaultSchemas(reg *registry.Registry) (*faultCodec, error) {
	cache := &avro.SchemaCache{}
	refs, err := registerEventTypes(reg, cache)
	if err != nil {
		return nil, err
	}
	union, err := fs.ReadFile(schemaFiles, "schemas/"+unionFile)
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", unionFile, err)
	}
	v1, err := reg.Register(SubjectFaultsValue, sr.Schema{Schema: string(union), References: refs})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", SubjectFaultsValue, err)
	}
	interest, err := reg.Register(SubjectInterestAccrued, sr.Schema{Schema: interestAccruedSchema})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", SubjectInterestAccrued, err)
	}
	if _, err := avro.ParseWithCache(interestAccruedSchema, "", cache); err != nil {
		return nil, fmt.Errorf("parse %s: %w", TypeInterestAccrued, err)
	}
	refs = append(refs, sr.SchemaReference{Name: SubjectInterestAccrued, Subject: SubjectInterestAccrued, Version: interest.Version})
	v2, err := reg.Register(SubjectFaultsValue, sr.Schema{Schema: faultsUnionV2, References: refs})
	if err != nil {
		return nil, fmt.Errorf("register %s version 2: %w", SubjectFaultsValue, err)
	}

	api := avro.Config{}.Freeze()
	api.Register(SubjectAccountOpened, avroAccountOpened{})
	api.Register(SubjectMoneyDeposited, avroMoney{})
	api.Register(SubjectMoneyWithdrawn, avroMoneyWithdrawn{})
	api.Register(SubjectAccountClosed, avroAccountClosed{})
	api.Register(SubjectInterestAccrued, avroInterestAccrued{})
	c := &faultCodec{}
	for _, v := range []struct {
		dst  **valueCodec
		text string
		id   int
	}{{&c.v1, string(union), v1.ID}, {&c.v2, faultsUnionV2, v2.ID}} {
		s, err := avro.ParseWithCache(v.text, "", cache)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", SubjectFaultsValue, err)
		}
		vc := &valueCodec{union: s, w: avro.NewWriter(nil, 512, avro.WithWriterConfig(api))}
		binary.BigEndian.PutUint32(vc.prefix[1:], uint32(v.id))
		*v.dst = vc
	}
	return c, nil
}

// encode returns r's record value.
func (c *faultCodec) encode(r plannedRecord) ([]byte, error) {
	switch r.encoding {
	case encodeAvroV2:
		if r.Type != TypeInterestAccrued {
			return c.v2.encode(r.Event)
		}
		w := c.v2.w
		w.Reset(nil)
		_, _ = w.Write(c.v2.prefix[:])
		w.WriteVal(c.v2.union, avroInterestAccrued{avroHead: head(r.Event), Amount: big.NewRat(r.AmountCents, 100)})
		if w.Error != nil {
			err := w.Error
			w.Error = nil
			return nil, fmt.Errorf("encode %s %s: %w", r.Type, r.EventID, err)
		}
		return bytes.Clone(w.Buffer()), nil
	case encodeCorrupt:
		b, err := c.v1.encode(r.Event)
		if err != nil {
			return nil, err
		}
		b[5] = 0x0e // the union branch index, a zigzag varint: 7, and the union has 4
		return b, nil
	case encodePlainJSON:
		return json.Marshal(plainEvent{
			Type: r.Type, EventID: r.EventID, AccountID: r.AccountID, OccurredAt: formatTime(r.OccurredAt),
			Version: r.Version, Amount: formatCents(r.AmountCents), Reference: optional(r.Reference),
		})
	}
	return c.v1.encode(r.Event)
}

// plainEvent is FaultNoSchema's value: a MoneyDeposited as JSON.
type plainEvent struct {
	Type       string  `json:"type"`
	EventID    string  `json:"eventId"`
	AccountID  string  `json:"accountId"`
	OccurredAt string  `json:"occurredAt"`
	Version    int     `json:"version"`
	Amount     string  `json:"amount"`
	Reference  *string `json:"reference"`
}

// seedFaults registers the faulty topic's schemas and writes FaultsTopic,
// created beforehand, each record to the partition its plan names.
func seedFaults(ctx context.Context, brokers string, reg *registry.Registry, opts Options) error {
	codec, err := registerFaultSchemas(reg)
	if err != nil {
		return err
	}
	plan := faultPlan(opts)
	records := make([]*kgo.Record, 0, len(plan))
	for _, r := range plan {
		value, err := codec.encode(r)
		if err != nil {
			return err
		}
		records = append(records, &kgo.Record{
			Topic:     FaultsTopic,
			Partition: r.partition,
			Key:       []byte(r.AccountID),
			Value:     value,
			Timestamp: r.OccurredAt,
			Headers: []kgo.RecordHeader{
				{Key: HeaderEventID, Value: []byte(r.EventID)},
				{Key: HeaderCorrelationID, Value: []byte(r.CorrelationID)},
				{Key: HeaderEventType, Value: []byte(r.Type)},
			},
		})
	}
	// A client of its own: the records name their partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(seedBrokers(brokers)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return fmt.Errorf("connect to sandbox broker %s: %w", brokers, err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("seed sandbox: produce to %s: %w", FaultsTopic, err)
	}
	return nil
}

func formatSignedCents(c int64) string {
	if c < 0 {
		return "-" + formatCents(-c)
	}
	return formatCents(c)
}
