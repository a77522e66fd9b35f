package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/sandbox"
)

// withoutFast is p with every program run by gojq alone: the fold as it
// was before filter.Fast, to hold the fast one to.
func withoutFast(p *Projection) *Projection {
	q := *p
	slow := func(prog *projectionProgram) *projectionProgram {
		if prog == nil {
			return nil
		}
		c := *prog
		c.fast = nil
		return &c
	}
	q.id, q.typ = slow(p.id), slow(p.typ)
	q.handlers = map[string]*projectionProgram{}
	for t, h := range p.handlers {
		q.handlers[t] = slow(h)
	}
	return &q
}

// foldTrace folds records one by one and writes what each did — its
// change, state and error — and then the final states, as text to compare.
func foldTrace(t *testing.T, p *Projection, records []*record.Record) string {
	t.Helper()
	var b bytes.Buffer
	f := p.NewFold()
	for _, r := range records {
		c, err := f.Apply(t.Context(), r)
		fmt.Fprintf(&b, "%d@%d %s %q skipped=%v deleted=%v %s err=%v\n", r.Partition, r.Offset, c.Type, c.ID, c.Skipped, c.Deleted, c.State(), err)
	}
	for id, s := range f.States() {
		fmt.Fprintf(&b, "final %q %s\n", id, s)
	}
	return b.String()
}

// TestFastFoldEqualsGojq: the fold with handlers run by filter.Fast gives
// the states, changes and errors gojq gives, on the bank domain as
// replay --projection decodes it (Avro into jq values) and on a schemaless
// JSON stream with handlers that fail, delete and branch.
func TestFastFoldEqualsGojq(t *testing.T) {
	t.Run("bank", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a sandbox")
		}
		_, records := sandboxAccountEvents(t, sandbox.Options{Accounts: 200, Events: 5000, Now: projectionTestNow})
		p, err := LoadProjection(accountBalanceSpec)
		if err != nil {
			t.Fatal(err)
		}
		for typ, h := range p.handlers {
			if h.fast == nil {
				t.Errorf("handler %s is not run fast", typ)
			}
		}
		fast, slow := foldTrace(t, p, records), foldTrace(t, withoutFast(p), records)
		if fast != slow {
			t.Errorf("the fast fold differs from gojq's:\n%s", firstDiff(fast, slow))
		}
		if n := bytes.Count([]byte(fast), []byte("err=<nil>")); n != len(records) {
			t.Errorf("%d of %d events folded without error", n, len(records))
		}
	})

	t.Run("json", func(t *testing.T) {
		p := parseSpec(t, `
id: .value.user
type: .value.kind
initial: {count: 0}
ignore-unknown: true
defs: |
  def cents: if .[-3:-2] == "." then .[:-3] + .[-2:] | tonumber else error("bad amount \(tojson)") end;
handlers:
  signup: '{user: .event.user, count: 1, tags: [.event.plan, "new"], plan: (.event.plan // "free")}'
  charge: |
    .event as $e | .state + {count: (.count + 1), spent: ((.state.spent // 0) + ($e.amount | cents)), last: $e.amount}
  rename: 'if .event.name == null then error("no name") elif .event.name == "" then null else .state + {name: .event.name} end'
  note: '.state + {note: "\(.event.text)", size: (.event.text | length), first: .event.text[0:1]}'
  bump: '.state + {n: (.state.n + .event.by), cmp: (.event.by > 2), big: (.event.by * 2)}'
  merge: '.state + .event.extra'
`)
		var records []*record.Record
		add := func(value string) {
			records = append(records, &record.Record{
				Topic: "bank.notifications", Partition: int32(len(records) % 3), Offset: int64(len(records)),
				Key: json.RawMessage(`null`), KeyEncoding: record.EncodingNull,
				Value: json.RawMessage(value), ValueEncoding: record.EncodingJSON,
			})
		}
		for i := range 40 {
			u := fmt.Sprintf(`"u%d"`, i%7)
			switch i % 8 {
			case 0:
				add(`{"kind":"signup","user":` + u + `,"plan":` + []string{`"pro"`, `null`, `"team"`}[i%3] + `}`)
			case 1:
				add(`{"kind":"charge","user":` + u + `,"amount":` + []string{`"12.50"`, `"-0.05"`, `"7"`, `"1.2.3"`, `12`}[i%5] + `}`)
			case 2:
				add(`{"kind":"rename","user":` + u + `,"name":` + []string{`"Ada"`, `""`, `null`, `"Grâce"`}[i%4] + `}`)
			case 3:
				add(`{"kind":"note","user":` + u + `,"text":` + []string{`"héllo"`, `"hi"`, `""`, `42`}[i%4] + `}`)
			case 4:
				add(`{"kind":"bump","user":` + u + `,"by":` + []string{`1`, `3`, `1.5`, `9223372036854775807`, `"x"`}[i%5] + `}`)
			case 5:
				add(`{"kind":"merge","user":` + u + `,"extra":` + []string{`{"a":1}`, `{}`, `null`, `[1]`}[i%4] + `}`)
			case 6:
				add(`{"kind":"unknown","user":` + u + `}`)
			case 7:
				add(`{"kind":"charge","user":{"id":` + u + `},"amount":"1.00"}`)
			}
		}
		fast, slow := foldTrace(t, p, records), foldTrace(t, withoutFast(p), records)
		if fast != slow {
			t.Errorf("the fast fold differs from gojq's:\n%s", firstDiff(fast, slow))
		}
		if !bytes.Contains([]byte(fast), []byte("err=<nil>")) || !bytes.Contains([]byte(fast), []byte("bad amount")) {
			t.Errorf("the stream neither folds nor fails as meant:\n%s", fast)
		}
	})
}

// firstDiff shows the first line where fast and slow traces differ.
func firstDiff(fast, slow string) string {
	f, s := bytes.Split([]byte(fast), []byte("\n")), bytes.Split([]byte(slow), []byte("\n"))
	for i := range min(len(f), len(s)) {
		if !bytes.Equal(f[i], s[i]) {
			return fmt.Sprintf("line %d:\nfast: %s\ngojq: %s", i+1, f[i], s[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(f), len(s))
}

// TestFoldReusesInputOnlyWhenFree: the fold fills one handler input map
// event after event, but never one a state holds: a handler that keeps
// its input ({seen: .}, ., [.]) keeps what it saw.
func TestFoldReusesInputOnlyWhenFree(t *testing.T) {
	for _, handler := range []string{`'{seen: .}'`, `'.'`, `'{a: [{b: .}]}'`, `'. + {}'`} {
		p := parseSpec(t, "handlers:\n  AccountOpened: "+handler+"\n  MoneyDeposited: '{n: 1}'\n")
		for _, fp := range []*Projection{p, withoutFast(p)} {
			f := fp.NewFold()
			ctx := t.Context()
			if _, err := f.Apply(ctx, opened(0, 1, "acct-1", "Ada", 1)); err != nil {
				t.Fatal(err)
			}
			for i, r := range []*record.Record{deposited(0, 2, "acct-2", "1.00", 1), opened(0, 3, "acct-3", "Bob", 1), deposited(0, 4, "acct-4", "2.00", 1)} {
				if _, err := f.Apply(ctx, r); err != nil {
					t.Fatalf("%s: event %d: %v", handler, i, err)
				}
			}
			if after, _ := f.Get("acct-1"); !bytes.Contains(after, []byte(`"owner":"Ada"`)) || bytes.Contains(after, []byte("Bob")) {
				t.Errorf("%s: acct-1's state is %s, want its own event's input", handler, after)
			}
		}
	}
	big := map[string]any{}
	for i := range 100 {
		big[fmt.Sprint(i)] = []any{i}
	}
	in := map[string]any{}
	if !holds(map[string]any{"x": []any{1, in}}, in, holdsChecked) || holds(map[string]any{"x": 1}, in, holdsChecked) || !holds(big, in, holdsChecked) {
		t.Error("holds: want true, false, true (a state too large to search)")
	}
}
