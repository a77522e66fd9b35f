package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/internal/record"
)

// Framing is how a payload names its schema.
type Framing int

const (
	// FramePrefix is the registry's wire format: 0x00 and the schema id
	// (and Protobuf message indexes) before the encoded value.
	FramePrefix Framing = iota
	// FrameHeader puts the schema's GUID in a __key_schema_id or
	// __value_schema_id header instead (Protobuf message indexes stay in
	// the payload).
	FrameHeader
	// FrameNone writes the encoded value alone, for a local schema.
	FrameNone
)

// EncoderOptions configure an Encoder.
type EncoderOptions struct {
	Framing Framing
	IsKey   bool // the header is __key_schema_id
	// GUID is the schema's GUID, for FrameHeader, when the Schema does not
	// know it (looked up by id).
	GUID string
	// Message is the Protobuf message to encode (full name); "" is the
	// schema's first message, as Confluent's serializers take it.
	Message string
}

// Encoder turns JSON values into payloads of one schema. It is safe for
// concurrent use.
type Encoder struct {
	s       *Schema
	framing Framing
	header  string
	guid    []byte // the schema-id header's value
	msg     protoreflect.MessageDescriptor
	indexes []int
	js      *jsonschema.Schema
}

// NewEncoder returns an encoder of values with s.
func NewEncoder(s *Schema, o EncoderOptions) (*Encoder, error) {
	e := &Encoder{s: s, framing: o.Framing, header: ValueSchemaIDHeader}
	if o.IsKey {
		e.header = KeySchemaIDHeader
	}
	if o.Framing == FrameHeader {
		guid := o.GUID
		if guid == "" {
			guid = s.GUID
		}
		if guid == "" {
			return nil, fmt.Errorf("%s has no GUID for a schema-id header; the registry gives one from Confluent Platform 8 on: drop --schema-id-header", s.describe())
		}
		h, err := AppendSchemaIDHeader(nil, guid)
		if err != nil {
			return nil, err
		}
		e.guid = h
	}
	switch s.Format {
	case FormatProtobuf:
		name := o.Message
		if name == "" && s.local != nil {
			name = string(s.local.FullName())
		}
		md, indexes, err := s.protoMessageNamed(name)
		if err != nil {
			return nil, err
		}
		e.msg, e.indexes = md, indexes
	case FormatJSON:
		if s.json.err != nil {
			return nil, s.json.err
		}
		e.js = s.json.schema
	case FormatAvro:
	default:
		return nil, fmt.Errorf("%w %q: evctl cannot encode it", errUnknownFormat, s.Format)
	}
	return e, nil
}

// Schema is the encoder's schema.
func (e *Encoder) Schema() *Schema { return e.s }

// Encode returns the payload for b, one JSON value. typeHint, when set,
// names the Avro record a union takes (a capture's "type"). header is the
// schema-id header the record needs, nil with prefix framing. An error
// that points into the value is a *FieldError.
func (e *Encoder) Encode(b []byte, typeHint string) (payload []byte, header *record.RawHeader, err error) {
	var out []byte
	if e.framing == FramePrefix {
		out = AppendConfluentPrefix(out, e.s.ID)
	}
	switch e.s.Format {
	case FormatAvro:
		v, err := parseJSON(b)
		if err != nil {
			return nil, nil, fmt.Errorf("not JSON: %w", err)
		}
		if out, err = encodeAvro(out, e.s.node, v, typeHint); err != nil {
			return nil, nil, err
		}
	case FormatJSON:
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, nil, fmt.Errorf("not JSON: %w", err)
		}
		if err := e.js.Validate(v); err != nil {
			return nil, nil, jsonSchemaError(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return nil, nil, fmt.Errorf("not JSON: %w", err)
		}
		out = append(out, buf.Bytes()...)
	case FormatProtobuf:
		if e.framing != FrameNone {
			out = AppendMessageIndexes(out, e.indexes)
		}
		if out, err = e.encodeProtobuf(out, b); err != nil {
			return nil, nil, err
		}
	}
	if e.framing == FrameHeader {
		return out, &record.RawHeader{Key: e.header, Value: e.guid}, nil
	}
	return out, nil, nil
}

func (e *Encoder) encodeProtobuf(dst, b []byte) ([]byte, error) {
	v, err := parseJSON(b)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if err := checkProtoFields(e.msg, v, ""); err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(e.msg)
	opts := protojson.UnmarshalOptions{Resolver: e.s.protoResolver()}
	if err := opts.Unmarshal(b, m); err != nil {
		// protojson names the field but not where it is: find it.
		if fe := protoFieldError(opts, e.msg, v, ""); fe != nil {
			return nil, fe
		}
		return nil, &FieldError{Err: fmt.Errorf("not a %s: %s", e.msg.FullName(), protojsonReason(err))}
	}
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, m)
}

// protojsonPosition is where protojson says it stopped, in the text it
// was given: a field tried alone, no line of the input.
var protojsonPosition = regexp.MustCompile(`^\(line \d+:\d+\): | \(line \d+:\d+\)`)

func protojsonReason(err error) string {
	msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\u00a0", " "), "proto: ")
	return protojsonPosition.ReplaceAllString(msg, "")
}

// protoFieldError finds the first field of v, a value for md, that
// protojson refuses, by unmarshalling each field alone (each item of a
// list, each entry of a map), deepest first: the error has the field's
// path, as the Avro encoder's have. nil if every field alone is fine.
func protoFieldError(opts protojson.UnmarshalOptions, md protoreflect.MessageDescriptor, v any, path string) *FieldError {
	o, ok := v.(*jsonObject)
	if !ok {
		return nil
	}
	fields := md.Fields()
	for i, k := range o.keys {
		fd := protoField(fields, k)
		if fd == nil {
			continue // checkProtoFields reports those
		}
		p, val := fieldPath(path, k), o.vals[i]
		nested := fd.Message() != nil && !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.")
		alone := func(where string, x any) *FieldError {
			if nested && !fd.IsMap() {
				if fe := protoFieldError(opts, fd.Message(), x, where); fe != nil {
					return fe
				}
			}
			if fd.IsList() {
				x = []any{x}
			}
			if err := opts.Unmarshal(appendJSON(nil, &jsonObject{keys: []string{k}, vals: []any{x}}), dynamicpb.NewMessage(md)); err != nil {
				return &FieldError{Path: where, Err: errors.New(protojsonReason(err))}
			}
			return nil
		}
		switch x := val.(type) {
		case []any:
			if fd.IsList() {
				for j, item := range x {
					if fe := alone(indexPath(p, j), item); fe != nil {
						return fe
					}
				}
				continue
			}
		case *jsonObject:
			if fd.IsMap() {
				for j, mk := range x.keys {
					entry := &jsonObject{keys: []string{mk}, vals: []any{x.vals[j]}}
					if fd.MapValue().Message() != nil {
						if fe := protoFieldError(opts, fd.MapValue().Message(), x.vals[j], fieldPath(p, mk)); fe != nil {
							return fe
						}
					}
					if err := opts.Unmarshal(appendJSON(nil, &jsonObject{keys: []string{k}, vals: []any{entry}}), dynamicpb.NewMessage(md)); err != nil {
						return &FieldError{Path: fieldPath(p, mk), Err: errors.New(protojsonReason(err))}
					}
				}
				continue
			}
		}
		switch {
		case val == nil:
			continue // null is the field's default
		case fd.IsList():
			return &FieldError{Path: p, Err: fmt.Errorf("got %s, want an array (repeated %s)", describeValue(val), protoTypeName(fd))}
		case fd.IsMap():
			return &FieldError{Path: p, Err: fmt.Errorf("got %s, want an object (%s)", describeValue(val), protoTypeName(fd))}
		case nested:
			if _, ok := val.(*jsonObject); !ok {
				return &FieldError{Path: p, Err: fmt.Errorf("got %s, want an object (%s)", describeValue(val), fd.Message().FullName())}
			}
		}
		if fe := alone(p, val); fe != nil {
			return fe
		}
	}
	return nil
}

// appendJSON appends v, a value parseJSON returned, as JSON.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case *jsonObject:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, k)
			b = append(b, ':')
			b = appendJSON(b, v.vals[i])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, x)
		}
		return append(b, ']')
	}
	out, _ := json.Marshal(v) // nil, bool, json.Number, string: cannot fail
	return append(b, out...)
}

// checkProtoFields finds the path of a field the message does not have,
// which protojson names without saying where.
func checkProtoFields(md protoreflect.MessageDescriptor, v any, path string) error {
	o, ok := v.(*jsonObject)
	if !ok || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil // a well-known type has a JSON form of its own; protojson checks it
	}
	fields := md.Fields()
	for i, k := range o.keys {
		fd := protoField(fields, k)
		if fd == nil {
			return fieldErrorf(fieldPath(path, k), "%s has no such field", md.FullName())
		}
		if fd.Message() == nil {
			continue
		}
		p := fieldPath(path, k)
		switch x := o.vals[i].(type) {
		case []any:
			if fd.IsList() {
				for j, item := range x {
					if err := checkProtoFields(fd.Message(), item, indexPath(p, j)); err != nil {
						return err
					}
				}
			}
		case *jsonObject:
			if fd.IsMap() {
				for j, mk := range x.keys {
					if err := checkProtoFields(fd.MapValue().Message(), x.vals[j], fieldPath(p, mk)); err != nil {
						return err
					}
				}
			} else if err := checkProtoFields(fd.Message(), x, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// describe names the schema for a message: its subject and version, id,
// or file.
func (s *Schema) describe() string {
	switch {
	case s.Subject != "":
		return fmt.Sprintf("subject %q version %d", s.Subject, s.Version)
	case s.ID != 0:
		return fmt.Sprintf("schema id %d", s.ID)
	case s.ref != nil && s.ref.Local != "":
		return s.ref.Local
	}
	return "the schema"
}

var englishPrinter = message.NewPrinter(language.English)

// jsonSchemaError turns a validation failure into a FieldError at the
// deepest place it names.
func jsonSchemaError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	path := ""
	for _, p := range ve.InstanceLocation {
		if i, err := strconv.Atoi(p); err == nil && i >= 0 {
			path = indexPath(path, i)
		} else {
			path = fieldPath(path, p)
		}
	}
	return &FieldError{Path: path, Err: errors.New(ve.ErrorKind.LocalizedString(englishPrinter))}
}

// protoField is the field a protojson object key names: its JSON name
// (lowerCamelCase) or, as protojson also accepts, its name in the .proto.
func protoField(fields protoreflect.FieldDescriptors, key string) protoreflect.FieldDescriptor {
	if fd := fields.ByJSONName(key); fd != nil {
		return fd
	}
	return fields.ByTextName(key)
}
