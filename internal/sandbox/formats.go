package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/evctl/evctl/internal/sandbox/registry"
)

// The bank's topics in the registry's other two formats.
//
// bank.transfers holds Protobuf bank.transfers.TransferRequested values
// (transfers.proto, subject bank.transfers-value), whose amount is a
// bank.Money from the import bank/money.proto, registered under its import
// path and referenced, as Confluent's serializer registers imports: one
// transfer for every withdrawal whose reference is "transfer out", keyed by
// the account it leaves, sharing the withdrawal's correlation id.
//
// bank.customer-profiles holds JSON Schema CustomerProfile values
// (CustomerProfile.json, subject bank.customer-profiles-value): one per
// account, written when it opens, keyed by its id.
const (
	TopicTransfers        = "bank.transfers"
	TopicCustomerProfiles = "bank.customer-profiles"

	TransfersPartitions        = 3
	CustomerProfilesPartitions = 3

	SubjectMoneyProto            = "bank/money.proto"
	SubjectTransfersValue        = TopicTransfers + "-value"
	SubjectCustomerProfilesValue = TopicCustomerProfiles + "-value"

	// TypeTransferRequested is the transfers' Protobuf message.
	TypeTransferRequested = "bank.transfers.TransferRequested"
)

// CustomerProfile is the value of a bank.customer-profiles record.
type CustomerProfile struct {
	AccountID string  `json:"accountId"`
	Owner     string  `json:"owner"`
	Email     *string `json:"email"`
	Currency  string  `json:"currency"`
	Tier      string  `json:"tier"` // standard, gold or private
	OpenedAt  string  `json:"openedAt"`
}

// Transfer is a bank.transfers value, as its fields are written.
type Transfer struct {
	TransferID  string
	FromAccount string
	ToAccount   string
	Currency    string
	AmountCents int64
	RequestedAt time.Time
	Memo        string
}

// formatCodecs frame the Protobuf and JSON Schema values with their
// schema ids.
type formatCodecs struct {
	transfersPrefix, profilesPrefix [5]byte
	currencies                      map[string]string // by account, from AccountOpened
}

// registerFormats registers money.proto, transfers.proto (referencing it)
// and CustomerProfile.json.
func registerFormats(reg *registry.Registry) (*formatCodecs, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(schemaFiles, "schemas/"+name)
		return string(b), err
	}
	money, err := read("money.proto")
	if err != nil {
		return nil, err
	}
	ms, err := reg.Register(SubjectMoneyProto, sr.Schema{Schema: money, Type: sr.TypeProtobuf})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", SubjectMoneyProto, err)
	}
	transfers, err := read("transfers.proto")
	if err != nil {
		return nil, err
	}
	ts, err := reg.Register(SubjectTransfersValue, sr.Schema{Schema: transfers, Type: sr.TypeProtobuf,
		References: []sr.SchemaReference{{Name: SubjectMoneyProto, Subject: SubjectMoneyProto, Version: ms.Version}}})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", SubjectTransfersValue, err)
	}
	profile, err := read("CustomerProfile.json")
	if err != nil {
		return nil, err
	}
	ps, err := reg.Register(SubjectCustomerProfilesValue, sr.Schema{Schema: profile, Type: sr.TypeJSON})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", SubjectCustomerProfilesValue, err)
	}
	c := &formatCodecs{currencies: map[string]string{}}
	binary.BigEndian.PutUint32(c.transfersPrefix[1:], uint32(ts.ID))
	binary.BigEndian.PutUint32(c.profilesPrefix[1:], uint32(ps.ID))
	return c, nil
}

// profile returns the profile an AccountOpened event writes.
func profile(e Event) (CustomerProfile, bool) {
	if e.Type != TypeAccountOpened {
		return CustomerProfile{}, false
	}
	p := CustomerProfile{AccountID: e.AccountID, Owner: e.Owner, Currency: e.Currency, OpenedAt: formatTime(e.OccurredAt)}
	if e.Email != "" {
		p.Email = &e.Email
	}
	p.Tier = []string{"standard", "standard", "standard", "gold", "private"}[hash(e.EventID)%5]
	return p, true
}

// transfer returns the transfer a withdrawal of "transfer out" requested,
// to another account the withdrawal's id picks. currency is the account's.
func transfer(e Event, opts Options, currency string) (Transfer, bool) {
	n := min(opts.Accounts, opts.Events) // the accounts there are
	if e.Type != TypeMoneyWithdrawn || e.Reference != "transfer out" || n < 2 {
		return Transfer{}, false
	}
	i := int(hash(e.EventID) % uint64(n))
	to := AccountID(i+1, opts.Accounts)
	if to == e.AccountID {
		to = AccountID((i+1)%n+1, opts.Accounts)
	}
	return Transfer{TransferID: "tr-" + e.EventID[:8], FromAccount: e.AccountID, ToAccount: to, Currency: currency,
		AmountCents: e.AmountCents, RequestedAt: e.OccurredAt, Memo: "to " + to}, true
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// records returns the bank.transfers and bank.customer-profiles records
// that e writes, keyed by account, stamped with e's time.
func (c *formatCodecs) records(e Event, opts Options) ([]*kgo.Record, error) {
	var out []*kgo.Record
	if p, ok := profile(e); ok {
		c.currencies[e.AccountID] = e.Currency
		value, err := c.encodeProfile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, &kgo.Record{Topic: TopicCustomerProfiles, Key: []byte(e.AccountID), Value: value, Timestamp: e.OccurredAt})
	}
	if t, ok := transfer(e, opts, c.currencies[e.AccountID]); ok {
		out = append(out, &kgo.Record{Topic: TopicTransfers, Key: []byte(t.FromAccount), Value: c.encodeTransfer(t), Timestamp: e.OccurredAt,
			Headers: []kgo.RecordHeader{{Key: HeaderCorrelationID, Value: []byte(e.CorrelationID)}}})
	}
	return out, nil
}

// encodeTransfer is t in the Confluent wire format: the schema id, message
// indexes [0] (one 0x00), and the TransferRequested message.
func (c *formatCodecs) encodeTransfer(t Transfer) []byte {
	b := append([]byte(nil), c.transfersPrefix[:]...)
	b = append(b, 0x00)
	b = appendString(b, 1, t.TransferID)
	b = appendString(b, 2, t.FromAccount)
	b = appendString(b, 3, t.ToAccount)
	var money []byte
	money = appendString(money, 1, t.Currency)
	money = protowire.AppendTag(money, 2, protowire.VarintType)
	money = protowire.AppendVarint(money, uint64(t.AmountCents/100))
	if nanos := t.AmountCents % 100 * 10_000_000; nanos != 0 {
		money = protowire.AppendTag(money, 3, protowire.VarintType)
		money = protowire.AppendVarint(money, uint64(nanos))
	}
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendBytes(b, money)
	var ts []byte // google.protobuf.Timestamp
	ts = protowire.AppendTag(ts, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(t.RequestedAt.Unix()))
	if n := t.RequestedAt.Nanosecond(); n != 0 {
		ts = protowire.AppendTag(ts, 2, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(n))
	}
	b = protowire.AppendTag(b, 5, protowire.BytesType)
	b = protowire.AppendBytes(b, ts)
	return appendString(b, 6, t.Memo)
}

// appendString appends a string field, left out when empty as proto3 does.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// encodeProfile is p in the Confluent wire format: the schema id, then JSON.
func (c *formatCodecs) encodeProfile(p CustomerProfile) ([]byte, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode profile %s: %w", p.AccountID, err)
	}
	return append(append([]byte(nil), c.profilesPrefix[:]...), body...), nil
}
