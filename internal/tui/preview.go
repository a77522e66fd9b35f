package tui

import (
	"bytes"
	"encoding/json"
	"unicode"

	"github.com/evctl/evctl/internal/record"
)

// A preview is the one-line value in the record list. Event values of one
// topic often start with the same envelope (an event id, the aggregate's
// id, a timestamp), so the part that tells records apart would be cut off;
// the preview moves such fields last.

// sharedFields are the top-level fields that every loaded record with an
// object value has, each with one shape across them (see shape): a uuid
// event id, the aggregate id, a timestamp. Fewer than two object values
// share nothing.
func sharedFields(recs []*record.Record) map[string]bool {
	var shapes map[string]string
	objects := 0
	for _, r := range recs {
		fields, ok := objectFields(r.Value, r.ValueEncoding)
		if !ok {
			continue
		}
		objects++
		if shapes == nil {
			shapes = make(map[string]string, len(fields))
			for _, f := range fields {
				shapes[f.name] = shape(f.value)
			}
			continue
		}
		seen := make(map[string]bool, len(fields))
		for _, f := range fields {
			seen[f.name] = true
			if s, ok := shapes[f.name]; ok && s != shape(f.value) {
				delete(shapes, f.name)
			}
		}
		for name := range shapes {
			if !seen[name] {
				delete(shapes, name)
			}
		}
		if len(shapes) == 0 {
			return nil
		}
	}
	if objects < 2 {
		return nil
	}
	out := make(map[string]bool, len(shapes))
	for name := range shapes {
		out[name] = true
	}
	return out
}

type field struct {
	name  string
	value json.RawMessage
}

// objectFields are a decoded value's top-level fields in order, when it is
// a JSON object.
func objectFields(v json.RawMessage, encoding string) ([]field, bool) {
	if encoding == record.EncodingNull || encoding == record.EncodingText || encoding == record.EncodingBase64 {
		return nil, false
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		name, ok := tok.(string)
		if err != nil || !ok {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		out = append(out, field{name, raw})
	}
	return out, true
}

// shape is a JSON string with every letter and digit as x: every uuid,
// "acct-0042" and RFC 3339 time of a fixed layout has one shape, amounts
// and free text rarely do. A number is its own shape: numbers that differ
// (versions, counts) tell records apart, however many digits they have.
// Objects and arrays are one shape each.
func shape(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '{':
		return "{}"
	case '[':
		return "[]"
	case '"':
	default:
		return string(v)
	}
	b := []rune(string(v))
	for i, r := range b {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b[i] = 'x'
		}
	}
	return string(b)
}

// preview is a value on one line, the shared fields of an object last.
func preview(r *record.Record, shared map[string]bool) string {
	fields, ok := objectFields(r.Value, r.ValueEncoding)
	if !ok || len(shared) == 0 {
		return record.OneLine(record.PayloadText(r.Value, r.ValueEncoding))
	}
	b := []byte{'{'}
	for _, last := range []bool{false, true} {
		for _, f := range fields {
			if shared[f.name] != last {
				continue
			}
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = record.AppendJSONString(b, []byte(f.name))
			b = append(b, ':')
			var c bytes.Buffer
			if json.Compact(&c, f.value) != nil {
				return record.OneLine(record.PayloadText(r.Value, r.ValueEncoding))
			}
			b = append(b, c.Bytes()...)
		}
	}
	return string(append(b, '}'))
}
