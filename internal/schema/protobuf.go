package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	confluentmeta "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/confluent"
	confluenttypes "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/confluent/types"
	"google.golang.org/genproto/googleapis/type/calendarperiod"
	"google.golang.org/genproto/googleapis/type/color"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/datetime"
	"google.golang.org/genproto/googleapis/type/dayofweek"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/genproto/googleapis/type/fraction"
	"google.golang.org/genproto/googleapis/type/latlng"
	gmoney "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/genproto/googleapis/type/month"
	"google.golang.org/genproto/googleapis/type/postaladdress"
	"google.golang.org/genproto/googleapis/type/quaternion"
	"google.golang.org/genproto/googleapis/type/timeofday"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/record"
)

// protoRootFile names the registered schema among its imports; the
// parentheses keep it from meeting a reference's import path.
const protoRootFile = "(registry schema).proto"

// builtinImports are the files that Confluent's registry and serializers
// take as built in besides google/protobuf/*.proto: schemas import them
// without a reference.
var builtinImports = sync.OnceValue(func() map[string]protoreflect.FileDescriptor {
	m := map[string]protoreflect.FileDescriptor{}
	for _, f := range []protoreflect.FileDescriptor{
		confluentmeta.File_confluent_meta_proto, confluenttypes.File_confluent_types_decimal_proto,
		calendarperiod.File_google_type_calendar_period_proto, color.File_google_type_color_proto,
		date.File_google_type_date_proto, datetime.File_google_type_datetime_proto,
		dayofweek.File_google_type_dayofweek_proto, expr.File_google_type_expr_proto,
		fraction.File_google_type_fraction_proto, latlng.File_google_type_latlng_proto,
		gmoney.File_google_type_money_proto, month.File_google_type_month_proto,
		postaladdress.File_google_type_postal_address_proto, quaternion.File_google_type_quaternion_proto,
		timeofday.File_google_type_timeofday_proto,
	} {
		m[f.Path()] = f
	}
	return m
})

// compileProtobuf compiles Protobuf schema text whose imports may name
// referenced schemas (a reference's Name is the import path), which lookup
// fetches, recursively. The well-known types (google/protobuf/*.proto) come
// with protocompile, Confluent's other built-in imports from builtinImports.
// lookup may be nil when refs is empty.
func compileProtobuf(text string, refs []Reference, lookup ReferenceLookup) (linker.File, error) {
	return compileProtobufNamed(protoRootFile, text, refs, lookup)
}

// compileProtobufNamed is compileProtobuf with the schema compiled as the
// file root, which the compiler's errors name with a line and a column.
func compileProtobufNamed(root, text string, refs []Reference, lookup ReferenceLookup) (linker.File, error) {
	sources := map[string]string{}
	add := func(r Reference, text string) error {
		sources[r.Name] = text
		return nil
	}
	p := refParser{add: add, lookup: lookup, done: map[Reference]bool{}, busy: map[Reference]bool{}}
	if err := p.resolve(refs, 0); err != nil {
		return nil, err
	}
	sources[root] = text
	resolve := func(path string) (protocompile.SearchResult, error) {
		if text, ok := sources[path]; ok {
			return protocompile.SearchResult{Source: strings.NewReader(text)}, nil
		}
		if f, ok := builtinImports()[path]; ok {
			return protocompile.SearchResult{Desc: f}, nil
		}
		return protocompile.SearchResult{}, errors.New("no reference of the schema names it: register the imported file under a subject and reference it")
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(resolve))}
	// No caller's context here: compiling is local work, done once per schema.
	files, err := c.Compile(context.Background(), root)
	if err != nil {
		return nil, fmt.Errorf("invalid Protobuf schema: %w", err)
	}
	return files[0], nil
}

// protoMessage returns the message that Confluent message indexes name: a
// path into the file's top-level messages, then into nested ones.
func protoMessage(f protoreflect.FileDescriptor, indexes []int) (protoreflect.MessageDescriptor, error) {
	var md protoreflect.MessageDescriptor
	msgs := f.Messages()
	for _, i := range indexes {
		next, n := declaredMessage(msgs, i)
		if next == nil {
			where := "the schema declares " + english.Plural(n, "top-level message")
			if md != nil {
				where = string(md.FullName()) + " declares " + english.Plural(n, "nested message")
			}
			return nil, fmt.Errorf("message indexes %v name no message: %s", indexes, where)
		}
		md, msgs = next, next.Messages()
	}
	if md == nil {
		return nil, fmt.Errorf("message indexes %v name no message", indexes)
	}
	return md, nil
}

// declaredMessage returns the i-th message of msgs and how many there are,
// map entries left out: Confluent's registry numbers the messages the schema
// text declares, and a map field declares none.
func declaredMessage(msgs protoreflect.MessageDescriptors, i int) (protoreflect.MessageDescriptor, int) {
	var found protoreflect.MessageDescriptor
	n := 0
	for j := range msgs.Len() {
		if md := msgs.Get(j); !md.IsMapEntry() {
			if n == i {
				found = md
			}
			n++
		}
	}
	return found, n
}

// decodeProtobuf decodes b, message indexes and a message, with s as
// canonical proto3 JSON, every field present.
func decodeProtobuf(s *Schema, b []byte) (Payload, error) {
	indexes, b, err := splitMessageIndexes(b)
	if err != nil {
		return Payload{}, err
	}
	md, err := protoMessage(s.proto, indexes)
	if err != nil {
		return Payload{}, err
	}
	out, err := protoJSON(md, linker.ResolverFromFile(s.proto), b)
	if err != nil {
		return Payload{}, err
	}
	return Payload{JSON: out, Encoding: record.EncodingProtobuf, Type: string(md.FullName()), Schema: s.ref}, nil
}

// protoJSON unmarshals b as a md and renders it as compact JSON; resolver
// finds extensions and the messages in google.protobuf.Any values.
func protoJSON(md protoreflect.MessageDescriptor, resolver linker.Resolver, b []byte) (out []byte, err error) {
	// protobuf-go (v1.36.12 too) panics on a map entry whose key repeats
	// with another wire type; to evctl that is one more corrupt payload.
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("payload is not a %s: invalid wire-format data (%v)", md.FullName(), v)
		}
	}()
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: resolver}).Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("payload is not a %s: %w", md.FullName(), err)
	}
	out, err = protojson.MarshalOptions{EmitUnpopulated: true, Resolver: resolver}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be shown as JSON: %w", md.FullName(), err)
	}
	// protojson varies its whitespace on purpose; a capture line wants none.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("%s cannot be shown as JSON: %w", md.FullName(), err)
	}
	return buf.Bytes(), nil
}

// protoMessageNamed returns the message called name (full, or short where
// that is unique) and its Confluent message indexes; "" is the first
// message, as Confluent's serializers take it.
func (s *Schema) protoMessageNamed(name string) (protoreflect.MessageDescriptor, []int, error) {
	type found struct {
		md      protoreflect.MessageDescriptor
		indexes []int
	}
	var all []found
	var walk func(msgs protoreflect.MessageDescriptors, path []int)
	walk = func(msgs protoreflect.MessageDescriptors, path []int) {
		n := 0
		for j := range msgs.Len() {
			md := msgs.Get(j)
			if md.IsMapEntry() {
				continue
			}
			p := append(slices.Clip(path), n)
			all = append(all, found{md, p})
			walk(md.Messages(), p)
			n++
		}
	}
	walk(s.proto.Messages(), nil)
	if len(all) == 0 {
		return nil, nil, fmt.Errorf("%s declares no message", s.describe())
	}
	if name == "" {
		return all[0].md, all[0].indexes, nil
	}
	var short []found
	names := make([]string, len(all))
	for i, f := range all {
		names[i] = string(f.md.FullName())
		if string(f.md.FullName()) == name {
			return f.md, f.indexes, nil
		}
		if string(f.md.Name()) == name {
			short = append(short, f)
		}
	}
	if len(short) == 1 {
		return short[0].md, short[0].indexes, nil
	}
	hint := "have: " + strings.Join(names[:min(len(names), 10)], ", ")
	similar := english.Similar(name, names, 5)
	for _, f := range all {
		if len(similar) < 5 && !slices.Contains(similar, string(f.md.FullName())) && len(english.Similar(name, []string{string(f.md.Name())}, 1)) > 0 {
			similar = append(similar, string(f.md.FullName()))
		}
	}
	if len(similar) > 0 {
		hint = "similar: " + strings.Join(similar, ", ")
	}
	return nil, nil, fmt.Errorf("%s has no message %q (%s); give its full name with --message", s.describe(), name, hint)
}

// protoResolver finds the extensions and the messages in Any values of
// the schema's file and its imports.
func (s *Schema) protoResolver() linker.Resolver { return linker.ResolverFromFile(s.proto) }
