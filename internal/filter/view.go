package filter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/evctl/evctl/internal/record"
)

// ViewFields are the names of the view's top-level fields (those ViewOf
// sets on every record, and those it sets when the record has them), in
// the order the capture format lists them.
var ViewFields = []string{"topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers", "headerList",
	"type", "keyEncoding", "valueEncoding", "schema", "keySchema", "error", "rawKey", "rawValue"}

func schemaView(s *record.SchemaRef) map[string]any {
	return map[string]any{"id": s.ID, "guid": s.GUID, "subject": s.Subject, "format": s.Format}
}

// ViewOf builds the object filters see (see View) from a record whose key
// and value are already decoded, so a caller with its own JSONDecoder (a
// projection fold) builds it without the pool.
func ViewOf(r *record.Record, key, value any) map[string]any {
	headers := make(map[string]any, len(r.Headers))
	list := make([]any, len(r.Headers))
	for i, h := range r.Headers {
		var value any = h.Value
		if h.IsNull() {
			value = nil
		}
		headers[h.Key] = value
		list[i] = map[string]any{"key": h.Key, "value": value}
	}
	v := make(map[string]any, 16)
	v["topic"] = r.Topic
	v["partition"] = int(r.Partition)
	v["offset"] = int(r.Offset)
	v["timestamp"] = r.Timestamp.String()
	if r.TimestampType != "" {
		v["timestampType"] = r.TimestampType
	}
	v["key"] = key
	v["value"] = value
	v["headers"] = headers
	v["headerList"] = list
	v["type"] = r.Type
	v["keyEncoding"] = r.KeyEncoding
	v["valueEncoding"] = r.ValueEncoding
	if r.Schema != nil {
		v["schema"] = schemaView(r.Schema)
	}
	if r.KeySchema != nil {
		v["keySchema"] = schemaView(r.KeySchema)
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
	return v
}

// JSONDecoder decodes JSON into the values jq takes (numbers as
// json.Number, exact), as encoding/json with UseNumber does, about three
// times faster (two json.Decoders per record cost more than a small jq
// program takes to run): it reuses object keys and has no stream to set up. What it
// does not handle alone (escapes, invalid UTF-8, bad or deep input) it
// leaves to encoding/json, whose result and errors are then the answer. Not
// safe for concurrent use.
type JSONDecoder struct {
	keys map[string]string // object keys seen, to share their memory
}

const (
	jsonMaxDepth = 1000 // deeper input goes to encoding/json
	jsonMaxKeys  = 4096 // distinct object keys kept
)

// Key is r's key as jq values: Record.Values' when the decoder made them,
// else Key decoded.
func (d *JSONDecoder) Key(r *record.Record) (any, error) {
	if r.Values != nil && r.Values.KeySet {
		return r.Values.Key, nil
	}
	return d.Decode(r.Key)
}

// Value is r's value as jq values, as Key is its key.
func (d *JSONDecoder) Value(r *record.Record) (any, error) {
	if r.Values != nil && r.Values.ValueSet {
		return r.Values.Value, nil
	}
	return d.Decode(r.Value)
}

// Decode decodes b; empty b is null.
func (d *JSONDecoder) Decode(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	s := jsonScan{d: d, b: b}
	v, ok := s.value(0)
	if ok {
		s.space()
		ok = s.i == len(b)
	}
	if ok {
		return v, nil
	}
	// encoding/json has the last word, and the messages users know.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var w any
	if err := dec.Decode(&w); err != nil {
		return nil, err
	}
	return w, nil
}

func (d *JSONDecoder) key(b []byte) string {
	if k, ok := d.keys[string(b)]; ok {
		return k
	}
	k := string(b)
	if d.keys == nil {
		d.keys = map[string]string{}
	}
	if len(d.keys) < jsonMaxKeys {
		d.keys[k] = k
	}
	return k
}

type jsonScan struct {
	d *JSONDecoder
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; ok false means "let encoding/json decide".
func (s *jsonScan) value(depth int) (any, bool) {
	s.space()
	if s.i >= len(s.b) || depth > jsonMaxDepth {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		m := map[string]any{}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return m, true
		}
		for {
			s.space()
			k, ok := s.str()
			if !ok {
				return nil, false
			}
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return nil, false
			}
			s.i++
			v, ok := s.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[s.d.key(k)] = v
			s.space()
			if s.i >= len(s.b) {
				return nil, false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case '}':
				s.i++
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		s.i++
		a := []any{}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return a, true
		}
		for {
			v, ok := s.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			s.space()
			if s.i >= len(s.b) {
				return nil, false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return a, true
			default:
				return nil, false
			}
		}
	case c == '"':
		b, ok := s.str()
		return string(b), ok
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	}
	return nil, false
}

// str scans a string without escapes or invalid UTF-8, the common case,
// and returns its contents.
func (s *jsonScan) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			out := s.b[start:j]
			if !ascii && !utf8.Valid(out) {
				return nil, false
			}
			s.i = j + 1
			return out, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// number scans a number by JSON's grammar and keeps its text.
func (s *jsonScan) number() (any, bool) {
	b, start := s.b, s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	s.i = i
	return json.Number(b[start:i]), true
}

func (s *jsonScan) literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}
