package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Message turns a capture record back into the Kafka record it came from:
// exact bytes where the capture kept them (--raw), else the payload
// re-encoded from its decoded form where that is lossless (JSON, text,
// base64, null; JSON for a line without encodings, written by hand). A
// schema-encoded payload without raw bytes cannot be rebuilt and is an
// error.
func (r *Record) Message() (*Message, error) {
	key, err := payload(r.Key, r.RawKey, r.KeyEncoding)
	if err != nil {
		return nil, fmt.Errorf("%s/%d@%d: key: %w", r.Topic, r.Partition, r.Offset, err)
	}
	value, err := payload(r.Value, r.RawValue, r.ValueEncoding)
	if err != nil {
		return nil, fmt.Errorf("%s/%d@%d: value: %w", r.Topic, r.Partition, r.Offset, err)
	}
	m := &Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.Time, TimestampType: r.TimestampType, Key: key, Value: value}
	for _, h := range r.Headers {
		b, err := h.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%s/%d@%d: header %q: %w", r.Topic, r.Partition, r.Offset, h.Key, err)
		}
		m.Headers = append(m.Headers, RawHeader{Key: h.Key, Value: b})
	}
	return m, nil
}

func payload(decoded json.RawMessage, raw []byte, encoding string) ([]byte, error) {
	switch {
	case encoding == EncodingNull:
		return nil, nil
	case raw != nil:
		return raw, nil
	}
	switch encoding {
	case EncodingJSON:
		return bytes.TrimSpace(decoded), nil
	case EncodingText, EncodingBase64:
		var s string
		if err := json.Unmarshal(decoded, &s); err != nil {
			return nil, fmt.Errorf("%s payload is not a JSON string: %w", encoding, err)
		}
		if encoding == EncodingText {
			return []byte(s), nil
		}
		return base64.StdEncoding.DecodeString(s)
	case "": // a line written by hand, without encodings: JSON, null a null
		if d := bytes.TrimSpace(decoded); len(d) > 0 && string(d) != "null" {
			return d, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("%s payload without its raw bytes cannot be replayed exactly; capture it with --raw", encoding)
}
