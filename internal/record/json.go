package record

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends r in the capture format, newline included. It writes
// what encoding/json with SetEscapeHTML(false) would, byte for byte (the
// tests hold it to that), without reflection: tail -o json spends most of
// its time here. Key and Value are trusted to be valid, compact JSON, as
// the decoder makes them.
func AppendJSON(dst []byte, r *Record) ([]byte, error) {
	b := dst
	b = append(b, `{"topic":`...)
	b = appendString(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":"`...)
	b = appendTimestamp(b, r.Timestamp.Time)
	b = append(b, '"')
	if r.TimestampType != "" {
		b = append(b, `,"timestampType":`...)
		b = appendString(b, r.TimestampType)
	}
	b = append(b, `,"key":`...)
	b = appendRaw(b, r.Key)
	b = append(b, `,"value":`...)
	b = appendRaw(b, r.Value)
	if len(r.Headers) > 0 {
		b = append(b, `,"headers":[`...)
		for i, h := range r.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendHeader(b, h)
		}
		b = append(b, ']')
	}
	if r.Type != "" {
		b = append(b, `,"type":`...)
		b = appendString(b, r.Type)
	}
	if r.KeySchema != nil {
		b = append(b, `,"keySchema":`...)
		b = appendSchemaRef(b, r.KeySchema)
	}
	if r.Schema != nil {
		b = append(b, `,"schema":`...)
		b = appendSchemaRef(b, r.Schema)
	}
	b = append(b, `,"keyEncoding":`...)
	b = appendString(b, r.KeyEncoding)
	b = append(b, `,"valueEncoding":`...)
	b = appendString(b, r.ValueEncoding)
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, r.Error)
	}
	if len(r.RawKey) > 0 {
		b = append(b, `,"rawKey":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.RawKey)
		b = append(b, '"')
	}
	if len(r.RawValue) > 0 {
		b = append(b, `,"rawValue":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.RawValue)
		b = append(b, '"')
	}
	return append(b, "}\n"...), nil
}

func appendSchemaRef(b []byte, s *SchemaRef) []byte {
	b = append(b, '{')
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	if s.ID != 0 {
		field("id")
		b = strconv.AppendInt(b, int64(s.ID), 10)
	}
	if s.GUID != "" {
		field("guid")
		b = appendString(b, s.GUID)
	}
	if s.Subject != "" {
		field("subject")
		b = appendString(b, s.Subject)
	}
	if s.Version != 0 {
		field("version")
		b = strconv.AppendInt(b, int64(s.Version), 10)
	}
	field("format")
	b = appendString(b, s.Format)
	if s.Local != "" {
		field("local")
		b = appendString(b, s.Local)
	}
	return append(b, '}')
}

// appendRaw writes a decoded payload; an empty one is null, as
// encoding/json writes an empty RawMessage.
func appendRaw(b []byte, v []byte) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

const hexDigits = "0123456789abcdef"

// jsonVerbatim tells the bytes a JSON string holds as they are: printable
// ASCII but '"' and '\\'. One lookup a byte instead of four comparisons:
// strings are most of what tail -o json writes.
var jsonVerbatim = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString quotes a Go string; see AppendJSONString.
func appendString(b []byte, s string) []byte {
	// A read-only view of the string's bytes: no copy on the hot path.
	return AppendJSONString(b, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// AppendJSONString quotes s as encoding/json does without HTML escaping:
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and
// U+2028/U+2029 escaped for JavaScript's sake.
func AppendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonVerbatim[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendHeader writes one header object; a null value is "value":null.
func appendHeader(b []byte, h Header) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, h.Key)
	if h.IsNull() {
		return append(b, `,"value":null}`...)
	}
	b = append(b, `,"value":`...)
	b = appendString(b, h.Value)
	if h.Encoding != "" {
		b = append(b, `,"encoding":`...)
		b = appendString(b, h.Encoding)
	}
	return append(b, '}')
}
