// Package filter runs jq expressions (gojq) over records: compiled once,
// run on every record.
package filter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/itchyny/gojq"

	"github.com/evctl/evctl/internal/record"
)

// Expr is a compiled jq expression over a record's view.
type Expr struct {
	src  string
	code *gojq.Code
}

// CompileExpr parses and compiles a jq expression. A syntax error names the
// position in the expression and shows where it is.
func CompileExpr(expr string) (*Expr, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			what := "unexpected " + strconv.Quote(pe.Token)
			if pe.Token == "" {
				what = "unexpected end of the expression"
			}
			return nil, fmt.Errorf("invalid jq filter at position %d: %s\n  %s\n  %s^", pe.Offset, what, expr, strings.Repeat(" ", max(0, pe.Offset-len(pe.Token))))
		}
		return nil, fmt.Errorf("invalid jq filter %q: %w", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("invalid jq filter %q: %w", expr, err)
	}
	return &Expr{src: expr, code: code}, nil
}

// String is the expression as the user wrote it.
func (e *Expr) String() string { return e.src }

// Eval runs the expression over the record's view and returns its first
// value; ok is false when it yields nothing.
func (e *Expr) Eval(ctx context.Context, r *record.Record) (v any, ok bool, err error) {
	view, err := View(r)
	if err != nil {
		return nil, false, err
	}
	out, ok := e.code.RunWithContext(ctx, view).Next()
	if !ok {
		return nil, false, nil
	}
	if err, isErr := out.(error); isErr {
		return nil, false, fmt.Errorf("%q: %w", e.src, err)
	}
	return out, true, nil
}

// Text runs the expression and renders its value as text: strings as they
// are, anything else as JSON (so an id may be a number).
func (e *Expr) Text(ctx context.Context, r *record.Record) (string, error) {
	v, ok, err := e.Eval(ctx, r)
	if err != nil || !ok {
		return "", err
	}
	if s, isString := v.(string); isString {
		return s, nil
	}
	b, err := gojq.Marshal(v)
	return string(b), err
}

// Filter is a compiled jq expression; a record is kept when the first
// value it yields is truthy (neither false nor null), as jq's select does.
type Filter struct{ Expr }

// Compile compiles a filter; see CompileExpr.
func Compile(expr string) (*Filter, error) {
	e, err := CompileExpr(expr)
	if err != nil {
		return nil, err
	}
	return &Filter{Expr: *e}, nil
}

// Match runs the filter over the record's view. A jq runtime error (say,
// indexing a string) is returned; callers count it as not matching.
func (f *Filter) Match(ctx context.Context, r *record.Record) (bool, error) {
	v, ok, err := f.Eval(ctx, r)
	if err != nil {
		return false, fmt.Errorf("filter %w", err)
	}
	return ok && v != nil && v != false, nil
}

// View is the object a filter sees: the capture record with key and value
// as JSON (numbers exact), plus .headers as an object of header values by
// key (the last one wins) and .headerList keeping every header in order.
// Safe for concurrent use.
func View(r *record.Record) (map[string]any, error) {
	d := decoders.Get().(*JSONDecoder)
	defer decoders.Put(d)
	key, err := d.Key(r)
	if err != nil {
		return nil, fmt.Errorf("record key: %w", err)
	}
	value, err := d.Value(r)
	if err != nil {
		return nil, fmt.Errorf("record value: %w", err)
	}
	return ViewOf(r, key, value), nil
}

// decoders lend JSONDecoders (not safe for concurrent use) to View.
var decoders = sync.Pool{New: func() any { return new(JSONDecoder) }}
