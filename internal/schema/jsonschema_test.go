package schema

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

func TestParseSchemaErrors(t *testing.T) {
	tests := []struct {
		name, format, text, want string
	}{
		{"Avro that is not JSON, at its line and column", FormatAvro, "{\"type\": \"record\",\n \"name\": \"E\" \"fields\": []}",
			"c.avsc:2:14: invalid Avro schema: not JSON: invalid character '\"' after object key:value pair"},
		{"Avro the parser refuses, at the name it refuses", FormatAvro, `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "strin"}]}`,
			"c.avsc:1:66: invalid Avro schema: avro: unknown type: strin"},
		{"an Avro duplicate, at its second place", FormatAvro, "{\"type\": \"record\", \"name\": \"E\", \"fields\": [{\"name\": \"a\", \"type\": \"int\"},\n  {\"name\": \"a\", \"type\": \"int\"}]}",
			`c.avsc:2:12: invalid Avro schema: avro: duplicate field name "a"`},
		{"an Avro default, at its field's name", FormatAvro, "{\"type\": \"record\", \"name\": \"E\", \"fields\": [\n {\"name\": \"n\", \"type\": \"int\", \"default\": \"x\"}]}",
			`c.avsc:2:11: invalid Avro schema: avro: invalid default for field n`},
		{"an Avro error naming nothing has no position", FormatAvro, `{"type": "fixed", "name": "F"}`,
			"c.avsc: invalid Avro schema: avro: fixed must have a size"},
		{"Protobuf, at the compiler's position", FormatProtobuf, "syntax = \"proto3\";\nmessage M {\n  strin a = 1;\n}\n",
			`c.avsc:3:3: invalid Protobuf schema: field M.a: unknown type strin`},
		{"JSON Schema that is not JSON", FormatJSON, `{"type": "object",}`, "c.avsc:1:19: invalid JSON Schema: not JSON: invalid character '}'"},
		{"JSON Schema the compiler refuses, at its pointer", FormatJSON, `{"type": "object", "properties": {"a": {"type": "strin"}}}`,
			`c.avsc: invalid JSON Schema: not valid against its metaschema: /properties/a/type: got string, want array; /properties/a/type: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'`},
		{"a $ref no reference names", FormatJSON, `{"$ref": "other.json"}`, "no reference of the schema names other.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema(tt.format, "c.avsc", tt.text, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseSchema: %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	const (
		money    = `{"type": "object", "required": ["units"], "properties": {"units": {"type": "integer"}, "currency": {"enum": ["EUR", "USD"]}}}`
		transfer = `{"title": "Transfer", "type": "object", "required": ["id", "amount"], "properties": {"id": {"type": "string"}, "amount": {"$ref": "money.json"}}}`
	)
	f := newFakeRegistry(t)
	f.SeedSchema("money", 1, 1, sr.Schema{Schema: money, Type: sr.TypeJSON})
	f.SeedSchema("t-value", 1, 2, sr.Schema{Schema: transfer, Type: sr.TypeJSON, References: []sr.SchemaReference{{Name: "money.json", Subject: "money", Version: 1}}})
	s, err := f.client(t).SchemaByID(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ value, want string }{
		{`{"id": "t1", "amount": {"units": 5, "currency": "EUR"}}`, ""},
		{`{"id": "t1", "amount": {"units": "5"}}`, "/amount/units: got string, want integer"},
		{`{"amount": {"units": 1, "currency": "CHF"}}`, `/: missing property 'id'; /amount/currency: value must be one of 'EUR', 'USD'`},
		{`{"id": 1`, "not JSON"},
	}
	for _, tt := range tests {
		err := s.ValidateJSON([]byte(tt.value))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ValidateJSON(%s) = %v, want %q", tt.value, err, tt.want)
		}
	}
}

// TestValidateJSONReasonsInOrder: a value that breaks several properties
// gets the same reason every time, its violations sorted by location
// (the validator gathers them from maps).
func TestValidateJSONReasonsInOrder(t *testing.T) {
	const profile = `{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}, "d": {"type": "string"}, "e": {"type": "string"}}}`
	f := newFakeRegistry(t)
	f.SeedSchema("p-value", 1, 1, sr.Schema{Schema: profile, Type: sr.TypeJSON})
	s, err := f.client(t).SchemaByID(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	const want = "/a: got number, want string; /b: got number, want string; /c: got number, want string; and 2 more"
	for range 20 {
		err := s.ValidateJSON([]byte(`{"e": 5, "d": 4, "c": 3, "b": 2, "a": 1}`))
		if err == nil || err.Error() != want {
			t.Fatalf("ValidateJSON = %v, want %q", err, want)
		}
	}
}
