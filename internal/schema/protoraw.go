package schema

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/evctl/evctl/internal/record"
)

// ProtoRaw shows Protobuf bytes without a schema, as protoc --decode_raw
// does, in JSON: an object whose keys are "number:kind" — kind is the wire
// type (varint, fixed32, fixed64) or, for a length-delimited field, the
// guess: message (the bytes parse as one), string (printable UTF-8), else
// bytes (base64) — and whose values are the field's, an array where a
// number repeats. Varints are unsigned, as on the wire: a negative int64
// shows as its two's complement, a sint as its zig-zag form. Registry
// framing (0x00, the schema id, message indexes) is skipped.
func ProtoRaw(b []byte) ([]byte, error) {
	if _, rest, ok := splitConfluent(b); ok {
		if _, rest, err := splitMessageIndexes(rest); err == nil {
			b = rest
		}
	}
	out, err := appendProtoRaw(nil, b, 0)
	if err != nil {
		return nil, fmt.Errorf("not Protobuf: %w", err)
	}
	return out, nil
}

// maxRawDepth bounds the nested messages ProtoRaw guesses.
const maxRawDepth = 64

type rawField struct {
	key    string
	values [][]byte // JSON values, in order
}

func appendProtoRaw(dst, b []byte, depth int) ([]byte, error) {
	var fields []*rawField
	byKey := map[string]*rawField{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		var kind string
		var v []byte
		switch typ {
		case protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b, kind, v = b[n:], "varint", strconv.AppendUint(nil, x, 10)
		case protowire.Fixed32Type:
			x, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b, kind, v = b[n:], "fixed32", strconv.AppendUint(nil, uint64(x), 10)
		case protowire.Fixed64Type:
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b, kind, v = b[n:], "fixed64", strconv.AppendUint(nil, x, 10)
		case protowire.BytesType:
			x, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			kind, v = guessBytes(x, depth)
		default:
			return nil, fmt.Errorf("field %d: wire type %d (groups are not shown)", num, typ)
		}
		key := strconv.Itoa(int(num)) + ":" + kind
		f := byKey[key]
		if f == nil {
			f = &rawField{key: key}
			byKey[key] = f
			fields = append(fields, f)
		}
		f.values = append(f.values, v)
	}
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = record.AppendJSONString(dst, []byte(f.key))
		dst = append(dst, ':')
		if len(f.values) == 1 {
			dst = append(dst, f.values[0]...)
			continue
		}
		dst = append(dst, '[')
		for j, v := range f.values {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, v...)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// guessBytes tells what a length-delimited field holds: text reads as a
// string, else bytes that parse as a message are one, else bytes.
func guessBytes(b []byte, depth int) (string, []byte) {
	if len(b) > 0 && isText(b) && utf8.Valid(b) {
		return "string", record.AppendJSONString(nil, b)
	}
	if len(b) > 0 && depth < maxRawDepth {
		if m, err := appendProtoRaw(nil, b, depth+1); err == nil {
			return "message", m
		}
	}
	if len(b) == 0 {
		return "string", []byte(`""`)
	}
	return "bytes", base64JSON(b)
}
