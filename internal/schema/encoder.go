package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	if err := (protojson.UnmarshalOptions{Resolver: e.s.protoResolver()}).Unmarshal(b, m); err != nil {
		msg := strings.TrimPrefix(err.Error(), "proto: ")
		return nil, &FieldError{Err: fmt.Errorf("not a %s: %s", e.msg.FullName(), strings.ReplaceAll(msg, "\u00a0", " "))}
	}
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, m)
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
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
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
