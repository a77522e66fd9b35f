// Package schema decodes Kafka record payloads: the Confluent wire formats
// (schema id prefix or schema-id header), Avro through a schema registry or a
// local .avsc file, JSON Schema, Protobuf, plain JSON, text and bytes. It also
// holds the registry client, and Avro parsing and Protobuf compiling with
// references.
package schema

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile/linker"

	"github.com/evctl/evctl/internal/record"
)

// DecoderOptions configure a Decoder.
type DecoderOptions struct {
	Registry Registry // nil: no registry configured
	// KeySchema and ValueSchema are paths of local Avro schema files
	// (--key-schema, --value-schema) for plain Avro binary without a
	// prefix; "" for none.
	KeySchema, ValueSchema string
	// KeyProto and ValueProto are local Protobuf schemas (--key-proto,
	// --value-proto, or a descriptor set) for plain Protobuf without a
	// prefix; an empty Path for none.
	KeyProto, ValueProto LocalSchema
	AvroJSON             bool // Avro's JSON encoding (union wrappers) instead of plain JSON
	Raw                  bool // also set Record.RawKey and RawValue to the exact bytes
	// Values also decodes Avro payloads into the values jq reads
	// (Record.Values), for a projection fold. Not with AvroJSON.
	Values bool
	// ValuesOnly, with Values, decodes an Avro value into jq values
	// without also rendering its JSON: Record.Value is then nil, for a
	// reader of Record.Values alone (a projection fold). Keys are rendered
	// as ever.
	ValuesOnly bool
	// NoHeaders leaves Record.Headers nil, for a reader that never looks
	// at them (a fold whose programs never name record): rendering them
	// was a quarter of decoding a bank event.
	NoHeaders bool
	// Validate validates JSON Schema payloads against the schema that
	// framed them; one that does not match is decoded, with Payload.Err
	// saying where it breaks the schema and Payload.Invalid set.
	Validate bool
}

// Decoder turns Kafka messages into Records. It is safe for concurrent use.
type Decoder struct {
	reg        Registry
	keyLocal   *Schema
	valueLocal *Schema
	avroJSON   bool
	raw        bool
	values     bool
	valuesOnly bool
	noHeaders  bool
	validate   bool
}

// Payload is one decoded key or value.
type Payload struct {
	JSON     json.RawMessage // the value as JSON; never nil, but with DecoderOptions.ValuesOnly
	Encoding string          // record.Encoding*
	Type     string          // the Avro named type's or Protobuf message's full name, or a JSON Schema's title
	Schema   *record.SchemaRef
	Err      error // why the payload could not be decoded as it claims to be
	Invalid  bool  // Err says the payload decoded but does not match its JSON Schema
	// Value is the payload as jq values, when HasValue (see
	// DecoderOptions.Values).
	Value    any
	HasValue bool
}

// NewDecoder returns a decoder; it fails when a local schema file cannot be
// read or parsed.
func NewDecoder(opts DecoderOptions) (*Decoder, error) {
	d := &Decoder{reg: opts.Registry, avroJSON: opts.AvroJSON, raw: opts.Raw, values: opts.Values && !opts.AvroJSON, noHeaders: opts.NoHeaders, validate: opts.Validate}
	d.valuesOnly = d.values && opts.ValuesOnly
	var err error
	if d.keyLocal, err = loadLocal(opts.KeySchema, "--key-schema"); err != nil {
		return nil, err
	}
	if d.valueLocal, err = loadLocal(opts.ValueSchema, "--value-schema"); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		l                  LocalSchema
		local              **Schema
		protoFlag, setFlag string
	}{{opts.KeyProto, &d.keyLocal, "--key-proto", "--key-descriptor-set"}, {opts.ValueProto, &d.valueLocal, "--value-proto", "--descriptor-set"}} {
		if p.l.Path == "" {
			continue
		}
		flag := p.protoFlag
		if p.l.DescriptorSet {
			flag = p.setFlag
		}
		if *p.local != nil {
			return nil, fmt.Errorf("%s and an Avro schema exclude each other: give one local schema", flag)
		}
		if *p.local, err = LoadLocal(p.l, flag); err != nil {
			return nil, err
		}
		if (*p.local).Format != FormatProtobuf {
			return nil, fmt.Errorf("%s %s: want a Protobuf schema (.proto or a descriptor set)", flag, p.l.Path)
		}
	}
	return d, nil
}

// loadLocal reads and parses a local Avro schema file, whatever its name
// ends with; "" is no schema.
func loadLocal(path, flag string) (*Schema, error) {
	if path == "" {
		return nil, nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	s := &Schema{Format: FormatAvro, Text: string(text)}
	if err := s.prepare(nil); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	s.ref.Local = path
	return s, nil
}

// Decode decodes a message's key and value. It never fails: a payload that
// cannot be decoded is shown as JSON, text or base64, and Record.Error says
// why ("key: …; value: …").
func (d *Decoder) Decode(ctx context.Context, m *record.Message) *record.Record {
	r := &record.Record{
		Topic:         m.Topic,
		Partition:     m.Partition,
		Offset:        m.Offset,
		Timestamp:     record.Timestamp{Time: m.Timestamp},
		TimestampType: m.TimestampType,
	}
	if !d.noHeaders {
		r.Headers = record.DecodeHeaders(m.Headers)
	}
	k := d.DecodePayload(ctx, m.Key, m.Headers, true)
	v := d.DecodePayload(ctx, m.Value, m.Headers, false)
	r.Key, r.KeyEncoding, r.KeySchema = k.JSON, k.Encoding, k.Schema
	r.Value, r.ValueEncoding, r.Schema, r.Type = v.JSON, v.Encoding, v.Schema, v.Type
	switch {
	case k.Err != nil && v.Err != nil:
		r.Error = "key: " + k.Err.Error() + "; value: " + v.Err.Error()
	case k.Err != nil:
		r.Error = "key: " + k.Err.Error()
	case v.Err != nil:
		r.Error = "value: " + v.Err.Error()
		r.Invalid = v.Invalid
	}
	if d.raw {
		r.RawKey, r.RawValue = m.Key, m.Value
	}
	if k.HasValue || v.HasValue {
		r.Values = &record.Values{Key: k.Value, KeySet: k.HasValue, Value: v.Value, ValueSet: v.HasValue}
	}
	return r
}

// DecodePayload decodes one key (isKey) or value payload, in the order:
// schema-id header, Confluent prefix, local schema, JSON, UTF-8 text, base64.
// The returned JSON may share memory with b.
func (d *Decoder) DecodePayload(ctx context.Context, b []byte, headers []record.RawHeader, isKey bool) Payload {
	if b == nil {
		return Payload{JSON: json.RawMessage("null"), Encoding: record.EncodingNull}
	}
	header, local := ValueSchemaIDHeader, d.valueLocal
	if isKey {
		header, local = KeySchemaIDHeader, d.keyLocal
	}
	var (
		notes  []string          // why the schema steps did not decode b
		failed *record.SchemaRef // a schema that was found but did not decode b
	)
	guid := ""
	if h, ok := lastHeader(headers, header); ok {
		var err error
		if guid, err = parseSchemaIDHeader(h); err != nil {
			notes = append(notes, fmt.Sprintf("header %s ignored: %v", header, err))
		}
	}
	onlyValues := d.valuesOnly && !isKey
	if guid != "" { // the payload has no prefix then
		p, ok := d.viaRegistry(ctx, b, b, schemaKey{guid: guid}, onlyValues)
		if ok {
			return p
		}
		notes, failed = append(notes, p.Err.Error()), p.Schema
	} else if id, rest, ok := splitConfluent(b); ok {
		p, ok := d.viaRegistry(ctx, b, rest, schemaKey{id: id}, onlyValues)
		if ok {
			return p
		}
		notes, failed = append(notes, p.Err.Error()), p.Schema
	}
	if local != nil {
		p, err := d.decodeLocal(local, b, onlyValues)
		if err == nil {
			return p
		}
		format := "Avro"
		if local.Format == FormatProtobuf {
			format = "Protobuf"
		}
		notes = append(notes, fmt.Sprintf("%s (local schema %s): %v: showing raw bytes", format, local.ref.Local, err))
	}
	p := plain(b)
	if len(notes) > 0 {
		p.Err = errors.New(strings.Join(notes, "; "))
		p.Schema = failed
	}
	return p
}

// PlainKeyText is m's key as text (record.KeyText) when the key needs no
// schema — no schema-id header, no Confluent prefix, no local key schema —
// so that a --key is compared before anything else is decoded. isPlain is
// false when the key needs decoding; hasText is false for a null key.
func (d *Decoder) PlainKeyText(m *record.Message) (text string, hasText, isPlain bool) {
	if m.Key == nil {
		return "", false, true
	}
	if _, ok := lastHeader(m.Headers, KeySchemaIDHeader); ok || d.keyLocal != nil {
		return "", false, false
	}
	if _, _, ok := splitConfluent(m.Key); ok {
		return "", false, false
	}
	p := plain(m.Key)
	text, hasText = record.KeyText(p.JSON, p.Encoding)
	return text, hasText, true
}

// schemaKey is how a payload names its schema: a registry id or a GUID.
type schemaKey struct {
	id   int
	guid string
}

func (k schemaKey) String() string {
	if k.guid != "" {
		return "schema guid " + k.guid
	}
	return "schema id " + strconv.Itoa(k.id)
}

// viaRegistry looks up the schema of payload b and decodes rest, the part
// after the schema id, with it. ok is false when it could not: p.Err says
// why, and p.Schema is set if the schema was found (the payload is at fault).
// onlyValues is decodeAvro's.
func (d *Decoder) viaRegistry(ctx context.Context, b, rest []byte, key schemaKey, onlyValues bool) (p Payload, ok bool) {
	if d.reg == nil {
		wire := "Confluent wire format"
		if key.guid != "" {
			wire = "schema-id header"
		}
		return Payload{Err: fmt.Errorf("%s (%s) but no registry configured (--registry)", wire, key)}, false
	}
	var s *Schema
	var err error
	if key.guid != "" {
		s, err = d.reg.SchemaByGUID(ctx, key.guid)
	} else {
		s, err = d.reg.SchemaByID(ctx, key.id)
	}
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && s == nil:
		return Payload{Err: fmt.Errorf("%s not found in registry", key)}, false
	case err != nil:
		var unavailable *UnavailableError
		if errors.As(err, &unavailable) {
			return Payload{Err: fmt.Errorf("%w: showing raw bytes", err)}, false
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Payload{Err: fmt.Errorf("%s: lookup interrupted (%w): showing raw bytes", key, err)}, false
		}
		return Payload{Err: fmt.Errorf("%s: %w: showing raw bytes", key, err)}, false
	}
	switch s.Format {
	case FormatAvro:
		p, err := d.decodeAvro(s, rest, onlyValues)
		if err != nil {
			return Payload{Schema: s.ref, Err: fmt.Errorf("Avro (%s): %w: showing raw bytes", key, err)}, false
		}
		return p, true
	case FormatJSON:
		if !json.Valid(rest) {
			return Payload{Schema: s.ref, Err: fmt.Errorf("JSON Schema (%s) payload is not valid JSON: showing raw bytes", key)}, false
		}
		p := Payload{JSON: compactJSON(rest), Encoding: record.EncodingJSONSchema, Type: s.title, Schema: s.ref}
		if d.validate {
			if err := s.ValidateJSON(rest); err != nil {
				why := "does not match the schema"
				if s.json.err != nil {
					why = "cannot be validated"
				}
				p.Err, p.Invalid = fmt.Errorf("JSON Schema (%s): %s: %w", key, why, err), true
			}
		}
		return p, true
	case FormatProtobuf:
		p, err := decodeProtobuf(s, rest)
		if err != nil {
			return Payload{Schema: s.ref, Err: fmt.Errorf("Protobuf (%s): %w: showing raw bytes", key, err)}, false //nolint:staticcheck // a proper noun, after "value: "
		}
		return p, true
	}
	return Payload{Schema: s.ref, Err: fmt.Errorf("%s has format %q, which evctl cannot decode: showing raw bytes", key, s.Format)}, false
}

// decodeLocal decodes b with a local schema: a whole Avro datum, or a
// Protobuf message, alone or (no registry at hand) after the registry's
// prefix and message indexes.
func (d *Decoder) decodeLocal(s *Schema, b []byte, onlyValues bool) (Payload, error) {
	if s.Format != FormatProtobuf {
		return d.decodeAvro(s, b, onlyValues)
	}
	resolver := linker.ResolverFromFile(s.proto)
	out, err := protoJSON(s.local, resolver, b)
	if err != nil {
		if _, rest, ok := splitConfluent(b); ok {
			if _, rest, ierr := splitMessageIndexes(rest); ierr == nil {
				if framed, ferr := protoJSON(s.local, resolver, rest); ferr == nil {
					out, err = framed, nil
				}
			}
		}
	}
	if err != nil {
		return Payload{}, err
	}
	return Payload{JSON: out, Encoding: record.EncodingProtobuf, Type: string(s.local.FullName()), Schema: s.ref}, nil
}

// decodeAvro decodes b, a whole Avro datum, with s; onlyValues decodes it
// into jq values alone (DecoderOptions.ValuesOnly), where it can.
func (d *Decoder) decodeAvro(s *Schema, b []byte, onlyValues bool) (Payload, error) {
	if onlyValues {
		if v, typ, err := avroValues(s.node, b); err == nil {
			return Payload{Encoding: record.EncodingAvro, Type: typ, Schema: s.ref, Value: v, HasValue: true}, nil
		}
		// The JSON path says why, as without ValuesOnly.
	}
	out, typ, err := renderAvro(s.node, b, d.avroJSON)
	if err != nil {
		return Payload{}, err
	}
	p := Payload{JSON: out, Encoding: record.EncodingAvro, Type: typ, Schema: s.ref}
	if d.values {
		// It decoded as JSON, so it decodes as values.
		p.Value, _, err = avroValues(s.node, b)
		p.HasValue = err == nil
	}
	return p, nil
}

// plain decodes b without a schema: JSON as it is, else UTF-8 text as a
// JSON string, else base64. Text with control characters other than tab,
// newline and carriage return is taken for binary.
func plain(b []byte) Payload {
	switch {
	case len(b) == 0:
		return Payload{JSON: json.RawMessage(`""`), Encoding: record.EncodingText}
	case mayBeJSON(b) && json.Valid(b):
		return Payload{JSON: compactJSON(b), Encoding: record.EncodingJSON}
	case isText(b):
		return Payload{JSON: record.AppendJSONString(make([]byte, 0, len(b)+2), b), Encoding: record.EncodingText}
	}
	return Payload{JSON: base64JSON(b), Encoding: record.EncodingBase64}
}

// mayBeJSON tells by the first byte whether b can be JSON, sparing json.Valid,
// which allocates an error for every text key it rejects.
func mayBeJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', '[', '"', '-', 't', 'f', 'n', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return true
		}
		return false
	}
	return false
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// compactJSON returns valid JSON b on one line, as a capture line needs.
func compactJSON(b []byte) json.RawMessage {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func base64JSON(b []byte) json.RawMessage {
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(b))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, '"')
}
