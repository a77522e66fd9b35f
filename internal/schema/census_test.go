package schema

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

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
			c := NewCensus(avro.MustParse(tt.reader), reg)
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
			c := NewCensus(avro.MustParse(tt.reader), reg)
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
