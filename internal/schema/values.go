package schema

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// avroValues decodes one Avro datum of schema n straight into the values
// jq reads (maps, slices, strings, numbers, bools, nil): what
// filter.JSONDecoder makes of renderAvro's plain JSON, without writing and
// parsing that JSON — a projection fold spent a sixth of its time there.
// Numbers are as gojq would take the JSON text: an int or long is an int,
// any other number a json.Number holding renderAvro's text (so states
// render it unchanged). Logical types are renderAvro's strings. typ is as
// renderAvro's.
func avroValues(n *avroNode, payload []byte) (v any, typ string, err error) {
	w := avroWriter{in: payload, out: make([]byte, 0, 64)}
	top := n
	if n.kind == kUnion {
		top = w.branch(n)
		if top != nil {
			v = w.any(top)
		}
	} else {
		v = w.any(n)
	}
	if w.err == nil && w.pos != len(w.in) {
		w.fail(fmt.Errorf("%d bytes left over after the value", len(w.in)-w.pos))
	}
	if w.err != nil {
		return nil, "", fmt.Errorf("%w at byte %d", w.err, w.errAt)
	}
	if top != nil && top.name != "" && (top.kind == kRecord || top.kind == kEnum || top.base == kFixed) {
		typ = top.name
	}
	return v, typ, nil
}

// any reads one value of n. Scalars whose JSON renderAvro formats (bytes,
// floats, logical types) are formatted by it into w.out, used as scratch,
// and read back, so both paths give the same text.
func (w *avroWriter) any(n *avroNode) any {
	switch n.kind {
	case kNull:
		return nil
	case kBool:
		b := w.take(1)
		switch {
		case b == nil:
		case b[0] == 0:
			return false
		case b[0] == 1:
			return true
		default:
			w.fail(fmt.Errorf("invalid boolean byte 0x%02x", b[0]))
		}
		return nil
	case kInt:
		return int(w.int())
	case kLong:
		return intValue(w.long())
	case kString:
		b := w.take(w.long())
		if w.err != nil {
			return nil
		}
		return validText(b)
	case kRecord:
		if !w.enter() {
			return nil
		}
		m := make(map[string]any, len(n.fields))
		for i := range n.fields {
			f := &n.fields[i]
			v := w.any(f.node)
			if w.err != nil {
				return nil
			}
			m[f.name] = v
		}
		w.depth--
		return m
	case kEnum:
		i := w.int()
		if w.err != nil {
			return nil
		}
		if i < 0 || int(i) >= len(n.names) {
			w.fail(fmt.Errorf("enum %s index %d out of range (%d symbols)", n.name, i, len(n.names)))
			return nil
		}
		return n.names[i]
	case kArray, kMap:
		return w.anyBlock(n, n.kind == kMap)
	case kUnion:
		b := w.branch(n)
		if b == nil || !w.enter() {
			return nil
		}
		v := w.any(b)
		w.depth--
		return v
	case kDuration:
		b := w.take(12)
		if b == nil {
			return nil
		}
		return map[string]any{
			"months":       int(binary.LittleEndian.Uint32(b[0:])),
			"days":         int(binary.LittleEndian.Uint32(b[4:])),
			"milliseconds": int(binary.LittleEndian.Uint32(b[8:])),
		}
	}
	start := len(w.out)
	w.value(n)
	if w.err != nil {
		return nil
	}
	v := jsonScalar(w.out[start:])
	w.out = w.out[:start]
	return v
}

// anyBlock reads an array or a map; see block.
func (w *avroWriter) anyBlock(n *avroNode, isMap bool) any {
	if !w.enter() {
		return nil
	}
	var (
		m map[string]any
		a = []any{}
	)
	if isMap {
		m = map[string]any{}
	}
	for {
		count, ok := w.blockCount(n, isMap)
		if !ok {
			return nil
		}
		if count == 0 {
			break
		}
		for ; count > 0; count-- {
			var key string
			if isMap {
				b := w.take(w.long())
				if w.err != nil {
					return nil
				}
				key = validText(b)
			}
			v := w.any(n.items)
			if w.err != nil {
				return nil
			}
			if isMap {
				m[key] = v
			} else {
				a = append(a, v)
			}
		}
	}
	w.depth--
	if isMap {
		return m
	}
	return a
}

// intValue is v as gojq takes an integer: an int when it fits.
func intValue(v int64) any {
	if int64(int(v)) == v {
		return int(v)
	}
	return json.Number(strconv.FormatInt(v, 10))
}

// jsonScalar reads back a scalar renderAvro wrote: a string without
// escapes (base64, a decimal, a time, "NaN") or a number.
func jsonScalar(b []byte) any {
	if b[0] == '"' {
		return string(b[1 : len(b)-1])
	}
	if !strings.ContainsAny(string(b), ".eE") {
		if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return intValue(v)
		}
	}
	return json.Number(string(b))
}

// validText is b as a string, each byte of invalid UTF-8 replaced by
// U+FFFD, as record.AppendJSONString writes it.
func validText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}
