package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/evctl/evctl/internal/record"
)

// events is a Source over literal events: "key=json" ("key=" is a
// tombstone), partition 0, offsets in order.
type events struct {
	name string
	evs  []Event
}

func src(name string, kvs ...string) *events {
	s := &events{name: name}
	for i, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		e := Event{Key: k, KeyEncoding: record.EncodingText, Offset: int64(i)}
		if v != "" {
			e.Value = json.RawMessage(v)
		}
		s.evs = append(s.evs, e)
	}
	return s
}

func (s *events) Name() string { return s.name }
func (s *events) Scan(ctx context.Context, yield func(*Event) error) error {
	for i := range s.evs {
		e := s.evs[i]
		if err := yield(&e); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func TestCompareState(t *testing.T) {
	tests := []struct {
		name    string
		a, b    []string
		ignore  []string
		added   []string
		removed []string
		changed map[string][]Field
	}{
		{name: "same", a: []string{`k1={"x":1}`}, b: []string{`k1={"x":1}`}},
		{name: "member order and number spelling do not count",
			a: []string{`k1={"x":1,"y":[1.50,"a"],"z":{"p":true,"q":null}}`},
			b: []string{`k1={"z":{"q":null,"p":true},"y":[15e-1,"\u0061"],"x":1.0}`}},
		{name: "added removed changed",
			a:       []string{`k1={"x":1}`, `k2={"x":2}`, `k3={"balance":"120.00","a":{"b":[1,2,3]}}`},
			b:       []string{`k1={"x":1}`, `k3={"balance":"95.00","a":{"b":[1,2,4]}}`, `k4={"x":4}`},
			added:   []string{"k4"},
			removed: []string{"k2"},
			changed: map[string][]Field{"k3": {
				{Path: ".a.b[2]", A: json.RawMessage(`3`), B: json.RawMessage(`4`)},
				{Path: ".balance", A: json.RawMessage(`"120.00"`), B: json.RawMessage(`"95.00"`)},
			}}},
		{name: "latest value wins; a tombstone deletes",
			a:       []string{`k1={"x":1}`, `k1={"x":2}`, `k2={"x":1}`, `k2=`},
			b:       []string{`k1={"x":2}`, `k2={"x":1}`, `k3={"x":1}`, `k3=`},
			added:   []string{"k2"},
			removed: nil},
		{name: "ignored paths",
			a:      []string{`k1={"x":1,"updatedAt":"a","items":[{"at":1,"n":1}]}`},
			b:      []string{`k1={"x":1,"updatedAt":"b","items":[{"at":2,"n":1}]}`},
			ignore: []string{".updatedAt", ".value.items[].at"}},
		{name: "fields present on one side",
			a:       []string{`k1={"x":1,"gone":true}`},
			b:       []string{`k1={"x":1,"new":{"a":1},"odd key":2}`},
			changed: map[string][]Field{"k1": {{Path: ".gone", A: json.RawMessage(`true`)}, {Path: ".new", B: json.RawMessage(`{"a":1}`)}, {Path: `.["odd key"]`, B: json.RawMessage(`2`)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts Options
			for _, p := range tt.ignore {
				if err := opts.AddIgnore(p); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Compare(context.Background(), src("a", tt.a...), src("b", tt.b...), opts)
			if err != nil {
				t.Fatal(err)
			}
			var added, removed []string
			for _, e := range r.Added {
				added = append(added, e.Key.Text)
			}
			for _, e := range r.Removed {
				removed = append(removed, e.Key.Text)
			}
			changed := map[string][]Field{}
			for _, c := range r.Changed {
				changed[c.Key.Text] = c.Fields
			}
			if tt.changed == nil {
				tt.changed = map[string][]Field{}
			}
			if d := cmp.Diff(tt.added, added); d != "" {
				t.Errorf("added (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.removed, removed); d != "" {
				t.Errorf("removed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.changed, changed); d != "" {
				t.Errorf("changed (-want +got):\n%s", d)
			}
			wantSame := len(tt.added)+len(tt.removed)+len(tt.changed) == 0
			if r.Equal != wantSame {
				t.Errorf("Same = %v, want %v", r.Equal, wantSame)
			}
		})
	}
}

func TestCompareStatSkipsSecondPass(t *testing.T) {
	a := &countingSource{events: src("a", `k1={"x":1}`, `k2={"x":1}`)}
	r, err := Compare(context.Background(), a, src("b", `k1={"x":2}`), Options{Stat: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.scans != 1 {
		t.Errorf("scanned a %d times, want 1", a.scans)
	}
	want := Counts{A: 2, B: 1, Removed: 1, Changed: 1}
	if d := cmp.Diff(want, r.Counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
}

type countingSource struct {
	*events
	scans int
}

func (s *countingSource) Scan(ctx context.Context, yield func(*Event) error) error {
	s.scans++
	return s.events.Scan(ctx, yield)
}

func TestCompareKeyEncodings(t *testing.T) {
	a := src("a", `acct-1={"x":1}`)
	b := src("b", `{"id":"acct-1"}={"x":1}`)
	b.evs[0].KeyEncoding = record.EncodingAvro
	_, err := Compare(context.Background(), a, b, Options{})
	var kerr *KeyEncodingError
	if !errors.As(err, &kerr) {
		t.Fatalf("err = %v, want a *KeyEncodingError", err)
	}
	if !strings.Contains(err.Error(), `a has text keys (e.g. "acct-1"), b has avro keys`) {
		t.Errorf("err = %v", err)
	}
	// Different encodings with keys in common: a note, then a comparison.
	b = src("b", `acct-1={"x":1}`)
	b.evs[0].KeyEncoding = record.EncodingJSON
	r, err := Compare(context.Background(), a, b, Options{})
	if err != nil || !r.Equal || len(r.Notes) != 1 {
		t.Errorf("Compare = %+v, %v; want same with one note", r, err)
	}
}

func TestHashValue(t *testing.T) {
	same := [][2]string{
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`},
		{`120.00`, `1.2e2`},
		{`-0.0`, `0`},
		{`"A"`, `"\u0041"`},
		{` [1, 2] `, `[1,2]`},
	}
	for _, p := range same {
		ha, err1 := HashValue([]byte(p[0]), nil)
		hb, err2 := HashValue([]byte(p[1]), nil)
		if err1 != nil || err2 != nil || ha != hb {
			t.Errorf("HashValue(%s) != HashValue(%s) (%v, %v)", p[0], p[1], err1, err2)
		}
	}
	differ := [][2]string{{`[1,2]`, `[2,1]`}, {`"1"`, `1`}, {`{"a":{}}`, `{"a":[]}`}, {`{"a":1,"b":1}`, `{"a":1}`}, {`null`, `false`}, {`12`, `1.2`}}
	for _, p := range differ {
		ha, _ := HashValue([]byte(p[0]), nil)
		hb, _ := HashValue([]byte(p[1]), nil)
		if ha == hb {
			t.Errorf("HashValue(%s) == HashValue(%s)", p[0], p[1])
		}
	}
	for _, bad := range []string{`{"a":}`, `{"a":1`, `[1,]`, `"x`, `01`, `{"a" 1}`, `nul`, `1 2`} {
		if _, err := HashValue([]byte(bad), nil); err == nil {
			t.Errorf("HashValue(%s) = nil error, want one", bad)
		}
	}
}

func TestParsePath(t *testing.T) {
	for in, want := range map[string]string{".a.b[2]": ".a.b[2]", `.["a b"].c`: `.["a b"].c`, `."a b"`: `.["a b"]`, ".a[]": ".a[]", ".": "."} {
		p, err := ParsePath(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePath(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"a", ".a.", ".a[x]", ".[", `."a`} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) = nil error", bad)
		}
	}
}

func TestAddIgnore(t *testing.T) {
	var o Options
	for _, p := range []string{".value.updatedAt", ".updatedAt", `.headers["trace-id"]`, ".type", ".timestamp", ".timestampType", ".rawValue"} {
		if err := o.AddIgnore(p); err != nil {
			t.Fatalf("AddIgnore(%s): %v", p, err)
		}
	}
	if len(o.IgnoreValue) != 2 || o.IgnoreValue[0].String() != ".updatedAt" || o.IgnoreValue[1].String() != ".updatedAt" ||
		!o.IgnoreType || len(o.IgnoreHeaderKeys) != 1 {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range []string{".key", ".value", ".", ".headers.a.b"} {
		if err := o.AddIgnore(bad); err == nil {
			t.Errorf("AddIgnore(%q) = nil error", bad)
		}
	}
}

// hist builds a history source: "key=value@type".
func hist(name string, kvs ...string) *events {
	s := src(name)
	for i, kv := range kvs {
		k, rest, _ := strings.Cut(kv, "=")
		v, typ, _ := strings.Cut(rest, "@")
		s.evs = append(s.evs, Event{Key: k, KeyEncoding: record.EncodingText, Value: json.RawMessage(v), Type: typ, Partition: 1, Offset: int64(i)})
	}
	return s
}

func TestCompareHistory(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		opts Options
		want []EventChange
	}{
		{name: "same",
			a: []string{`k={"n":1}@Opened`, `k={"n":2}@Deposited`},
			b: []string{`k={"n":1}@Opened`, `k={"n":2}@Deposited`}},
		{name: "missing",
			a:    []string{`k={"n":1}@Opened`, `k={"n":2}@Deposited`, `k={"n":3}@Deposited`},
			b:    []string{`k={"n":1}@Opened`, `k={"n":3}@Deposited`},
			want: []EventChange{{Kind: Missing, A: "1@1", Type: "Deposited"}}},
		{name: "extra",
			a:    []string{`k={"n":1}@Opened`},
			b:    []string{`k={"n":1}@Opened`, `k={"n":9}@Withdrawn`},
			want: []EventChange{{Kind: Extra, B: "1@1", Type: "Withdrawn"}}},
		{name: "changed value",
			a: []string{`k={"n":1}@Opened`, `k={"n":2,"amount":"10.00"}@Deposited`, `k={"n":3}@Closed`},
			b: []string{`k={"n":1}@Opened`, `k={"n":2,"amount":"12.00"}@Deposited`, `k={"n":3}@Closed`},
			want: []EventChange{{Kind: Changed, A: "1@1", B: "1@1", Type: "Deposited",
				Fields: []Field{{Path: ".value.amount", A: json.RawMessage(`"10.00"`), B: json.RawMessage(`"12.00"`)}}}}},
		{name: "changed type only",
			a: []string{`k={"n":1}@Opened`},
			b: []string{`k={"n":1}@Created`},
			want: []EventChange{{Kind: Changed, A: "1@0", B: "1@0", Type: "Opened → Created",
				Fields: []Field{{Path: ".type", A: json.RawMessage(`"Opened"`), B: json.RawMessage(`"Created"`)}}}}},
		{name: "values only ignores the type",
			a:    []string{`k={"n":1}@Opened`},
			b:    []string{`k={"n":1}@Created`},
			opts: Options{ValuesOnly: true}},
		{name: "reordered",
			a:    []string{`k={"n":1}@Opened`, `k={"n":2}@Deposited`, `k={"n":3}@Withdrawn`, `k={"n":4}@Closed`},
			b:    []string{`k={"n":1}@Opened`, `k={"n":3}@Withdrawn`, `k={"n":2}@Deposited`, `k={"n":4}@Closed`},
			want: []EventChange{{Kind: Reordered, A: "1@1", B: "1@2", Type: "Deposited"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Mode = ModeHistory
			r, err := Compare(context.Background(), hist("a", tt.a...), hist("b", tt.b...), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []EventChange
			for _, c := range r.Changed {
				got = append(got, c.Events...)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if r.Equal != (len(tt.want) == 0) {
				t.Errorf("Same = %v", r.Equal)
			}
		})
	}
}

func TestCompareHistoryHeaders(t *testing.T) {
	a := hist("a", `k={"n":1}@Opened`)
	b := hist("b", `k={"n":1}@Opened`)
	a.evs[0].Headers = []record.Header{{Key: "event-id", Value: "e1"}, {Key: "trace", Value: "x"}}
	b.evs[0].Headers = []record.Header{{Key: "event-id", Value: "e1"}, {Key: "trace", Value: "y"}}
	r, err := Compare(context.Background(), a, b, Options{Mode: ModeHistory})
	if err != nil || r.Equal || len(r.Changed) != 1 {
		t.Fatalf("Compare = %+v, %v", r, err)
	}
	want := []Field{{Path: `.headers["trace"]`, A: json.RawMessage(`"x"`), B: json.RawMessage(`"y"`)}}
	if d := cmp.Diff(want, r.Changed[0].Events[0].Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	for _, o := range []Options{{IgnoreHeaders: true}, {IgnoreHeaderKeys: []string{"trace"}}, {ValuesOnly: true}} {
		o.Mode = ModeHistory
		if r, err := Compare(context.Background(), a, b, o); err != nil || !r.Equal {
			t.Errorf("Compare with %+v = %+v, %v; want same", o, r, err)
		}
	}
}

func TestCaptureSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	lines := `{"topic":"t","partition":2,"offset":7,"timestamp":"2026-11-20T12:00:00.000Z","key":"acct-1","value":{"b":1,"a":"x"},"headers":[{"key":"h","value":"v"}],"type":"com.bank.Opened","keyEncoding":"text","valueEncoding":"json"}

{"key":"acct-2","value":null,"keyEncoding":"text","valueEncoding":"null"}
{"key":"acct-3","value":{"c":3}}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Event
	s := &CaptureSource{Path: path, Headers: true}
	err := s.Scan(context.Background(), func(e *Event) error {
		c := *cloneEvent(e)
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Key: "acct-1", KeyEncoding: "text", Value: json.RawMessage(`{"b":1,"a":"x"}`), Type: "com.bank.Opened", Headers: []record.Header{{Key: "h", Value: "v"}}, Partition: 2, Offset: 7},
		{Key: "acct-2", KeyEncoding: "text", Headers: []record.Header{}},
		{Key: "acct-3", Value: json.RawMessage(`{"c":3}`), Headers: []record.Header{}},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Event{}), cmpopts.IgnoreFields(Event{}, "KeyJSON"), cmp.Comparer(func(a, b []record.Header) bool {
		return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b)
	})); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}

	// A malformed line names its line.
	if err := os.WriteFile(path, []byte(lines+`{"key":"acct-4","value":{"x":}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = s.Scan(context.Background(), func(*Event) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), path+":5: not a capture record: ") {
		t.Errorf("Scan = %v, want an error naming line 5", err)
	}
}

// kcat -J lines are read as what they are: payload is the value (null a
// tombstone), key and payload are the record's bytes as strings, headers a
// flat array; a line with neither value nor payload is an error.
func TestCaptureSourceKcat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.jsonl")
	lines := `{"topic":"t","partition":1,"offset":3,"tstype":"create","ts":1794575559202,"broker":0,"headers":["event-id","e1","event-id","e2"],"key":"acct-1","payload":"{\"b\":1,\"a\":\"x\"}"}
{"topic":"t","partition":1,"offset":4,"tstype":"create","ts":1794575559203,"broker":0,"key":"acct-2","payload":null}
{"topic":"t","partition":2,"offset":0,"tstype":"create","ts":1794575559204,"broker":0,"key":"{\"id\":7}","payload":"plain text"}
{"topic":"t","partition":2,"offset":1,"tstype":"create","ts":1794575559205,"broker":0,"key":null,"payload":"42"}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Event
	s := &CaptureSource{Path: path, Headers: true}
	if err := s.Scan(context.Background(), func(e *Event) error {
		got = append(got, *cloneEvent(e))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Key: "acct-1", KeyEncoding: "text", Value: json.RawMessage(`{"b":1,"a":"x"}`), Headers: []record.Header{{Key: "event-id", Value: "e1"}, {Key: "event-id", Value: "e2"}}, Partition: 1, Offset: 3},
		{Key: "acct-2", KeyEncoding: "text", Partition: 1, Offset: 4},
		{Key: `{"id":7}`, KeyEncoding: "json", Value: json.RawMessage(`"plain text"`), Partition: 2, Offset: 0},
		{KeyEncoding: "null", Value: json.RawMessage(`42`), Partition: 2, Offset: 1},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Event{}), cmpopts.IgnoreFields(Event{}, "KeyJSON"), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}

	// A line with no value to compare is an error naming its line, not a
	// tombstone.
	if err := os.WriteFile(path, []byte(lines+`{"topic":"t","key":"acct-3"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Scan(context.Background(), func(*Event) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), path+`:5: the record has no "value" field`) {
		t.Errorf("Scan = %v, want an error naming line 5", err)
	}
}

func TestStatesSource(t *testing.T) {
	state := map[string]json.RawMessage{"a": json.RawMessage(`{"x":1}`), "b": json.RawMessage(`{"x":2}`)}
	seq := func() iter.Seq2[string, json.RawMessage] {
		return func(yield func(string, json.RawMessage) bool) {
			for _, k := range []string{"a", "b"} {
				if !yield(k, state[k]) {
					return
				}
			}
		}
	}
	r, err := Compare(context.Background(), States("rebuilt", seq), src("live", `a={"x":1}`, `b={"x":3}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, r, Plain{}); err != nil {
		t.Fatal(err)
	}
	want := `--- a: rebuilt
+++ b: live
~ b  b 0@1
    .x: 2 → 3
a: rebuilt (2 keys), b: live (2 keys): 0 added, 0 removed, 1 changed, 1 same
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("text (-want +got):\n%s", d)
	}
}

func TestCompareInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Compare(ctx, src("a", `k={"x":1}`), src("b", `k={"x":2}`), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// The JSON report holds keys as their JSON values, says equal once at the
// top (counts.same counts the keys that are), and carries its version.
func TestWriteJSONReport(t *testing.T) {
	a := &events{name: "a", evs: []Event{
		{Key: `{"id":7}`, KeyJSON: json.RawMessage(`{"id": 7}`), Value: json.RawMessage(`{"x":1}`)},
		{Key: "acct-1", KeyJSON: json.RawMessage(`"acct-1"`), Value: json.RawMessage(`{"x":1}`)},
		{Key: "42", KeyJSON: json.RawMessage(`42`), Value: json.RawMessage(`{"x":1}`), Offset: 2},
	}}
	b := &events{name: "b", evs: []Event{
		{Key: `{"id":7}`, KeyJSON: json.RawMessage(`{"id":7}`), Value: json.RawMessage(`{"x":2}`)},
		{Key: "acct-1", KeyJSON: json.RawMessage(`"acct-1"`), Value: json.RawMessage(`{"x":1}`)},
		{Key: "acct-2", Value: json.RawMessage(`{"x":1}`), Offset: 1},
	}}
	r, err := Compare(context.Background(), a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteJSON(&out, r, false); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["same"]; ok {
		t.Errorf("top-level \"same\" beside counts.same:\n%s", out.Bytes())
	}
	want := map[string]any{
		"version": float64(1), "mode": "state", "a": "a", "b": "b", "equal": false,
		"added":   []any{map[string]any{"key": "acct-2", "value": map[string]any{"x": float64(1)}, "at": "0@1"}},
		"removed": []any{map[string]any{"key": float64(42), "value": map[string]any{"x": float64(1)}, "at": "0@2"}},
		"changed": []any{map[string]any{"key": map[string]any{"id": float64(7)}, "atA": "0@0", "atB": "0@0",
			"fields": []any{map[string]any{"path": ".x", "a": float64(1), "b": float64(2)}}}},
		"counts": map[string]any{"a": float64(3), "b": float64(3), "same": float64(1), "added": float64(1), "removed": float64(1), "changed": float64(1)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
}

// docs/report-format.md documents the version the reports carry.
func TestReportFormatDocVersion(t *testing.T) {
	b, err := os.ReadFile("../../docs/report-format.md")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("# The diff report, version %d\n", ReportVersion)
	if !bytes.HasPrefix(b, []byte(want)) {
		t.Errorf("docs/report-format.md starts %q, want %q", bytes.SplitN(b, []byte("\n"), 2)[0], want)
	}
}

// Every top-level field of the JSON report has a row in
// docs/report-format.md's table.
func TestReportFormatDocFields(t *testing.T) {
	b, err := os.ReadFile("../../docs/report-format.md")
	if err != nil {
		t.Fatal(err)
	}
	rt := reflect.TypeFor[Report]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if !bytes.Contains(b, []byte("| `"+name+"`")) && !bytes.Contains(b, []byte(", `"+name+"`")) {
			t.Errorf("docs/report-format.md has no row for the report's field %q", name)
		}
	}
}

// A report details the first MaxChanges keys by key, counts every key,
// groups the changes keys share, and is the same whether pass 2 ran in one
// batch or many (a small memory budget).
func TestCompareCapsAndGroups(t *testing.T) {
	var as, bs []string
	for i := range 1000 {
		k := fmt.Sprintf("k%04d", i)
		as = append(as, fmt.Sprintf(`%s={"version":%d,"status":"open","n":%d}`, k, i, i))
		switch {
		case i%100 == 2:
			// removed: not on side b
		case i%2 == 0:
			bs = append(bs, fmt.Sprintf(`%s={"version":%d,"status":"closed","n":%d}`, k, i+1, i))
		default:
			bs = append(bs, fmt.Sprintf(`%s={"version":%d,"status":"open","n":%d}`, k, i+1, i))
		}
	}
	bs = append(bs, `k9999={"version":1}`)
	for _, budget := range []int64{0, 2 << 10} {
		for _, mode := range []Mode{ModeState, ModeHistory} {
			r, err := Compare(context.Background(), src("a", as...), src("b", bs...), Options{Mode: mode, MaxChanges: 5, MemoryBudget: budget})
			if err != nil {
				t.Fatal(err)
			}
			var shown []string
			for _, e := range r.Removed {
				shown = append(shown, "-"+e.Key.Text)
			}
			for _, e := range r.Added {
				shown = append(shown, "+"+e.Key.Text)
			}
			for _, c := range r.Changed {
				shown = append(shown, "~"+c.Key.Text)
			}
			slices.Sort(shown)
			if want := []string{"-k0002", "~k0000", "~k0001", "~k0003", "~k0004"}; !slices.Equal(shown, want) {
				t.Errorf("%s, budget %d: shown %v, want %v", mode, budget, shown, want)
			}
			if !r.Truncated || r.Counts.Changed != 990 || r.Counts.Removed != 10 || r.Counts.Added != 1 {
				t.Errorf("%s, budget %d: truncated %v, counts %+v; want truncated, 990 changed, 10 removed, 1 added", mode, budget, r.Truncated, r.Counts)
			}
			path := ".version"
			if mode == ModeHistory {
				path = ".value.version"
				if r.Counts.ChangedEv != 990 {
					t.Errorf("budget %d: %d changed events, want 990", budget, r.Counts.ChangedEv)
				}
			}
			wantGroups := []Group{{Path: path, Change: "+1", Count: 990}, {Path: strings.Replace(path, "version", "status", 1), Change: `"open" → "closed"`, Count: 490}}
			if d := cmp.Diff(wantGroups, r.Groups); d != "" {
				t.Errorf("%s, budget %d: groups (-want +got):\n%s", mode, budget, d)
			}
		}
	}
}

func TestChangeOf(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{`1`, `2`, "+1"},
		{`10`, `7`, "-3"},
		{`1.50`, `1.25`, "-0.25"},
		{`12345678901234567890`, `12345678901234567891`, "+1"},
		{`"open"`, `"closed"`, `"open" → "closed"`},
		{`1`, `"1"`, `1 → "1"`},
		{``, `1`, "added"},
		{`1`, ``, "removed"},
	} {
		var a, b json.RawMessage
		if tt.a != "" {
			a = json.RawMessage(tt.a)
		}
		if tt.b != "" {
			b = json.RawMessage(tt.b)
		}
		if got := changeOf(a, b); got != tt.want {
			t.Errorf("changeOf(%s, %s) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

// A state held in memory knows its keys as text only: a changed key's JSON
// comes from the other side (verify's rebuilt 42 is the read model's 42).
func TestChangedKeyJSONFromEitherSide(t *testing.T) {
	rebuilt := States("rebuilt", func() iter.Seq2[string, json.RawMessage] {
		return func(yield func(string, json.RawMessage) bool) { yield("42", json.RawMessage(`{"x":1}`)) }
	})
	rm := &events{name: "rm", evs: []Event{{Key: "42", KeyJSON: json.RawMessage(`42`), KeyEncoding: record.EncodingJSON, Value: json.RawMessage(`{"x":2}`)}}}
	r, err := Compare(context.Background(), rebuilt, rm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changed) != 1 {
		t.Fatalf("changed %v, want key 42", r.Changed)
	}
	if b, _ := json.Marshal(r.Changed[0].Key); string(b) != `42` {
		t.Errorf("key as JSON = %s, want 42", b)
	}
}

// Pass 2 reads back differing keys only, each in exactly one batch (a
// bench of 1M keys with 300 differences peaked at 935 MB when every key
// was read back).
func TestBatchKeys(t *testing.T) {
	differs := map[uint64]bool{1: false, 2: true, 3: true, 10: false}
	for _, n := range []int{1, 3} {
		got := map[uint64]int{}
		for i := range n {
			want := batchKeys(differs, n, i)
			for k := range uint64(20) {
				if want(k) {
					got[k]++
				}
			}
		}
		if d := cmp.Diff(map[uint64]int{1: 1, 2: 1, 3: 1, 10: 1}, got); d != "" {
			t.Errorf("%d batches: keys read back (-want +got):\n%s", n, d)
		}
	}
}

// One aggregate with many changed events: the report details the first
// MaxChanges of its event differences and says how many more there are;
// the counts and groups cover them all.
func TestCompareHistoryCapsEventsPerKey(t *testing.T) {
	var as, bs []string
	for i := range 50 {
		as = append(as, fmt.Sprintf(`big-1={"seq":%d,"item":%d}`, i, i))
		bs = append(bs, fmt.Sprintf(`big-1={"seq":%d,"item":%d}`, i, i+1))
	}
	r, err := Compare(context.Background(), src("a", as...), src("b", bs...), Options{Mode: ModeHistory, MaxChanges: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changed) != 1 {
		t.Fatalf("changed keys = %d, want 1", len(r.Changed))
	}
	c := r.Changed[0]
	if len(c.Events) != 3 || c.MoreEvents != 47 || !r.Truncated {
		t.Errorf("events listed %d, moreEvents %d, truncated %v; want 3, 47, true", len(c.Events), c.MoreEvents, r.Truncated)
	}
	if r.Counts.ChangedEv != 50 {
		t.Errorf("changed events counted %d, want 50", r.Counts.ChangedEv)
	}
	if want := []Group{{Path: ".value.item", Change: "+1", Count: 50}}; !cmp.Equal(want, r.Groups) {
		t.Errorf("groups %v, want %v", r.Groups, want)
	}
	var text bytes.Buffer
	if err := WriteText(&text, r, Plain{}); err != nil {
		t.Fatal(err)
	}
	if got := text.String(); !strings.Contains(got, "    ... and 47 more event differences of big-1 not shown: --max-changes 3 shows the first of each key\n") ||
		strings.Contains(got, "more differing key") {
		t.Errorf("text report:\n%s", got)
	}
}

// A history diff holds the events it compares a window at a time, not
// every event of the longest differing aggregate (100,000 such events
// peaked at 284 MB when pass 2 held them all): with a small budget, the
// events held at once stay within two windows while the report is the
// same as when they all fit. (A third of the events differ; one is moved.)
func TestCompareHistoryHoldsAWindow(t *testing.T) {
	const n = 3000
	var as, bs []string
	for i := range 10 { // a common prefix: matched events
		as = append(as, fmt.Sprintf(`big={"seq":%d}`, i))
		bs = append(bs, fmt.Sprintf(`big={"seq":%d}`, i))
	}
	for i := range n {
		switch i {
		case 500:
			as = append(as, `big={"moved":true}`)
		case 700:
			bs = append(bs, `big={"moved":true}`)
		}
		as = append(as, fmt.Sprintf(`big={"seq":%d,"item":%d}`, i+10, i))
		bs = append(bs, fmt.Sprintf(`big={"seq":%d,"item":%d}`, i+10, i+(i%3)/2))
	}
	as = append(as, `big={"last":true}`, `gone={"v":1}`, `same={"v":1}`, `small={"v":1}`, `small={"v":2}`)
	bs = append(bs, `new={"v":1}`, `same={"v":1}`, `small={"v":1}`, `small={"v":3}`)
	ctx := context.Background()
	opts := Options{Mode: ModeHistory, MaxChanges: 50}
	whole, cw, err := compare(ctx, src("a", as...), src("b", bs...), opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.MemoryBudget = 64 << 10
	windowed, cn, err := compare(ctx, src("a", as...), src("b", bs...), opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(whole, windowed); d != "" {
		t.Errorf("report read back in windows (-all held +windowed):\n%s", d)
	}
	c := windowed.Counts
	if c.ChangedEv != n/3+1 || c.Missing != 1 || c.Reordered != 1 || c.Changed != 2 || c.Added != 1 || c.Removed != 1 || c.Same != 1 {
		t.Errorf("counts %+v, want %d changed events, 1 missing, 1 reordered; keys: 2 changed, 1 added, 1 removed, 1 same", c, n/3+1)
	}
	if !cw.eventsHeld || cn.eventsHeld {
		t.Errorf("events held in pass 2: %v with the default budget, %v with 64 KiB; want true, false", cw.eventsHeld, cn.eventsHeld)
	}
	if got := cw.peakHeld.Load(); got < 2*n {
		t.Errorf("default budget: %d events held at most, want them all (at least %d)", got, 2*n)
	}
	if got, bound := cn.peakHeld.Load(), int64(2*cn.fieldsWindow()); got == 0 || got > bound {
		t.Errorf("64 KiB budget: %d events held at most, want 1 to %d (two windows of %d)", got, bound, cn.fieldsWindow())
	}
	if got := cn.held.Load(); got != 0 {
		t.Errorf("%d events still held after the comparison", got)
	}
}
