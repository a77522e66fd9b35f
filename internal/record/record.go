// Package record defines the Record that every evctl command reads and
// writes, and the capture format: one Record as JSON per line.
package record

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one Kafka record as it came off the wire, before decoding.
// A nil Key or Value is a null (a tombstone for values); an empty non-nil
// slice is an empty payload. The two are never confused.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	// TimestampType is what Timestamp is: TimestampCreateTime,
	// TimestampLogAppendTime, or empty when the broker does not say.
	TimestampType string
	Key           []byte
	Value         []byte
	Headers       []RawHeader
}

// RawHeader is one Kafka header; keys may repeat, order matters.
type RawHeader struct {
	Key   string
	Value []byte
}

// Encodings name how a key or value payload was decoded.
const (
	EncodingNull       = "null"        // no payload (a tombstone, for values)
	EncodingAvro       = "avro"        // Avro through the registry or a local schema
	EncodingJSONSchema = "json-schema" // JSON Schema through the registry
	EncodingProtobuf   = "protobuf"    // Protobuf through the registry or a local schema
	EncodingJSON       = "json"        // plain JSON
	EncodingText       = "text"        // UTF-8 text
	EncodingBase64     = "base64"      // anything else, base64 in Key/Value
)

// Timestamp types: what a record's timestamp is, as the topic's
// message.timestamp.type names it.
const (
	TimestampCreateTime    = "CreateTime"    // set by the producer
	TimestampLogAppendTime = "LogAppendTime" // set by the broker when it appended the record
)

// Record is a decoded Kafka record: what tail prints, what captures hold.
type Record struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp Timestamp `json:"timestamp"`
	// TimestampType is TimestampCreateTime or TimestampLogAppendTime;
	// empty when unknown (an older capture, a line written by hand).
	TimestampType string          `json:"timestampType,omitempty"`
	Key           json.RawMessage `json:"key"`
	Value         json.RawMessage `json:"value"`
	Headers       []Header        `json:"headers,omitempty"`
	// Type is the event type: the Avro record's full name, a JSON Schema's
	// title, or empty when the payload has no schema.
	Type          string     `json:"type,omitempty"`
	KeySchema     *SchemaRef `json:"keySchema,omitempty"`
	Schema        *SchemaRef `json:"schema,omitempty"`
	KeyEncoding   string     `json:"keyEncoding"`
	ValueEncoding string     `json:"valueEncoding"`
	// Error says why the key or value could not be decoded; the record is
	// then shown with the payload as text or base64. For a value that
	// decoded but does not match its JSON Schema (tail --validate), the
	// value is shown decoded, Error says where it breaks the schema, and
	// Invalid is set.
	Error string `json:"error,omitempty"`
	// Invalid says Error is the value's JSON Schema validation alone: the
	// key and value decoded. Not part of the capture format.
	Invalid bool `json:"-"`
	// RawKey and RawValue are the exact payload bytes (base64 in JSON), set
	// with --raw so that a capture replays byte for byte. A null payload is
	// told from an empty one by its encoding, EncodingNull.
	RawKey   []byte `json:"rawKey,omitempty"`
	RawValue []byte `json:"rawValue,omitempty"`
	// Values holds the key and value already decoded into the values jq
	// reads, when the decoder was asked for them: a fold or a filter then
	// need not parse Key and Value again. Not part of the capture format.
	Values *Values `json:"-"`
}

// Values are a record's key and value as jq values (what
// filter.JSONDecoder makes of Key and Value), for the payloads the decoder
// decoded straight into them (Avro); KeySet or ValueSet is false for a
// payload to parse from its JSON.
type Values struct {
	Key, Value       any
	KeySet, ValueSet bool
}

// SchemaRef says which schema decoded a payload.
type SchemaRef struct {
	ID      int    `json:"id,omitempty"`
	GUID    string `json:"guid,omitempty"`
	Subject string `json:"subject,omitempty"`
	Version int    `json:"version,omitempty"`
	Format  string `json:"format"` // AVRO, JSON, PROTOBUF
	// Local is the path of a local schema file given by the user.
	Local string `json:"local,omitempty"`
}

// Header is a decoded header. Value is the text when the bytes are UTF-8,
// else their base64 with Encoding "base64". A null value (Kafka tells it
// from an empty one) has Encoding "null" and is written "value":null.
type Header struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"`
}

// IsNull reports whether the header's value is null, not empty.
func (h Header) IsNull() bool { return h.Encoding == EncodingNull }

// MarshalJSON writes the header as the capture format does.
func (h Header) MarshalJSON() ([]byte, error) { return appendHeader(nil, h), nil }

// UnmarshalJSON reads a capture's header; "value":null is a null value.
func (h *Header) UnmarshalJSON(b []byte) error {
	var v struct {
		Key      string  `json:"key"`
		Value    *string `json:"value"`
		Encoding string  `json:"encoding"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*h = Header{Key: v.Key, Encoding: v.Encoding}
	if v.Value == nil {
		h.Encoding = EncodingNull
	} else {
		h.Value = *v.Value
	}
	return nil
}

// DecodeHeaders turns raw headers into printable ones, order kept.
func DecodeHeaders(hs []RawHeader) []Header {
	if len(hs) == 0 {
		return nil
	}
	// The values share one string: one allocation a record, not one a
	// header (a tenth of decoding a bank event).
	var all strings.Builder
	size := 0
	for _, h := range hs {
		size += len(h.Value)
	}
	all.Grow(size)
	var small [8]int
	ends := small[:0]
	if len(hs) > len(small) {
		ends = make([]int, 0, len(hs))
	}
	ends = ends[:len(hs)]
	for i, h := range hs {
		if h.Value != nil && utf8.Valid(h.Value) {
			all.Write(h.Value)
		}
		ends[i] = all.Len()
	}
	text := all.String()
	out := make([]Header, len(hs))
	start := 0
	for i, h := range hs {
		out[i] = Header{Key: h.Key}
		switch {
		case h.Value == nil:
			out[i].Encoding = EncodingNull
		case ends[i] > start || len(h.Value) == 0:
			out[i].Value = text[start:ends[i]]
		default:
			out[i].Value = base64.StdEncoding.EncodeToString(h.Value)
			out[i].Encoding = EncodingBase64
		}
		start = ends[i]
	}
	return out
}

// Bytes returns the header's exact bytes: nil for a null value.
func (h Header) Bytes() ([]byte, error) {
	switch h.Encoding {
	case EncodingNull:
		return nil, nil
	case EncodingBase64:
		return base64.StdEncoding.DecodeString(h.Value)
	}
	return []byte(h.Value), nil
}

// Timestamp is a time that marshals as RFC3339 in UTC with milliseconds.
type Timestamp struct{ time.Time }

// TimestampFormat is the capture format's timestamp layout.
const TimestampFormat = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes RFC3339 with milliseconds, in UTC.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimestampFormat)+2)
	b = append(b, '"')
	b = appendTimestamp(b, t.Time)
	return append(b, '"'), nil
}

// appendTimestamp appends t as TimestampFormat in UTC, as AppendFormat
// does, a few times faster (tail writes one per record).
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, TimestampFormat)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// UnmarshalJSON reads any RFC3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// String formats the timestamp as the capture format does.
func (t Timestamp) String() string {
	var b [len(TimestampFormat)]byte
	return string(appendTimestamp(b[:0], t.Time))
}

// CompareTime orders records by time, as a merge of partitions shows
// them: by timestamp, then topic, partition and offset, so that equal
// timestamps keep each partition's order and the result is reproducible.
func CompareTime(a, b *Record) int {
	return cmp.Or(a.Timestamp.Compare(b.Timestamp.Time), cmp.Compare(a.Topic, b.Topic),
		cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
}

// CompareMessageTime is CompareTime for messages, before decoding.
func CompareMessageTime(a, b *Message) int {
	return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Topic, b.Topic),
		cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
}

// ShortType is the last dotted part of an event type: MoneyDeposited for
// com.bank.MoneyDeposited.
func ShortType(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// TypeMatches reports whether event type t is one of types, by its full
// or its short name (--type accepts either).
func TypeMatches(t string, types []string) bool {
	return slices.Contains(types, t) || slices.Contains(types, ShortType(t))
}

// PayloadText renders a decoded key or value for text output: strings
// bare, everything else as compact JSON.
func PayloadText(v json.RawMessage, encoding string) string {
	if len(v) == 0 || encoding == EncodingNull {
		return "null"
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			if encoding == EncodingBase64 {
				return "base64:" + s
			}
			return s
		}
	}
	var out bytes.Buffer
	if json.Compact(&out, v) != nil {
		return string(v)
	}
	return out.String()
}

// OneLine escapes tabs and line breaks, so that a payload shown as text
// stays on one line for line-based tools.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}
