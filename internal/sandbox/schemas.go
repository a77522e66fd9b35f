package sandbox

import (
	"bytes"
	"embed"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/big"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/sandbox/registry"
	"github.com/evctl/evctl/internal/schema"
)

//go:embed schemas/*.avsc schemas/*.proto schemas/*.json schemas/evolution/*.avsc
var schemaFiles embed.FS

// Registry subjects the sandbox registers. Each event record has a subject of
// its own, named after its full name; the topic's value subject is a union
// of references to them.
const (
	SubjectAccountEventsValue = TopicAccountEvents + "-value"
	SubjectAccountOpened      = "com.bank." + TypeAccountOpened
	SubjectMoneyDeposited     = "com.bank." + TypeMoneyDeposited
	SubjectMoneyWithdrawn     = "com.bank." + TypeMoneyWithdrawn
	SubjectAccountClosed      = "com.bank." + TypeAccountClosed
)

// unionFile holds the value schema: a union of the four record names.
const unionFile = "AccountEvent.avsc"

// Schemas returns the bank's schemas: one Avro .avsc file per event type
// plus AccountEvent.avsc, the union registered as bank.account-events-value;
// transfers.proto and its import money.proto (bank.transfers); and
// CustomerProfile.json (bank.customer-profiles); and under evolution/
// candidate versions of MoneyDeposited for evctl demo's schema steps:
// MoneyDeposited-v2.avsc (a field with a default) and
// MoneyDeposited-branch.avsc (a required field). testdata/schemas/bank
// and testdata/schemas/evolution hold copies.
func Schemas() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schemas")
	if err != nil {
		panic(err) // the embedded directory exists by construction
	}
	return sub
}

// eventTypes lists the union's branches in order.
func eventTypes() []string {
	return []string{TypeAccountOpened, TypeMoneyDeposited, TypeMoneyWithdrawn, TypeAccountClosed}
}

// valueCodec encodes events as bank.account-events values: the Confluent
// wire format (0x00, the 4-byte big-endian schema id) and the Avro binary
// encoding of the union.
// It is not safe for concurrent use.
type valueCodec struct {
	prefix [5]byte
	union  avro.Schema
	api    avro.API
	w      *avro.Writer
}

// registerEventTypes registers each event record under its own subject and
// parses it into cache, returning the references a union of them needs.
func registerEventTypes(reg *registry.Registry, cache *avro.SchemaCache) ([]sr.SchemaReference, error) {
	var refs []sr.SchemaReference
	for _, t := range eventTypes() {
		text, err := fs.ReadFile(schemaFiles, "schemas/"+t+".avsc")
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", t, err)
		}
		subject := "com.bank." + t
		ss, err := reg.Register(subject, sr.Schema{Schema: string(text)})
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", subject, err)
		}
		if _, err := avro.ParseBytesWithCache(text, "", cache); err != nil {
			return nil, fmt.Errorf("parse %s: %w", t, err)
		}
		refs = append(refs, sr.SchemaReference{Name: subject, Subject: subject, Version: ss.Version})
	}
	return refs, nil
}

// registerSchemas registers the event records and the union that references
// them, and parses the union the way a reader resolving the references would.
func registerSchemas(reg *registry.Registry) (*valueCodec, error) {
	cache := &avro.SchemaCache{}
	refs, err := registerEventTypes(reg, cache)
	if err != nil {
		return nil, err
	}

	text, err := fs.ReadFile(schemaFiles, "schemas/"+unionFile)
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", unionFile, err)
	}
	ss, err := reg.Register(SubjectAccountEventsValue, sr.Schema{Schema: string(text), References: refs})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", SubjectAccountEventsValue, err)
	}
	union, err := avro.ParseBytesWithCache(text, "", cache)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", unionFile, err)
	}

	api := avro.Config{}.Freeze() // a resolver of our own, not hamba's global one
	api.Register(SubjectAccountOpened, avroAccountOpened{})
	api.Register(SubjectMoneyDeposited, avroMoney{})
	api.Register(SubjectMoneyWithdrawn, avroMoneyWithdrawn{})
	api.Register(SubjectAccountClosed, avroAccountClosed{})
	c := &valueCodec{union: union, api: api, w: avro.NewWriter(nil, 512, avro.WithWriterConfig(api))}
	binary.BigEndian.PutUint32(c.prefix[1:], uint32(ss.ID))
	return c, nil
}

// encode returns e's record value.
func (c *valueCodec) encode(e Event) ([]byte, error) {
	var v any
	switch e.Type {
	case TypeAccountOpened:
		v = avroAccountOpened{avroHead: head(e), Owner: e.Owner, Currency: e.Currency, Email: optional(e.Email), Tags: e.Tags}
	case TypeMoneyDeposited:
		v = avroMoney{avroHead: head(e), Amount: big.NewRat(e.AmountCents, 100), Reference: optional(e.Reference)}
	case TypeMoneyWithdrawn:
		v = avroMoneyWithdrawn(avroMoney{avroHead: head(e), Amount: big.NewRat(e.AmountCents, 100), Reference: optional(e.Reference)})
	case TypeAccountClosed:
		v = avroAccountClosed{avroHead: head(e), Reason: e.Reason}
	default:
		return nil, fmt.Errorf("encode event %s: unknown type %q", e.EventID, e.Type)
	}
	c.w.Reset(nil)
	_, _ = c.w.Write(c.prefix[:])
	c.w.WriteVal(c.union, v)
	if c.w.Error != nil {
		err := c.w.Error
		c.w.Error = nil
		return nil, fmt.Errorf("encode %s %s: %w", e.Type, e.EventID, err)
	}
	return bytes.Clone(c.w.Buffer()), nil
}

// The Go shapes of the event records, for hamba.
type (
	avroHead struct {
		EventID    string    `avro:"eventId"`
		AccountID  string    `avro:"accountId"`
		OccurredAt time.Time `avro:"occurredAt"`
		Version    int32     `avro:"version"`
	}
	avroAccountOpened struct {
		avroHead
		Owner    string            `avro:"owner"`
		Currency string            `avro:"currency"`
		Email    *string           `avro:"email"`
		Tags     map[string]string `avro:"tags"`
	}
	avroMoney struct {
		avroHead
		Amount    *big.Rat `avro:"amount"`
		Reference *string  `avro:"reference"`
	}
	avroMoneyWithdrawn avroMoney
	avroAccountClosed  struct {
		avroHead
		Reason string `avro:"reason"`
	}
)

func head(e Event) avroHead {
	return avroHead{EventID: e.EventID, AccountID: e.AccountID, OccurredAt: e.OccurredAt, Version: int32(e.Version)}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// cents returns an amount of two decimals in integer cents.
func cents(amount *big.Rat) int64 {
	if amount == nil {
		return 0
	}
	return new(big.Rat).Mul(amount, big.NewRat(100, 1)).Num().Int64()
}

// binaryID is the schema id of a value in the Confluent wire format.
func binaryID(value []byte) uint32 { return binary.BigEndian.Uint32(value[1:5]) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// schemaCompiler is the sandbox registry's Compiler: the parsers evctl
// decodes Protobuf and JSON Schema with, as strict as a real registry's
// on a schema that does not compile, and internal/schema's version of the
// registry's compatibility rules.
type schemaCompiler struct{}

func (schemaCompiler) Compile(format, text string, refs []sr.SchemaReference, lookup registry.Lookup) error {
	_, err := parseRegistered(format, "schema", sr.Schema{Schema: text, References: refs}, lookup)
	return err
}

func (schemaCompiler) Incompatibilities(format string, writer, reader sr.Schema, lookup registry.Lookup) ([]string, error) {
	w, err := parseRegistered(format, "the earlier schema", writer, lookup)
	if err != nil {
		return nil, err
	}
	r, err := parseRegistered(format, "the new schema", reader, lookup)
	if err != nil {
		return nil, err
	}
	found, err := schema.Incompatibilities(w, r)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.String()
	}
	return out, nil
}

func parseRegistered(format, name string, s sr.Schema, lookup registry.Lookup) (*schema.Schema, error) {
	return schema.ParseSchema(format, name, s.Schema, schemaRefs(s.References), func(subject string, version int) (string, []schema.Reference, error) {
		text, refs, err := lookup(subject, version)
		return text, schemaRefs(refs), err
	})
}

func schemaRefs(refs []sr.SchemaReference) []schema.Reference {
	out := make([]schema.Reference, len(refs))
	for i, ref := range refs {
		out[i] = schema.Reference{Name: ref.Name, Subject: ref.Subject, Version: ref.Version}
	}
	return out
}
