package filter

import (
	"encoding/json"
	"maps"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Fast is a jq program compiled to Go closures, for the part of jq whose
// every step gives exactly one value and cannot fail: paths (.a.b, .[i],
// .[a:b] on ASCII strings and arrays), object and array construction,
// `e as $x | ...`, pipes, + and - on the types jq adds without surprise,
// comparisons, and, or, //, if, literals, user definitions without
// arguments, and a few builtins (not, tonumber, tostring, length, type,
// tojson, ...). Anything else, or anything unusual at run time — an error,
// an empty or second output, a number gojq would widen to a big integer, a
// non-ASCII string slice — makes Run return ok false, and the caller runs
// the same program with gojq, whose answer (error messages included) is
// then the answer. A Fast program has no side effects, so running it and
// then gojq on the same input is safe.
//
// A projection handler runs once per event, and gojq's interpreter, which
// sets up an environment, a stack and a fork list per run, costs several
// times what these few steps do.
//
// A Fast is immutable and safe for concurrent use.
type Fast struct {
	run   fastFn
	slots int // variables bound by `as`
}

// fastFn evaluates one step on in; vars holds the variables bound so far.
// ok false is "let gojq decide".
type fastFn func(in any, vars []any) (v any, ok bool)

func fastBail(any, []any) (any, bool) { return nil, false }

// fastMaxInline bounds the inlining of user definitions (a recursive one
// bails where it recurses deeper).
const fastMaxInline = 16

// CompileFast compiles q (a query gojq compiles) for Run; nil when no part
// of it is in the subset, so running it would always bail.
func CompileFast(q *gojq.Query) *Fast {
	c := &fastCompiler{}
	fn, ok := c.query(q, nil)
	if !ok || c.terms > fastMaxTerms {
		return nil
	}
	return &Fast{run: fn, slots: c.slots}
}

// Run evaluates the program on in: its one output, or ok false when the
// program must run with gojq instead (see Fast).
func (f *Fast) Run(in any) (v any, ok bool) {
	var vars []any
	if f.slots > 0 {
		vars = make([]any, f.slots)
	}
	return f.run(in, vars)
}

// fastScope is the lexical scope of a step: the variables and definitions
// visible there, innermost first.
type fastScope struct {
	next *fastScope
	// a variable ...
	name string
	slot int
	// ... or a definition, which sees the scope it was defined in.
	def      *gojq.FuncDef
	defScope *fastScope
}

func (s *fastScope) variable(name string) (int, bool) {
	for ; s != nil; s = s.next {
		if s.def == nil && s.name == name {
			return s.slot, true
		}
	}
	return 0, false
}

func (s *fastScope) function(name string, args int) (*gojq.FuncDef, *fastScope) {
	for ; s != nil; s = s.next {
		if s.def != nil && s.def.Name == name && len(s.def.Args) == args {
			return s.def, s.defScope
		}
	}
	return nil, nil
}

type fastCompiler struct {
	slots  int
	inline int // depth of definitions being inlined
	terms  int // compiled so far, against fastMaxTerms
}

// fastMaxTerms bounds a program's compiled size: inlining definitions that
// call each other twice doubles it at every level.
const fastMaxTerms = 10_000

// query compiles q; ok false means q is not in the subset at all (its
// function bails).
func (c *fastCompiler) query(q *gojq.Query, sc *fastScope) (fastFn, bool) {
	if q == nil {
		return fastBail, false
	}
	if q.Meta != nil || len(q.Imports) > 0 {
		return fastBail, false
	}
	for _, fd := range q.FuncDefs {
		d := &fastScope{next: sc, def: fd}
		d.defScope = d // a definition sees itself, and what came before it
		sc = d
	}
	if q.Term != nil {
		return c.term(q.Term, sc)
	}
	if q.Op == gojq.OpPipe && len(q.Patterns) > 0 {
		return c.bind(q, sc)
	}
	l, r, ok := c.pair(q.Left, q.Right, sc)
	if !ok {
		return fastBail, false
	}
	switch q.Op {
	case gojq.OpPipe:
		return func(in any, vars []any) (any, bool) {
			v, ok := l(in, vars)
			if !ok {
				return nil, false
			}
			return r(v, vars)
		}, true
	case gojq.OpAlt:
		return func(in any, vars []any) (any, bool) {
			v, ok := l(in, vars)
			if !ok {
				return nil, false
			}
			if truthy(v) {
				return v, true
			}
			return r(in, vars)
		}, true
	case gojq.OpAnd, gojq.OpOr:
		and := q.Op == gojq.OpAnd
		return func(in any, vars []any) (any, bool) {
			v, ok := l(in, vars)
			if !ok {
				return nil, false
			}
			if truthy(v) != and {
				return !and, true // false and ..., true or ...
			}
			if v, ok = r(in, vars); !ok {
				return nil, false
			}
			return truthy(v), true
		}, true
	case gojq.OpAdd, gojq.OpSub, gojq.OpEq, gojq.OpNe, gojq.OpLt, gojq.OpLe, gojq.OpGt, gojq.OpGe:
		op := fastBinop(q.Op)
		return func(in any, vars []any) (any, bool) {
			lv, rv, ok := both(l, r, in, vars)
			if !ok {
				return nil, false
			}
			return op(lv, rv)
		}, true
	}
	// , (more than one output), updates, * / %: gojq's.
	return fastBail, false
}

// pair compiles two queries; ok false when either is not in the subset.
func (c *fastCompiler) pair(l, r *gojq.Query, sc *fastScope) (lf, rf fastFn, ok bool) {
	lf, lok := c.query(l, sc)
	rf, rok := c.query(r, sc)
	return lf, rf, lok && rok
}

// both evaluates l and r on the same input.
func both(l, r fastFn, in any, vars []any) (lv, rv any, ok bool) {
	if lv, ok = l(in, vars); !ok {
		return nil, nil, false
	}
	if rv, ok = r(in, vars); !ok {
		return nil, nil, false
	}
	return lv, rv, true
}

// bind compiles `left as $name | right`.
func (c *fastCompiler) bind(q *gojq.Query, sc *fastScope) (fastFn, bool) {
	if len(q.Patterns) != 1 || q.Patterns[0].Name == "" {
		return fastBail, false // destructuring, ?// alternatives
	}
	l, ok := c.query(q.Left, sc)
	if !ok {
		return fastBail, false
	}
	slot := c.slots
	c.slots++
	r, ok := c.query(q.Right, &fastScope{next: sc, name: q.Patterns[0].Name, slot: slot})
	if !ok {
		return fastBail, false
	}
	return func(in any, vars []any) (any, bool) {
		v, ok := l(in, vars)
		if !ok {
			return nil, false
		}
		vars[slot] = v
		return r(in, vars)
	}, true
}

func (c *fastCompiler) term(t *gojq.Term, sc *fastScope) (fastFn, bool) {
	if c.terms++; c.terms > fastMaxTerms {
		return fastBail, false
	}
	if n := len(t.SuffixList); n > 0 {
		s := t.SuffixList[n-1]
		base := *t
		base.SuffixList = t.SuffixList[:n-1]
		switch {
		case s.Index != nil:
			return c.index(&base, s.Index, sc)
		case s.Optional:
			// x? is x when x gives one value without failing.
			return c.term(&base, sc)
		}
		return fastBail, false // .[]
	}
	switch t.Type {
	case gojq.TermTypeIdentity:
		return func(in any, _ []any) (any, bool) { return in, true }, true
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
		return fastConst(t)
	case gojq.TermTypeString:
		if t.Str.Queries != nil {
			return fastBail, false // interpolation
		}
		s := t.Str.Str
		return func(any, []any) (any, bool) { return s, true }, true
	case gojq.TermTypeIndex:
		return c.index(&gojq.Term{Type: gojq.TermTypeIdentity}, t.Index, sc)
	case gojq.TermTypeFunc:
		return c.function(t.Func, sc)
	case gojq.TermTypeObject:
		return c.object(t.Object, sc)
	case gojq.TermTypeArray:
		return c.array(t.Array, sc)
	case gojq.TermTypeUnary:
		return c.unary(t.Unary, sc)
	case gojq.TermTypeIf:
		return c.ifThen(t.If, sc)
	case gojq.TermTypeQuery:
		return c.query(t.Query, sc)
	}
	// .., @format, try, reduce, foreach, label, break: gojq's.
	return fastBail, false
}

// fastConst is a literal's value, as gojq makes it.
func fastConst(t *gojq.Term) (fastFn, bool) {
	code, err := gojq.Compile(&gojq.Query{Term: t})
	if err != nil {
		return fastBail, false
	}
	it := code.Run(nil)
	v, ok := it.Next()
	if _, isErr := v.(error); !ok || isErr {
		return fastBail, false
	}
	if _, more := it.Next(); more {
		return fastBail, false
	}
	return func(any, []any) (any, bool) { return v, true }, true
}

// index compiles base's value indexed by x; x's expressions see the input
// base does (.a[.i] indexes .a with .i of the same input).
func (c *fastCompiler) index(base *gojq.Term, x *gojq.Index, sc *fastScope) (fastFn, bool) {
	b, ok := c.term(base, sc)
	if !ok {
		return fastBail, false
	}
	key := x.Name
	if x.Str != nil {
		if x.Str.Queries != nil {
			return fastBail, false
		}
		key = x.Str.Str
	}
	if x.Name != "" || x.Str != nil {
		return func(in any, vars []any) (any, bool) {
			v, ok := b(in, vars)
			if !ok {
				return nil, false
			}
			return fastField(v, key)
		}, true
	}
	if !x.IsSlice {
		i, ok := c.query(x.Start, sc)
		if !ok {
			return fastBail, false
		}
		return func(in any, vars []any) (any, bool) {
			v, k, ok := both(b, i, in, vars)
			if !ok {
				return nil, false
			}
			if s, isStr := k.(string); isStr {
				return fastField(v, s)
			}
			n, ok := fastInt(k)
			if !ok {
				return nil, false
			}
			switch v := v.(type) {
			case nil:
				return nil, true
			case []any:
				n = clampIndex(n, -1, len(v))
				if 0 <= n && n < len(v) {
					return v[n], true
				}
				return nil, true
			}
			return nil, false
		}, true
	}
	bound := func(q *gojq.Query) (fastFn, bool) {
		if q == nil {
			return func(any, []any) (any, bool) { return nil, true }, true
		}
		return c.query(q, sc)
	}
	from, fok := bound(x.Start)
	to, tok := bound(x.End)
	if !fok || !tok {
		return fastBail, false
	}
	return func(in any, vars []any) (any, bool) {
		v, ok := b(in, vars)
		if !ok {
			return nil, false
		}
		s, e, ok := both(from, to, in, vars)
		if !ok {
			return nil, false
		}
		var n int
		switch v := v.(type) {
		case nil:
			return nil, true
		case string:
			for i := range len(v) {
				if v[i] >= utf8.RuneSelf {
					return nil, false // gojq slices code points
				}
			}
			n = len(v)
		case []any:
			n = len(v)
		default:
			return nil, false
		}
		start, end := 0, n
		if s != nil {
			i, ok := fastInt(s)
			if !ok {
				return nil, false
			}
			start = clampIndex(i, 0, n)
		}
		if e != nil {
			i, ok := fastInt(e)
			if !ok {
				return nil, false
			}
			end = clampIndex(i, start, n)
		}
		if s, isStr := v.(string); isStr {
			return s[start:end], true
		}
		return v.([]any)[start:end], true
	}, true
}

// clampIndex is gojq's: a negative index counts from the end.
func clampIndex(i, lo, hi int) int {
	if i < 0 {
		i += hi
	}
	return min(max(i, lo), hi)
}

// fastField is v.key: null on null or a missing key.
func fastField(v any, key string) (any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case map[string]any:
		return v[key], true
	}
	return nil, false
}

// fastInt is an integer index: an int, or a json.Number holding one.
func fastInt(v any) (int, bool) {
	n, ok := fastNumber(v).(int)
	return n, ok
}

// fastNumber is v with a json.Number holding an int taken as gojq takes it
// (an int); any other json.Number is left for gojq (nil, a non-number).
func fastNumber(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && math.MinInt <= i && i <= math.MaxInt {
		return int(i)
	}
	return fastNotNumber{}
}

// fastNotNumber stands for a number fast steps leave to gojq.
type fastNotNumber struct{}

func fastBinop(op gojq.Operator) func(l, r any) (any, bool) {
	switch op {
	case gojq.OpAdd:
		return fastAdd
	case gojq.OpSub:
		return fastSub
	}
	cmp := map[gojq.Operator]func(int) bool{
		gojq.OpEq: func(c int) bool { return c == 0 },
		gojq.OpNe: func(c int) bool { return c != 0 },
		gojq.OpLt: func(c int) bool { return c < 0 },
		gojq.OpLe: func(c int) bool { return c <= 0 },
		gojq.OpGt: func(c int) bool { return c > 0 },
		gojq.OpGe: func(c int) bool { return c >= 0 },
	}[op]
	return func(l, r any) (any, bool) { return cmp(gojq.Compare(l, r)), true }
}

func fastAdd(l, r any) (any, bool) {
	l, r = fastNumber(l), fastNumber(r)
	switch l := l.(type) {
	case nil:
		if _, odd := r.(fastNotNumber); odd {
			return nil, false
		}
		return r, true
	case int:
		switch r := r.(type) {
		case int:
			if v := l + r; (v >= l) == (r >= 0) {
				return v, true
			}
			return nil, false // gojq widens to a big integer
		case float64:
			return float64(l) + r, true
		case nil:
			return l, true
		}
	case float64:
		switch r := r.(type) {
		case int:
			return l + float64(r), true
		case float64:
			return l + r, true
		case nil:
			return l, true
		}
	case string:
		switch r := r.(type) {
		case string:
			return l + r, true
		case nil:
			return l, true
		}
	case []any:
		switch r := r.(type) {
		case []any:
			if len(l) == 0 {
				return r, true
			}
			if len(r) == 0 {
				return l, true
			}
			v := make([]any, len(l)+len(r))
			copy(v, l)
			copy(v[len(l):], r)
			return v, true
		case nil:
			return l, true
		}
	case map[string]any:
		switch r := r.(type) {
		case map[string]any:
			if len(l) == 0 {
				return r, true
			}
			if len(r) == 0 {
				return l, true
			}
			m := make(map[string]any, len(l)+len(r))
			maps.Copy(m, l)
			maps.Copy(m, r)
			return m, true
		case nil:
			return l, true
		}
	case bool:
		if r == nil {
			return l, true
		}
	}
	return nil, false
}

func fastSub(l, r any) (any, bool) {
	l, r = fastNumber(l), fastNumber(r)
	switch l := l.(type) {
	case int:
		switch r := r.(type) {
		case int:
			if v := l - r; (v <= l) == (r >= 0) {
				return v, true
			}
		case float64:
			return float64(l) - r, true
		}
	case float64:
		switch r := r.(type) {
		case int:
			return l - float64(r), true
		case float64:
			return l - r, true
		}
	}
	return nil, false
}

func (c *fastCompiler) unary(u *gojq.Unary, sc *fastScope) (fastFn, bool) {
	t, ok := c.term(u.Term, sc)
	if !ok {
		return fastBail, false
	}
	neg := u.Op == gojq.OpSub
	if !neg && u.Op != gojq.OpAdd {
		return fastBail, false
	}
	return func(in any, vars []any) (any, bool) {
		v, ok := t(in, vars)
		if !ok {
			return nil, false
		}
		switch v := v.(type) {
		case int:
			if !neg {
				return v, true
			}
			if v != math.MinInt {
				return -v, true
			}
		case float64:
			if neg {
				return -v, true
			}
			return v, true
		}
		return nil, false
	}, true
}

func (c *fastCompiler) ifThen(e *gojq.If, sc *fastScope) (fastFn, bool) {
	cond, ok := c.query(e.Cond, sc)
	if !ok {
		return fastBail, false
	}
	then, _ := c.query(e.Then, sc)
	var els fastFn
	switch {
	case len(e.Elif) > 0:
		els, _ = c.ifThen(&gojq.If{Cond: e.Elif[0].Cond, Then: e.Elif[0].Then, Elif: e.Elif[1:], Else: e.Else}, sc)
	case e.Else != nil:
		els, _ = c.query(e.Else, sc)
	default:
		els = func(in any, _ []any) (any, bool) { return in, true }
	}
	return func(in any, vars []any) (any, bool) {
		v, ok := cond(in, vars)
		if !ok {
			return nil, false
		}
		if truthy(v) {
			return then(in, vars)
		}
		return els(in, vars)
	}, true
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	}
	return true
}

func (c *fastCompiler) object(o *gojq.Object, sc *fastScope) (fastFn, bool) {
	type keyVal struct {
		key string // constant key, or
		k   fastFn // computed key
		v   fastFn
	}
	kvs := make([]keyVal, 0, len(o.KeyVals))
	for _, kv := range o.KeyVals {
		var e keyVal
		switch {
		case kv.Key != "" && kv.Key[0] == '$':
			slot, ok := sc.variable(kv.Key)
			if !ok {
				return fastBail, false // $ENV, $__loc__
			}
			load := func(_ any, vars []any) (any, bool) { return vars[slot], true }
			if kv.Val == nil { // {$x} is {x: $x}
				e.key, e.v = kv.Key[1:], load
			} else {
				e.k = load
			}
		case kv.Key != "":
			e.key = kv.Key
		case kv.KeyString != nil && kv.KeyString.Queries == nil:
			e.key = kv.KeyString.Str
		case kv.KeyQuery != nil:
			k, ok := c.query(kv.KeyQuery, sc)
			if !ok {
				return fastBail, false
			}
			e.k = k
		default:
			return fastBail, false
		}
		if e.v == nil {
			if kv.Val == nil {
				if e.k != nil {
					return fastBail, false
				}
				key := e.key // {a} is {a: .a}
				e.v = func(in any, _ []any) (any, bool) { return fastField(in, key) }
			} else {
				v, ok := c.query(kv.Val, sc)
				if !ok {
					return fastBail, false
				}
				e.v = v
			}
		}
		kvs = append(kvs, e)
	}
	return func(in any, vars []any) (any, bool) {
		m := make(map[string]any, len(kvs))
		for _, e := range kvs {
			key := e.key
			if e.k != nil {
				k, ok := e.k(in, vars)
				if !ok {
					return nil, false
				}
				if key, ok = k.(string); !ok {
					return nil, false
				}
			}
			v, ok := e.v(in, vars)
			if !ok {
				return nil, false
			}
			m[key] = v // a later key wins, as in gojq
		}
		return m, true
	}, true
}

// array compiles [a, b, ...] whose elements give one value each.
func (c *fastCompiler) array(a *gojq.Array, sc *fastScope) (fastFn, bool) {
	if a.Query == nil {
		return func(any, []any) (any, bool) { return []any{}, true }, true
	}
	var parts []*gojq.Query
	var flatten func(q *gojq.Query)
	flatten = func(q *gojq.Query) {
		if q.Op == gojq.OpComma && q.Term == nil && len(q.FuncDefs) == 0 {
			flatten(q.Left)
			flatten(q.Right)
			return
		}
		parts = append(parts, q)
	}
	flatten(a.Query)
	elems := make([]fastFn, len(parts))
	for i, p := range parts {
		var ok bool
		if elems[i], ok = c.query(p, sc); !ok {
			return fastBail, false
		}
	}
	return func(in any, vars []any) (any, bool) {
		out := make([]any, len(elems))
		for i, e := range elems {
			v, ok := e(in, vars)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	}, true
}

func (c *fastCompiler) function(f *gojq.Func, sc *fastScope) (fastFn, bool) {
	if strings.HasPrefix(f.Name, "$") {
		slot, ok := sc.variable(f.Name)
		if !ok {
			return fastBail, false // $ENV, $__loc__, $__prog_args
		}
		return func(_ any, vars []any) (any, bool) { return vars[slot], true }, true
	}
	if def, defScope := sc.function(f.Name, len(f.Args)); def != nil {
		if len(f.Args) > 0 || c.inline >= fastMaxInline {
			return fastBail, false
		}
		c.inline++
		defer func() { c.inline-- }()
		return c.query(def.Body, defScope)
	}
	args := make([]fastFn, len(f.Args))
	for i, a := range f.Args {
		var ok bool
		if args[i], ok = c.query(a, sc); !ok {
			return fastBail, false
		}
	}
	b := fastBuiltins[fastBuiltinKey{f.Name, len(f.Args)}]
	if b == nil {
		return fastBail, false
	}
	if len(args) == 0 {
		return func(in any, _ []any) (any, bool) { return b(in, nil) }, true
	}
	return func(in any, vars []any) (any, bool) {
		var buf [2]any
		vs := buf[:0]
		for _, a := range args {
			v, ok := a(in, vars)
			if !ok {
				return nil, false
			}
			vs = append(vs, v)
		}
		return b(in, vs)
	}, true
}

type fastBuiltinKey struct {
	name string
	args int
}

// fastBuiltins are the builtins Fast runs itself, on the inputs they
// cannot fail on; the rest, and every other input, are gojq's.
var fastBuiltins = map[fastBuiltinKey]func(in any, args []any) (any, bool){
	{"not", 0}:  func(in any, _ []any) (any, bool) { return !truthy(in), true },
	{"type", 0}: func(in any, _ []any) (any, bool) { return gojq.TypeOf(in), true },
	{"tonumber", 0}: func(in any, _ []any) (any, bool) {
		switch v := in.(type) {
		case int, float64, json.Number:
			return v, true
		case string:
			// Plain decimal integers only: gojq's lexer decides the rest.
			digits := strings.TrimPrefix(v, "-")
			if len(digits) == 0 || len(digits) > 18 || digits[0] == '0' && len(digits) > 1 {
				return nil, false
			}
			for i := range len(digits) {
				if digits[i] < '0' || digits[i] > '9' {
					return nil, false
				}
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, false
			}
			return n, true
		}
		return nil, false
	},
	{"tostring", 0}: func(in any, _ []any) (any, bool) {
		if s, ok := in.(string); ok {
			return s, true
		}
		b, _ := gojq.Marshal(in)
		return string(b), true
	},
	{"tojson", 0}: func(in any, _ []any) (any, bool) {
		b, _ := gojq.Marshal(in)
		return string(b), true
	},
	{"length", 0}: func(in any, _ []any) (any, bool) {
		switch v := in.(type) {
		case nil:
			return 0, true
		case string:
			return utf8.RuneCountInString(v), true
		case []any:
			return len(v), true
		case map[string]any:
			return len(v), true
		}
		return nil, false
	},
	{"ascii_downcase", 0}: fastASCII(func(b byte) byte {
		if 'A' <= b && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}),
	{"ascii_upcase", 0}: fastASCII(func(b byte) byte {
		if 'a' <= b && b <= 'z' {
			return b - ('a' - 'A')
		}
		return b
	}),
	{"has", 1}: func(in any, args []any) (any, bool) {
		if m, ok := in.(map[string]any); ok {
			if k, ok := args[0].(string); ok {
				_, has := m[k]
				return has, true
			}
		}
		return nil, false
	},
	{"startswith", 1}: fastStrings(strings.HasPrefix),
	{"endswith", 1}:   fastStrings(strings.HasSuffix),
}

func fastASCII(f func(byte) byte) func(any, []any) (any, bool) {
	return func(in any, _ []any) (any, bool) {
		s, ok := in.(string)
		if !ok {
			return nil, false
		}
		b := []byte(s)
		for i := range b {
			b[i] = f(b[i])
		}
		return string(b), true
	}
}

func fastStrings(f func(s, x string) bool) func(any, []any) (any, bool) {
	return func(in any, args []any) (any, bool) {
		s, ok := in.(string)
		x, xok := args[0].(string)
		if !ok || !xok {
			return nil, false
		}
		return f(s, x), true
	}
}
