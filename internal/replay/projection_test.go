package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/record"
)

// bankEvent makes a decoded bank.account-events record as evctl's decoder
// makes it: key and value JSON, the Avro full name as Type.
func bankEvent(partition int32, offset int64, typ, key, value string) *record.Record {
	r := &record.Record{
		Topic: "bank.account-events", Partition: partition, Offset: offset,
		Timestamp:   record.Timestamp{Time: time.Date(2026, 11, 20, 9, 14, 3, 250e6, time.UTC)},
		Key:         json.RawMessage(key),
		Value:       json.RawMessage(value),
		Type:        "com.bank." + typ,
		Headers:     []record.Header{{Key: "event-type", Value: typ}, {Key: "event-id", Value: "e-" + typ}},
		KeyEncoding: record.EncodingText, ValueEncoding: record.EncodingAvro,
		Schema: &record.SchemaRef{ID: 7, Subject: "bank.account-events-value", Format: "AVRO"},
	}
	if key == "" {
		r.Key, r.KeyEncoding = json.RawMessage("null"), record.EncodingNull
	}
	return r
}

func opened(p int32, off int64, id, owner string, version int) *record.Record {
	return bankEvent(p, off, "AccountOpened", `"`+id+`"`,
		`{"accountId":"`+id+`","owner":"`+owner+`","currency":"EUR","version":`+itoa(version)+`,"occurredAt":"2026-11-20T09:14:03.250Z"}`)
}

func deposited(p int32, off int64, id, amount string, version int) *record.Record {
	return bankEvent(p, off, "MoneyDeposited", `"`+id+`"`,
		`{"accountId":"`+id+`","amount":"`+amount+`","version":`+itoa(version)+`,"occurredAt":"2026-11-21T10:00:00.000Z"}`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func parseSpec(t *testing.T, src string) *Projection {
	t.Helper()
	p, err := ParseProjection("spec.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// foldAll applies records in order and returns the final states as a map
// of canonical JSON (nil for deleted aggregates).
func foldAll(t *testing.T, p *Projection, records ...*record.Record) (*Fold, map[string]any) {
	t.Helper()
	f := p.NewFold()
	for _, r := range records {
		if _, err := f.Apply(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	states := map[string]any{}
	for id, s := range f.States() {
		if s == nil {
			states[id] = nil
			continue
		}
		states[id] = canonicalJSON(t, s)
	}
	return f, states
}

// foldParallel folds records on a ParallelFold of workers and closes it.
func foldParallel(t *testing.T, p *Projection, workers int, records ...*record.Record) *ParallelFold {
	t.Helper()
	pf := p.NewParallelFold(t.Context(), workers, nil)
	for _, r := range records {
		if err := pf.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := pf.Close(); err != nil {
		t.Fatal(err)
	}
	return pf
}

func TestParseProjectionErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "spec.yaml:1: empty projection spec"},
		{"bad YAML, flow list not closed", "name: x\nhandlers:\n  A: [.state\n", "spec.yaml:3: invalid YAML: did not find expected ',' or ']'"},
		{"tab indentation", "name: x\nhandlers:\n\tA: .state\n", "spec.yaml:3: invalid YAML"},
		{"bad YAML, bad indentation", "handlers:\n  A: .state\n B: .state\n", "spec.yaml:3: invalid YAML: did not find expected key"},
		{"bad YAML, plain scalar with a colon", "handlers:\n  A: .state + {a: 1}\n", "spec.yaml:2: invalid YAML: mapping values are not allowed in this context"},
		{"not a mapping", "- a\n- b\n", "spec.yaml:1: a projection spec is a mapping"},
		{"unknown key", "name: x\nhandler:\n  A: .state\n", `spec.yaml:2: unknown key "handler" (known: name, description, id, type, version, initial, ignore-unknown, defs, handlers)`},
		{"key twice", "handlers:\n  A: .state\nid: .key\nid: .value.id\n", `spec.yaml:4: key "id" given twice`},
		{"no handlers", "name: x\nid: .key\n", "spec.yaml:1: no handlers"},
		{"handlers a list", "handlers:\n  - .state\n", "spec.yaml:2: handlers: want a mapping"},
		{"handlers empty", "handlers: {}\n", "spec.yaml:1: handlers: empty"},
		{"handler empty", "handlers:\n  A: .state\n  B:\n", "spec.yaml:3: handler B: want a jq program, got nothing"},
		{"handler twice", "handlers:\n  A: .state\n  A: .event\n", "spec.yaml:3: handler A given twice"},
		{"handler not a string", "handlers:\n  A: {x: 1}\n", "spec.yaml:2: handler A: want a jq program, got a mapping"},
		// A jq object literal unquoted is YAML: the error says so, with the fix.
		{"jq object literal read as a YAML mapping", "handlers:\n  OrderPlaced: {open: true}\n",
			"spec.yaml:2: handler OrderPlaced: want a jq program, got a mapping; a jq object literal like {open: true} in an unquoted YAML value is YAML, not jq: quote the program ('.state + {open: true}') or write it as a block (|)"},
		{"jq object literal after an operator", "handlers:\n  OrderPlaced: .state + {open: true}\n",
			"spec.yaml:2: invalid YAML: mapping values are not allowed in this context; a jq object literal like {open: true} in an unquoted YAML value is YAML, not jq: quote"},
		{"type a YAML list", "type: [.type]\nhandlers:\n  A: .state\n", "spec.yaml:1: type: want a string, got a list; a jq object literal"},
		{"version jq syntax", "version: .value.\nhandlers:\n  A: .state\n", "spec.yaml:1: version: invalid jq"},
		{"jq syntax in a plain scalar", "handlers:\n  A: .state +\n", "spec.yaml:2: handler A: invalid jq: unexpected end of the program"},
		{"jq syntax in a block, exact line", "name: x\nhandlers:\n  A: .state\n  MoneyDeposited: |\n    .state\n    | {balance: (.state.balance + )}\n", "spec.yaml:6: handler MoneyDeposited: invalid jq: unexpected \")\"\n  | {balance: (.state.balance + )}\n                                ^"},
		{"jq unknown function", "handlers:\n  A: |\n    .state | nosuch(1)\n", "spec.yaml:3: handler A: invalid jq: function not defined: nosuch/1"},
		{"id jq syntax", "id: .value.\nhandlers:\n  A: .state\n", "spec.yaml:1: id: invalid jq"},
		{"type jq unknown variable", "type: $x\nhandlers:\n  A: .state\n", "spec.yaml:1: type: invalid jq: variable not defined: $x"},
		{"id not a string", "id: 42\nhandlers:\n  A: .state\n", `spec.yaml:1: id: want a string, got int "42"`},
		{"name a list", "name: [a]\nhandlers:\n  A: .state\n", "spec.yaml:1: name: want a string, got a list"},
		{"ignore-unknown not a bool", "ignore-unknown: maybe\nhandlers:\n  A: .state\n", `spec.yaml:1: ignore-unknown: want true or false, got str "maybe"`},
		{"initial with a number key", "initial: {1: a}\nhandlers:\n  A: .state\n", "spec.yaml:1: initial: key 1: JSON object keys are strings"},
		{"defs syntax", "defs: |\n  def a: 1;\n  def b: (;\nhandlers:\n  A: .state\n", `spec.yaml:3: defs: invalid jq: unexpected ";"`},
		{"defs with an expression", "defs: |\n  def a: 1;\n  .x\nhandlers:\n  A: .state\n", "spec.yaml:2: defs: want only jq definitions"},
		{"handler calls an undefined def", "defs: 'def a: 1;'\nhandlers:\n  A: b\n", "spec.yaml:3: handler A: invalid jq: function not defined: b/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProjection("spec.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n%s\nwant it to start with:\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadProjection(t *testing.T) {
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "account-balance" || p.File != accountBalanceSpec {
		t.Errorf("Name, File = %q, %q", p.Name, p.File)
	}
	if diff := cmp.Diff([]string{"AccountClosed", "AccountOpened", "MoneyDeposited", "MoneyWithdrawn"}, p.Types()); diff != "" {
		t.Errorf("Types() (-want +got):\n%s", diff)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "orders-v2.yml")
	if err := os.WriteFile(path, []byte("handlers:\n  A: .state +\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProjection(path); err == nil || !strings.HasPrefix(err.Error(), path+":2: handler A: invalid jq") {
		t.Errorf("LoadProjection(%s) error = %v, want it at %s:2", path, err, path)
	}
	if err := os.WriteFile(path, []byte("handlers:\n  A: .state\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadProjection(path); err != nil || p.Name != "orders-v2" {
		t.Errorf("LoadProjection without name: %v, name %q; want the file name", err, p.Name)
	}
	if _, err := LoadProjection(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want ErrNotExist", err)
	}
}

// TestAccountBalanceFold folds a hand-made history through the shipped spec:
// exact cents, integers written as integers, the state of each event.
func TestAccountBalanceFold(t *testing.T) {
	p, err := LoadProjection(accountBalanceSpec)
	if err != nil {
		t.Fatal(err)
	}
	f := p.NewFold()
	steps := []struct {
		r    *record.Record
		want string
	}{
		{opened(2, 10, "acct-0042", "Ada Lovelace", 1),
			`{"accountId":"acct-0042","owner":"Ada Lovelace","currency":"EUR","balanceCents":0,"status":"open","version":1,"updatedAt":"2026-11-20T09:14:03.250Z"}`},
		{deposited(2, 11, "acct-0042", "120.50", 2),
			`{"accountId":"acct-0042","owner":"Ada Lovelace","currency":"EUR","balanceCents":12050,"status":"open","version":2,"updatedAt":"2026-11-21T10:00:00.000Z"}`},
		// 0.1 + 0.2 in floats is 0.30000000000000004; in cents it is 30.
		{deposited(2, 12, "acct-0042", "0.10", 3), ""},
		{deposited(2, 13, "acct-0042", "0.20", 4), ""},
		{deposited(2, 14, "acct-0042", "99999999.99", 5),
			`{"accountId":"acct-0042","owner":"Ada Lovelace","currency":"EUR","balanceCents":10000012079,"status":"open","version":5,"updatedAt":"2026-11-21T10:00:00.000Z"}`},
		{bankEvent(2, 15, "MoneyWithdrawn", `"acct-0042"`, `{"accountId":"acct-0042","amount":"100000000.79","version":6,"occurredAt":"2026-11-22T00:00:00.001Z"}`),
			`{"accountId":"acct-0042","owner":"Ada Lovelace","currency":"EUR","balanceCents":12000,"status":"open","version":6,"updatedAt":"2026-11-22T00:00:00.001Z"}`},
		{bankEvent(2, 16, "AccountClosed", `"acct-0042"`, `{"accountId":"acct-0042","reason":"moved abroad","version":7,"occurredAt":"2026-11-23T00:00:00.000Z"}`),
			`{"accountId":"acct-0042","owner":"Ada Lovelace","currency":"EUR","balanceCents":12000,"status":"closed","version":7,"updatedAt":"2026-11-23T00:00:00.000Z"}`},
	}
	for _, s := range steps {
		c, err := f.Apply(t.Context(), s.r)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != "acct-0042" || c.Type != strings.TrimPrefix(s.r.Type, "com.bank.") || c.Deleted || c.Skipped {
			t.Errorf("offset %d: Change = %+v", s.r.Offset, c)
		}
		if s.want == "" {
			continue
		}
		if diff := cmp.Diff(canonicalJSON(t, []byte(s.want)), canonicalJSON(t, c.State())); diff != "" {
			t.Errorf("offset %d: state (-want +got):\n%s\n%s", s.r.Offset, diff, c.State())
		}
	}
	// Integers stay integers in the JSON written, never 1.2e+04 or 12000.0.
	got, _ := f.Get("acct-0042")
	if !strings.Contains(string(got), `"balanceCents":12000,`) || !strings.Contains(string(got), `"version":7}`) {
		t.Errorf("state JSON %s: want balanceCents and version as plain integers", got)
	}

	_, err = f.Apply(t.Context(), deposited(2, 17, "acct-0042", "12.5", 8))
	if err == nil || !strings.Contains(err.Error(), `amount "12.5" is not a decimal with 2 decimals`) {
		t.Errorf("amount 12.5: error %v, want a scale error", err)
	}
}

func TestFoldStatesSortedAndGet(t *testing.T) {
	p := parseSpec(t, "handlers:\n  AccountOpened: .event.owner\n")
	f, states := foldAll(t, p,
		opened(0, 1, "b", "Bo", 1), opened(1, 1, "a", "Al", 1), opened(0, 2, "c", "Cy", 1), opened(1, 2, "a", "Ann", 2))
	var ids []string
	for id := range f.States() {
		ids = append(ids, id)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, ids); diff != "" {
		t.Errorf("States() order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"a": "Ann", "b": "Bo", "c": "Cy"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if f.Len() != 3 {
		t.Errorf("Len() = %d, want 3", f.Len())
	}
	if s, ok := f.Get("b"); !ok || string(s) != `"Bo"` {
		t.Errorf(`Get("b") = %s, %v`, s, ok)
	}
	if s, ok := f.Get("zz"); ok || s != nil {
		t.Errorf(`Get("zz") = %s, %v; want nothing`, s, ok)
	}
}

func TestFoldNullDeletes(t *testing.T) {
	p := parseSpec(t, `
initial: {count: 0, tags: [], at: 2026-01-02T03:04:05Z}
handlers:
  AccountOpened: '.state + {count: (.state.count + 1), owner: .event.owner}'
  AccountClosed: "null"
`)
	f := p.NewFold()
	apply := func(r *record.Record) Change {
		t.Helper()
		c, err := f.Apply(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	apply(opened(0, 1, "a", "Al", 1))
	apply(opened(0, 2, "b", "Bo", 1))
	c := apply(bankEvent(0, 3, "AccountClosed", `"a"`, `{}`))
	if !c.Deleted || c.State() != nil || c.ID != "a" {
		t.Errorf("null state: Change %+v, State %s; want Deleted and a nil state", c, c.State())
	}
	if s, ok := f.Get("a"); !ok || s != nil {
		t.Errorf(`Get("a") = %s, %v; want a deleted aggregate`, s, ok)
	}
	got := map[string]json.RawMessage{}
	for id, s := range f.States() {
		got[id] = s
	}
	if s, ok := got["a"]; !ok || s != nil {
		t.Errorf("States()[a] = %s, %v; want a nil state: a tombstone", s, ok)
	}
	if f.Len() != 2 {
		t.Errorf("Len() = %d, want 2 (the deleted one counts: it is written as a tombstone)", f.Len())
	}

	// The next event of a deleted aggregate starts from the initial state.
	c = apply(opened(0, 4, "a", "Ann", 1))
	want := `{"count":1,"tags":[],"at":"2026-01-02T03:04:05Z","owner":"Ann"}`
	if diff := cmp.Diff(canonicalJSON(t, []byte(want)), canonicalJSON(t, c.State())); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
}

func TestFoldUnknownTypes(t *testing.T) {
	spec := "handlers:\n  AccountOpened: .event.owner\n"
	withdrawn := bankEvent(3, 17, "MoneyWithdrawn", `"a"`, `{"amount":"1.00"}`)

	_, err := parseSpec(t, spec).NewFold().Apply(t.Context(), withdrawn)
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, ErrUnknownType) {
		t.Fatalf("unknown type: error %v, want an *ApplyError wrapping ErrUnknownType", err)
	}
	want := `bank.account-events/3@17 (MoneyWithdrawn): no handler for the event type "MoneyWithdrawn" (have: AccountOpened); add a handler or set ignore-unknown: true in spec.yaml`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}

	tombstone := bankEvent(0, 5, "", `"a"`, "null")
	tombstone.Type, tombstone.ValueEncoding, tombstone.Schema = "", record.EncodingNull, nil
	_, err = parseSpec(t, spec).NewFold().Apply(t.Context(), tombstone)
	if err == nil || !strings.Contains(err.Error(), "the record is a tombstone; set ignore-unknown: true") {
		t.Errorf("tombstone: error %v", err)
	}

	f, states := foldAll(t, parseSpec(t, "ignore-unknown: true\n"+spec), opened(0, 1, "a", "Al", 1), withdrawn, tombstone)
	if diff := cmp.Diff(map[string]any{"a": "Al"}, states); diff != "" {
		t.Errorf("ignore-unknown: states (-want +got):\n%s", diff)
	}
	c, err := f.Apply(t.Context(), withdrawn)
	if err != nil || !c.Skipped || c.Type != "MoneyWithdrawn" || c.ID != "" || c.State() != nil {
		t.Errorf("ignore-unknown: Change %+v, %v; want Skipped", c, err)
	}
}

func TestFoldIDAndTypeExpressions(t *testing.T) {
	p := parseSpec(t, `
id: .value.accountId
type: .headers["event-type"] | ascii_downcase
handlers:
  accountopened: .event.owner
  moneydeposited: '"\(.state) +\(.event.amount)"'
`)
	r := deposited(1, 2, "acct-7", "5.00", 2)
	r.Key, r.KeyEncoding = json.RawMessage("null"), record.EncodingNull
	_, states := foldAll(t, p, opened(0, 1, "acct-7", "Al", 1), r)
	if diff := cmp.Diff(map[string]any{"acct-7": "Al +5.00"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}

	// Numbers are ids too, written as jq writes them.
	p = parseSpec(t, "id: .value.n\nhandlers:\n  AccountOpened: .record.offset\n")
	_, states = foldAll(t, p,
		bankEvent(0, 1, "AccountOpened", `"k"`, `{"n":42}`),
		bankEvent(0, 2, "AccountOpened", `"k"`, `{"n":12345678901234567890}`),
		bankEvent(0, 3, "AccountOpened", `"k"`, `{"n":1.5}`))
	want := map[string]any{"42": json.Number("1"), "12345678901234567890": json.Number("2"), "1.5": json.Number("3")}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("number ids (-want +got):\n%s", diff)
	}

	for _, tt := range []struct{ spec, value, want string }{
		{"id: .value.id\nhandlers:\n  AccountOpened: .state\n", `{"id":null}`, `bank.account-events/0@1 (AccountOpened): id (spec.yaml:1): the aggregate id must be a string, a number, an object or an array, got null`},
		{"id: .value.id[]\nhandlers:\n  AccountOpened: .state\n", `{"id":["a","b"]}`, `id (spec.yaml:1): more than one output: "a", then "b"`},
		{"type: .value.t\nhandlers:\n  AccountOpened: .state\n", `{"t":1}`, `type (spec.yaml:1): the event type must be a string, got number 1`},
		{"handlers:\n  AccountOpened: .state\n", `{"a":`, `bank.account-events/0@1 (AccountOpened): record value: unexpected EOF`},
	} {
		_, err := parseSpec(t, tt.spec).NewFold().Apply(t.Context(), bankEvent(0, 1, "AccountOpened", `"k"`, tt.value))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s on %s: error %v, want %q", strings.TrimSpace(tt.spec), tt.value, err, tt.want)
		}
	}
}

// A JSON key (an object) is an id as the default .key, written as diff
// writes keys: compact, members sorted.
func TestFoldObjectKeys(t *testing.T) {
	p := parseSpec(t, "type: .value.kind\nhandlers:\n  placed: .event.total\n")
	r := bankEvent(0, 1, "", `{"tenant":"t1","orderId":"o-9"}`, `{"kind":"placed","total":12}`)
	r.KeyEncoding, r.ValueEncoding, r.Schema = record.EncodingJSON, record.EncodingJSON, nil
	_, states := foldAll(t, p, r)
	if diff := cmp.Diff(map[string]any{`{"orderId":"o-9","tenant":"t1"}`: json.Number("12")}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// A source tombstone has no event to take a type from: with type: set it
// is untyped, as with the default type, and ignore-unknown skips it.
func TestFoldTombstoneWithTypeExpression(t *testing.T) {
	tombstone := bankEvent(0, 2, "", `"o-1"`, "null")
	tombstone.Type, tombstone.ValueEncoding, tombstone.Schema = "", record.EncodingNull, nil
	placed := bankEvent(0, 1, "", `"o-1"`, `{"kind":"placed"}`)
	placed.Type, placed.ValueEncoding, placed.Schema = "", record.EncodingJSON, nil

	const spec = "type: .value.kind\nhandlers:\n  placed: '{open: true}'\n"
	f, states := foldAll(t, parseSpec(t, "ignore-unknown: true\n"+spec), placed, tombstone)
	if diff := cmp.Diff(map[string]any{"o-1": map[string]any{"open": true}}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if c, err := f.Apply(t.Context(), tombstone); err != nil || !c.Skipped || c.Type != "" {
		t.Errorf("tombstone: Change %+v, %v; want Skipped and untyped", c, err)
	}
	_, err := parseSpec(t, spec).NewFold().Apply(t.Context(), tombstone)
	if err == nil || !strings.Contains(err.Error(), "the record is a tombstone; set ignore-unknown: true") {
		t.Errorf("without ignore-unknown: error %v, want the tombstone's", err)
	}
	// A type the expression does find (a header, say) still has its handler.
	withHeader := parseSpec(t, "type: .headers[\"event-type\"]\nhandlers:\n  OrderDeleted: 'null'\n")
	tombstone.Headers = []record.Header{{Key: "event-type", Value: "OrderDeleted"}}
	if c, err := withHeader.NewFold().Apply(t.Context(), tombstone); err != nil || !c.Deleted {
		t.Errorf("typed tombstone: Change %+v, %v; want Deleted", c, err)
	}
}

func TestProjectionExpressions(t *testing.T) {
	p := parseSpec(t, "id: .value.orderId\ntype: .value.kind\nversion: .value.seq\nhandlers:\n  A: .state\n")
	if p.IDExpr() != ".value.orderId" || p.TypeExpr() != ".value.kind" || p.VersionExpr() != ".value.seq" {
		t.Errorf("expressions %q %q %q", p.IDExpr(), p.TypeExpr(), p.VersionExpr())
	}
	p = parseSpec(t, "id: .key\nhandlers:\n  A: .state\n")
	if p.IDExpr() != "" || p.TypeExpr() != "" || p.VersionExpr() != "" {
		t.Errorf("defaults: expressions %q %q %q, want none", p.IDExpr(), p.TypeExpr(), p.VersionExpr())
	}
}

func TestFoldHandlerErrorsNameTheRecord(t *testing.T) {
	p := parseSpec(t, `name: balances
handlers:
  AccountOpened: '{balance: 0}'
  MoneyDeposited: |
    .event.amount as $amount
    | .state
    | .balance += $amount
  MoneyWithdrawn: empty
  AccountClosed: .state, .state
`)
	f := p.NewFold()
	if _, err := f.Apply(t.Context(), opened(3, 16, "acct-0042", "Al", 1)); err != nil {
		t.Fatal(err)
	}
	_, err := f.Apply(t.Context(), deposited(3, 17, "acct-0042", "1.00", 2))
	want := `bank.account-events/3@17 (MoneyDeposited "acct-0042"): handler MoneyDeposited (spec.yaml:5): cannot add: number (0) and string ("1.00")`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Offset != 17 || ae.Partition != 3 || ae.Program != "handler MoneyDeposited" || ae.Line != 5 || ae.ID != "acct-0042" {
		t.Errorf("ApplyError = %+v", ae)
	}
	// The fold is as it was before the failed record.
	if s, _ := f.Get("acct-0042"); string(s) != `{"balance":0}` {
		t.Errorf("state after a failed record = %s, want it unchanged", s)
	}

	_, err = f.Apply(t.Context(), bankEvent(3, 18, "MoneyWithdrawn", `"acct-0042"`, `{}`))
	if err == nil || !strings.Contains(err.Error(), "handler MoneyWithdrawn (spec.yaml:8): no output (empty)") {
		t.Errorf("empty handler: %v", err)
	}
	_, err = f.Apply(t.Context(), bankEvent(3, 19, "AccountClosed", `"acct-0042"`, `{}`))
	if err == nil || !strings.Contains(err.Error(), "handler AccountClosed (spec.yaml:9): more than one output") {
		t.Errorf("two outputs: %v", err)
	}
	bad := opened(3, 20, "acct-0042", "Al", 1)
	bad.Error = "value: unknown schema id 99"
	_, err = f.Apply(t.Context(), bad)
	if err == nil || err.Error() != "bank.account-events/3@20: undecodable record: value: unknown schema id 99" {
		t.Errorf("undecodable record: %v", err)
	}
}

// TestProjectionReadsRecord: a spec reads the record view through an id
// or type expression, or a handler (or the defs) that names record.
func TestProjectionReadsRecord(t *testing.T) {
	for spec, want := range map[string]bool{
		"handlers:\n  A: .event\n":                            false,
		"handlers:\n  A: .state + .event.n\n":                 false,
		"id: .value.accountId\nhandlers:\n  A: .event\n":      true,
		"type: .value.kind\nhandlers:\n  A: .event\n":         true,
		"handlers:\n  A: .event\n  B: .record.headers\n":      true,
		"defs: 'def h: .record.offset;'\nhandlers:\n  A: h\n": true,
	} {
		if got := parseSpec(t, spec).ReadsRecord(); got != want {
			t.Errorf("ReadsRecord = %v, want %v, for\n%s", got, want, spec)
		}
	}
	// The sandbox's spec writes the default id out: its folds skip the headers.
	if p, err := LoadProjection(accountBalanceSpec); err != nil || p.ReadsRecord() {
		t.Errorf("account-balance.yaml: ReadsRecord = %v (%v), want false", p != nil && p.ReadsRecord(), err)
	}
}

// TestFoldRecordView: handlers that name record see what filters see.
func TestFoldRecordView(t *testing.T) {
	p := parseSpec(t, `
handlers:
  AccountOpened: |
    {topic: .record.topic, at: "\(.record.partition)@\(.record.offset)", ts: .record.timestamp,
     h: .record.headers["event-id"], n: (.record.headerList | length), key: .record.key,
     schema: .record.schema.subject, same: (.record.value == .event)}
`)
	_, states := foldAll(t, p, opened(4, 9, "acct-1", "Al", 1))
	want := map[string]any{"topic": "bank.account-events", "at": "4@9", "ts": "2026-11-20T09:14:03.250Z", "h": "e-AccountOpened",
		"n": json.Number("2"), "key": "acct-1", "schema": "bank.account-events-value", "same": true}
	if diff := cmp.Diff(map[string]any{"acct-1": want}, states); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParallelFold(t *testing.T) {
	p := parseSpec(t, "handlers:\n  AccountOpened: '(.state // 0) + 1'\n  MoneyDeposited: .state + (.event.amount | tonumber)\n")
	var records []*record.Record
	for i := range 2000 {
		id := "acct-" + itoa(i%37)
		records = append(records, opened(int32(i%5), int64(i), id, "x", 1))
	}
	bad := deposited(2, 9999, "acct-3", "oops", 2)

	t.Run("equals Fold", func(t *testing.T) {
		_, want := foldAll(t, p, records...)
		pf := p.NewParallelFold(t.Context(), 4, nil)
		for _, r := range records {
			if err := pf.Apply(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := pf.Close(); err != nil {
			t.Fatal(err)
		}
		got := map[string]any{}
		for id, s := range pf.States() {
			got[id] = canonicalJSON(t, s)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-Fold +ParallelFold):\n%s", diff)
		}
		if pf.Len() != 37 {
			t.Errorf("Len() = %d, want 37", pf.Len())
		}
		if err := pf.Apply(records[0]); err == nil {
			t.Error("Apply after Close: no error")
		}
	})

	t.Run("stops at the first failure", func(t *testing.T) {
		pf := p.NewParallelFold(t.Context(), 2, nil)
		var err error
		for _, r := range append(append(records[:10:10], bad), records...) {
			if err = pf.Apply(r); err != nil {
				break
			}
		}
		closeErr := pf.Close()
		var ae *ApplyError
		if !errors.As(closeErr, &ae) || ae.Offset != 9999 {
			t.Fatalf("Close() = %v, want the failed record's ApplyError", closeErr)
		}
		if err != nil && !errors.Is(closeErr, err) {
			t.Errorf("Apply() = %v, Close() = %v: want the same error", err, closeErr)
		}
	})

	t.Run("reports the failure first by partition and offset", func(t *testing.T) {
		// The stream meets 4@3 long before 1@500 and 1@700: whichever worker
		// fails first, the fold reports 1@500, run after run.
		late := deposited(4, 3, "acct-5", "oops", 2)
		first := deposited(1, 500, "acct-6", "oops", 2)
		again := deposited(1, 700, "acct-6", "oops", 2)
		stream := slices.Concat([]*record.Record{late}, records, []*record.Record{first, again})
		for range 20 {
			pf := p.NewParallelFold(t.Context(), 4, nil)
			for _, r := range stream {
				if err := pf.Apply(r); err != nil {
					t.Fatalf("Apply() = %v: a failure must not stop the records before it", err)
				}
			}
			var ae *ApplyError
			if err := pf.Close(); !errors.As(err, &ae) || ae.Partition != 1 || ae.Offset != 500 {
				t.Fatalf("Close() = %v, want the failure at 1@500", err)
			}
		}
	})

	t.Run("onError skips", func(t *testing.T) {
		var mu sync.Mutex
		var skipped []error
		pf := p.NewParallelFold(t.Context(), 3, func(err error) error {
			mu.Lock()
			defer mu.Unlock()
			skipped = append(skipped, err)
			return nil
		})
		for _, r := range append(records[:100:100], bad) {
			if err := pf.Apply(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := pf.Close(); err != nil {
			t.Fatal(err)
		}
		if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "bank.account-events/2@9999") {
			t.Errorf("skipped %v, want the one bad record", skipped)
		}
	})

	t.Run("an id expression across partitions is caught", func(t *testing.T) {
		p := parseSpec(t, "id: .value.accountId\nhandlers:\n  AccountOpened: '(.state // 0) + 1'\n")
		pf := p.NewParallelFold(t.Context(), 8, nil)
		for part := range int32(16) {
			if err := pf.Apply(opened(part, 1, "acct-1", "x", 1)); err != nil {
				t.Fatal(err)
			}
		}
		err := pf.Close()
		if err == nil || !strings.Contains(err.Error(), `aggregate "acct-1" has events in partitions folded by workers`) {
			t.Errorf("Close() = %v, want the aggregate found in two shards", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		pf := p.NewParallelFold(ctx, 2, nil)
		cancel()
		for _, r := range records {
			if pf.Apply(r) != nil {
				break
			}
		}
		if err := pf.Close(); !errors.Is(err, context.Canceled) {
			t.Errorf("Close() after cancel = %v, want context.Canceled", err)
		}
	})
}

func TestKeyShard(t *testing.T) {
	for key, want := range map[string]string{`"acct-1"`: "acct-1", `"a\"b"`: `a"b`, `"\u00e9"`: "é", `42`: "42",
		// One object key, its members in two orders: one shard.
		`{"tenant":"t1","cart":"c-1"}`: `{"cart":"c-1","tenant":"t1"}`, `{"cart": "c-1", "tenant": "t1"}`: `{"cart":"c-1","tenant":"t1"}`} {
		if got := keyShard(json.RawMessage(key)); got != want {
			t.Errorf("keyShard(%s) = %q, want %q", key, got, want)
		}
	}
}

func TestFoldSkippedTypesAndNothingMatched(t *testing.T) {
	p := parseSpec(t, "ignore-unknown: true\nhandlers:\n  Opened: .event\n  Closed: .state\n")
	records := []*record.Record{deposited(0, 1, "a", "1.00", 1), deposited(0, 2, "a", "2.00", 2), bankEvent(0, 3, "MoneyWithdrawn", `"a"`, `{}`)}
	f, _ := foldAll(t, p, records...)
	want := map[string]int64{"MoneyDeposited": 2, "MoneyWithdrawn": 1}
	if diff := cmp.Diff(want, f.SkippedTypes()); diff != "" {
		t.Errorf("skipped types (-want +got):\n%s", diff)
	}
	if got, want := p.NothingMatched(3, f.SkippedTypes()), `no event had a type spec.yaml handles: its types were "MoneyDeposited", "MoneyWithdrawn", its handlers are for Closed, Opened; check type: (now the record type's short name)`; got != want {
		t.Errorf("NothingMatched:\n%s\nwant:\n%s", got, want)
	}
	if got := p.NothingMatched(4, f.SkippedTypes()); got != "" {
		t.Errorf("NothingMatched with an event folded = %q, want none", got)
	}
	if got := p.NothingMatched(0, nil); !strings.Contains(got, "there were no events") {
		t.Errorf("NothingMatched of nothing = %q", got)
	}

	pf := foldParallel(t, p, 3, records...)
	if diff := cmp.Diff(want, pf.SkippedTypes()); diff != "" {
		t.Errorf("parallel skipped types (-want +got):\n%s", diff)
	}
}

// Events without a type (tombstones, values without a schema type) are
// named as such, not as a type called "".
func TestSkippedTypesNote(t *testing.T) {
	for _, tt := range []struct {
		skipped map[string]int64
		want    string
	}{
		{nil, ""},
		{map[string]int64{"B": 2, "A": 1}, `the projection ignores event types it has no handler for: "A" (1), "B" (2)`},
		{map[string]int64{"": 1, "InterestAccrued": 3}, `the projection ignores event types it has no handler for: "InterestAccrued" (3); and 1 event without a type (tombstones, values without a schema type)`},
		{map[string]int64{"": 2}, `the projection ignores 2 events without a type (tombstones, values without a schema type)`},
	} {
		if got := SkippedTypesNote(tt.skipped); got != tt.want {
			t.Errorf("SkippedTypesNote(%v):\n%s\nwant:\n%s", tt.skipped, got, tt.want)
		}
	}
}

// Skipped names the first records by position, whatever order they come in.
func TestSkipped(t *testing.T) {
	s := NewSkipped(2)
	for _, at := range []struct {
		p int32
		o int64
	}{{1, 5}, {0, 9}, {1, 2}, {0, 3}, {2, 0}} {
		s.Add(&ApplyError{Topic: "t", Partition: at.p, Offset: at.o, Err: errors.New("boom")})
	}
	s.Add(errors.New("not an ApplyError"))
	var got []string
	for _, e := range s.First() {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff([]string{"t/0@3: boom", "t/0@9: boom"}, got); diff != "" || s.Len() != 6 {
		t.Errorf("Len %d, first (-want +got):\n%s", s.Len(), diff)
	}
}

// A final state is as old as the last event folded into it, in a Fold and
// in a ParallelFold alike.
func TestFoldTimestampIsTheLastEvents(t *testing.T) {
	p := parseSpec(t, "handlers:\n  AccountOpened: .event.owner\n  MoneyDeposited: .state\n")
	at := func(r *record.Record, hour int) *record.Record {
		r.Timestamp.Time = time.Date(2026, 11, 20, hour, 0, 0, 0, time.UTC)
		return r
	}
	records := []*record.Record{
		at(opened(0, 1, "a", "Al", 1), 9), at(opened(1, 1, "b", "Bo", 1), 10),
		at(deposited(0, 2, "a", "1.00", 2), 11), at(deposited(1, 2, "b", "2.00", 2), 8),
	}
	want := map[string]time.Time{
		"a": time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC),
		"b": time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), // the last folded, not the latest
		"z": {},
	}
	f, _ := foldAll(t, p, records...)
	pf := foldParallel(t, p, 3, records...)
	for id, w := range want {
		if got := f.Timestamp(id); !got.Equal(w) {
			t.Errorf("Fold.Timestamp(%q) = %v, want %v", id, got, w)
		}
		if got := pf.Timestamp(id); !got.Equal(w) {
			t.Errorf("ParallelFold.Timestamp(%q) = %v, want %v", id, got, w)
		}
	}
}

// A fold names the aggregates whose events came from two partitions of a
// topic, the first few by id, and counts them all; two topics are not a
// split (a projection may fold several).
func TestFoldSplitAggregates(t *testing.T) {
	p := parseSpec(t, "handlers:\n  MoneyDeposited: '.state'\n")
	var records []*record.Record
	for i := range 8 {
		id := fmt.Sprintf("a%d", 8-i) // ids in reverse: First is by id, not by arrival
		records = append(records, deposited(0, int64(2*i), id, "1.00", 1), deposited(1, int64(i), id, "1.00", 2), deposited(0, int64(2*i+1), id, "1.00", 3))
	}
	records = append(records, deposited(0, 100, "one", "1.00", 1), deposited(0, 101, "one", "1.00", 2))
	other := deposited(3, 0, "t", "1.00", 1)
	other.Topic = "bank.other-events"
	records = append(records, deposited(0, 102, "t", "1.00", 1), other)

	want := SplitAggregates{N: 8, First: []SplitAggregate{
		{ID: "a1", Topic: "bank.account-events", Partitions: [2]int32{0, 1}}, {ID: "a2", Topic: "bank.account-events", Partitions: [2]int32{0, 1}},
		{ID: "a3", Topic: "bank.account-events", Partitions: [2]int32{0, 1}}, {ID: "a4", Topic: "bank.account-events", Partitions: [2]int32{0, 1}},
		{ID: "a5", Topic: "bank.account-events", Partitions: [2]int32{0, 1}},
	}}
	f, _ := foldAll(t, p, records...)
	if diff := cmp.Diff(want, f.Split()); diff != "" {
		t.Errorf("Fold.Split (-want +got):\n%s", diff)
	}
	pf := foldParallel(t, p, 3, records...)
	if diff := cmp.Diff(want, pf.Split()); diff != "" {
		t.Errorf("ParallelFold.Split (-want +got):\n%s", diff)
	}
	if got := want.Warning(); !strings.HasPrefix(got, `8 aggregates with events on more than one partition: "a1" (bank.account-events partitions 0 and 1), `) ||
		!strings.Contains(got, `"a5" (bank.account-events partitions 0 and 1) and 3 more; nothing orders`) {
		t.Errorf("Warning() = %s", got)
	}
	if got := (SplitAggregates{}).Warning(); got != "" {
		t.Errorf("no split: Warning() = %q", got)
	}
}
