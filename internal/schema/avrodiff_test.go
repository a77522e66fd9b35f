package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
)

func TestDiffAvro(t *testing.T) {
	rec := func(fields string) string {
		return `{"type": "record", "name": "Deposit", "namespace": "com.bank", "fields": [` + fields + `]}`
	}
	tests := []struct {
		name     string
		from, to string
		want     []SchemaChange
	}{
		{"identical", rec(`{"name": "a", "type": "string"}`), rec(`{"name": "a", "type": "string"}`), nil},
		{"docs and field order are not changes",
			rec(`{"name": "a", "type": "string"}, {"name": "b", "type": "int"}`),
			rec(`{"name": "b", "type": "int", "doc": "b"}, {"name": "a", "type": "string"}`), nil},
		{"field added with a default", rec(`{"name": "a", "type": "string"}`),
			rec(`{"name": "a", "type": "string"}, {"name": "currency", "type": "string", "default": "EUR"}`),
			[]SchemaChange{{Path: ".currency", Kind: ChangeFieldAdded, To: `string, default "EUR"`}}},
		{"field removed", rec(`{"name": "a", "type": "string"}, {"name": "note", "type": ["null", "string"], "default": null}`),
			rec(`{"name": "a", "type": "string"}`),
			[]SchemaChange{{Path: ".note", Kind: ChangeFieldRemoved, From: "[null, string], default null"}}},
		{"type changed", rec(`{"name": "n", "type": "int"}`), rec(`{"name": "n", "type": "long"}`),
			[]SchemaChange{{Path: ".n", Kind: ChangeType, From: "int", To: "long"}}},
		{"default changed, added, removed",
			rec(`{"name": "a", "type": "int", "default": 1}, {"name": "b", "type": "int"}, {"name": "c", "type": "int", "default": 3}`),
			rec(`{"name": "a", "type": "int", "default": 2}, {"name": "b", "type": "int", "default": 0}, {"name": "c", "type": "int"}`),
			[]SchemaChange{
				{Path: ".a", Kind: ChangeDefault, From: "1", To: "2"},
				{Path: ".b", Kind: ChangeDefault, From: "none", To: "0"},
				{Path: ".c", Kind: ChangeDefault, From: "3", To: "none"},
			}},
		{"field aliases", rec(`{"name": "a", "type": "int"}`), rec(`{"name": "a", "type": "int", "aliases": ["x", "b"]}`),
			[]SchemaChange{{Path: ".a", Kind: ChangeAliases, From: "none", To: "b, x"}}},
		{"renamed through an alias", rec(`{"name": "amount", "type": "int"}`), rec(`{"name": "value", "type": "int", "aliases": ["amount"]}`),
			[]SchemaChange{
				{Path: ".amount", Kind: ChangeFieldRenamed, From: "amount", To: "value"},
				{Path: ".amount", Kind: ChangeAliases, From: "none", To: "amount"},
			}},
		{"record name and aliases",
			`{"type": "record", "name": "A", "fields": []}`,
			`{"type": "record", "name": "B", "aliases": ["A"], "fields": []}`,
			[]SchemaChange{{Path: ".", Kind: ChangeName, From: "A", To: "B"}, {Path: ".", Kind: ChangeAliases, From: "none", To: "A"}}},
		{"enum symbols and default",
			rec(`{"name": "ch", "type": {"type": "enum", "name": "Channel", "symbols": ["CARD", "CASH"], "default": "CASH"}}`),
			rec(`{"name": "ch", "type": {"type": "enum", "name": "Channel", "symbols": ["CARD", "TRANSFER"], "default": "CARD"}}`),
			[]SchemaChange{
				{Path: ".ch", Kind: ChangeSymbolRemoved, From: "CASH"},
				{Path: ".ch", Kind: ChangeSymbolAdded, To: "TRANSFER"},
				{Path: ".ch", Kind: ChangeEnumDefault, From: "CASH", To: "CARD"},
			}},
		{"union branches", rec(`{"name": "r", "type": ["null", "string", "int"]}`), rec(`{"name": "r", "type": ["null", "string", "long"]}`),
			[]SchemaChange{{Path: ".r", Kind: ChangeBranchRemoved, From: "int"}, {Path: ".r", Kind: ChangeBranchAdded, To: "long"}}},
		{"a field made optional", rec(`{"name": "r", "type": "string"}`), rec(`{"name": "r", "type": ["null", "string"], "default": null}`),
			[]SchemaChange{{Path: ".r", Kind: ChangeType, From: "string", To: "[null, string]"}, {Path: ".r", Kind: ChangeDefault, From: "none", To: "null"}}},
		{"logical types", rec(`{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}, {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}}, {"name": "id", "type": "string"}`),
			rec(`{"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}, {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2}}, {"name": "id", "type": {"type": "string", "logicalType": "uuid"}}`),
			[]SchemaChange{
				{Path: ".at", Kind: ChangeLogical, From: "timestamp-millis", To: "timestamp-micros"},
				{Path: ".amount", Kind: ChangeLogical, From: "decimal(12,2)", To: "decimal(14,2)"},
				{Path: ".id", Kind: ChangeLogical, From: "none", To: "uuid"},
			}},
		{"fixed size", rec(`{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 16}}`), rec(`{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 32}}`),
			[]SchemaChange{{Path: ".h", Kind: ChangeSize, From: "16", To: "32"}}},
		{"nested records, arrays and maps",
			rec(`{"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [{"name": "qty", "type": "int"}]}}}, {"name": "tags", "type": {"type": "map", "values": "string"}}`),
			rec(`{"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [{"name": "qty", "type": "long"}]}}}, {"name": "tags", "type": {"type": "map", "values": "int"}}`),
			[]SchemaChange{{Path: ".lines[].qty", Kind: ChangeType, From: "int", To: "long"}, {Path: ".tags{}", Kind: ChangeType, From: "string", To: "int"}}},
		{"a union of records, by branch name",
			`[{"type": "record", "name": "com.bank.Opened", "fields": [{"name": "owner", "type": "string"}]}, {"type": "record", "name": "com.bank.Closed", "fields": []}]`,
			`[{"type": "record", "name": "com.bank.Opened", "fields": [{"name": "owner", "type": "string"}, {"name": "tier", "type": "int", "default": 0}]}, {"type": "record", "name": "com.bank.Frozen", "fields": []}]`,
			[]SchemaChange{
				{Path: "(com.bank.Opened).tier", Kind: ChangeFieldAdded, To: "int, default 0"},
				{Path: ".", Kind: ChangeBranchRemoved, From: "com.bank.Closed"},
				{Path: ".", Kind: ChangeBranchAdded, To: "com.bank.Frozen"},
			}},
		{"a recursive type ends",
			`{"type": "record", "name": "Node", "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}`,
			`{"type": "record", "name": "Node", "fields": [{"name": "v", "type": "long"}, {"name": "next", "type": ["null", "Node"]}]}`,
			[]SchemaChange{{Path: ".v", Kind: ChangeType, From: "int", To: "long"}}},
		{"a named type against a primitive", rec(`{"name": "x", "type": {"type": "enum", "name": "E", "symbols": ["A"]}}`), rec(`{"name": "x", "type": "string"}`),
			[]SchemaChange{{Path: ".x", Kind: ChangeType, From: "com.bank.E", To: "string"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := avro.ParseWithCache(tt.from, "", &avro.SchemaCache{})
			if err != nil {
				t.Fatal(err)
			}
			to, err := avro.ParseWithCache(tt.to, "", &avro.SchemaCache{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, DiffAvro(from, to)); diff != "" {
				t.Errorf("DiffAvro (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchemaChangeString(t *testing.T) {
	tests := []struct {
		c    SchemaChange
		want string
	}{
		{SchemaChange{Path: ".currency", Kind: ChangeFieldAdded, To: `string, default "EUR"`}, `+ .currency: field added: string, default "EUR"`},
		{SchemaChange{Path: ".note", Kind: ChangeFieldRemoved, From: "string"}, `- .note: field removed: string`},
		{SchemaChange{Path: ".n", Kind: ChangeType, From: "int", To: "long"}, `~ .n: type changed: int → long`},
		{SchemaChange{Path: ".ch", Kind: ChangeSymbolAdded, To: "GOLD"}, `+ .ch: symbol added: GOLD`},
		{SchemaChange{Path: "bank.Gone", Kind: ChangeMessageRemoved}, `- bank.Gone: message removed`},
		{SchemaChange{Path: ".id", Kind: ChangeRequiredAdded}, `+ .id: required added`},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
