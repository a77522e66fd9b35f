// Package filter runs jq expressions (gojq) over records: compiled once,
// run on every record.
package filter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
// as JSON, plus .headers as an object of header values by key (the last
// one wins) and .headerList keeping every header in order.
func View(r *record.Record) (map[string]any, error) {
	key, err := decodeJSON(r.Key)
	if err != nil {
		return nil, fmt.Errorf("record key: %w", err)
	}
	value, err := decodeJSON(r.Value)
	if err != nil {
		return nil, fmt.Errorf("record value: %w", err)
	}
	headers := make(map[string]any, len(r.Headers))
	list := make([]any, len(r.Headers))
	for i, h := range r.Headers {
		headers[h.Key] = h.Value
		list[i] = map[string]any{"key": h.Key, "value": h.Value}
	}
	v := map[string]any{
		"topic":         r.Topic,
		"partition":     int(r.Partition),
		"offset":        int(r.Offset),
		"timestamp":     r.Timestamp.String(),
		"key":           key,
		"value":         value,
		"headers":       headers,
		"headerList":    list,
		"type":          r.Type,
		"keyEncoding":   r.KeyEncoding,
		"valueEncoding": r.ValueEncoding,
	}
	if r.Schema != nil {
		v["schema"] = map[string]any{"id": r.Schema.ID, "guid": r.Schema.GUID, "subject": r.Schema.Subject, "format": r.Schema.Format}
	}
	if r.Error != "" {
		v["error"] = r.Error
	}
	if r.RawKey != nil {
		v["rawKey"] = base64.StdEncoding.EncodeToString(r.RawKey)
	}
	if r.RawValue != nil {
		v["rawValue"] = base64.StdEncoding.EncodeToString(r.RawValue)
	}
	return v, nil
}

// decodeJSON keeps numbers exact (json.Number), as jq users expect of ids.
func decodeJSON(b json.RawMessage) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
