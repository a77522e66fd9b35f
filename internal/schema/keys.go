package schema

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/evctl/evctl/internal/record"
)

// EncodeKeyLike encodes text, a key as evctl shows it (record.KeyText),
// the way sample, a record read from the topic, has its key encoded: the
// bytes its producer's partitioner hashed. A key in the registry's wire
// format (or named by a schema-id header) is encoded with sample's key
// schema: an Avro or JSON Schema primitive from the text, anything else
// from text as JSON. The result is checked by decoding it back.
func (d *Decoder) EncodeKeyLike(ctx context.Context, sample *record.Message, text string) ([]byte, error) {
	if b, ok := strings.CutPrefix(text, "base64:"); ok {
		return base64.StdEncoding.DecodeString(b)
	}
	var (
		s       *Schema
		prefix  []byte
		headers []record.RawHeader
		err     error
	)
	if h, ok := lastHeader(sample.Headers, KeySchemaIDHeader); ok {
		guid, perr := parseSchemaIDHeader(h)
		if perr != nil {
			return nil, fmt.Errorf("key schema-id header: %w", perr)
		}
		if d.reg == nil {
			return nil, fmt.Errorf("the keys name schema guid %s but no registry is configured (--registry)", guid)
		}
		s, err = d.reg.SchemaByGUID(ctx, guid)
		headers = []record.RawHeader{{Key: KeySchemaIDHeader, Value: h}}
	} else if id, _, ok := splitConfluent(sample.Key); ok {
		if d.reg == nil {
			return nil, fmt.Errorf("the keys are in the registry's wire format (schema id %d) but no registry is configured (--registry)", id)
		}
		s, err = d.reg.SchemaByID(ctx, id)
		prefix = AppendConfluentPrefix(nil, id)
	} else if d.keyLocal != nil {
		s = d.keyLocal
	} else {
		if p := plain(sample.Key); p.Encoding == record.EncodingJSON && len(sample.Key) > 0 && sample.Key[0] == '"' {
			return json.Marshal(text) // a JSON string key
		}
		return []byte(text), nil
	}
	if err != nil {
		return nil, fmt.Errorf("the keys' schema: %w", err)
	}
	body, err := encodeKey(s, text)
	if err != nil {
		return nil, err
	}
	out := slices.Concat(prefix, body)
	p := d.DecodePayload(ctx, out, headers, true)
	want := text
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		want, _ = record.KeyText(json.RawMessage(t), record.EncodingJSON) // spacing and member order do not count
	}
	if got, _ := record.KeyText(p.JSON, p.Encoding); p.Err != nil || got != want {
		return nil, fmt.Errorf("%q does not encode as a key of schema id %d (it reads back as %q)", text, s.ID, got)
	}
	return out, nil
}

// encodeKey encodes text with the key schema s, without framing.
func encodeKey(s *Schema, text string) ([]byte, error) {
	switch s.Format {
	case FormatAvro:
		v, err := avroKeyValue(s.avro, text)
		if err != nil {
			return nil, err
		}
		b, err := avro.Marshal(s.avro, v)
		if err != nil {
			return nil, fmt.Errorf("%q as an Avro key (%s): %w", text, s.avro.Type(), err)
		}
		return b, nil
	case FormatJSON:
		if json.Valid([]byte(text)) && strings.ContainsAny(text[:1], "{[") {
			return []byte(text), nil
		}
		return json.Marshal(text)
	}
	return nil, fmt.Errorf("cannot encode a key for a %s key schema", s.Format)
}

// avroKeyValue reads text as a value of an Avro schema: primitives from
// their text, anything else from JSON.
func avroKeyValue(s avro.Schema, text string) (any, error) {
	switch s.Type() {
	case avro.String:
		return text, nil
	case avro.Int:
		n, err := strconv.ParseInt(text, 10, 32)
		return int32(n), err
	case avro.Long:
		return strconv.ParseInt(text, 10, 64)
	case avro.Bytes:
		return []byte(text), nil
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("the key schema is an Avro %s, and %q is not JSON", s.Type(), text)
	}
	return v, nil
}
