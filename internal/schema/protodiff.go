package schema

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Kinds of SchemaChange that only Protobuf has.
const (
	ChangeMessageAdded   = "message added"
	ChangeMessageRemoved = "message removed"
	ChangeEnumAdded      = "enum added"
	ChangeEnumRemoved    = "enum removed"
	ChangeCardinality    = "cardinality changed"
	ChangeOneof          = "oneof changed"
	ChangeReserved       = "reserved changed"
)

// DiffProtobuf compares two Protobuf files' messages and enums, top-level
// and nested, by full name: fields matched by number (a new name for a
// number is a rename), their types, cardinality and oneofs, reserved
// numbers and names, enum values by number. Paths are full names, with
// the field name after the message's: "bank.Deposit.amount".
func DiffProtobuf(from, to protoreflect.FileDescriptor) []SchemaChange {
	d := &protoDiffer{}
	d.messages(from.Messages(), to.Messages())
	d.enums(from.Enums(), to.Enums())
	return d.out
}

type protoDiffer struct{ out []SchemaChange }

func (d *protoDiffer) add(path, kind, from, to string) {
	d.out = append(d.out, SchemaChange{Path: path, Kind: kind, From: from, To: to})
}

func (d *protoDiffer) messages(a, b protoreflect.MessageDescriptors) {
	for i := range a.Len() {
		ma := a.Get(i)
		if ma.IsMapEntry() { // its changes are the map field's
			continue
		}
		mb := b.ByName(ma.Name())
		if mb == nil {
			d.add(string(ma.FullName()), ChangeMessageRemoved, "", "")
			continue
		}
		d.message(ma, mb)
	}
	for i := range b.Len() {
		if mb := b.Get(i); !mb.IsMapEntry() && a.ByName(mb.Name()) == nil {
			d.add(string(mb.FullName()), ChangeMessageAdded, "", "")
		}
	}
}

func (d *protoDiffer) message(a, b protoreflect.MessageDescriptor) {
	path := string(a.FullName())
	fa, fb := a.Fields(), b.Fields()
	for i := range fa.Len() {
		x := fa.Get(i)
		fpath := path + "." + string(x.Name())
		y := fb.ByNumber(x.Number())
		if y == nil {
			d.add(fpath, ChangeFieldRemoved, describeProtoField(x), "")
			continue
		}
		if x.Name() != y.Name() {
			d.add(fpath, ChangeFieldRenamed, string(x.Name()), string(y.Name()))
		}
		if ta, tb := protoTypeName(x), protoTypeName(y); ta != tb {
			d.add(fpath, ChangeType, ta, tb)
		}
		if ca, cb := protoCardinality(x), protoCardinality(y); ca != cb {
			d.add(fpath, ChangeCardinality, ca, cb)
		}
		if oa, ob := oneofName(x), oneofName(y); oa != ob {
			d.add(fpath, ChangeOneof, orNone(oa), orNone(ob))
		}
	}
	for i := range fb.Len() {
		if y := fb.Get(i); fa.ByNumber(y.Number()) == nil {
			d.add(path+"."+string(y.Name()), ChangeFieldAdded, "", describeProtoField(y))
		}
	}
	if ra, rb := reservedOf(a), reservedOf(b); ra != rb {
		d.add(path, ChangeReserved, orNone(ra), orNone(rb))
	}
	d.messages(a.Messages(), b.Messages())
	d.enums(a.Enums(), b.Enums())
}

func (d *protoDiffer) enums(a, b protoreflect.EnumDescriptors) {
	for i := range a.Len() {
		ea := a.Get(i)
		eb := b.ByName(ea.Name())
		if eb == nil {
			d.add(string(ea.FullName()), ChangeEnumRemoved, "", "")
			continue
		}
		path := string(ea.FullName())
		va, vb := ea.Values(), eb.Values()
		for j := range va.Len() {
			x := va.Get(j)
			y := vb.ByNumber(x.Number())
			switch {
			case y == nil:
				d.add(path, ChangeSymbolRemoved, enumValue(x), "")
			case x.Name() != y.Name():
				d.add(path, ChangeSymbolRemoved, enumValue(x), "")
				d.add(path, ChangeSymbolAdded, "", enumValue(y))
			}
		}
		for j := range vb.Len() {
			if y := vb.Get(j); va.ByNumber(y.Number()) == nil {
				d.add(path, ChangeSymbolAdded, "", enumValue(y))
			}
		}
	}
	for i := range b.Len() {
		if eb := b.Get(i); a.ByName(eb.Name()) == nil {
			d.add(string(eb.FullName()), ChangeEnumAdded, "", "")
		}
	}
}

func enumValue(v protoreflect.EnumValueDescriptor) string {
	return string(v.Name()) + " = " + strconv.Itoa(int(v.Number()))
}

// protoTypeName is a field's type: a scalar's kind, a message's or an
// enum's full name, "map<string, int64>".
func protoTypeName(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return "map<" + protoTypeName(f.MapKey()) + ", " + protoTypeName(f.MapValue()) + ">"
	}
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}

func protoCardinality(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map"
	case f.IsList():
		return "repeated"
	case f.HasPresence() && f.ContainingOneof() == nil:
		return "optional"
	}
	return "singular"
}

func oneofName(f protoreflect.FieldDescriptor) string {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return string(o.Name())
	}
	return ""
}

func describeProtoField(f protoreflect.FieldDescriptor) string {
	s := protoTypeName(f) + " = " + strconv.Itoa(int(f.Number()))
	if c := protoCardinality(f); c == "repeated" || c == "optional" {
		s = c + " " + s
	}
	return s
}

// reservedOf lists a message's reserved numbers and names: "2, 9 to 11, "old"".
func reservedOf(m protoreflect.MessageDescriptor) string {
	var parts []string
	ranges := m.ReservedRanges()
	for i := range ranges.Len() {
		r := ranges.Get(i) // [start, end)
		if r[1]-r[0] == 1 {
			parts = append(parts, strconv.Itoa(int(r[0])))
		} else {
			parts = append(parts, fmt.Sprintf("%d to %d", r[0], r[1]-1))
		}
	}
	names := m.ReservedNames()
	for i := range names.Len() {
		parts = append(parts, strconv.Quote(string(names.Get(i))))
	}
	return strings.Join(parts, ", ")
}
