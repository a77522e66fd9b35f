package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/record"
)

const (
	paymentID   = 7
	jsonID      = 8
	protobufID  = 9
	stringKeyID = 10
)

// bankRegistry seeds a fake registry with the schemas the decoder tests use.
func bankRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	f := newFakeRegistry(t)
	f.seedAvro("payments-value", 1, paymentID, readFile(t, "testdata/payment.avsc"))
	f.SeedSchema("orders-value", 1, jsonID, sr.Schema{Type: sr.TypeJSON,
		Schema: `{"$schema":"http://json-schema.org/draft-07/schema#","title":"OrderPlaced","type":"object"}`})
	f.SeedSchema("pings-value", 1, protobufID, sr.Schema{Type: sr.TypeProtobuf,
		Schema: `syntax = "proto3"; package demo; message Ping { string id = 1; }`})
	f.seedAvro("payments-key", 1, stringKeyID, `"string"`)
	return f
}

func newDecoder(t *testing.T, opts DecoderOptions) *Decoder {
	t.Helper()
	d, err := NewDecoder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecodeConfluentAvro(t *testing.T) {
	f := bankRegistry(t)
	d := newDecoder(t, DecoderOptions{Registry: f.client(t), Raw: true})
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	value := confluent(paymentID, marshal(t, s, paymentValue()))
	key := confluent(stringKeyID, marshal(t, mustParse(t, `"string"`), "acct-42"))
	ts := time.Date(2026, 11, 1, 10, 0, 0, 5_000_000, time.UTC)
	m := &record.Message{Topic: "payments", Partition: 3, Offset: 99, Timestamp: ts, Key: key, Value: value,
		Headers: []record.RawHeader{{Key: "event-id", Value: []byte("e1")}, {Key: "bin", Value: []byte{0xff}}}}

	got := d.Decode(ctx(t), m)
	want := &record.Record{
		Topic: "payments", Partition: 3, Offset: 99, Timestamp: record.Timestamp{Time: ts},
		Key: json.RawMessage(`"acct-42"`), Value: json.RawMessage(paymentPlainJSON),
		Headers:     []record.Header{{Key: "event-id", Value: "e1"}, {Key: "bin", Value: "/w==", Encoding: "base64"}},
		Type:        "com.example.Payment",
		KeySchema:   &record.SchemaRef{ID: stringKeyID, Subject: "payments-key", Version: 1, Format: "AVRO"},
		Schema:      &record.SchemaRef{ID: paymentID, Subject: "payments-value", Version: 1, Format: "AVRO"},
		KeyEncoding: "avro", ValueEncoding: "avro", RawKey: key, RawValue: value,
	}
	if diff := cmp.Diff(want, got, jsonEqual); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	// The whole record marshals to one valid JSON line.
	line, err := json.Marshal(got)
	if err != nil || strings.Contains(string(line), "\n") {
		t.Errorf("marshal: %v %s", err, line)
	}
}

// jsonEqual compares RawMessages by their text.
var jsonEqual = cmp.Comparer(func(a, b json.RawMessage) bool { return string(a) == string(b) })

func TestDecodeUnionOfReferencesAndEvolvedType(t *testing.T) {
	f := newFakeRegistry(t)
	const openedV2 = `{"type":"record","name":"Opened","namespace":"com.bank","fields":[
		{"name":"owner","type":"string"},{"name":"branch","type":"string","default":"main"}]}`
	const deposited = `{"type":"record","name":"Deposited","namespace":"com.bank","fields":[
		{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}]}`
	f.seedAvro("com.bank.Opened", 1, 1, openedV1)
	f.seedAvro("com.bank.Opened", 2, 2, openedV2)
	f.seedAvro("com.bank.Deposited", 1, 3, deposited)
	union := `["com.bank.Opened","com.bank.Deposited"]`
	ref := func(subject string, v int) sr.SchemaReference {
		return sr.SchemaReference{Name: subject, Subject: subject, Version: v}
	}
	f.seedAvro("bank-value", 1, 10, union, ref("com.bank.Opened", 1), ref("com.bank.Deposited", 1))
	f.seedAvro("bank-value", 2, 11, union, ref("com.bank.Opened", 2), ref("com.bank.Deposited", 1))
	d := newDecoder(t, DecoderOptions{Registry: f.client(t)})

	// The writers' schemas, parsed the same way the sandbox would.
	lookup := func(subject string, version int) (string, []Reference, error) {
		s, _ := f.GetSchema(subject, version)
		return s.Schema.Schema, nil, nil
	}
	v1, err := ParseAvro(union, []Reference{{"com.bank.Opened", "com.bank.Opened", 1}, {"com.bank.Deposited", "com.bank.Deposited", 1}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := ParseAvro(union, []Reference{{"com.bank.Opened", "com.bank.Opened", 2}, {"com.bank.Deposited", "com.bank.Deposited", 1}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		payload       []byte
		value, typ    string
		id            int
		avroJSONValue string
	}{
		{confluent(10, marshal(t, v1, map[string]any{"com.bank.Opened": map[string]any{"owner": "ann"}})),
			`{"owner":"ann"}`, "com.bank.Opened", 10, `{"com.bank.Opened":{"owner":"ann"}}`},
		{confluent(11, marshal(t, v2, map[string]any{"com.bank.Opened": map[string]any{"owner": "bob", "branch": "north"}})),
			`{"owner":"bob","branch":"north"}`, "com.bank.Opened", 11, `{"com.bank.Opened":{"owner":"bob","branch":"north"}}`},
		{confluent(10, marshal(t, v1, map[string]any{"com.bank.Opened": map[string]any{"owner": "cid"}})),
			`{"owner":"cid"}`, "com.bank.Opened", 10, `{"com.bank.Opened":{"owner":"cid"}}`},
		{confluent(11, marshal(t, v2, map[string]any{"com.bank.Deposited": map[string]any{"amount": mustRat("120.00")}})),
			`{"amount":"120.00"}`, "com.bank.Deposited", 11, `{"com.bank.Deposited":{"amount":".à"}}`},
	}
	ad := newDecoder(t, DecoderOptions{Registry: f.client(t), AvroJSON: true})
	for i, tt := range tests {
		p := d.DecodePayload(ctx(t), tt.payload, nil, false)
		if p.Err != nil || string(p.JSON) != tt.value || p.Type != tt.typ || p.Schema.ID != tt.id || p.Schema.Subject != "bank-value" {
			t.Errorf("%d: got %s %q %+v %v; want %s %q id %d", i, p.JSON, p.Type, p.Schema, p.Err, tt.value, tt.typ, tt.id)
		}
		if p := ad.DecodePayload(ctx(t), tt.payload, nil, false); string(p.JSON) != tt.avroJSONValue {
			t.Errorf("%d: avro JSON %s, want %s", i, p.JSON, tt.avroJSONValue)
		}
	}
}

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func TestDecodePayloadErrors(t *testing.T) {
	f := bankRegistry(t)
	client := f.client(t)
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	valid := marshal(t, s, paymentValue())
	random := make([]byte, 64)
	for i := range random {
		random[i] = byte(rand.IntN(256))
	}
	down, err := NewRegistryClient(RegistryConfig{URL: closedPort(t), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		reg      Registry
		payload  []byte
		json     string // "" to skip
		encoding string
		err      string // "" for none; else the exact message
		errStart string // or its beginning
	}{
		{name: "unknown schema id", reg: client, payload: confluent(42, []byte("xyz")),
			json: `"AAAAACp4eXo="`, encoding: "base64", err: "schema id 42 not found in registry"},
		{name: "no registry", payload: confluent(7, valid), encoding: "base64",
			err: "Confluent wire format (schema id 7) but no registry configured (--registry)"},
		{name: "registry down", reg: down, payload: confluent(7, valid), encoding: "base64",
			errStart: "registry unreachable (dial tcp 127.0.0.1:"},
		{name: "random bytes after a valid prefix", reg: client, payload: confluent(paymentID, random), encoding: "base64",
			errStart: "Avro (schema id 7): "},
		{name: "truncated Avro", reg: client, payload: confluent(paymentID, valid[:len(valid)-3]), encoding: "base64",
			// the last values are period (12 bytes) and next (1): period is cut
			errStart: fmt.Sprintf("Avro (schema id 7): unexpected end of payload at byte %d", len(valid)-1-12)},
		{name: "JSON Schema", reg: client, payload: confluent(jsonID, []byte("{\n \"orderId\": 1\n}")),
			json: `{"orderId":1}`, encoding: "json-schema"},
		{name: "JSON Schema payload not JSON", reg: client, payload: confluent(jsonID, []byte("{oops")), encoding: "base64",
			err: "JSON Schema (schema id 8) payload is not valid JSON: showing raw bytes"},
		{name: "Protobuf", reg: client, payload: confluent(protobufID, []byte{0x00, 0x0a, 0x01, 'x'}),
			json: `{"id":"x"}`, encoding: "protobuf"},
		{name: "Protobuf with bad indexes", reg: client, payload: confluent(protobufID, []byte{0x80}),
			json: `"AAAAAAmA"`, encoding: "base64", err: "Protobuf (schema id 9): malformed Protobuf message indexes: showing raw bytes"},
		{name: "zero byte but id 0 is no wire format", reg: client, payload: []byte{0, 0, 0, 0, 0, 1}, encoding: "base64"},
		{name: "null", payload: nil, json: `null`, encoding: "null"},
		{name: "empty", payload: []byte{}, json: `""`, encoding: "text"},
		{name: "JSON", payload: []byte(" {\"a\": [1, 2]}\n"), json: `{"a":[1,2]}`, encoding: "json"},
		{name: "JSON number", payload: []byte("42"), json: `42`, encoding: "json"},
		{name: "text", payload: []byte("héllo \"world\"\tok"), json: `"héllo \"world\"\tok"`, encoding: "text"},
		{name: "binary that is valid UTF-8", payload: []byte("\x0cAlice\x02"), json: `"DEFsaWNlAg=="`, encoding: "base64"},
		{name: "invalid UTF-8", payload: []byte{0xff, 0xfe}, json: `"//4="`, encoding: "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecoder(t, DecoderOptions{Registry: tt.reg})
			p := d.DecodePayload(ctx(t), tt.payload, nil, false)
			if tt.json != "" && string(p.JSON) != tt.json {
				t.Errorf("JSON = %s, want %s", p.JSON, tt.json)
			}
			if !json.Valid(p.JSON) {
				t.Errorf("invalid JSON %s", p.JSON)
			}
			if p.Encoding != tt.encoding {
				t.Errorf("encoding = %q, want %q", p.Encoding, tt.encoding)
			}
			var got string
			if p.Err != nil {
				got = p.Err.Error()
			}
			switch {
			case tt.errStart != "":
				if !strings.HasPrefix(got, tt.errStart) || !strings.HasSuffix(got, ": showing raw bytes") {
					t.Errorf("err = %q, want %q…: showing raw bytes", got, tt.errStart)
				}
			case got != tt.err:
				t.Errorf("err = %q, want %q", got, tt.err)
			}
		})
	}
}

func TestDecodeErrorNamesKeyAndValue(t *testing.T) {
	d := newDecoder(t, DecoderOptions{})
	r := d.Decode(ctx(t), &record.Message{Key: confluent(3, []byte{1}), Value: confluent(4, []byte{1})})
	want := "key: Confluent wire format (schema id 3) but no registry configured (--registry); " +
		"value: Confluent wire format (schema id 4) but no registry configured (--registry)"
	if r.Error != want {
		t.Errorf("Error = %q, want %q", r.Error, want)
	}
	if r.KeyEncoding != "base64" || r.ValueEncoding != "base64" {
		t.Errorf("encodings %q %q", r.KeyEncoding, r.ValueEncoding)
	}
	// A tombstone is not an empty value.
	r = d.Decode(ctx(t), &record.Message{Key: []byte("k"), Value: nil})
	if string(r.Value) != "null" || r.ValueEncoding != "null" || r.Error != "" {
		t.Errorf("tombstone: %s %q %q", r.Value, r.ValueEncoding, r.Error)
	}
	r = d.Decode(ctx(t), &record.Message{Key: []byte("k"), Value: []byte{}})
	if string(r.Value) != `""` || r.ValueEncoding != "text" {
		t.Errorf("empty: %s %q", r.Value, r.ValueEncoding)
	}
}

func TestDecodeSchemaIDHeader(t *testing.T) {
	f := bankRegistry(t)
	guid := f.guidOf(t, "payments-value", 1)
	hdr, err := AppendSchemaIDHeader(nil, guid)
	if err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	d := newDecoder(t, DecoderOptions{Registry: f.client(t)})
	headers := []record.RawHeader{{Key: ValueSchemaIDHeader, Value: []byte{0x01}}, {Key: ValueSchemaIDHeader, Value: hdr}}
	p := d.DecodePayload(ctx(t), marshal(t, s, paymentValue()), headers, false)
	if p.Err != nil || string(p.JSON) != paymentPlainJSON || p.Schema.GUID != guid || p.Schema.ID != paymentID {
		t.Errorf("got %s %+v %v", p.JSON, p.Schema, p.Err)
	}
	// The key header is not the value's.
	if p := d.DecodePayload(ctx(t), []byte("k"), headers, true); p.Err != nil || string(p.JSON) != `"k"` {
		t.Errorf("key: %s %v", p.JSON, p.Err)
	}
	// Unknown GUID
	unknown, _ := AppendSchemaIDHeader(nil, "11111111-2222-4333-8444-555555555555")
	p = d.DecodePayload(ctx(t), []byte("plain"), []record.RawHeader{{Key: ValueSchemaIDHeader, Value: unknown}}, false)
	if p.Err == nil || p.Err.Error() != "schema guid 11111111-2222-4333-8444-555555555555 not found in registry" || string(p.JSON) != `"plain"` {
		t.Errorf("unknown guid: %s %v", p.JSON, p.Err)
	}
	// Malformed header
	p = d.DecodePayload(ctx(t), []byte("x"), []record.RawHeader{{Key: ValueSchemaIDHeader, Value: []byte{1, 2}}}, false)
	if p.Err == nil || !strings.Contains(p.Err.Error(), "header __value_schema_id ignored: want 0x01 and a 16-byte GUID, got 2 bytes") {
		t.Errorf("malformed header: %v", p.Err)
	}
}

func TestDecodeLocalSchema(t *testing.T) {
	path := "testdata/payment.avsc"
	s := mustParse(t, readFile(t, path))
	payload := marshal(t, s, paymentValue())
	d := newDecoder(t, DecoderOptions{ValueSchema: path})
	r := d.Decode(ctx(t), &record.Message{Key: []byte("k"), Value: payload})
	if r.Error != "" || string(r.Value) != paymentPlainJSON || r.Type != "com.example.Payment" ||
		r.Schema == nil || r.Schema.Local != path || r.Schema.Format != "AVRO" {
		t.Errorf("got %s %q %+v %q", r.Value, r.Type, r.Schema, r.Error)
	}
	// A payload the local schema does not fit says so, and shows the bytes.
	r = d.Decode(ctx(t), &record.Message{Value: []byte{0x02}})
	if r.ValueEncoding != "base64" || !strings.HasPrefix(r.Error, "value: Avro (local schema testdata/payment.avsc): ") {
		t.Errorf("misfit: %s %q", r.ValueEncoding, r.Error)
	}
	// Without a registry, a local schema still decodes payloads starting with 0x00.
	kd := newDecoder(t, DecoderOptions{KeySchema: "testdata/nullable.avsc"})
	if p := kd.DecodePayload(ctx(t), []byte{0, 0, 0, 0, 7}, nil, true); p.Err == nil {
		t.Errorf("5 bytes do not fit a nullable string, got %s", p.JSON)
	}
	if p := kd.DecodePayload(ctx(t), []byte{0}, nil, true); p.Err != nil || string(p.JSON) != "null" || p.Encoding != "avro" {
		t.Errorf("null key: %s %v", p.JSON, p.Err)
	}
}

func TestNewDecoderLocalSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.avsc")
	if err := os.WriteFile(bad, []byte(`{"type":"record","name":"X"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDecoder(DecoderOptions{ValueSchema: bad}); err == nil || !strings.Contains(err.Error(), "--value-schema "+bad+": invalid Avro schema") {
		t.Errorf("invalid: %v", err)
	}
	missing := filepath.Join(dir, "missing.avsc")
	if _, err := NewDecoder(DecoderOptions{KeySchema: missing}); err == nil || !strings.Contains(err.Error(), "--key-schema: open "+missing) {
		t.Errorf("missing: %v", err)
	}
}

func TestDecodeSlowRegistryDoesNotHang(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	reg, err := NewRegistryClient(RegistryConfig{URL: srv.URL, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(t, DecoderOptions{Registry: reg})
	start := time.Now()
	for i := range 20 { // a stream of records waits once, not once per record
		r := d.Decode(ctx(t), &record.Message{Value: confluent(7+i, []byte{2})})
		if r.Error != "value: registry unreachable (no answer within 300ms): showing raw bytes" {
			t.Fatalf("record %d: Error = %q", i, r.Error)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("20 records took %v against a registry that does not answer (timeout 300ms)", took)
	}
}

func TestDecodeConcurrent(t *testing.T) {
	f := bankRegistry(t)
	d := newDecoder(t, DecoderOptions{Registry: f.client(t)})
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	value := confluent(paymentID, marshal(t, s, paymentValue()))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				r := d.Decode(ctx(t), &record.Message{Offset: int64(i), Value: value})
				if string(r.Value) != paymentPlainJSON || r.Error != "" {
					t.Errorf("concurrent decode: %s %q", r.Value, r.Error)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := f.count("/schemas/ids/7"); n != 1 {
		t.Errorf("%d lookups of one id", n)
	}
}

func TestDecodeMalformedHeaderFallsBackToPrefix(t *testing.T) {
	f := bankRegistry(t)
	d := newDecoder(t, DecoderOptions{Registry: f.client(t)})
	key := confluent(stringKeyID, marshal(t, mustParse(t, `"string"`), "acct-1"))
	p := d.DecodePayload(ctx(t), key, []record.RawHeader{{Key: KeySchemaIDHeader, Value: []byte{9}}}, true)
	if string(p.JSON) != `"acct-1"` || p.Encoding != "avro" {
		t.Errorf("got %s %q %v", p.JSON, p.Encoding, p.Err)
	}
}
