package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// Kinds of SchemaChange.
const (
	ChangeFieldAdded    = "field added"
	ChangeFieldRemoved  = "field removed"
	ChangeFieldRenamed  = "field renamed" // the new field names the old one among its aliases
	ChangeType          = "type changed"
	ChangeLogical       = "logical type changed"
	ChangeDefault       = "default changed"
	ChangeAliases       = "aliases changed"
	ChangeName          = "name changed"
	ChangeSymbolAdded   = "symbol added"
	ChangeSymbolRemoved = "symbol removed"
	ChangeEnumDefault   = "enum default changed"
	ChangeBranchAdded   = "branch added"
	ChangeBranchRemoved = "branch removed"
	ChangeSize          = "size changed"
)

// SchemaChange is one difference between two versions of a schema.
//
// Path names where it is, from the top: ".field" steps into a record's
// field, "(full.Name)" or "(long)" into a union's branch, "[]" into an
// array's items, "{}" into a map's values; "." is the top itself.
type SchemaChange struct {
	Path string `json:"path"`
	Kind string `json:"change"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// String is the change as `schema diff` prints it: "+ .currency: field
// added: string, default "EUR"".
func (c SchemaChange) String() string {
	sign := "~"
	switch c.Kind {
	case ChangeFieldAdded, ChangeSymbolAdded, ChangeBranchAdded, ChangeMessageAdded, ChangeEnumAdded, ChangeRequiredAdded:
		sign = "+"
	case ChangeFieldRemoved, ChangeSymbolRemoved, ChangeBranchRemoved, ChangeMessageRemoved, ChangeEnumRemoved, ChangeRequiredRemoved:
		sign = "-"
	}
	s := sign + " " + c.Path + ": " + c.Kind
	switch {
	case c.From != "" && c.To != "":
		s += ": " + c.From + " → " + c.To
	case c.From != "":
		s += ": " + c.From
	case c.To != "":
		s += ": " + c.To
	}
	return s
}

// DiffAvro compares two Avro schemas field by field, following named types
// (each pair once, so recursive types end) and matching union branches by
// type name. It returns the changes in schema order, none when the two
// read and write alike; docs and field order are not compared.
func DiffAvro(from, to avro.Schema) []SchemaChange {
	d := &avroDiffer{seen: map[string]bool{}}
	d.schema(".", from, to)
	return d.out
}

type avroDiffer struct {
	out  []SchemaChange
	seen map[string]bool // pairs of named types already compared
}

func (d *avroDiffer) add(path, kind, from, to string) {
	d.out = append(d.out, SchemaChange{Path: path, Kind: kind, From: from, To: to})
}

// join appends a step to a path; the top "." is dropped before a field.
func join(path, step string) string {
	if path == "." {
		return step
	}
	return path + step
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func (d *avroDiffer) schema(path string, a, b avro.Schema) {
	a, b = deref(a), deref(b)
	if a.Type() != b.Type() {
		d.add(path, ChangeType, avroTypeName(a), avroTypeName(b))
		return
	}
	if na, ok := a.(avro.NamedSchema); ok {
		nb := b.(avro.NamedSchema)
		key := na.FullName() + "\x00" + nb.FullName()
		if d.seen[key] {
			return
		}
		d.seen[key] = true
		if na.FullName() != nb.FullName() {
			d.add(path, ChangeName, na.FullName(), nb.FullName())
		}
		d.aliases(path, na.Aliases(), nb.Aliases())
	}
	switch a := a.(type) {
	case *avro.RecordSchema:
		d.record(path, a, b.(*avro.RecordSchema))
	case *avro.EnumSchema:
		d.enum(path, a, b.(*avro.EnumSchema))
	case *avro.FixedSchema:
		b := b.(*avro.FixedSchema)
		if a.Size() != b.Size() {
			d.add(path, ChangeSize, strconv.Itoa(a.Size()), strconv.Itoa(b.Size()))
		}
		d.logical(path, a.Logical(), b.Logical())
	case *avro.ArraySchema:
		d.schema(join(path, "[]"), a.Items(), b.(*avro.ArraySchema).Items())
	case *avro.MapSchema:
		d.schema(join(path, "{}"), a.Values(), b.(*avro.MapSchema).Values())
	case *avro.UnionSchema:
		d.union(path, a, b.(*avro.UnionSchema))
	case *avro.PrimitiveSchema:
		d.logical(path, a.Logical(), b.(*avro.PrimitiveSchema).Logical())
	}
}

func (d *avroDiffer) record(path string, a, b *avro.RecordSchema) {
	matched := map[string]bool{}
	for _, fa := range a.Fields() {
		fb, renamed := fieldFor(b, fa.Name())
		fpath := join(path, "."+fa.Name())
		if fb == nil {
			d.add(fpath, ChangeFieldRemoved, describeField(fa), "")
			continue
		}
		matched[fb.Name()] = true
		if renamed {
			d.add(fpath, ChangeFieldRenamed, fa.Name(), fb.Name())
		}
		d.field(fpath, fa, fb)
	}
	for _, fb := range b.Fields() {
		if !matched[fb.Name()] {
			d.add(join(path, "."+fb.Name()), ChangeFieldAdded, "", describeField(fb))
		}
	}
}

// fieldFor finds the field of r that reads the field name: the one so
// named, else one that lists it among its aliases (a rename).
func fieldFor(r *avro.RecordSchema, name string) (f *avro.Field, renamed bool) {
	for _, f := range r.Fields() {
		if f.Name() == name {
			return f, false
		}
	}
	for _, f := range r.Fields() {
		if slices.Contains(f.Aliases(), name) {
			return f, true
		}
	}
	return nil, false
}

func (d *avroDiffer) field(path string, a, b *avro.Field) {
	d.schema(path, a.Type(), b.Type())
	da, db := describeDefault(a), describeDefault(b)
	if da != db {
		d.add(path, ChangeDefault, orNone(da), orNone(db))
	}
	d.aliases(path, a.Aliases(), b.Aliases())
}

func (d *avroDiffer) enum(path string, a, b *avro.EnumSchema) {
	for _, s := range a.Symbols() {
		if !slices.Contains(b.Symbols(), s) {
			d.add(path, ChangeSymbolRemoved, s, "")
		}
	}
	for _, s := range b.Symbols() {
		if !slices.Contains(a.Symbols(), s) {
			d.add(path, ChangeSymbolAdded, "", s)
		}
	}
	var da, db string
	if a.HasDefault() {
		da = a.Default()
	}
	if b.HasDefault() {
		db = b.Default()
	}
	if da != db {
		d.add(path, ChangeEnumDefault, orNone(da), orNone(db))
	}
}

func (d *avroDiffer) union(path string, a, b *avro.UnionSchema) {
	bs := map[string]avro.Schema{}
	for _, t := range b.Types() {
		bs[branchKey(t)] = t
	}
	as := map[string]bool{}
	for _, ta := range a.Types() {
		key := branchKey(ta)
		as[key] = true
		tb, ok := bs[key]
		if !ok {
			d.add(path, ChangeBranchRemoved, avroTypeName(ta), "")
			continue
		}
		d.schema(join(path, "("+key+")"), ta, tb)
	}
	for _, tb := range b.Types() {
		if !as[branchKey(tb)] {
			d.add(path, ChangeBranchAdded, "", avroTypeName(tb))
		}
	}
}

// branchKey is what names a union branch: a named type's full name, else
// its type (a union holds one of each unnamed type), so a branch whose
// logical type changed is the same branch, changed.
func branchKey(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

func (d *avroDiffer) aliases(path string, a, b []string) {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	if !slices.Equal(a, b) {
		d.add(path, ChangeAliases, listOrNone(a), listOrNone(b))
	}
}

func (d *avroDiffer) logical(path string, a, b avro.LogicalSchema) {
	la, lb := logicalName(a), logicalName(b)
	if la != lb {
		d.add(path, ChangeLogical, orNone(la), orNone(lb))
	}
}

func logicalName(l avro.LogicalSchema) string {
	if l == nil {
		return ""
	}
	if dec, ok := l.(*avro.DecimalLogicalSchema); ok {
		return fmt.Sprintf("decimal(%d,%d)", dec.Precision(), dec.Scale())
	}
	return string(l.Type())
}

// avroTypeName names a type as the diff shows it: a named type by its full
// name, "long(timestamp-millis)", "array<string>", "[null, string]".
func avroTypeName(s avro.Schema) string {
	s = deref(s)
	switch s := s.(type) {
	case avro.NamedSchema:
		if f, ok := s.(*avro.FixedSchema); ok && f.Logical() != nil {
			return s.FullName() + "(" + logicalName(f.Logical()) + ")"
		}
		return s.FullName()
	case *avro.ArraySchema:
		return "array<" + avroTypeName(s.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + avroTypeName(s.Values()) + ">"
	case *avro.UnionSchema:
		names := make([]string, len(s.Types()))
		for i, t := range s.Types() {
			names[i] = avroTypeName(t)
		}
		return "[" + strings.Join(names, ", ") + "]"
	case *avro.PrimitiveSchema:
		if s.Logical() != nil {
			return string(s.Type()) + "(" + logicalName(s.Logical()) + ")"
		}
	}
	return string(s.Type())
}

func describeField(f *avro.Field) string {
	s := avroTypeName(f.Type())
	if d := describeDefault(f); d != "" {
		s += ", default " + d
	}
	return s
}

// describeDefault is a field's default as JSON, "" when it has none.
func describeDefault(f *avro.Field) string {
	if !f.HasDefault() {
		return ""
	}
	v := f.Default()
	if b, ok := v.([]byte); ok { // bytes and fixed defaults are strings in a schema
		v = string(b)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(out)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
