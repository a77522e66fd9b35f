package schema

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/record"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func wantFieldError(t *testing.T, err error, path, msg string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != path || !strings.Contains(fe.Err.Error(), msg) {
		t.Fatalf("err = %v, want %q at %q", err, msg, path)
	}
}

func TestEncodeJSONSchema(t *testing.T) {
	dir := writeFiles(t, map[string]string{"transfer.json": `{
		"title": "Transfer", "type": "object", "required": ["id", "amount"],
		"properties": {"id": {"type": "string"}, "amount": {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"},
			"legs": {"type": "array", "items": {"type": "object", "properties": {"account": {"type": "string"}}}}},
		"additionalProperties": false}`})
	s, err := LoadLocal(LocalSchema{Path: filepath.Join(dir, "transfer.json")}, "--value-schema")
	if err != nil {
		t.Fatal(err)
	}
	s.ID = 9 // as if registered
	e, err := NewEncoder(s, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, h, err := e.Encode([]byte(`{"id": "t-1",
		"amount": "12.50"}`), "")
	if err != nil || h != nil {
		t.Fatal(err, h)
	}
	if want := "\x00\x00\x00\x00\x09" + `{"id":"t-1","amount":"12.50"}`; string(b) != want {
		t.Errorf("payload %q, want %q", b, want)
	}
	_, _, err = e.Encode([]byte(`{"id": "t-1", "amount": "12.5"}`), "")
	wantFieldError(t, err, ".amount", "does not match pattern")
	_, _, err = e.Encode([]byte(`{"id": "t-1", "amount": "1.00", "legs": [{"account": "a"}, {"account": 7}]}`), "")
	wantFieldError(t, err, ".legs[1].account", "want string")
	_, _, err = e.Encode([]byte(`{"id": "t-1"}`), "")
	wantFieldError(t, err, "", "missing property 'amount'")
}

func TestEncodeProtobuf(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"bank/v1/transfer.proto": `syntax = "proto3";
package bank.v1;
import "common/money.proto";
import "google/protobuf/timestamp.proto";
message Transfer {
  string id = 1;
  common.Money amount = 2;
  google.protobuf.Timestamp at = 3;
  repeated Leg legs = 4;
  map<string, string> tags = 5;
  message Leg { string account = 1; int64 cents = 2; }
}
message Refund { string transfer_id = 1; }`,
		"protos/common/money.proto": `syntax = "proto3";
package common;
message Money { string currency = 1; int64 units = 2; }`,
	})
	l := LocalSchema{Path: filepath.Join(dir, "bank/v1/transfer.proto"), ProtoPath: []string{filepath.Join(dir, "protos")}}
	if _, err := LoadLocal(LocalSchema{Path: l.Path}, "--value-proto"); err == nil || !strings.Contains(err.Error(), "--proto-path") {
		t.Fatalf("without --proto-path: %v, want a hint at it", err)
	}
	s, err := LoadLocal(l, "--value-proto")
	if err != nil {
		t.Fatal(err)
	}
	in := `{"id":"t-1","amount":{"currency":"EUR","units":"12"},"at":"2026-11-20T09:14:03.250Z","legs":[{"account":"a","cents":"-5"}],"tags":{"k":"v"}}`
	for _, tt := range []struct {
		message string
		framing Framing
		indexes []int
	}{
		{"", FrameNone, nil},
		{"bank.v1.Transfer", FramePrefix, []int{0}},
		{"Refund", FramePrefix, []int{1}},
		{"bank.v1.Transfer.Leg", FrameHeader, []int{0, 0}},
	} {
		s.ID, s.GUID = 3, "0b7e6c1a-3f2d-4e5b-9a8c-1d2e3f4a5b6c"
		e, err := NewEncoder(s, EncoderOptions{Message: tt.message, Framing: tt.framing})
		if err != nil {
			t.Fatal(err)
		}
		value := in
		switch tt.message {
		case "Refund":
			value = `{"transferId":"t-1"}`
		case "bank.v1.Transfer.Leg":
			value = `{"account":"a","cents":"-5"}`
		}
		b, h, err := e.Encode([]byte(value), "")
		if err != nil {
			t.Fatalf("%s: %v", tt.message, err)
		}
		// Read back as tail would: through the decoder's own path.
		d, _ := NewDecoder(DecoderOptions{Registry: staticRegistry{s}})
		var hs []record.RawHeader
		if h != nil {
			hs = append(hs, *h)
		}
		if tt.framing == FrameNone {
			b = append(AppendMessageIndexes(AppendConfluentPrefix(nil, 3), []int{0}), b...)
		}
		p := d.DecodePayload(t.Context(), b, hs, false)
		if p.Err != nil {
			t.Fatalf("%s: decoding what was encoded: %v", tt.message, p.Err)
		}
		if tt.message == "" {
			want := `{"id":"t-1","amount":{"currency":"EUR","units":"12"},"at":"2026-11-20T09:14:03.250Z","legs":[{"account":"a","cents":"-5"}],"tags":{"k":"v"}}`
			if string(p.JSON) != want {
				t.Errorf("got  %s\nwant %s", p.JSON, want)
			}
		}
		if tt.indexes != nil && p.Type != map[string]string{"Refund": "bank.v1.Refund"}[tt.message] && p.Type != tt.message {
			t.Errorf("%s: decoded as %s", tt.message, p.Type)
		}
	}
	e, err := NewEncoder(s, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.Encode([]byte(`{"id":"t-1","legs":[{"account":"a","colour":"red"}]}`), "")
	wantFieldError(t, err, ".legs[0].colour", "bank.v1.Transfer.Leg has no such field")
	// A value that does not fit names its field's path, however deep, and
	// no position of protojson's own.
	for _, tt := range []struct{ value, path, msg string }{
		{`{"id":7}`, ".id", "invalid value for string type: 7"},
		{`{"id":"t-1","amount":{"currency":"EUR","units":"twelve"}}`, ".amount.units", `invalid value for int64 type: "twelve"`},
		{`{"legs":[{"account":"a"},{"cents":true}]}`, ".legs[1].cents", "invalid value for int64 type: true"},
		{`{"tags":{"k":"v","n":5}}`, ".tags.n", "invalid value for string type: 5"},
		{`{"at":"yesterday"}`, ".at", `invalid google.protobuf.Timestamp value "yesterday"`},
		{`{"legs":{"account":"a"}}`, ".legs", "got an object, want an array (repeated bank.v1.Transfer.Leg)"},
		{`{"amount":"12 EUR"}`, ".amount", `got the string "12 EUR", want an object (common.Money)`},
	} {
		_, _, err = e.Encode([]byte(tt.value), "")
		wantFieldError(t, err, tt.path, tt.msg)
		if strings.Contains(err.Error(), "(line") {
			t.Errorf("%s: %v names protojson's position", tt.value, err)
		}
	}
	if _, err := NewEncoder(s, EncoderOptions{Message: "Transfr"}); err == nil || !strings.Contains(err.Error(), "similar: bank.v1.Transfer") {
		t.Fatalf("unknown message: %v", err)
	}
}

// staticRegistry answers every lookup with one schema.
type staticRegistry struct{ s *Schema }

func (r staticRegistry) SchemaByID(context.Context, int) (*Schema, error)      { return r.s, nil }
func (r staticRegistry) SchemaByGUID(context.Context, string) (*Schema, error) { return r.s, nil }
