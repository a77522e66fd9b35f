package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// A JSON value as the encoders read it: nil, bool, json.Number, string,
// []any or *jsonObject. Objects keep their keys' order, so an Avro map or
// a Protobuf message is written in the order the line gives it, and a
// tail | produce round trip keeps it.
type jsonObject struct {
	keys []string
	vals []any
}

func (o *jsonObject) get(key string) (any, bool) {
	for i, k := range o.keys {
		if k == key {
			return o.vals[i], true
		}
	}
	return nil, false
}

// parseJSON parses one JSON value, keys in order; duplicate keys are an
// error, as the value they would give is a guess.
func parseJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := jsonValue(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

func jsonValue(d *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("values nested deeper than %d", maxDepth)
	}
	t, err := d.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("no JSON value")
		}
		return nil, err
	}
	if t, ok := t.(json.Delim); ok {
		switch t {
		case '[':
			a := []any{}
			for d.More() {
				v, err := jsonValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		case '{':
			o := &jsonObject{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if _, dup := o.get(k); dup {
					return nil, fmt.Errorf("key %q given twice", k)
				}
				v, err := jsonValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			}
			_, err := d.Token()
			return o, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return t, nil
}

// describeValue names a JSON value's kind for an error message.
func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return "the string " + strconv.Quote(v)
	case []any:
		return "an array"
	case *jsonObject:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// fieldPath appends a key to a jq-style path: .a.b, .["odd key"].
func fieldPath(path, key string) string {
	simple := key != ""
	for i, c := range key {
		word := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !word {
			simple = false
			break
		}
	}
	if simple {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func indexPath(path string, i int) string {
	if path == "" {
		path = "."
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

// FieldError says which part of a value does not fit its schema: Path is
// jq-style (".amount", ".items[2].id"; "." for the whole value).
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	p := e.Path
	if p == "" {
		p = "."
	}
	return p + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErrorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}
