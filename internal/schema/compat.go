package schema

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Incompatibility is one reason a reader schema cannot read what a writer
// schema wrote, as Confluent's Schema Registry finds it for Protobuf and
// JSON Schema: Kind is the registry's own name for the change (its 409
// messages and documentation use it), Path where in the schema it is.
type Incompatibility struct {
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (i Incompatibility) String() string {
	return i.Path + ": " + i.Reason + " (" + i.Kind + ")"
}

// Incompatibilities lists why data written with writer cannot be read with
// reader, under the rules Confluent's Schema Registry applies to Protobuf
// and JSON Schema: BACKWARD asks it with the new schema as reader and an
// earlier version as writer, FORWARD the other way round, FULL both. nil
// means compatible. Both schemas must be parsed, of one format; Avro's
// rules are hamba's (avro.SchemaCompatibility).
func Incompatibilities(writer, reader *Schema) ([]Incompatibility, error) {
	if writer.Format != reader.Format {
		return []Incompatibility{{Kind: "SCHEMA_TYPE_CHANGED", Path: "#",
			Reason: fmt.Sprintf("written as %s, read as %s", writer.Format, reader.Format)}}, nil
	}
	switch writer.Format {
	case FormatProtobuf:
		if writer.proto == nil || reader.proto == nil {
			return nil, fmt.Errorf("protobuf schema not compiled")
		}
		return protoIncompatibilities(writer.proto, reader.proto), nil
	case FormatJSON:
		if writer.json.schema == nil || reader.json.schema == nil {
			return nil, fmt.Errorf("JSON Schema not compiled")
		}
		return jsonIncompatibilities(writer.json.schema, reader.json.schema), nil
	}
	return nil, fmt.Errorf("compatibility of %s schemas: %w", writer.Format, errUnknownFormat)
}

// protoCompat walks a writer's and a reader's Protobuf files as
// Confluent's registry does: messages and enums by name, fields by number.
// Only the changes the registry refuses are kept; the ones it allows
// (fields or messages added, optional fields removed, renames, enum
// changes, oneofs added or removed) are not recorded.
type protoCompat struct {
	out  []Incompatibility
	busy map[[2]protoreflect.FullName]bool // message pairs being compared: recursion ends there
	done map[[2]protoreflect.FullName]bool // message pairs compared: whether they differ
}

func protoIncompatibilities(writer, reader protoreflect.FileDescriptor) []Incompatibility {
	c := &protoCompat{busy: map[[2]protoreflect.FullName]bool{}, done: map[[2]protoreflect.FullName]bool{}}
	if writer.Package() != reader.Package() {
		c.add("PACKAGE_CHANGED", reader.Path(),
			fmt.Sprintf("package %q, read as package %q", writer.Package(), reader.Package()))
	}
	c.messages(writer.Messages(), reader.Messages())
	return c.out
}

func (c *protoCompat) add(kind, path, reason string) {
	c.out = append(c.out, Incompatibility{Kind: kind, Path: path, Reason: reason})
}

// messages compares the messages of one scope by name. Enums need no
// walk: adding, removing and renumbering enums or their values are all
// allowed.
func (c *protoCompat) messages(w, r protoreflect.MessageDescriptors) {
	for i := range w.Len() {
		mw := w.Get(i)
		if mw.IsMapEntry() {
			continue
		}
		mr := r.ByName(mw.Name())
		if mr == nil || mr.IsMapEntry() {
			c.add("MESSAGE_REMOVED", string(mw.FullName()), "message removed (or renamed): data written as it cannot be read")
			continue
		}
		c.message(mw, mr)
	}
}

// message compares two messages once, nested ones included; it reports
// whether it found anything.
func (c *protoCompat) message(w, r protoreflect.MessageDescriptor) bool {
	key := [2]protoreflect.FullName{w.FullName(), r.FullName()}
	if differ, ok := c.done[key]; ok {
		return differ
	}
	if c.busy[key] {
		return false
	}
	c.busy[key] = true
	before := len(c.out)
	c.oneofs(w, r)
	wf, rf := w.Fields(), r.Fields()
	for i := range wf.Len() {
		x := wf.Get(i)
		y := rf.ByNumber(x.Number())
		if y == nil {
			if x.Cardinality() == protoreflect.Required {
				c.add("REQUIRED_FIELD_REMOVED", protoFieldPath(x), "required field removed: the reader has no field for it")
			}
			continue
		}
		// In or out of a oneof too: oneofs() judged the move, the types
		// are compared here all the same.
		c.field(x, y)
	}
	for i := range rf.Len() {
		y := rf.Get(i)
		if wf.ByNumber(y.Number()) == nil && y.Cardinality() == protoreflect.Required {
			c.add("REQUIRED_FIELD_ADDED", protoFieldPath(y), "required field added: data written without it is not valid")
		}
	}
	c.messages(w.Messages(), r.Messages())
	delete(c.busy, key)
	c.done[key] = len(c.out) > before
	return c.done[key]
}

// oneofs applies the registry's rules for oneofs: a field removed from a
// oneof (and from the message) is refused, as is a oneof that gathers
// more than one field that was outside any oneof, or one such field with
// fields of another oneof.
func (c *protoCompat) oneofs(w, r protoreflect.MessageDescriptor) {
	wf := w.Fields()
	ro := r.Oneofs()
	for i := range ro.Len() {
		o := ro.Get(i)
		if o.IsSynthetic() {
			continue
		}
		var moved, existing []string
		for j := range o.Fields().Len() {
			y := o.Fields().Get(j)
			x := wf.ByNumber(y.Number())
			switch {
			case x == nil:
			case realOneof(x) == nil:
				moved = append(moved, string(x.Name()))
			default:
				existing = append(existing, string(x.Name()))
			}
		}
		path := string(o.FullName())
		switch {
		case len(moved) > 1:
			c.add("MULTIPLE_FIELDS_MOVED_TO_ONEOF", path,
				"fields "+strings.Join(moved, ", ")+" moved into one oneof: data that sets more than one cannot be read")
		case len(moved) == 1 && len(existing) > 0:
			c.add("FIELD_MOVED_TO_EXISTING_ONEOF", path,
				"field "+moved[0]+" moved into a oneof with fields of an existing oneof ("+strings.Join(existing, ", ")+")")
		}
	}
	wo := w.Oneofs()
	for i := range wo.Len() {
		o := wo.Get(i)
		if o.IsSynthetic() {
			continue
		}
		same := r.Oneofs().ByName(o.Name())
		if same == nil || same.IsSynthetic() {
			continue // a oneof removed whole is allowed
		}
		for j := range o.Fields().Len() {
			x := o.Fields().Get(j)
			if same.Fields().ByNumber(x.Number()) == nil && r.Fields().ByNumber(x.Number()) == nil {
				c.add("ONEOF_FIELD_REMOVED", protoFieldPath(x), "field removed from oneof "+string(o.Name()))
			}
		}
	}
}

func realOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

// field compares two fields of one number: their kinds (scalar, message,
// map), then the scalars' wire-compatible groups, the numeric fields'
// labels, or the messages' names and contents.
func (c *protoCompat) field(x, y protoreflect.FieldDescriptor) {
	c.types(protoFieldPath(y), x, y, declaredLabel(x), declaredLabel(y))
}

func (c *protoCompat) types(path string, x, y protoreflect.FieldDescriptor, lx, ly string) {
	kx, ky := protoKindOf(x), protoKindOf(y)
	if kx != ky {
		c.add("FIELD_KIND_CHANGED", path, fmt.Sprintf("written as %s, read as %s", protoTypeName(x), protoTypeName(y)))
		return
	}
	switch kx {
	case "map":
		c.types(path+" key", x.MapKey(), y.MapKey(), "", "")
		c.types(path+" value", x.MapValue(), y.MapValue(), "", "")
	case "scalar":
		gx, gy := scalarGroup(x), scalarGroup(y)
		if gx != gy {
			c.add("FIELD_SCALAR_KIND_CHANGED", path,
				fmt.Sprintf("written as %s, read as %s, which is not wire-compatible", protoTypeName(x), protoTypeName(y)))
			return
		}
		if lx != "" && ly != "" && lx != ly && gx != "string or bytes" {
			c.add("FIELD_NUMERIC_LABEL_CHANGED", path, fmt.Sprintf("written %s, read %s", lx, ly))
		}
	case "message":
		mx, my := x.Message(), y.Message()
		if localName(mx) != localName(my) {
			c.add("FIELD_NAMED_TYPE_CHANGED", path, fmt.Sprintf("written as %s, read as %s", mx.FullName(), my.FullName()))
			return
		}
		if c.message(mx, my) {
			c.add("FIELD_NAMED_TYPE_CHANGED", path, fmt.Sprintf("its type %s changed incompatibly", my.FullName()))
		}
	}
}

// protoKindOf is the registry's coarse kind of a field: enums are scalars.
func protoKindOf(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map"
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return "message"
	}
	return "scalar"
}

// scalarGroup is a scalar's wire-compatible group, as the Protobuf
// language guide lists them and the registry applies them.
func scalarGroup(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.BoolKind, protoreflect.EnumKind:
		return "varint"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "zigzag varint"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "string or bytes"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "fixed32"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "fixed64"
	}
	return f.Kind().String() // float, double: each its own
}

// declaredLabel is the label the .proto text writes: "" for a proto3
// field without one, a oneof member or a map, as the registry's parser
// sees them (it compares labels only where both fields declare one).
func declaredLabel(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap() || realOneof(f) != nil:
		return ""
	case f.Cardinality() == protoreflect.Repeated:
		return "repeated"
	case f.Cardinality() == protoreflect.Required:
		return "required"
	case f.HasOptionalKeyword() || f.ParentFile().Syntax() == protoreflect.Proto2:
		return "optional"
	}
	return ""
}

// localName is a message's name inside its package: moving a type to
// another file keeps it, renaming it does not.
func localName(m protoreflect.MessageDescriptor) string {
	name := string(m.FullName())
	if pkg := string(m.ParentFile().Package()); pkg != "" {
		name = strings.TrimPrefix(name, pkg+".")
	}
	return name
}

func protoFieldPath(f protoreflect.FieldDescriptor) string {
	return string(f.FullName()) + " (field " + strconv.Itoa(int(f.Number())) + ")"
}
