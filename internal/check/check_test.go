package check

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// ev is a compact record for the tables: "p@o key Type {value}" with the
// timestamp t0 + offset seconds unless at is set.
type ev struct {
	p     int32
	o     int64
	key   string // "-" is a null key
	typ   string // short name; "" leaves the type empty
	value string // JSON; "" is a tombstone
	enc   string // value encoding; default avro
	at    int    // seconds after t0; 0 means the offset
	id    string // event-id header
	err   string
}

func (e ev) record() *record.Record {
	r := &record.Record{Topic: "t", Partition: e.p, Offset: e.o, KeyEncoding: record.EncodingText, Error: e.err}
	r.Key = json.RawMessage(fmt.Sprintf("%q", e.key))
	if e.key == "-" {
		r.Key, r.KeyEncoding = json.RawMessage("null"), record.EncodingNull
	}
	at := e.at
	if at == 0 {
		at = int(e.o)
	}
	r.Timestamp = record.Timestamp{Time: t0.Add(time.Duration(at) * time.Second)}
	if e.typ != "" {
		r.Type = "com.bank." + e.typ
	}
	r.ValueEncoding = e.enc
	if e.value == "" {
		r.Value, r.ValueEncoding = json.RawMessage("null"), record.EncodingNull
	} else {
		r.Value = json.RawMessage(e.value)
		if r.ValueEncoding == "" {
			r.ValueEncoding = record.EncodingAvro
		}
	}
	if e.id != "" {
		r.Headers = []record.Header{{Key: "event-id", Value: e.id}}
	}
	return r
}

const spec = `
name: balance
handlers:
  Opened: '{balance: 0}'
  Deposited: '.state + {balance: (.state.balance + .event.amount)}'
  Withdrawn: '.state + {balance: (.state.balance - .event.amount)}'
  Closed: '.state + {closed: true}'
  Boom: 'error("boom")'
`

func run1(t *testing.T, opts Options, events ...ev) *Report {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := c.Check(context.Background(), e.record()); err != nil {
			t.Fatal(err)
		}
	}
	return c.Report()
}

// lines renders findings as "rule p@o key: message".
func lines(r *Report) []string {
	out := []string{}
	for _, f := range r.Findings {
		s := fmt.Sprintf("%s %d@%d %s: %s", f.Rule, f.Partition, f.Offset, f.Key, f.Message)
		if f.Aggregate != "" {
			s += " [" + f.Aggregate + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestRules(t *testing.T) {
	proj, err := replay.ParseProjection("balance.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	ignoring, err := replay.ParseProjection("lenient.yaml", []byte(spec+"ignore-unknown: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	versioned, err := replay.ParseProjection("versioned.yaml", []byte(spec+"version: .value.seq\n"))
	if err != nil {
		t.Fatal(err)
	}
	typedByKind, err := replay.ParseProjection("kinds.yaml", []byte("type: .value.kind\nhandlers:\n  opened: '{}'\n  closed: .state\n"))
	if err != nil {
		t.Fatal(err)
	}
	typedByHeader, err := replay.ParseProjection("headers.yaml", []byte(`
type: .headers["event-id"]
handlers:
  Opened: '{balance: 0}'
  Deposited: '.state + {balance: ((.state.balance // 0) + .event.amount)}'
  Deleted: 'null'
`))
	if err != nil {
		t.Fatal(err)
	}
	v := func(n int) string { return fmt.Sprintf(`{"version":%d}`, n) }
	versions := Options{VersionField: ".value.version"}
	tests := []struct {
		name   string
		opts   Options
		events []ev
		want   []string
	}{
		{"clean versions", versions, []ev{
			{p: 0, o: 0, key: "a", value: v(1)}, {p: 0, o: 1, key: "b", value: v(1)}, {p: 0, o: 2, key: "a", value: v(2)},
		}, nil},
		{"version gap", versions, []ev{
			{p: 0, o: 0, key: "a", value: v(1)}, {p: 0, o: 1, key: "a", value: v(4)}, {p: 0, o: 2, key: "a", value: v(5)},
		}, []string{"version-gap 0@1 a: version 4 after 1 (2-3 missing)"}},
		{"first version not 1", versions, []ev{{p: 0, o: 0, key: "a", value: v(2)}},
			[]string{"version-gap 0@0 a: first version is 2, want 1 (1 missing)"}},
		{"duplicate and backwards versions", versions, []ev{
			{p: 0, o: 0, key: "a", value: v(1)}, {p: 0, o: 1, key: "a", value: v(2)}, {p: 0, o: 2, key: "a", value: v(2)},
			{p: 0, o: 3, key: "a", value: v(1)}, {p: 0, o: 4, key: "a", value: v(3)},
		}, []string{"version-duplicate 0@2 a: version 2 again", "version-duplicate 0@3 a: version 1 after 2"}},
		{"versions as strings", versions, []ev{
			{p: 0, o: 0, key: "a", value: `{"version":"1"}`}, {p: 0, o: 1, key: "a", value: `{"version":"2"}`},
		}, nil},
		{"missing and bad versions", versions, []ev{
			{p: 0, o: 0, key: "a", value: `{}`}, {p: 0, o: 1, key: "a", value: `{"version":1.5}`}, {p: 0, o: 2, key: "a", value: `{"version":0}`},
			{p: 0, o: 3, key: "a", value: `"text"`},
		}, []string{
			"field-error 0@0 a: --version-field .value.version: want an integer from 1 (--first-version), got null",
			"field-error 0@1 a: --version-field .value.version: want an integer from 1 (--first-version), got 1.5",
			"field-error 0@2 a: --version-field .value.version: want an integer from 1 (--first-version), got 0",
			`field-error 0@3 a: --version-field .value.version: expected an object but got: string ("text")`,
		}},
		{"tombstones have no version", versions, []ev{{p: 0, o: 0, key: "a", value: v(1)}, {p: 0, o: 1, key: "a"}}, nil},
		{"duplicate ids across the topic", Options{IDField: `.headers["event-id"]`}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, id: "e1"}, {p: 0, o: 1, key: "b", value: `{}`, id: "e2"},
			{p: 1, o: 0, key: "c", value: `{}`, id: "e1"}, {p: 1, o: 1, key: "c", value: `{}`},
		}, []string{
			"duplicate-id 1@0 c: event id e1 already at 0@0",
			"field-error 1@1 c: --id-field .headers[\"event-id\"]: no event id",
		}},
		{"one aggregate on two partitions, reported once per partition", Options{}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, at: 1}, {p: 1, o: 0, key: "a", value: `{}`, at: 2}, {p: 1, o: 1, key: "a", value: `{}`, at: 3},
			{p: 2, o: 0, key: "a", value: `{}`, at: 4},
		}, []string{
			"multi-partition 1@0 a: aggregate a is on partitions 0 and 1: nothing orders its events across them",
			"multi-partition 2@0 a: aggregate a is on partitions 0 and 2: nothing orders its events across them",
		}},
		{"null keys are no aggregate", Options{}, []ev{{p: 0, o: 0, key: "-", value: `{}`}, {p: 1, o: 0, key: "-", value: `{}`}}, nil},
		{"events after a terminal one", Options{Terminal: []string{"Closed"}}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 1, key: "a", typ: "Closed", value: `{}`},
			{p: 0, o: 2, key: "a", typ: "Deposited", value: `{}`}, {p: 0, o: 3, key: "a"},
			{p: 0, o: 4, key: "b", typ: "Closed", value: `{}`},
		}, []string{"after-terminal 0@2 a: Deposited after the terminal Closed at 0@1"}},
		{"terminal by full name", Options{Terminal: []string{"com.bank.Closed"}}, []ev{
			{p: 0, o: 0, key: "a", typ: "Closed", value: `{}`}, {p: 0, o: 1, key: "a", typ: "Opened", value: `{}`},
		}, []string{"after-terminal 0@1 a: Opened after the terminal com.bank.Closed at 0@0"}},
		{"timestamps going back", Options{}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, at: 10}, {p: 0, o: 1, key: "b", value: `{}`, at: 5},
			{p: 0, o: 2, key: "a", value: `{}`, at: 7}, {p: 0, o: 3, key: "a", value: `{}`, at: 8}, {p: 0, o: 4, key: "a", value: `{}`, at: 8},
		}, []string{"timestamp-backwards 0@2 a: timestamp 2026-11-20T12:00:07.000Z is before 2026-11-20T12:00:10.000Z of the previous event (0@0)"}},
		{"undecodable records are seen by no other rule", versions, []ev{
			{p: 0, o: 0, key: "a", value: `"AAAA"`, enc: record.EncodingBase64, err: "value: schema id 999 not found in registry"},
		}, []string{"undecodable 0@0 a: value: schema id 999 not found in registry"}},
		{"no schema, where others have one", Options{}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, enc: record.EncodingJSON}, {p: 0, o: 1, key: "a", value: `{}`},
			{p: 0, o: 2, key: "b", value: `"x"`, enc: record.EncodingText}, {p: 0, o: 3, key: "c"},
		}, []string{"no-schema 0@0 a: value is plain JSON without a schema", "no-schema 0@2 b: value is text without a schema"}},
		{"no schema anywhere is fine", Options{}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, enc: record.EncodingJSON}, {p: 0, o: 1, key: "a", value: `"x"`, enc: record.EncodingBase64},
		}, nil},
		{"no schema anywhere, required", Options{RequireSchema: true}, []ev{{p: 0, o: 0, key: "a", value: `{}`, enc: record.EncodingJSON}},
			[]string{"no-schema 0@0 a: value is plain JSON without a schema"}},
		{"key-by", Options{KeyBy: ".value.acct", VersionField: ".value.v"}, []ev{
			{p: 0, o: 0, key: "k1", value: `{"acct":"x","v":1}`}, {p: 1, o: 0, key: "k2", value: `{"acct":"x","v":3}`},
			{p: 1, o: 1, key: "k2", value: `{"v":1}`}, {p: 1, o: 2, key: "k2", value: `{"acct":7,"v":1}`}, {p: 1, o: 3, key: "k2", value: `[]`},
		}, []string{
			"version-gap 1@0 k2: version 3 after 1 (2 missing) [x]",
			"multi-partition 1@0 k2: aggregate x is on partitions 0 and 1: nothing orders its events across them [x]",
			"field-error 1@3 k2: --key-by .value.acct: expected an object but got: array ([])",
		}},
		{"unknown types, once per type", Options{Projection: proj}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 1, key: "a", typ: "Frozen", value: `{}`},
			{p: 0, o: 2, key: "a", typ: "Frozen", value: `{}`}, {p: 0, o: 3, key: "a", value: `{}`, enc: record.EncodingJSON},
		}, []string{
			`unknown-type 0@1 a: event type "Frozen": no handler in balance.yaml (2 records)`,
			"no-schema 0@3 a: value is plain JSON without a schema", // and not unknown-type as well
		}},
		{"untyped records in a topic without schemas", Options{Projection: proj}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, enc: record.EncodingJSON}, {p: 0, o: 1, key: "a", value: `{}`, enc: record.EncodingJSON},
		}, []string{
			"unknown-type 0@0 a: records without an event type: no handler in balance.yaml; set type: in the spec (2 records)",
		}},
		{"unknown types a spec ignores are no findings", Options{Projection: ignoring}, []ev{
			{p: 0, o: 0, key: "a", typ: "Frozen", value: `{}`},
		}, nil},
		{"fold errors", Options{Projection: proj}, []ev{{p: 0, o: 0, key: "a", typ: "Boom", value: `{}`}},
			[]string{"fold-error 0@0 a: handler Boom (balance.yaml:8): error: boom"}},
		{"assertions over the folded state", Options{Projection: proj, Asserts: []string{".state.balance >= 0", `.event.amount // 0 | . < 100`}}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 1, key: "a", typ: "Deposited", value: `{"amount":5}`},
			{p: 0, o: 2, key: "a", typ: "Withdrawn", value: `{"amount":7}`}, {p: 0, o: 3, key: "a", typ: "Deposited", value: `{"amount":200}`},
		}, []string{
			`assertion 0@2 a: .state.balance >= 0 is false; state {"balance":-2}`,
			`assertion 0@3 a: .event.amount // 0 | . < 100 is false; state {"balance":198}`,
		}},
		{"assertion errors and empty output", Options{Projection: proj, Asserts: []string{".state.balance | error", "empty"}}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`},
		}, []string{
			"assertion 0@0 a: .state.balance | error failed: error: 0",
			`assertion 0@0 a: empty is empty; state {"balance":0}`,
		}},
		{"versions from 0", Options{VersionField: ".value.version", FirstVersion: ptr(int64(0))}, []ev{
			{p: 0, o: 0, key: "a", value: v(0)}, {p: 0, o: 1, key: "a", value: v(1)}, {p: 0, o: 2, key: "b", value: v(1)},
			{p: 0, o: 3, key: "a", value: v(1)}, {p: 0, o: 4, key: "c", value: `{"version":-1}`},
		}, []string{
			"version-gap 0@2 b: first version is 1, want 0 (0 missing)",
			"version-duplicate 0@3 a: version 1 again",
			"field-error 0@4 c: --version-field .value.version: want an integer from 0 (--first-version), got -1",
		}},
		{"versions from the spec's version:", Options{Projection: versioned}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{"seq":1}`}, {p: 0, o: 1, key: "a", typ: "Deposited", value: `{"seq":3,"amount":1}`},
			{p: 0, o: 2, key: "a", typ: "Deposited", value: `{"amount":1}`},
		}, []string{
			"version-gap 0@1 a: version 3 after 1 (2 missing)",
			"field-error 0@2 a: version .value.seq (versioned.yaml): want an integer from 1 (--first-version), got null",
		}},
		{"an event that reopens", Options{Terminal: []string{"Closed"}, Reopens: []string{"Opened"}}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 1, key: "a", typ: "Closed", value: `{}`},
			{p: 0, o: 2, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 3, key: "a", typ: "Deposited", value: `{}`},
			{p: 0, o: 4, key: "a", typ: "Closed", value: `{}`}, {p: 0, o: 5, key: "a", typ: "Deposited", value: `{}`},
		}, []string{"after-terminal 0@5 a: Deposited after the terminal Closed at 0@4"}},
		{"terminal per aggregate type", Options{Terminal: []string{"Closed"}, AggregateType: ".value.agg", VersionField: ".value.v"}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{"agg":"account","v":1}`}, {p: 0, o: 1, key: "a", typ: "Deposited", value: `{"agg":"card","v":1}`},
			{p: 0, o: 2, key: "a", typ: "Closed", value: `{"agg":"account","v":2}`}, {p: 0, o: 3, key: "a", typ: "Deposited", value: `{"agg":"card","v":2}`},
			{p: 0, o: 4, key: "a", typ: "Deposited", value: `{"agg":"account","v":3}`},
		}, []string{"after-terminal 0@4 a: Deposited after the terminal Closed at 0@2 [account a]"}},
		{"terminal types from the spec, on schemaless values", Options{Terminal: []string{"closed"}, Projection: typedByKind}, []ev{
			{p: 0, o: 0, key: "a", value: `{"kind":"opened"}`, enc: record.EncodingJSON}, {p: 0, o: 1, key: "a", value: `{"kind":"closed"}`, enc: record.EncodingJSON},
			{p: 0, o: 2, key: "a", value: `{"kind":"opened"}`, enc: record.EncodingJSON},
		}, []string{"after-terminal 0@2 a: opened after the terminal closed at 0@1"}},
		{"an id expression that yields nothing: no id, no finding", Options{IDField: `.headers["event-id"] // empty`}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, id: "e1"}, {p: 0, o: 1, key: "a", value: `{}`}, {p: 0, o: 2, key: "a", value: `{}`},
			{p: 0, o: 3, key: "a", value: `{}`, id: "e1"},
		}, []string{"duplicate-id 0@3 a: event id e1 already at 0@0"}},
		// Tombstones fold as replay folds them: one without a type stops a
		// replay whose spec does not ignore unknown types, ...
		{"a tombstone without a type the spec does not ignore", Options{Projection: proj}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 1, key: "a"}, {p: 0, o: 2, key: "b"},
		}, []string{"unknown-type 0@1 a: records without an event type (tombstones, values without a schema type): no handler in balance.yaml (2 records)"}},
		{"a tombstone without a type the spec ignores", Options{Projection: ignoring}, []ev{
			{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`}, {p: 0, o: 1, key: "a"},
		}, nil},
		// ... and one whose type the spec names runs its handler: a
		// deletion, after which the aggregate starts again.
		{"a typed tombstone deletes the aggregate", Options{Projection: typedByHeader, Asserts: []string{".state.balance != 6"}}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, id: "Opened"}, {p: 0, o: 1, key: "a", value: `{"amount":5}`, id: "Deposited"},
			{p: 0, o: 2, key: "a", id: "Deleted"}, {p: 0, o: 3, key: "a", value: `{"amount":1}`, id: "Deposited"},
		}, nil},
		{"skip", Options{Skip: []Rule{RuleTimestampBackwards}}, []ev{
			{p: 0, o: 0, key: "a", value: `{}`, at: 10}, {p: 0, o: 1, key: "a", value: `{}`, at: 5},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lines(run1(t, tt.opts, tt.events...))
			if diff := cmp.Diff(append([]string{}, tt.want...), got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestNotes(t *testing.T) {
	events := []ev{
		{p: 0, o: 0, key: "a", typ: "Opened", value: `{}`, id: "e1"}, {p: 0, o: 1, key: "a", typ: "Deposited", value: `{}`},
		{p: 0, o: 2, key: "a", typ: "Deposited", value: `{}`},
	}
	rep := run1(t, Options{IDField: `.headers["event-id"] // empty`, Terminal: []string{"Closed", "AccountClosed"}}, events...)
	want := []string{
		`2 records without an event id (--id-field .headers["event-id"] // empty gave nothing): duplicate-id did not see them`,
		`no event has type "Closed" (types seen: Deposited, Opened)`,
		`no event has type "AccountClosed" (types seen: Deposited, Opened)`,
	}
	if diff := cmp.Diff(want, rep.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	if rep.WithoutID != 2 || rep.Total() != 0 {
		t.Errorf("WithoutID = %d, %d findings; want 2 and none", rep.WithoutID, rep.Total())
	}

	// Schemaless values have no type unless a spec names it.
	rep = run1(t, Options{Terminal: []string{"closed"}}, ev{p: 0, o: 0, key: "a", value: `{"kind":"closed"}`, enc: record.EncodingJSON})
	want = []string{`no event has type "closed": no record has an event type (schemaless values): give --projection with a spec whose type: names them`}
	if diff := cmp.Diff(want, rep.Notes); diff != "" {
		t.Errorf("schemaless notes (-want +got):\n%s", diff)
	}
}

// stateAllocs is the allocations one more event costs check --assert when
// the aggregate's state holds size items.
func stateAllocs(t *testing.T, size int) float64 {
	t.Helper()
	items := make([]string, size)
	for i := range items {
		items[i] = fmt.Sprintf(`"item-%06d"`, i)
	}
	proj, err := replay.ParseProjection("big.yaml", []byte("initial: {n: 0, items: ["+strings.Join(items, ",")+"]}\nhandlers:\n  Deposited: '.state | .n += 1'\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Projection: proj, Asserts: []string{".state.n > 0"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var o int64
	return testing.AllocsPerRun(50, func() {
		o++
		if err := c.Check(ctx, ev{p: 0, o: o, key: "a", typ: "Deposited", value: `{"amount":1}`}.record()); err != nil {
			t.Fatal(err)
		}
	})
}

// An assertion sees the fold's state as it is: the allocations per event
// do not grow with the state (they did: the state was encoded and decoded
// again after every event, quadratic over an aggregate's life).
func TestAssertCostIndependentOfStateSize(t *testing.T) {
	small, large := stateAllocs(t, 10), stateAllocs(t, 10_000)
	if large > small+10 {
		t.Errorf("check --assert: %.0f allocations per event with a 10,000-item state, %.0f with 10: the state is copied per event", large, small)
	}
}

func TestTruncated(t *testing.T) {
	c, err := New(Options{VersionField: ".value.version"})
	if err != nil {
		t.Fatal(err)
	}
	c.Truncated(1)
	for _, e := range []ev{
		{p: 0, o: 0, key: "a", value: `{"version":3}`},
		{p: 1, o: 7, key: "b", value: `{"version":3}`}, {p: 1, o: 8, key: "b", value: `{"version":5}`},
	} {
		if err := c.Check(context.Background(), e.record()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"version-gap 0@0 a: first version is 3, want 1 (1-2 missing)", "version-gap 1@8 b: version 5 after 3 (4 missing)"}
	if diff := cmp.Diff(want, lines(c.Report())); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestCountsAndCap(t *testing.T) {
	var events []ev
	for i := range 5 {
		events = append(events, ev{p: 0, o: int64(i), key: "a", value: `{}`, id: "same"})
	}
	// Schemaless records before the first with a schema are held, and
	// counted past the cap.
	for i := 5; i < 9; i++ {
		events = append(events, ev{p: 0, o: int64(i), key: "b", value: `{}`, enc: record.EncodingJSON})
	}
	events = append(events, ev{p: 0, o: 9, key: "b", value: `{}`, id: "other"})
	rep := run1(t, Options{IDField: `.headers["event-id"]`, MaxFindings: 2, Skip: []Rule{RuleFieldError}}, events...)
	if got := rep.Counts[RuleDuplicateID]; got != 4 {
		t.Errorf("duplicate-id count = %d, want 4", got)
	}
	if got := rep.Counts[RuleNoSchema]; got != 4 {
		t.Errorf("no-schema count = %d, want 4", got)
	}
	if len(rep.Findings) != 4 || rep.Total() != 8 {
		t.Errorf("listed %d of %d findings, want 4 of 8:\n%s", len(rep.Findings), rep.Total(), strings.Join(lines(rep), "\n"))
	}
	if rep.Records != 10 {
		t.Errorf("records = %d", rep.Records)
	}
	wantDisabled := map[Rule]string{
		RuleFieldError: "skipped (--skip)", RuleVersionGap: "needs --version-field", RuleVersionDuplicate: "needs --version-field",
		RuleAfterTerminal: "needs --terminal", RuleUnknownType: "needs --projection", RuleFoldError: "needs --projection", RuleAssertion: "needs --assert",
	}
	if diff := cmp.Diff(wantDisabled, rep.Disabled); diff != "" {
		t.Errorf("disabled (-want +got):\n%s", diff)
	}
}

func TestNoSchemaTopicDisablesRule(t *testing.T) {
	rep := run1(t, Options{}, ev{p: 0, o: 0, key: "a", value: `{}`, enc: record.EncodingJSON})
	if _, ok := rep.Counts[RuleNoSchema]; ok {
		t.Errorf("no-schema counted on a topic without schemas: %v", rep.Counts)
	}
	if !strings.Contains(rep.Disabled[RuleNoSchema], "no record in the topic has a schema") {
		t.Errorf("disabled = %v", rep.Disabled)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{VersionField: ".value |"}, "--version-field: invalid jq filter at position"},
		{Options{IDField: "foo("}, "--id-field"},
		{Options{KeyBy: "]"}, "--key-by"},
		{Options{Asserts: []string{".state"}}, "--assert needs --projection"},
		{Options{Reopens: []string{"Opened"}}, "--reopens needs --terminal"},
		{Options{AggregateType: ".value."}, "--aggregate-type"},
		{Options{VersionField: ".value.v", FirstVersion: ptr(int64(-1))}, "--first-version -1: want a version, 0 or more"},
	} {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
	if _, err := ParseRule("nope"); err == nil || !strings.Contains(err.Error(), "version-gap") {
		t.Errorf("ParseRule: %v", err)
	}
}
