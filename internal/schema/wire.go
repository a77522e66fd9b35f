package schema

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/evctl/evctl/internal/record"
)

// Wire-format constants of Confluent Schema Registry serializers.
const (
	confluentMagic  = 0x00 // first byte of a payload prefixed with a schema id
	confluentPrefix = 5    // magic byte + 4-byte big-endian schema id
	guidMagic       = 0x01 // first byte of a schema-id header carrying a GUID
	guidHeaderLen   = 17   // magic byte + 16-byte GUID

	// KeySchemaIDHeader and ValueSchemaIDHeader carry a schema GUID in place
	// of the payload prefix (Confluent Platform 8 "header" schema ids).
	KeySchemaIDHeader   = "__key_schema_id"
	ValueSchemaIDHeader = "__value_schema_id"
)

// AppendConfluentPrefix appends the Confluent wire-format prefix for schema
// id (0x00 and the id as 4 big-endian bytes) to dst.
func AppendConfluentPrefix(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, confluentMagic), uint32(id))
}

// AppendSchemaIDHeader returns the value of a __key_schema_id or
// __value_schema_id header for a schema GUID in canonical UUID form.
func AppendSchemaIDHeader(dst []byte, guid string) ([]byte, error) {
	g, err := parseGUID(guid)
	if err != nil {
		return dst, err
	}
	return append(append(dst, guidMagic), g[:]...), nil
}

// splitConfluent splits a payload in Confluent wire format into its schema
// id and the rest. Ids are positive in every registry, so a zero or negative
// id means the payload merely starts with a zero byte.
func splitConfluent(b []byte) (id int, rest []byte, ok bool) {
	if len(b) < confluentPrefix || b[0] != confluentMagic {
		return 0, nil, false
	}
	v := binary.BigEndian.Uint32(b[1:confluentPrefix])
	if v == 0 || v > 1<<31-1 {
		return 0, nil, false
	}
	return int(v), b[confluentPrefix:], true
}

// lastHeader returns the value of the last header named key: Confluent's
// deserializers read the last one when a key repeats.
func lastHeader(hs []record.RawHeader, key string) ([]byte, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// parseSchemaIDHeader reads a schema-id header: 0x01 and a 16-byte GUID.
func parseSchemaIDHeader(v []byte) (string, error) {
	if len(v) != guidHeaderLen || v[0] != guidMagic {
		return "", fmt.Errorf("want 0x01 and a 16-byte GUID, got %d bytes", len(v))
	}
	return formatGUID(v[1:]), nil
}

// formatGUID formats 16 bytes as a canonical lower-case UUID string.
func formatGUID(g []byte) string {
	var s [36]byte
	hex.Encode(s[0:8], g[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], g[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], g[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], g[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], g[10:16])
	return string(s[:])
}

// parseGUID parses a canonical UUID string.
func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("invalid GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return g, fmt.Errorf("invalid GUID %q: %w", s, err)
	}
	return g, nil
}

// errIndexes reports malformed Protobuf message indexes.
var errIndexes = errors.New("malformed Protobuf message indexes")

// maxMessageIndexes bounds the nesting depth of a Protobuf message index path.
const maxMessageIndexes = 64

// splitMessageIndexes reads the Protobuf message indexes that follow the
// schema id: a zig-zag varint count and as many zig-zag varints, where a
// single 0x00 stands for [0].
func splitMessageIndexes(b []byte) (indexes []int, rest []byte, err error) {
	n, k := binary.Varint(b)
	if k <= 0 {
		return nil, nil, errIndexes
	}
	b = b[k:]
	if n == 0 {
		return []int{0}, b, nil
	}
	if n < 0 || n > maxMessageIndexes {
		return nil, nil, fmt.Errorf("%w: count %d", errIndexes, n)
	}
	indexes = make([]int, n)
	for i := range indexes {
		v, k := binary.Varint(b)
		if k <= 0 || v < 0 || v > 1<<31-1 {
			return nil, nil, errIndexes
		}
		indexes[i] = int(v)
		b = b[k:]
	}
	return indexes, b, nil
}

// AppendMessageIndexes appends Protobuf message indexes in the Confluent
// wire format ([0] as a single 0x00).
func AppendMessageIndexes(dst []byte, indexes []int) []byte {
	if len(indexes) == 1 && indexes[0] == 0 {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(indexes)))
	for _, i := range indexes {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}
