package schema

import (
	"strings"
	"testing"
)

func kindsOf(t *testing.T, format, writer, reader string, lookup ReferenceLookup, refs []Reference) []string {
	t.Helper()
	w, err := ParseSchema(format, "writer", writer, refs, lookup)
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	r, err := ParseSchema(format, "reader", reader, refs, lookup)
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	got, err := Incompatibilities(w, r)
	if err != nil {
		t.Fatal(err)
	}
	kinds := make([]string, len(got))
	for i, g := range got {
		kinds[i] = g.Kind + " " + g.Path
		if g.Reason == "" {
			t.Errorf("%s has no reason", g.Kind)
		}
	}
	return kinds
}

func TestProtobufIncompatibilities(t *testing.T) {
	const base = `syntax = "proto3";
package bank;
message Transfer {
  string id = 1;
  int64 amount = 2;
  Money money = 3;
  repeated string tags = 4;
  oneof target { string account = 5; string iban = 6; }
  int32 flags = 7;
  enum Kind { A = 0; B = 1; }
  Kind kind = 8;
  optional int32 priority = 9;
}
message Money { int64 units = 1; }
`
	tests := []struct {
		name, reader string
		want         []string // kind and path of each incompatibility; none: compatible
	}{
		{"the same", base, nil},
		{"field added", strings.Replace(base, "int32 flags = 7;", "int32 flags = 7; string memo = 10;", 1), nil},
		{"field removed", strings.Replace(base, "int32 flags = 7;", "", 1), nil},
		{"field renamed", strings.Replace(base, "int32 flags = 7;", "int32 bits = 7;", 1), nil},
		{"int32 to int64: one varint group", strings.Replace(base, "int32 flags = 7;", "int64 flags = 7;", 1), nil},
		{"int32 to bool: one varint group", strings.Replace(base, "int32 flags = 7;", "bool flags = 7;", 1), nil},
		{"enum to int32: an enum is a varint", strings.Replace(base, "Kind kind = 8;", "int32 kind = 8;", 1), nil},
		{"string to bytes", strings.Replace(base, "string id = 1;", "bytes id = 1;", 1), nil},
		{"enum value added", strings.Replace(base, "B = 1;", "B = 1; C = 2;", 1), nil},
		{"message added", base + "message Fee { int64 units = 1; }\n", nil},
		{"a field number reused with another type",
			strings.Replace(base, "int32 flags = 7;", "string flags = 7;", 1),
			[]string{"FIELD_SCALAR_KIND_CHANGED bank.Transfer.flags (field 7)"}},
		{"int32 to sint32: zigzag", strings.Replace(base, "int32 flags = 7;", "sint32 flags = 7;", 1),
			[]string{"FIELD_SCALAR_KIND_CHANGED bank.Transfer.flags (field 7)"}},
		{"int64 to fixed64", strings.Replace(base, "int64 amount = 2;", "fixed64 amount = 2;", 1),
			[]string{"FIELD_SCALAR_KIND_CHANGED bank.Transfer.amount (field 2)"}},
		{"scalar to message", strings.Replace(base, "int64 amount = 2;", "Money amount = 2;", 1),
			[]string{"FIELD_KIND_CHANGED bank.Transfer.amount (field 2)"}},
		{"message to map", strings.Replace(base, "Money money = 3;", "map<string, int64> money = 3;", 1),
			[]string{"FIELD_KIND_CHANGED bank.Transfer.money (field 3)"}},
		{"message type renamed", strings.Replace(strings.Replace(base, "Money money = 3;", "Cash money = 3;", 1), "message Money", "message Cash", 1),
			[]string{"FIELD_NAMED_TYPE_CHANGED bank.Transfer.money (field 3)", "MESSAGE_REMOVED bank.Money"}},
		{"a nested message's field changes type", strings.Replace(base, "message Money { int64 units = 1; }", "message Money { string units = 1; }", 1),
			[]string{"FIELD_SCALAR_KIND_CHANGED bank.Money.units (field 1)", "FIELD_NAMED_TYPE_CHANGED bank.Transfer.money (field 3)"}},
		{"message removed", strings.Replace(strings.Replace(base, "Money money = 3;", "", 1), "message Money { int64 units = 1; }", "", 1),
			[]string{"MESSAGE_REMOVED bank.Money"}},
		{"package changed", strings.Replace(base, "package bank;", "package bank.v2;", 1),
			[]string{"PACKAGE_CHANGED reader"}},
		{"numeric label changed", strings.Replace(base, "optional int32 priority = 9;", "repeated int32 priority = 9;", 1),
			[]string{"FIELD_NUMERIC_LABEL_CHANGED bank.Transfer.priority (field 9)"}},
		{"string label changed", strings.Replace(base, "repeated string tags = 4;", "optional string tags = 4;", 1), nil},
		{"oneof field removed", strings.Replace(base, " string iban = 6;", "", 1),
			[]string{"ONEOF_FIELD_REMOVED bank.Transfer.iban (field 6)"}},
		{"oneof field added", strings.Replace(base, " string iban = 6;", " string iban = 6; string card = 11;", 1), nil},
		{"two fields moved into a oneof", strings.Replace(strings.Replace(base, "string id = 1;\n  int64 amount = 2;\n", "", 1), "oneof target {", "oneof target { string id = 1; int64 amount = 2;", 1),
			[]string{"MULTIPLE_FIELDS_MOVED_TO_ONEOF bank.Transfer.target"}},
		{"one field moved into an existing oneof", strings.Replace(strings.Replace(base, "string id = 1;\n", "", 1), "oneof target {", "oneof target { string id = 1;", 1),
			[]string{"FIELD_MOVED_TO_EXISTING_ONEOF bank.Transfer.target"}},
		{"one field moved into a new oneof", strings.Replace(strings.Replace(base, "string id = 1;\n", "", 1), "int32 flags = 7;", "int32 flags = 7; oneof key { string id = 1; }", 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kindsOf(t, FormatProtobuf, base, tt.reader, nil, nil)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestProtobufRequiredFields(t *testing.T) {
	const v1 = `syntax = "proto2"; message Order { required string id = 1; optional int32 qty = 2; }`
	if got := kindsOf(t, FormatProtobuf, v1, `syntax = "proto2"; message Order { optional int32 qty = 2; }`, nil, nil); strings.Join(got, ",") != "REQUIRED_FIELD_REMOVED Order.id (field 1)" {
		t.Errorf("required removed: %v", got)
	}
	if got := kindsOf(t, FormatProtobuf, v1, `syntax = "proto2"; message Order { required string id = 1; optional int32 qty = 2; required int64 at = 3; }`, nil, nil); strings.Join(got, ",") != "REQUIRED_FIELD_ADDED Order.at (field 3)" {
		t.Errorf("required added: %v", got)
	}
	if got := kindsOf(t, FormatProtobuf, v1, `syntax = "proto2"; message Order { required string id = 1; required int32 qty = 2; }`, nil, nil); strings.Join(got, ",") != "FIELD_NUMERIC_LABEL_CHANGED Order.qty (field 2)" {
		t.Errorf("optional to required: %v", got)
	}
}

// An imported message is compared too: a changed import breaks the field
// that uses it.
func TestProtobufIncompatibilitiesThroughImports(t *testing.T) {
	money := map[int]string{
		1: `syntax = "proto3"; package bank; message Money { int64 units = 1; }`,
		2: `syntax = "proto3"; package bank; message Money { double units = 1; }`,
	}
	lookup := func(_ string, version int) (string, []Reference, error) { return money[version], nil, nil }
	const text = `syntax = "proto3"; package bank.transfers; import "bank/money.proto"; message T { bank.Money amount = 1; }`
	w, err := ParseSchema(FormatProtobuf, "w", text, []Reference{{Name: "bank/money.proto", Subject: "m", Version: 1}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseSchema(FormatProtobuf, "r", text, []Reference{{Name: "bank/money.proto", Subject: "m", Version: 2}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Incompatibilities(w, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "bank.Money.units (field 1): written as int64, read as double, which is not wire-compatible (FIELD_SCALAR_KIND_CHANGED)" ||
		got[1].Kind != "FIELD_NAMED_TYPE_CHANGED" {
		t.Errorf("got %v", got)
	}
}

func TestJSONSchemaIncompatibilities(t *testing.T) {
	const closed = `{"type": "object", "additionalProperties": false, "required": ["id"],
	  "properties": {"id": {"type": "string"}, "amount": {"type": "integer", "maximum": 100},
	    "email": {"type": ["string", "null"]}, "tier": {"enum": ["a", "b"]}, "tags": {"type": "array", "items": {"type": "string"}}}}`
	const open = `{"type": "object", "properties": {"id": {"type": "string"}}}`
	tests := []struct {
		name, writer, reader string
		want                 []string
	}{
		{"the same", closed, closed, nil},
		{"optional property added to a closed model", closed,
			strings.Replace(closed, `"id": {"type": "string"},`, `"id": {"type": "string"}, "memo": {"type": "string"},`, 1), nil},
		{"property removed from a closed model", closed,
			strings.Replace(closed, `"tier": {"enum": ["a", "b"]}, `, ``, 1),
			[]string{"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/tier"}},
		{"property added to an open model", open,
			`{"type": "object", "properties": {"id": {"type": "string"}, "memo": {"type": "string"}}}`,
			[]string{"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/memo"}},
		{"property removed from an open model", `{"type": "object", "properties": {"id": {"type": "string"}, "memo": {"type": "string"}}}`, open, nil},
		{"required property added to a closed model", closed,
			strings.Replace(strings.Replace(closed, `"id": {"type": "string"},`, `"id": {"type": "string"}, "memo": {"type": "string"},`, 1), `"required": ["id"]`, `"required": ["id", "memo"]`, 1),
			[]string{"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/memo"}},
		{"required property with a default added", closed,
			strings.Replace(strings.Replace(closed, `"id": {"type": "string"},`, `"id": {"type": "string"}, "memo": {"type": "string", "default": ""},`, 1), `"required": ["id"]`, `"required": ["id", "memo"]`, 1), nil},
		{"an existing property made required", closed, strings.Replace(closed, `"required": ["id"]`, `"required": ["id", "amount"]`, 1),
			[]string{"REQUIRED_ATTRIBUTE_ADDED #/required/amount"}},
		{"required dropped", closed, strings.Replace(closed, `"required": ["id"]`, `"required": []`, 1), nil},
		{"type changed", closed, strings.Replace(closed, `"id": {"type": "string"}`, `"id": {"type": "number"}`, 1),
			[]string{"TYPE_CHANGED #/properties/id"}},
		{"type narrowed: null no longer allowed", closed, strings.Replace(closed, `["string", "null"]`, `"string"`, 1),
			[]string{"TYPE_CHANGED #/properties/email"}},
		{"type widened: null allowed", closed, strings.Replace(closed, `"id": {"type": "string"}`, `"id": {"type": ["string", "null"]}`, 1), nil},
		{"integer widened to number", closed, strings.Replace(closed, `"type": "integer"`, `"type": "number"`, 1), nil},
		{"number narrowed to integer", strings.Replace(closed, `"type": "integer"`, `"type": "number"`, 1), closed,
			[]string{"TYPE_NARROWED #/properties/amount"}},
		{"maximum lowered", closed, strings.Replace(closed, `"maximum": 100`, `"maximum": 10`, 1),
			[]string{"MAXIMUM_DECREASED #/properties/amount/maximum"}},
		{"maximum raised", closed, strings.Replace(closed, `"maximum": 100`, `"maximum": 1000`, 1), nil},
		{"enum value removed", closed, strings.Replace(closed, `["a", "b"]`, `["a"]`, 1),
			[]string{"ENUM_ARRAY_NARROWED #/properties/tier/enum"}},
		{"enum value added", closed, strings.Replace(closed, `["a", "b"]`, `["a", "b", "c"]`, 1), nil},
		{"items changed", closed, strings.Replace(closed, `"items": {"type": "string"}`, `"items": {"type": "integer"}`, 1),
			[]string{"TYPE_CHANGED #/properties/tags/items"}},
		{"additionalProperties became false", open, strings.Replace(open, `"type": "object",`, `"type": "object", "additionalProperties": false,`, 1),
			[]string{"ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties"}},
		{"additionalProperties false dropped", closed, strings.Replace(closed, `"additionalProperties": false,`, ``, 1), nil},
		{"anyOf branch removed", `{"anyOf": [{"type": "string"}, {"type": "integer"}]}`, `{"anyOf": [{"type": "string"}]}`,
			[]string{"SUM_TYPE_NARROWED #"}},
		{"anyOf branch added", `{"anyOf": [{"type": "string"}]}`, `{"anyOf": [{"type": "string"}, {"type": "integer"}]}`, nil},
		{"a type widened into a oneOf", `{"type": "string"}`, `{"oneOf": [{"type": "string"}, {"type": "integer"}]}`, nil},
		{"anything to one type", `{}`, `{"type": "string"}`, []string{"TYPE_CHANGED #"}},
		{"one type to anything", `{"type": "string"}`, `{}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kindsOf(t, FormatJSON, tt.writer, tt.reader, nil, nil)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// $refs are followed, to the schema's own definitions and to referenced
// subjects, and a recursive schema ends.
func TestJSONSchemaIncompatibilitiesThroughRefs(t *testing.T) {
	money := map[int]string{
		1: `{"type": "object", "properties": {"units": {"type": "integer"}}}`,
		2: `{"type": "object", "properties": {"units": {"type": "string"}}}`,
	}
	lookup := func(_ string, version int) (string, []Reference, error) { return money[version], nil, nil }
	const text = `{"type": "object", "properties": {"amount": {"$ref": "money.json"}, "next": {"$ref": "#"}}}`
	w, err := ParseSchema(FormatJSON, "w", text, []Reference{{Name: "money.json", Subject: "m", Version: 1}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseSchema(FormatJSON, "r", text, []Reference{{Name: "money.json", Subject: "m", Version: 2}}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Incompatibilities(w, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].String() != "#/properties/amount/properties/units: written as integer, read as string (TYPE_CHANGED)" {
		t.Errorf("got %v", got)
	}
}
