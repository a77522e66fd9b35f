package filter

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
)

// fastPrograms are jq programs in and out of Fast's subset; fastInputs the
// values they run on, chosen for the edges where gojq does something a
// naive evaluator would not (big integers, json.Number, code points,
// negative indices, null, missing keys).
var fastPrograms = []string{
	`.`, `.a`, `.a.b`, `.a?`, `.a.b?`, `."a"`, `.["a"]`, `.[0]`, `.[-1]`, `.[.i]`, `.a[.i]`, `.[2:]`, `.[:-1]`,
	`.[-3:-2]`, `.s[-3:-2]`, `.s[:-3] + .s[-2:]`, `.s[1:2]`, `.l[1:]`, `.[1.5]`, `.s[.i:]`,
	`null`, `true`, `false`, `1`, `-1`, `1.5`, `1e3`, `100000000000000000000`, `"x"`, `"a\nb"`, `"\(.a)"`,
	`{}`, `[]`, `{a}`, `{a, b: 2}`, `{"a"}`, `{"x y": .a}`, `{(.s): 1}`, `{a: 1, a: 2}`,
	`.a as $x | {$x}`, `.a as $x | {b: $x}`, `.a as $x | $x`, `. as [$x] | $x`, `.a as $x | .b as $y | [$x, $y]`,
	`[.a, .b]`, `[.a, empty]`, `[.[]]`, `.a, .b`, `empty`, `error("x")`, `error`,
	`.a + .b`, `.a - .b`, `.a + 1`, `.a - 1`, `.n + .n`, `.n - .m`, `.m + 1`, `.a + null`, `null + .a`,
	`.s + .s`, `.s - .s`, `.l + .l`, `.l - .l`, `{} + .`, `. + {}`, `. + {z: 1}`, `.o + .o`, `.a * 2`, `.a / 2`,
	`.a == .b`, `.a != .b`, `.a < .b`, `.a <= .b`, `.a > .b`, `.a >= .b`, `.n == .m`, `.s == "x"`,
	`.a and .b`, `.a or .b`, `.a // .b`, `.missing // 7`, `false // null`, `.a // error("x")`,
	`if .a then .b else .c end`, `if .a then .b end`, `if .a then 1 elif .b then 2 else 3 end`, `if .a then 1 elif .b then 2 end`,
	`-.a`, `-.n`, `-(.a)`, `+.a`, `-.s`,
	`not`, `.a | not`, `type`, `.n | type`, `tonumber`, `.s | tonumber`, `.d | tonumber`, `.a | tostring`, `tostring`,
	`tojson`, `length`, `.s | length`, `.u | length`, `ascii_downcase`, `.s | ascii_upcase`, `has("a")`, `has(.s)`,
	`.s | startswith("ab")`, `.s | endswith("yz")`, `startswith(.s)`, `keys`, `map(.)`, `.[]`, `..`,
	`def f: .a; f`, `def f: .a; def g: f + 1; g`, `def f(x): x; f(.a)`, `def f: if . == null then 0 else .a | f end; f`,
	`def f: f; 1`, `def not: 7; not`, `def cents: if .[-3:-2] == "." then .[:-3] + .[-2:] | tonumber else error("amount \(tojson) is bad") end; .s | cents`,
	`.a |= 1`, `.a += 1`, `reduce .[] as $x (0; . + $x)`, `try .a catch .`, `label $f | 1`, `@base64`, `$ENV | type`,
	`.a as $x | .b as $x | $x`, `(.a as $x | $x) as $y | [$y]`, `def f: .a as $x | $x; .b as $x | f`,
}

var fastInputs = []any{
	nil, true, false, 0, 1, -1, math.MaxInt, math.MinInt, 1.5, math.Inf(1),
	json.Number("3"), json.Number("1.50"), json.Number("100000000000000000000"), big.NewInt(5),
	"", "x", "abc", "120.50", "-0.05", "0.05", "héllo", "12", "-12", "007", "+5", "1e3", " 1", "9223372036854775808",
	[]any{}, []any{1, "a", nil}, map[string]any{},
	map[string]any{"a": 1, "b": 2, "c": 3},
	map[string]any{"a": "x", "b": "y", "s": "120.50", "i": 1, "l": []any{1, 2, 3}, "o": map[string]any{"p": 1}},
	map[string]any{"a": nil, "b": false, "c": "c", "s": "héllo wörld", "u": "日本", "i": -1, "d": "1.5e3"},
	map[string]any{"a": math.MaxInt, "b": 1, "n": json.Number("7"), "m": json.Number("2.5"), "s": "a", "i": 1.5},
	map[string]any{"a": json.Number("3"), "b": 4, "n": math.MinInt, "m": 1, "s": "abyz", "i": "a", "l": "x"},
	map[string]any{"a": []any{1, 2}, "b": []any{2}, "s": "-0.05", "i": -5, "o": nil},
	map[string]any{"a": map[string]any{"b": 9}, "b": map[string]any{"c": 1}, "s": "12.5", "i": 0},
}

// TestFastMatchesGojq: wherever Fast gives an answer, it is gojq's one
// output, value and type alike; wherever gojq's answer is not one value
// (an error, no output, two), Fast gives none.
func TestFastMatchesGojq(t *testing.T) {
	fastRuns := 0
	for _, src := range fastPrograms {
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		f := CompileFast(q)
		for _, in := range fastInputs {
			if compareFast(t, src, code, f, in) {
				fastRuns++
			}
		}
	}
	// The subset is not empty: most of these run fast somewhere.
	if fastRuns < len(fastPrograms)*len(fastInputs)/4 {
		t.Errorf("only %d of %d runs were fast", fastRuns, len(fastPrograms)*len(fastInputs))
	}
}

// compareFast runs src on in with gojq and, when it compiled, with f, and
// reports where Fast's answer is not gojq's one output. It says whether
// Fast gave an answer.
func compareFast(t *testing.T, src string, code *gojq.Code, f *Fast, in any) bool {
	t.Helper()
	if f == nil {
		return false
	}
	got, ok := f.Run(in)
	if !ok {
		return false
	}
	var outs []any
	it := code.Run(in)
	for v, ok := it.Next(); ok && len(outs) < 3; v, ok = it.Next() {
		outs = append(outs, v)
	}
	switch {
	case len(outs) != 1:
		t.Errorf("%s on %#v: fast gives %#v, gojq %#v", src, in, got, outs)
	case isError(outs[0]):
		t.Errorf("%s on %#v: fast gives %#v, gojq fails: %v", src, in, got, outs[0])
	case !reflect.DeepEqual(got, outs[0]):
		t.Errorf("%s on %#v: fast gives %#v (%T), gojq %#v (%T)", src, in, got, got, outs[0], outs[0])
	}
	return true
}

func isError(v any) bool {
	_, ok := v.(error)
	return ok
}

// FuzzFastMatchesGojq holds Fast to gojq on any program gojq compiles and
// any JSON input, read with numbers as json.Number or as float64 (the two
// forms a fold meets besides ints). The seeds are the table above.
func FuzzFastMatchesGojq(f *testing.F) {
	for _, src := range fastPrograms {
		for _, in := range fastInputs {
			if b, err := json.Marshal(in); err == nil {
				f.Add(src, string(b), len(src)%2 == 0)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src, input string, useNumber bool) {
		q, err := gojq.Parse(src)
		if err != nil {
			return
		}
		code, err := gojq.Compile(q)
		if err != nil {
			return
		}
		dec := json.NewDecoder(strings.NewReader(input))
		if useNumber {
			dec.UseNumber()
		}
		var in any
		if dec.Decode(&in) != nil {
			return
		}
		compareFast(t, src, code, CompileFast(q), in)
	})
}

// TestFastCoversHandlers: the shapes of a projection handler run without
// gojq, and what Fast leaves to gojq is what it cannot know.
func TestFastCoversHandlers(t *testing.T) {
	state := map[string]any{"accountId": "acct-1", "owner": "Ada", "currency": "GBP", "balanceCents": 1000, "status": "open", "version": 3}
	event := map[string]any{"accountId": "acct-1", "amount": "120.50", "version": 4, "occurredAt": "2026-11-20T03:36:57.577Z"}
	in := map[string]any{"state": state, "event": event}
	const cents = `def cents: if .[-3:-2] == "." then .[:-3] + .[-2:] | tonumber else error("amount \(tojson) is not a decimal") end; `
	tests := []struct {
		src  string
		want any // nil: Fast must leave it to gojq
	}{
		{cents + `.event as $e | .state | {accountId, balanceCents: (.balanceCents + ($e.amount | cents)), version: $e.version}`,
			map[string]any{"accountId": "acct-1", "balanceCents": 13050, "version": 4}},
		{`.state + {status: "closed", version: .event.version}`,
			map[string]any{"accountId": "acct-1", "owner": "Ada", "currency": "GBP", "balanceCents": 1000, "status": "closed", "version": 4}},
		{`if .state == null then {n: 1} else .state | {n: (.version + 1)} end`, map[string]any{"n": 4}},
		{cents + `.event | .amount = "1.5" | .amount | cents`, nil}, // an update: gojq's
		{cents + `{x: ("1.5" | cents)}`, nil},                       // cents fails: gojq's error
		{`.state.version * 2`, nil},
	}
	for _, tt := range tests {
		q, err := gojq.Parse(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		f := CompileFast(q)
		var got any
		ok := false
		if f != nil {
			got, ok = f.Run(in)
		}
		switch {
		case tt.want == nil && ok:
			t.Errorf("%s: fast gives %#v, want it left to gojq", tt.src, got)
		case tt.want != nil && !ok:
			t.Errorf("%s: left to gojq, want %#v", tt.src, tt.want)
		case tt.want != nil && !reflect.DeepEqual(got, tt.want):
			t.Errorf("%s: got %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

// TestFastCompileBounded: definitions that call each other twice at every
// level do not blow the compiled program up.
func TestFastCompileBounded(t *testing.T) {
	src := `def f0: .a;`
	for i := 1; i <= 30; i++ {
		src += " def f" + itoa(i) + ": f" + itoa(i-1) + " + f" + itoa(i-1) + ";"
	}
	q, err := gojq.Parse(src + " f30")
	if err != nil {
		t.Fatal(err)
	}
	if f := CompileFast(q); f != nil {
		t.Errorf("a program of 2^30 inlined steps compiled fast")
	}
}

func itoa(i int) string { return json.Number(big.NewInt(int64(i)).String()).String() }
