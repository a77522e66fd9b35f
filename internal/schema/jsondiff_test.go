package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffJSONSchema(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     []SchemaChange
	}{
		{"identical but for annotations", `{"type": "object", "title": "A", "properties": {"id": {"type": "string"}}}`,
			`{"type": "object", "title": "B", "description": "d", "properties": {"id": {"type": "string", "description": "the id"}}}`, nil},
		{"properties, required, types",
			`{"type": "object", "properties": {"id": {"type": "string"}, "cents": {"type": "integer"}, "note": {"type": "string"}}, "required": ["id", "note"]}`,
			`{"type": "object", "properties": {"id": {"type": "string"}, "cents": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["id", "cents"]}`,
			[]SchemaChange{
				{Path: ".note", Kind: ChangeRequiredRemoved},
				{Path: ".cents", Kind: ChangeRequiredAdded},
				{Path: ".cents", Kind: ChangeType, From: "integer", To: "number"},
				{Path: ".note", Kind: ChangeFieldRemoved, From: "string"},
				{Path: ".tags", Kind: ChangeFieldAdded, To: "array"},
			}},
		{"enum, format, default, nullable",
			`{"type": "object", "properties": {"ch": {"enum": ["CARD", "CASH"]}, "at": {"type": "string", "format": "date"}, "n": {"type": "integer", "default": 1}}}`,
			`{"type": "object", "properties": {"ch": {"enum": ["CARD", "TRANSFER"]}, "at": {"type": "string", "format": "date-time"}, "n": {"type": ["integer", "null"], "default": 2}}}`,
			[]SchemaChange{
				{Path: ".at", Kind: ChangeFormat, From: "date", To: "date-time"},
				{Path: ".ch", Kind: ChangeSymbolRemoved, From: "CASH"},
				{Path: ".ch", Kind: ChangeSymbolAdded, To: "TRANSFER"},
				{Path: ".n", Kind: ChangeType, From: "integer", To: "[integer, null]"},
				{Path: ".n", Kind: ChangeDefault, From: "1", To: "2"},
			}},
		{"nested, items, additionalProperties, oneOf, $defs",
			`{"type": "object", "additionalProperties": false, "properties": {"lines": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}}, "pay": {"oneOf": [{"$ref": "#/$defs/Card"}]}}, "$defs": {"Card": {"type": "object"}}}`,
			`{"type": "object", "properties": {"lines": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "string"}}}}, "pay": {"oneOf": [{"$ref": "#/$defs/Card"}, {"$ref": "#/$defs/Iban"}]}}, "$defs": {"Card": {"type": "object"}, "Iban": {"type": "string"}}}`,
			[]SchemaChange{
				{Path: ".lines[].qty", Kind: ChangeType, From: "integer", To: "string"},
				{Path: ".pay/oneOf", Kind: ChangeBranchAdded, To: `{"$ref":"#/$defs/Iban"}`},
				{Path: ".", Kind: ChangeAdditional, From: "false", To: "none"},
				{Path: "#/$defs/Iban", Kind: ChangeFieldAdded, To: "string"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DiffJSONSchema(tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DiffJSONSchema (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := DiffJSONSchema(`{`, `{}`); err == nil {
		t.Error("DiffJSONSchema of invalid JSON: no error")
	}
}
