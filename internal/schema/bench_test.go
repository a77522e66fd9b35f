package schema

import (
	"math/big"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// benchDeposited is a bank event much like the sandbox's MoneyDeposited.
const benchDeposited = `{"type":"record","name":"MoneyDeposited","namespace":"com.bank","fields":[
	{"name":"eventId","type":{"type":"string","logicalType":"uuid"}},
	{"name":"accountId","type":"string"},
	{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},
	{"name":"currency","type":"string"},
	{"name":"balanceAfter","type":{"type":"bytes","logicalType":"decimal","precision":14,"scale":2}},
	{"name":"occurredAt","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"correlationId","type":{"type":"string","logicalType":"uuid"}},
	{"name":"channel","type":{"type":"enum","name":"Channel","symbols":["BRANCH","ATM","ONLINE"]}},
	{"name":"reference","type":["null","string"],"default":null},
	{"name":"sequence","type":"long"}]}`

func benchMessage(b *testing.B) (*Decoder, *record.Message) {
	f := newFakeRegistry(b)
	opened := `{"type":"record","name":"AccountOpened","namespace":"com.bank","fields":[{"name":"owner","type":"string"}]}`
	f.seedAvro("com.bank.AccountOpened", 1, 1, opened)
	f.seedAvro("com.bank.MoneyDeposited", 1, 2, benchDeposited)
	union := `["com.bank.AccountOpened","com.bank.MoneyDeposited"]`
	f.seedAvro("bank.account-events-value", 1, 3, union,
		sr.SchemaReference{Name: "com.bank.AccountOpened", Subject: "com.bank.AccountOpened", Version: 1},
		sr.SchemaReference{Name: "com.bank.MoneyDeposited", Subject: "com.bank.MoneyDeposited", Version: 1})
	reg, err := NewRegistryClient(RegistryConfig{URL: f.srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDecoder(DecoderOptions{Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	s := mustParse(b, `[`+opened+`,`+benchDeposited+`]`)
	v := map[string]any{"com.bank.MoneyDeposited": map[string]any{
		"eventId":       "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
		"accountId":     "ACC-0000042",
		"amount":        big.NewRat(12050, 100),
		"currency":      "EUR",
		"balanceAfter":  big.NewRat(9876543, 100),
		"occurredAt":    time.Date(2026, 11, 1, 10, 30, 0, 123e6, time.UTC),
		"correlationId": "0e7d1a3c-1111-4222-8333-444455556666",
		"channel":       "ONLINE",
		"reference":     map[string]any{"string": "salary november"},
		"sequence":      int64(1234567),
	}}
	m := &record.Message{
		Topic: "bank.account-events", Partition: 2, Offset: 1234567, Timestamp: time.Now(),
		Key:   []byte("ACC-0000042"),
		Value: confluent(3, marshal(b, s, v)),
		Headers: []record.RawHeader{
			{Key: "event-id", Value: []byte("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f")},
			{Key: "correlation-id", Value: []byte("0e7d1a3c-1111-4222-8333-444455556666")},
		},
	}
	if r := d.Decode(b.Context(), m); r.Error != "" || r.Type != "com.bank.MoneyDeposited" {
		b.Fatalf("decode: %q %s", r.Error, r.Value)
	}
	return d, m
}

// BenchmarkDecodeAvro decodes a whole record: a text key, two headers and
// a ~150-byte Avro value behind the Confluent prefix, schema cached.
func BenchmarkDecodeAvro(b *testing.B) {
	d, m := benchMessage(b)
	b.SetBytes(int64(len(m.Value)))
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(b.Context(), m)
	}
}

// BenchmarkAvroToJQ compares the two ways a fold gets an Avro value as jq
// values: rendered as JSON and parsed back (filter.JSONDecoder), or
// decoded straight into them (avroValues).
func BenchmarkAvroToJQ(b *testing.B) {
	_, m := benchMessage(b)
	s := mustParse(b, `[{"type":"record","name":"AccountOpened","namespace":"com.bank","fields":[{"name":"owner","type":"string"}]},`+benchDeposited+`]`)
	n, payload := compileAvro(s), m.Value[5:]
	b.Run("json", func(b *testing.B) {
		var d filter.JSONDecoder
		b.ReportAllocs()
		for b.Loop() {
			out, _, err := renderAvro(n, payload, false)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.Decode(out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("values", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := avroValues(n, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodeAvroParallel(b *testing.B) {
	d, m := benchMessage(b)
	b.SetBytes(int64(len(m.Value)))
	b.ReportAllocs()
	ctx := b.Context()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.Decode(ctx, m)
		}
	})
}

// BenchmarkDecodeAvroValue decodes the value payload alone.
func BenchmarkDecodeAvroValue(b *testing.B) {
	d, m := benchMessage(b)
	b.SetBytes(int64(len(m.Value)))
	b.ReportAllocs()
	for b.Loop() {
		d.DecodePayload(b.Context(), m.Value, nil, false)
	}
}
