package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/evctl/evctl/internal/record"
)

// memRegistry is a Registry without HTTP, for fuzzing.
type memRegistry map[int]*Schema

func (m memRegistry) SchemaByID(_ context.Context, id int) (*Schema, error) {
	if s := m[id]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("schema id %d %w", id, ErrNotFound)
}

func (m memRegistry) SchemaByGUID(_ context.Context, guid string) (*Schema, error) {
	for _, s := range m {
		if s.GUID == guid {
			return s, nil
		}
	}
	return nil, fmt.Errorf("schema guid %s %w", guid, ErrNotFound)
}

const (
	fuzzCommon = `syntax = "proto3"; package fz; message Money { string currency = 1; sint64 units = 2; }`
	// fuzzEvents has each kind of field protojson renders its own way.
	fuzzEvents = `syntax = "proto3"; package fz;
import "fz/common.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message Ping { string id = 1; }
message Event {
  message Inner { Money m = 1; Event e = 2; }
  enum Kind { K0 = 0; K1 = 1; }
  string id = 1;
  google.protobuf.Timestamp at = 2;
  Kind kind = 3;
  repeated int64 ns = 4;
  map<string, Inner> by = 5;
  oneof o { string s = 6; Inner i = 7; }
  google.protobuf.Any any = 8;
  google.protobuf.Struct st = 9;
  google.protobuf.Duration dur = 10;
  google.protobuf.Int64Value w = 11;
  double d = 12;
  bytes b = 13;
  optional sint32 z = 14;
  fixed64 f = 15;
}`
	fuzzOpened  = `{"type":"record","name":"Opened","namespace":"com.bank","fields":[{"name":"owner","type":"string"},{"name":"tags","type":{"type":"array","items":"null"}}]}`
	fuzzDeposit = `{"type":"record","name":"Deposited","namespace":"com.bank","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":40,"scale":2}},{"name":"extra","type":{"type":"map","values":["null","double","Deposited"]}}]}`
)

func fuzzRegistry(t testing.TB) memRegistry {
	t.Helper()
	texts := map[string]string{"com.bank.Opened": fuzzOpened, "com.bank.Deposited": fuzzDeposit, "fz.common": fuzzCommon}
	lookup := func(subject string, _ int) (string, []Reference, error) { return texts[subject], nil, nil }
	m := memRegistry{}
	add := func(s *Schema) {
		if err := s.prepare(lookup); err != nil {
			t.Fatal(err)
		}
		m[s.ID] = s
	}
	add(&Schema{ID: 7, GUID: "5b8f1b9e-6a2c-4f7e-9d51-2f4c3a1b0e77", Format: FormatAvro, Text: readFile(t, "testdata/payment.avsc")})
	add(&Schema{ID: 3, Format: FormatAvro, Text: `["com.bank.Opened","com.bank.Deposited"]`, References: []Reference{
		{"com.bank.Opened", "com.bank.Opened", 1}, {"com.bank.Deposited", "com.bank.Deposited", 1}}})
	add(&Schema{ID: 8, Format: FormatJSON, Text: `{"title":"OrderPlaced"}`})
	add(&Schema{ID: 9, Format: FormatProtobuf, Text: fuzzEvents, References: []Reference{{"fz/common.proto", "fz.common", 1}}})
	return m
}

// FuzzDecode checks that any payload decodes to valid JSON with a known
// encoding, whatever the schema-id bytes claim, without panicking or hanging.
func FuzzDecode(f *testing.F) {
	reg := fuzzRegistry(f)
	plainDecoder, err := NewDecoder(DecoderOptions{Registry: reg, ValueSchema: "testdata/nullable.avsc"})
	if err != nil {
		f.Fatal(err)
	}
	avroJSONDecoder, err := NewDecoder(DecoderOptions{Registry: reg, AvroJSON: true, Raw: true})
	if err != nil {
		f.Fatal(err)
	}
	guidHeader, err := AppendSchemaIDHeader(nil, "5b8f1b9e-6a2c-4f7e-9d51-2f4c3a1b0e77")
	if err != nil {
		f.Fatal(err)
	}
	encodings := map[string]bool{"avro": true, "json-schema": true, "protobuf": true, "json": true, "text": true, "base64": true}
	f.Add(confluent(7, marshal(f, reg[7].Avro(), paymentValue())))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range []*Decoder{plainDecoder, avroJSONDecoder} {
			for _, isKey := range []bool{false, true} {
				p := d.DecodePayload(t.Context(), b, nil, isKey)
				checkPayload(t, b, p, encodings)
			}
			// The same bytes behind a GUID header, as plain Avro.
			p := d.DecodePayload(t.Context(), b, []record.RawHeader{{Key: ValueSchemaIDHeader, Value: guidHeader}}, false)
			checkPayload(t, b, p, encodings)
			r := d.Decode(t.Context(), &record.Message{Key: b, Value: b})
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("record does not marshal: %v", err)
			}
		}
	})
}

func checkPayload(t *testing.T, b []byte, p Payload, encodings map[string]bool) {
	t.Helper()
	if !json.Valid(p.JSON) {
		t.Fatalf("payload %x: invalid JSON %q", b, p.JSON)
	}
	if !encodings[p.Encoding] {
		t.Fatalf("payload %x: encoding %q", b, p.Encoding)
	}
	if p.Encoding == "base64" && p.Err == nil && len(b) > 0 && b[0] == 0 && len(b) >= 5 {
		if _, _, ok := splitConfluent(b); ok {
			t.Fatalf("payload %x: a wire-format payload shown raw without a reason", b)
		}
	}
}
