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

// Filter is a compiled jq expression; a record is kept when the first
// value it yields is truthy (neither false nor null), as jq's select does.
type Filter struct {
	src  string
	code *gojq.Code
}

// Compile parses and compiles a jq expression. A syntax error names the
// position in the expression and shows where it is.
func Compile(expr string) (*Filter, error) {
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
	return &Filter{src: expr, code: code}, nil
}

// String is the expression as the user wrote it.
func (f *Filter) String() string { return f.src }

// Match runs the filter over the record's view. A jq runtime error (say,
// indexing a string) is returned; callers count it as not matching.
func (f *Filter) Match(ctx context.Context, r *record.Record) (bool, error) {
	v, err := View(r)
	if err != nil {
		return false, err
	}
	iter := f.code.RunWithContext(ctx, v)
	out, ok := iter.Next()
	if !ok {
		return false, nil
	}
	if err, isErr := out.(error); isErr {
		return false, fmt.Errorf("filter %q: %w", f.src, err)
	}
	return out != nil && out != false, nil
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
