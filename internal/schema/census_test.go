package schema

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/evctl/evctl/internal/record"
)

func TestCensus(t *testing.T) {
	const (
		v1 = `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}]}`
		v2 = `{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}]}`
	)
	f := newFakeRegistry(t)
	f.seedAvro("e-value", 1, 1, v1)
	f.seedAvro("e-value", 2, 2, v2)
	reg := f.client(t)
	encode := func(id int, text string, v any) []byte {
		b, err := avro.Marshal(avro.MustParse(text), v)
		if err != nil {
			t.Fatal(err)
		}
		return append(AppendConfluentPrefix(nil, id), b...)
	}
	msgs := []*record.Message{
		{Topic: "e", Offset: 0, Value: encode(1, v1, map[string]any{"a": "x"})},
		{Topic: "e", Offset: 1, Value: encode(2, v2, map[string]any{"a": "y", "b": 7})},
		{Topic: "e", Offset: 2, Value: nil},
		{Topic: "e", Offset: 3, Value: []byte(`{"plain": "json"}`)},
		{Topic: "e", Partition: 1, Offset: 9, Value: append(AppendConfluentPrefix(nil, 2), 0x08)}, // "a" cut short
		{Topic: "e", Offset: 5, Value: encode(1, v1, map[string]any{"a": "z"})},
	}
	tests := []struct {
		name   string
		reader string
		want   []WriterCensus
		reason []string // in each writer's Reason
	}{
		{"a new field with a default reads everything but the broken value",
			`{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}, {"name": "c", "type": "string", "default": ""}]}`,
			[]WriterCensus{
				{ID: 1, Subject: "e-value", Version: 1, Records: 2, OK: 2},
				{ID: 2, Subject: "e-value", Version: 2, Records: 2, OK: 1, Fail: 1, First: &StoredAt{Topic: "e", Partition: 1, Offset: 9}},
			}, []string{"", "EOF"}},
		{"a new field without a default reads nothing",
			`{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}, {"name": "c", "type": "string"}]}`,
			[]WriterCensus{
				{ID: 1, Subject: "e-value", Version: 1, Records: 2, Fail: 2, First: &StoredAt{Topic: "e", Offset: 0}},
				{ID: 2, Subject: "e-value", Version: 2, Records: 2, Fail: 2, First: &StoredAt{Topic: "e", Offset: 1}},
			}, []string{"c", "c"}},
		{"a dropped field is skipped",
			`{"type": "record", "name": "E", "fields": [{"name": "a", "type": "string"}]}`,
			[]WriterCensus{
				{ID: 1, Subject: "e-value", Version: 1, Records: 2, OK: 2},
				{ID: 2, Subject: "e-value", Version: 2, Records: 2, OK: 1, Fail: 1, First: &StoredAt{Topic: "e", Partition: 1, Offset: 9}},
			}, []string{"", "EOF"}},
		{"a type the writer's cannot promote to",
			`{"type": "record", "name": "E", "fields": [{"name": "a", "type": "int"}]}`,
			[]WriterCensus{
				{ID: 1, Subject: "e-value", Version: 1, Records: 2, Fail: 2, First: &StoredAt{Topic: "e", Offset: 0}},
				{ID: 2, Subject: "e-value", Version: 2, Records: 2, Fail: 2, First: &StoredAt{Topic: "e", Offset: 1}},
			}, []string{"a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCensus(candidate(t, FormatAvro, tt.reader), reg, CensusOptions{})
			for _, m := range msgs {
				if err := c.Add(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			got := c.Writers()
			for i := range got {
				if i < len(tt.reason) && !strings.Contains(got[i].Reason, tt.reason[i]) || tt.reason[i] == "" && got[i].Reason != "" {
					t.Errorf("writer %d reason = %q, want it to mention %q", got[i].ID, got[i].Reason, tt.reason[i])
				}
				got[i].Reason, got[i].GUID = "", ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Writers (-want +got):\n%s", diff)
			}
			if c.Nulls != 1 || c.Unframed != 1 {
				t.Errorf("tombstones %d, unframed %d; want 1, 1", c.Nulls, c.Unframed)
			}
		})
	}
}

func TestCensusUnionBranches(t *testing.T) {
	const (
		a      = `{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}`
		b      = `{"type": "record", "name": "B", "fields": [{"name": "y", "type": "string"}]}`
		writer = `[` + a + `, ` + b + `]`
	)
	f := newFakeRegistry(t)
	f.seedAvro("u-value", 1, 1, writer)
	reg := f.client(t)
	ws := avro.MustParse(writer)
	var msgs []*record.Message
	for i, v := range []any{map[string]any{"x": 1}, map[string]any{"y": "s"}, map[string]any{"x": 2}} {
		typ := "A"
		if _, ok := v.(map[string]any)["y"]; ok {
			typ = "B"
		}
		body, err := avro.Marshal(ws, map[string]any{typ: v})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, &record.Message{Topic: "u", Offset: int64(i), Value: append(AppendConfluentPrefix(nil, 1), body...)})
	}
	tests := []struct {
		name, reader string
		ok, fail     int64
		first        int64
		reason       string
	}{
		{"a branch that needs a new field fails alone", `[` + a + `, {"type": "record", "name": "B", "fields": [{"name": "y", "type": "string"}, {"name": "z", "type": "int"}]}]`, 2, 1, 1, "B: "},
		{"a dropped branch fails alone", `[` + a + `]`, 2, 1, 1, "no branch for B"},
		{"a record reader reads its own branch", a, 2, 1, 1, ""},
		{"the same union reads all", writer, 3, 0, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCensus(candidate(t, FormatAvro, tt.reader), reg, CensusOptions{})
			for _, m := range msgs {
				if err := c.Add(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			w := c.Writers()[0]
			if w.OK != tt.ok || w.Fail != tt.fail {
				t.Fatalf("ok %d, would fail %d; want %d, %d (reason %q)", w.OK, w.Fail, tt.ok, tt.fail, w.Reason)
			}
			if tt.first >= 0 && (w.First == nil || w.First.Offset != tt.first || !strings.Contains(w.Reason, tt.reason)) {
				t.Errorf("first failure %+v, %q; want offset %d, a reason with %q", w.First, w.Reason, tt.first, tt.reason)
			}
		})
	}
}

// candidate parses a candidate schema as schema check does.
func candidate(t *testing.T, format, text string) *Schema {
	t.Helper()
	s, err := ParseSchema(format, "candidate", text, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCensusRecordNameSubject(t *testing.T) {
	const (
		a     = `{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}`
		b     = `{"type": "record", "name": "B", "fields": [{"name": "y", "type": "string"}]}`
		union = `["A", "B"]`
	)
	f := newFakeRegistry(t)
	f.seedAvro("A", 1, 1, a)
	f.seedAvro("B", 1, 2, b)
	f.seedAvro("u-value", 1, 3, union, sr.SchemaReference{Name: "A", Subject: "A", Version: 1}, sr.SchemaReference{Name: "B", Subject: "B", Version: 1})
	reg := f.client(t)
	ua, err := reg.SchemaByID(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*record.Message
	add := func(topic string, id int, s avro.Schema, v any) {
		msgs = append(msgs, &record.Message{Topic: topic, Offset: int64(len(msgs)), Value: confluent(id, marshal(t, s, v))})
	}
	add("rn", 1, avro.MustParse(a), map[string]any{"x": 1}) // A by the RecordNameStrategy
	add("rn", 2, mustParse(t, b), map[string]any{"y": "s"}) // B: not A's
	add("u", 3, ua.Avro(), map[string]any{"A": map[string]any{"x": 2}})
	add("u", 3, ua.Avro(), map[string]any{"B": map[string]any{"y": "t"}})
	// A candidate A that needs a new field fails A's records alone, written
	// under A and as the union's A branch.
	c := NewCensus(candidate(t, FormatAvro, `{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}, {"name": "z", "type": "int"}]}`),
		reg, CensusOptions{Subject: "A", IDs: map[int]bool{1: true}})
	for _, m := range msgs {
		if err := c.Add(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := c.Writers()
	for i := range got {
		got[i].Reason, got[i].GUID = "", ""
	}
	want := []WriterCensus{
		{ID: 1, Subject: "A", Version: 1, Records: 1, Fail: 1, First: &StoredAt{Topic: "rn", Offset: 0}},
		{ID: 3, Subject: "u-value", Version: 1, Records: 1, Fail: 1, First: &StoredAt{Topic: "u", Offset: 2}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Writers (-want +got):\n%s", diff)
	}
	if c.Other != 2 || !slices.Equal(c.Topics(), []string{"rn", "u"}) {
		t.Errorf("other %d, topics %v; want 2, [rn u]", c.Other, c.Topics())
	}
}

func TestCensusKeys(t *testing.T) {
	const k = `{"type": "record", "name": "K", "fields": [{"name": "id", "type": "string"}]}`
	f := newFakeRegistry(t)
	f.seedAvro("t-key", 1, 1, k)
	reg := f.client(t)
	key := confluent(1, marshal(t, mustParse(t, k), map[string]any{"id": "a"}))
	msgs := []*record.Message{
		{Topic: "t", Key: key, Value: []byte("not framed")},
		{Topic: "t", Offset: 1, Key: nil, Value: key},
	}
	c := NewCensus(candidate(t, FormatAvro, `{"type": "record", "name": "K", "fields": [{"name": "id", "type": "long"}]}`), reg, CensusOptions{Key: true})
	for _, m := range msgs {
		if err := c.Add(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	w := c.Writers()
	if len(w) != 1 || w[0].Records != 1 || w[0].Fail != 1 || c.Nulls != 1 {
		t.Fatalf("writers %+v, null keys %d; want one key that fails, one null key", w, c.Nulls)
	}
}

func TestCensusProtobuf(t *testing.T) {
	const writer = `syntax = "proto3";
package p;
message M {
  string id = 1;
  int64 amount = 2;
  Inner inner = 3;
}
message Inner { int32 n = 1; }
`
	f := newFakeRegistry(t)
	f.SeedSchema("p-value", 1, 1, sr.Schema{Schema: writer, Type: sr.TypeProtobuf})
	reg := f.client(t)
	// M{id: "a", amount: 5, inner: {n: 7}}, message indexes [0].
	m := []byte{0x0a, 0x01, 'a', 0x10, 0x05, 0x1a, 0x02, 0x08, 0x07}
	inner := []byte{0x08, 0x07} // Inner{n: 7}, indexes [1]
	msgs := []*record.Message{
		{Topic: "p", Value: append(AppendConfluentPrefix(nil, 1), append([]byte{0x00}, m...)...)},
		{Topic: "p", Offset: 1, Value: append(AppendConfluentPrefix(nil, 1), append([]byte{0x02, 0x02}, inner...)...)},
	}
	tests := []struct {
		name, candidate string
		fail            int64
		reason          string
	}{
		{"the same schema reads all", writer, 0, ""},
		{"a removed field is ignored, a new one is zero", strings.Replace(writer, "int64 amount = 2;", "string note = 4;", 1), 0, ""},
		{"a field of another wire type is not read", strings.Replace(writer, "int64 amount = 2;", "string amount = 2;", 1), 1,
			"p.M.amount (field 2): written as a varint, which the candidate's string cannot read"},
		{"down nested messages too", strings.Replace(writer, "int32 n = 1;", "string n = 1;", 1), 2,
			"p.Inner.n (field 1): written as a varint, which the candidate's string cannot read"},
		{"a message the candidate lacks", strings.NewReplacer("message Inner {", "message Inner2 {", "Inner inner", "Inner2 inner").Replace(writer), 1,
			"the candidate has no message p.Inner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCensus(candidate(t, FormatProtobuf, tt.candidate), reg, CensusOptions{})
			for _, m := range msgs {
				if err := c.Add(t.Context(), m); err != nil {
					t.Fatal(err)
				}
			}
			w := c.Writers()[0]
			if w.Records != 2 || w.Fail != tt.fail || !strings.Contains(w.Reason, tt.reason) {
				t.Fatalf("read %d, would fail %d (%q); want 2, %d (%q)", w.Records, w.Fail, w.Reason, tt.fail, tt.reason)
			}
		})
	}
}

func TestCensusJSONSchema(t *testing.T) {
	const writer = `{"type": "object", "properties": {"id": {"type": "string"}, "amount": {"type": "number"}}}`
	f := newFakeRegistry(t)
	f.SeedSchema("j-value", 1, 1, sr.Schema{Schema: writer, Type: sr.TypeJSON})
	f.seedAvro("a-value", 1, 2, `"string"`)
	reg := f.client(t)
	msgs := []*record.Message{
		{Topic: "j", Value: append(AppendConfluentPrefix(nil, 1), `{"id": "a", "amount": 1.5}`...)},
		{Topic: "j", Offset: 1, Value: append(AppendConfluentPrefix(nil, 1), `{"id": "b"}`...)},
		{Topic: "j", Offset: 2, Value: append(AppendConfluentPrefix(nil, 2), 0x02, 'x')},
	}
	c := NewCensus(candidate(t, FormatJSON, `{"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}}`), reg, CensusOptions{})
	for _, m := range msgs {
		if err := c.Add(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := c.Writers()
	if len(got) != 2 {
		t.Fatalf("writers %+v, want 2", got)
	}
	if got[0].OK != 1 || got[0].Fail != 1 || got[0].First.Offset != 1 || got[0].Reason != "/: missing property 'amount'" {
		t.Errorf("JSON writer %+v, want one ok, the second failing for the missing amount", got[0])
	}
	if got[1].Fail != 1 || got[1].Reason != "written as AVRO, the candidate is JSON" {
		t.Errorf("Avro writer %+v, want it failing for its type", got[1])
	}
}
