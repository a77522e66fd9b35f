package schema

import (
	"encoding/base64"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox/registry"
)

// commonProto is registered under its own subject and imported by
// paymentProto as "bank/common.proto".
const commonProto = `syntax = "proto3";
package bank.common;
message Money {
  string currency = 1;
  int64 units = 2;
}
`

// paymentProto puts Payment second, so its nested Leg is message [1, 0].
const paymentProto = `syntax = "proto3";
package bank;
import "bank/common.proto";
import "google/protobuf/timestamp.proto";

message Header {
  string source = 1;
}

message Payment {
  message Leg {
    string account = 1;
    bank.common.Money amount = 2;
  }
  enum Status {
    STATUS_UNSPECIFIED = 0;
    PENDING = 1;
    SETTLED = 2;
  }
  string payment_id = 1;
  google.protobuf.Timestamp at = 2;
  Status status = 3;
  repeated string tags = 4;
  map<string, int32> counts = 5;
  oneof target {
    string iban = 6;
    Leg leg = 7;
  }
  int64 sequence = 8;
  repeated Leg legs = 9;
  bank.common.Money fee = 10;
  bytes blob = 11;
  double ratio = 12;
}
`

// protoRegistry stands up evctl's registry fidelity layer with the bank
// Protobuf schemas, and returns a client and the id of bank.Payment's schema.
func protoRegistry(t *testing.T) (*RegistryClient, int) {
	t.Helper()
	reg := registry.New()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	if _, err := reg.Register("bank.common", sr.Schema{Type: sr.TypeProtobuf, Schema: commonProto}); err != nil {
		t.Fatal(err)
	}
	ss, err := reg.Register("payments-value", sr.Schema{Type: sr.TypeProtobuf, Schema: paymentProto,
		References: []sr.SchemaReference{{Name: "bank/common.proto", Subject: "bank.common", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRegistryClient(RegistryConfig{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, ss.ID
}

// pb builds Protobuf wire bytes by hand, independent of the decoder.
type pb []byte

func (b pb) str(n protowire.Number, s string) pb {
	return protowire.AppendString(protowire.AppendTag(b, n, protowire.BytesType), s)
}

func (b pb) raw(n protowire.Number, v []byte) pb {
	return protowire.AppendBytes(protowire.AppendTag(b, n, protowire.BytesType), v)
}

func (b pb) varint(n protowire.Number, v uint64) pb {
	return protowire.AppendVarint(protowire.AppendTag(b, n, protowire.VarintType), v)
}

func (b pb) double(n protowire.Number, v float64) pb {
	return protowire.AppendFixed64(protowire.AppendTag(b, n, protowire.Fixed64Type), math.Float64bits(v))
}

func money(currency string, units int64) pb {
	return pb{}.str(1, currency).varint(2, uint64(units))
}

// wire frames a message with the schema id and message indexes.
func wire(id int, indexes []int, msg pb) []byte {
	return append(AppendMessageIndexes(AppendConfluentPrefix(nil, id), indexes), msg...)
}

func TestDecodeProtobuf(t *testing.T) {
	client, id := protoRegistry(t)
	at := time.Date(2026, 11, 1, 10, 30, 0, 123_000_000, time.UTC)
	full := pb{}.str(1, "p-1").
		raw(2, pb{}.varint(1, uint64(at.Unix())).varint(2, uint64(at.Nanosecond()))).
		varint(3, 2).
		str(4, "a").str(4, "b").
		raw(5, pb{}.str(1, "y").varint(2, uint64(math.MaxUint64-1))). // -2, sign-extended
		raw(5, pb{}.str(1, "x").varint(2, 1)).
		raw(7, pb{}.str(1, "DE1").raw(2, money("EUR", 12000))).
		varint(8, 1<<53+1).
		raw(9, pb{}.str(1, "A")).
		raw(11, []byte{0, 1, 2, 0xff}).
		double(12, 0.1)
	other := pb{}.varint(3, 7).str(6, "DE89").varint(8, uint64(math.MaxUint64)) // an unknown enum number; -1
	tests := []struct {
		name    string
		indexes []int
		msg     pb
		typ     string
		json    string
	}{
		{"every kind of field", []int{1}, full, "bank.Payment",
			`{"paymentId":"p-1","at":"2026-11-01T10:30:00.123Z","status":"SETTLED","tags":["a","b"],` +
				`"counts":{"x":1,"y":-2},"leg":{"account":"DE1","amount":{"currency":"EUR","units":"12000"}},` +
				`"sequence":"9007199254740993","legs":[{"account":"A","amount":null}],"fee":null,"blob":"AAEC/w==","ratio":0.1}`},
		{"every field present when empty", []int{1}, pb{}, "bank.Payment",
			`{"paymentId":"","at":null,"status":"STATUS_UNSPECIFIED","tags":[],"counts":{},` +
				`"sequence":"0","legs":[],"fee":null,"blob":"","ratio":0}`},
		{"the other oneof member, an unknown enum number, a negative int64", []int{1}, other, "bank.Payment",
			`{"paymentId":"","at":null,"status":7,"tags":[],"counts":{},"iban":"DE89",` +
				`"sequence":"-1","legs":[],"fee":null,"blob":"","ratio":0}`},
		{"nested message by indexes [1 0]", []int{1, 0}, pb{}.str(1, "DE2").raw(2, money("USD", -1)), "bank.Payment.Leg",
			`{"account":"DE2","amount":{"currency":"USD","units":"-1"}}`},
		{"first message by [0], written as one zero byte", []int{0}, pb{}.str(1, "core"), "bank.Header",
			`{"source":"core"}`},
		{"first message by an empty index list", []int{}, pb{}.str(1, "core"), "bank.Header",
			`{"source":"core"}`},
	}
	d := newDecoder(t, DecoderOptions{Registry: client})
	wantRef := &record.SchemaRef{ID: id, Subject: "payments-value", Version: 1, Format: "PROTOBUF"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := wire(id, tt.indexes, tt.msg)
			if len(tt.indexes) == 0 { // the count alone, zero
				b = append(AppendConfluentPrefix(nil, id), append([]byte{0}, tt.msg...)...)
			}
			p := d.DecodePayload(ctx(t), b, nil, false)
			if p.Err != nil {
				t.Fatalf("error: %v", p.Err)
			}
			if string(p.JSON) != tt.json {
				t.Errorf("JSON\n got %s\nwant %s", p.JSON, tt.json)
			}
			if p.Encoding != "protobuf" || p.Type != tt.typ {
				t.Errorf("encoding %q type %q, want protobuf %q", p.Encoding, p.Type, tt.typ)
			}
			if diff := cmp.Diff(wantRef, p.Schema); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
		})
	}
	// [0] written in full (count 1, index 0) names the first message too.
	long := append(AppendConfluentPrefix(nil, id), 0x02, 0x00)
	if p := d.DecodePayload(ctx(t), append(long, pb{}.str(1, "x")...), nil, false); string(p.JSON) != `{"source":"x"}` {
		t.Errorf("[0] in full: %s %v", p.JSON, p.Err)
	}
}

func TestDecodeProtobufErrors(t *testing.T) {
	client, id := protoRegistry(t)
	tests := []struct {
		name    string
		payload []byte
		err     string // the error, where protobuf's own message stands as "…"
	}{
		{"corrupt payload", wire(id, []int{1}, pb{0x0a, 0x05, 'a'}), // a 5-byte string with 1 byte
			"Protobuf (schema id 2): payload is not a bank.Payment: …: showing raw bytes"},
		{"invalid UTF-8 in a string", wire(id, []int{1}, pb{}.raw(1, []byte{0xff})),
			"Protobuf (schema id 2): payload is not a bank.Payment: …: showing raw bytes"},
		{"map entry whose key repeats with another wire type", wire(id, []int{1}, pb{}.raw(5, pb{}.str(1, "x").varint(1, 0))),
			"Protobuf (schema id 2): payload is not a bank.Payment: invalid wire-format data (…): showing raw bytes"},
		{"top-level index out of range", wire(id, []int{2}, nil),
			"Protobuf (schema id 2): message indexes [2] name no message: the schema declares 2 top-level messages: showing raw bytes"},
		{"nested index out of range", wire(id, []int{1, 5}, nil),
			"Protobuf (schema id 2): message indexes [1 5] name no message: bank.Payment declares 1 nested message: showing raw bytes"},
		{"malformed indexes", append(AppendConfluentPrefix(nil, id), 0x80),
			"Protobuf (schema id 2): malformed Protobuf message indexes: showing raw bytes"},
	}
	d := newDecoder(t, DecoderOptions{Registry: client})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := d.DecodePayload(ctx(t), tt.payload, nil, false)
			// Shown raw, whole, as every undecodable payload is.
			if want := `"` + base64.StdEncoding.EncodeToString(tt.payload) + `"`; string(p.JSON) != want || p.Encoding != "base64" {
				t.Errorf("shown as %s %s, want base64 %s", p.Encoding, p.JSON, want)
			}
			if p.Schema == nil || p.Schema.Subject != "payments-value" {
				t.Errorf("schema %+v, want payments-value's", p.Schema)
			}
			if p.Err == nil {
				t.Fatal("no error")
			}
			got := p.Err.Error()
			match := got == tt.err
			if prefix, suffix, ok := strings.Cut(tt.err, "…"); ok {
				match = strings.HasPrefix(got, prefix) && strings.HasSuffix(got, suffix)
			}
			if !match {
				t.Errorf("err\n got %q\nwant %q", got, tt.err)
			}
		})
	}
}

// Map fields declare no message: Confluent's registry numbers only the
// messages the schema text declares, though a descriptor nests an entry type.
func TestProtobufIndexesSkipMapEntries(t *testing.T) {
	s := &Schema{ID: 3, Format: FormatProtobuf, Text: `syntax = "proto3"; package m;
message M {
  map<string, string> labels = 1;
  message N { string x = 1; }
}`}
	if err := s.prepare(nil); err != nil {
		t.Fatal(err)
	}
	p, err := decodeProtobuf(s, append(AppendMessageIndexes(nil, []int{0, 0}), pb{}.str(1, "y")...))
	if err != nil || p.Type != "m.M.N" || string(p.JSON) != `{"x":"y"}` {
		t.Errorf("[0 0] = %s %s %v, want m.M.N {\"x\":\"y\"}", p.Type, p.JSON, err)
	}
	if _, err := decodeProtobuf(s, AppendMessageIndexes(nil, []int{0, 1})); err == nil {
		t.Error("[0 1] named a message: the map entry was counted")
	}
}

// Confluent's serializers register no reference for confluent/*.proto and
// google/type/*.proto: the registry has them built in, and so does evctl.
func TestProtobufBuiltinImports(t *testing.T) {
	s := &Schema{ID: 4, Format: FormatProtobuf, Text: `syntax = "proto3"; package b;
import "confluent/meta.proto";
import "google/type/money.proto";
message Price {
  google.type.Money amount = 1 [(confluent.field_meta).doc = "gross"];
}`}
	if err := s.prepare(nil); err != nil {
		t.Fatal(err)
	}
	amount := pb{}.str(1, "EUR").varint(2, 12).varint(3, 500_000_000)
	p, err := decodeProtobuf(s, append([]byte{0}, pb{}.raw(1, amount)...))
	if want := `{"amount":{"currencyCode":"EUR","units":"12","nanos":500000000}}`; err != nil || string(p.JSON) != want {
		t.Errorf("got %s %v, want %s", p.JSON, err, want)
	}
}

func TestProtobufSchemaErrors(t *testing.T) {
	reg := registry.New()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	register := func(subject, text string, refs ...sr.SchemaReference) int {
		t.Helper()
		ss, err := reg.Register(subject, sr.Schema{Type: sr.TypeProtobuf, Schema: text, References: refs})
		if err != nil {
			t.Fatal(err)
		}
		return ss.ID
	}
	badSyntax := register("bad-value", `syntax = "proto3"; message M { string a = 1 }`)
	noImport := register("lost-value", `syntax = "proto3"; import "bank/common.proto"; message M { bank.common.Money m = 1; }`)
	client, err := NewRegistryClient(RegistryConfig{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int]string{
		badSyntax: "invalid Protobuf schema: (registry schema).proto:1:45: syntax error: expecting ';'",
		noImport: "invalid Protobuf schema: (registry schema).proto:1:27: could not resolve path \"bank/common.proto\": " +
			"no reference of the schema names it: register the imported file under a subject and reference it",
	} {
		_, err := client.SchemaByID(ctx(t), id)
		if err == nil || err.Error() != want {
			t.Errorf("schema id %d: err %v, want %s", id, err, want)
		}
	}
}
