package schema

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// TestEncodeAvroInvertsRender: what the writer prints, the encoder reads
// back to the same bytes hamba wrote, every logical type included.
func TestEncodeAvroInvertsRender(t *testing.T) {
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	v := paymentValue()
	v["next"] = map[string]any{"com.example.Payment": paymentValue()}
	b := marshal(t, s, v)
	n := compileAvro(s)
	plain, _, err := renderAvro(n, b, false)
	if err != nil {
		t.Fatal(err)
	}
	enc := checkEncodeRoundTrip(t, n, plain)
	// hamba writes blocks with their byte sizes, the encoder without: the
	// bytes differ, the values hamba reads do not.
	var want, got any
	if err := avro.Unmarshal(s, b, &want); err != nil {
		t.Fatal(err)
	}
	if err := avro.Unmarshal(s, enc, &got); err != nil {
		t.Fatalf("hamba cannot read the encoded payload: %v", err)
	}
	// Compared as hamba writes them again: its values hold big.Rat and time.Time.
	if !bytes.Equal(marshal(t, s, got), marshal(t, s, want)) {
		t.Errorf("hamba reads the encoded payload differently:\n%v\nwant\n%v", got, want)
	}
}

// FuzzEncodeAvroRoundTrip: any payload the writer renders encodes back
// to a payload that renders the same.
func FuzzEncodeAvroRoundTrip(f *testing.F) {
	s := mustParse(f, readFile(f, "testdata/payment.avsc"))
	f.Add(marshal(f, s, paymentValue()))
	n := compileAvro(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		plain, _, err := renderAvro(n, b, false)
		if err != nil {
			return
		}
		checkEncodeRoundTrip(t, n, plain)
	})
}

// checkEncodeRoundTrip encodes plain, the writer's output, and requires
// that the result renders as plain again.
func checkEncodeRoundTrip(t *testing.T, n *avroNode, plain []byte) []byte {
	t.Helper()
	v, err := parseJSON(plain)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encodeAvro(nil, n, v, "")
	if err != nil {
		t.Fatalf("encoding %s: %v", plain, err)
	}
	again, _, err := renderAvro(n, enc, false)
	if err != nil {
		t.Fatalf("rendering the encoded %x: %v", enc, err)
	}
	// Compared as JSON values: the writer escapes invalid UTF-8 as \ufffd,
	// which comes back as the character itself.
	if w, err := parseJSON(again); err != nil || !reflect.DeepEqual(w, v) {
		t.Errorf("round trip:\n%s\nwant\n%s", again, plain)
	}
	return enc
}

func TestEncodeAvro(t *testing.T) {
	bank := readFile(t, "../../testdata/schemas/bank/MoneyDeposited.avsc")
	withdrawn := readFile(t, "../../testdata/schemas/bank/MoneyWithdrawn.avsc")
	opened := readFile(t, "../../testdata/schemas/bank/AccountOpened.avsc")
	events := "[" + opened + "," + bank + "," + withdrawn + "]"
	const deposit = `{"eventId":"0b7e6c1a-3f2d-4e5b-9a8c-1d2e3f4a5b6c","accountId":"acct-1","occurredAt":"2026-11-20T09:14:03.250Z","version":2,"amount":"120.50","reference":null}`
	tests := []struct {
		name, schema, in, hint string
		want                   string // rendered back; "" is in itself
		path, err              string
	}{
		{name: "record with logical types", schema: bank, in: deposit},
		{name: "timestamp in another zone", schema: bank,
			in:   strings.Replace(deposit, "2026-11-20T09:14:03.250Z", "2026-11-20T10:14:03.25+01:00", 1),
			want: deposit},
		{name: "decimal with fewer digits", schema: bank, in: strings.Replace(deposit, `"120.50"`, `"120.5"`, 1), want: deposit},
		{name: "decimal as a number", schema: bank, in: strings.Replace(deposit, `"120.50"`, `120.5`, 1), want: deposit},
		{name: "default for a missing field", schema: bank, in: strings.Replace(deposit, `,"reference":null`, "", 1), want: deposit},
		{name: "union unwrapped", schema: bank, in: strings.Replace(deposit, `"reference":null`, `"reference":"inv-7"`, 1)},
		{name: "union wrapped", schema: bank, in: strings.Replace(deposit, `"reference":null`, `"reference":{"string":"inv-7"}`, 1),
			want: strings.Replace(deposit, `"reference":null`, `"reference":"inv-7"`, 1)},
		{name: "map keeps its order and the enum its symbol", schema: opened,
			in: `{"eventId":"e","accountId":"a","occurredAt":"2026-01-01T00:00:00.000Z","version":1,"owner":"o","currency":"USD","email":null,"tags":{"z":"1","a":"2"}}`},
		{name: "records told apart by the type", schema: events, hint: "com.bank.MoneyWithdrawn", in: deposit},
		{name: "records told apart by the wrapping", schema: events, in: `{"com.bank.MoneyWithdrawn":` + deposit + `}`, want: deposit},
		{name: "only one record fits", schema: events,
			in: `{"eventId":"e","accountId":"a","occurredAt":"2026-01-01T00:00:00.000Z","version":1,"owner":"o","currency":"EUR","email":null,"tags":{}}`},
		{name: "two records fit", schema: events, in: deposit, path: ".", err: "fits com.bank.MoneyDeposited and com.bank.MoneyWithdrawn"},
		{name: "type not in the union", schema: events, hint: "com.bank.Nope", in: deposit, path: ".", err: `type "com.bank.Nope" is not a branch`},
		{name: "decimal too precise", schema: bank, in: strings.Replace(deposit, `"120.50"`, `"120.505"`, 1), path: ".amount", err: "scale of 2"},
		{name: "timestamp too precise", schema: bank, in: strings.Replace(deposit, "03.250Z", "03.2501Z", 1), path: ".occurredAt", err: "more precise than the field's milliseconds"},
		{name: "not a timestamp", schema: bank, in: strings.Replace(deposit, "2026-11-20T09:14:03.250Z", "yesterday", 1), path: ".occurredAt", err: "not an RFC3339 timestamp"},
		{name: "int out of range", schema: bank, in: strings.Replace(deposit, `"version":2`, `"version":3000000000`, 1), path: ".version", err: "out of range for a 32-bit integer"},
		{name: "wrong type", schema: bank, in: strings.Replace(deposit, `"version":2`, `"version":"2"`, 1), path: ".version", err: `want an int, got the string "2"`},
		{name: "missing field", schema: bank, in: strings.Replace(deposit, `"accountId":"acct-1",`, "", 1), path: ".accountId", err: "missing"},
		{name: "unknown field", schema: bank, in: strings.Replace(deposit, `"version":2`, `"version":2,"colour":"red"`, 1), path: ".colour", err: "no such field"},
		{name: "nullable field's complaint", schema: bank, in: strings.Replace(deposit, `"reference":null`, `"reference":7`, 1), path: ".reference", err: "want a string, got the number 7"},
		{name: "unknown symbol", schema: opened,
			in:   `{"eventId":"e","accountId":"a","occurredAt":"2026-01-01T00:00:00.000Z","version":1,"owner":"o","currency":"CHF","email":null,"tags":{}}`,
			path: ".currency", err: `"CHF" is not a symbol of com.bank.Currency`},
		{name: "map value path", schema: opened,
			in:   `{"eventId":"e","accountId":"a","occurredAt":"2026-01-01T00:00:00.000Z","version":1,"owner":"o","currency":"EUR","email":null,"tags":{"odd key":1}}`,
			path: `.tags["odd key"]`, err: "want a string"},
		{name: "array item path", schema: `{"type":"array","items":"long"}`, in: `[1,2,"x"]`, path: ".[2]", err: "want a long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := compileAvro(mustParse(t, tt.schema))
			v, err := parseJSON([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			b, err := encodeAvro(nil, n, v, tt.hint)
			if tt.err != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Path != strings.TrimSuffix(tt.path, ".") && tt.path != "." || !strings.Contains(fe.Err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q at %s", err, tt.err, tt.path)
				}
				if tt.path == "." && fe.Path != "" {
					t.Fatalf("path = %q, want the whole value", fe.Path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, typ, err := renderAvro(n, b, false)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if string(out) != want {
				t.Errorf("got  %s\nwant %s", out, want)
			}
			if tt.hint != "" && typ != tt.hint {
				t.Errorf("type %s, want %s", typ, tt.hint)
			}
		})
	}
}
