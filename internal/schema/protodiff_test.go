package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffProtobuf(t *testing.T) {
	const head = "syntax = \"proto3\";\npackage bank;\n"
	tests := []struct {
		name     string
		from, to string
		want     []SchemaChange
	}{
		{"identical", `message D { string id = 1; }`, `message D { string id = 1; }`, nil},
		{"fields by number", `message D { string id = 1; int32 cents = 2; string note = 3; }`,
			`message D { string id = 1; int64 amount = 2; repeated string tags = 4; }`,
			[]SchemaChange{
				{Path: "bank.D.cents", Kind: ChangeFieldRenamed, From: "cents", To: "amount"},
				{Path: "bank.D.cents", Kind: ChangeType, From: "int32", To: "int64"},
				{Path: "bank.D.note", Kind: ChangeFieldRemoved, From: "string = 3"},
				{Path: "bank.D.tags", Kind: ChangeFieldAdded, To: "repeated string = 4"},
			}},
		{"cardinality, oneof and reserved", `message D { string id = 1; string a = 2; reserved 5; }`,
			`message D { repeated string id = 1; oneof kind { string a = 2; } reserved 5 to 7; reserved "old"; }`,
			[]SchemaChange{
				{Path: "bank.D.id", Kind: ChangeCardinality, From: "singular", To: "repeated"},
				{Path: "bank.D.a", Kind: ChangeOneof, From: "none", To: "kind"},
				{Path: "bank.D", Kind: ChangeReserved, From: "5", To: `5 to 7, "old"`},
			}},
		{"messages, nested, enums and maps",
			`message D { message Line { int32 qty = 1; } enum Ch { CARD = 0; CASH = 1; } map<string, int32> m = 1; } message Gone {}`,
			`message D { message Line { int64 qty = 1; } enum Ch { CARD = 0; TRANSFER = 2; } map<string, int64> m = 1; } message New {} enum Tier { T0 = 0; }`,
			[]SchemaChange{
				{Path: "bank.D.m", Kind: ChangeType, From: "map<string, int32>", To: "map<string, int64>"},
				{Path: "bank.D.Line.qty", Kind: ChangeType, From: "int32", To: "int64"},
				{Path: "bank.D.Ch", Kind: ChangeSymbolRemoved, From: "CASH = 1"},
				{Path: "bank.D.Ch", Kind: ChangeSymbolAdded, To: "TRANSFER = 2"},
				{Path: "bank.Gone", Kind: ChangeMessageRemoved},
				{Path: "bank.New", Kind: ChangeMessageAdded},
				{Path: "bank.Tier", Kind: ChangeEnumAdded},
			}},
		{"a field's message type", `message A {} message B {} message D { A x = 1; }`, `message A {} message B {} message D { B x = 1; }`,
			[]SchemaChange{{Path: "bank.D.x", Kind: ChangeType, From: "bank.A", To: "bank.B"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := compileProtobuf(head+tt.from, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			to, err := compileProtobuf(head+tt.to, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, DiffProtobuf(from, to)); diff != "" {
				t.Errorf("DiffProtobuf (-want +got):\n%s", diff)
			}
		})
	}
}
