package schema

import (
	"sync/atomic"

	"github.com/hamba/avro/v2"

	"github.com/evctl/evctl/internal/record"
)

// kind is what the Avro→JSON writer does with one schema node.
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kArray
	kMap
	kUnion
	kFixed
	// logical types, rendered readable in plain JSON
	kDate
	kTimeMillis
	kTimeMicros
	kTimestampMillis
	kTimestampMicros
	kLocalTimestampMillis
	kLocalTimestampMicros
	kDecimalBytes
	kDecimalFixed
	kDuration
)

// avroNode is a compiled Avro schema node: the hamba schema tree flattened
// into what the writer needs, with JSON keys and symbols quoted in advance.
type avroNode struct {
	kind     kind // how plain JSON renders it (logical types included)
	base     kind // how Avro's JSON encoding renders it (the physical type)
	name     string
	fields   []avroField  // record
	items    *avroNode    // array items, map values
	branches []*avroNode  // union
	symbols  [][]byte     // enum symbols, quoted
	names    []string     // enum symbols, as they are (avroValues)
	size     int          // fixed size
	scale    int          // decimal scale
	minSize  int          // fewest bytes one value takes (0 for null, empty records)
	wrap     []byte       // `{"branch name":` for Avro's JSON encoding of unions
	sizeHint atomic.Int64 // longest JSON output seen, to size the next buffer once
}

type avroField struct {
	key  []byte // `"name":`, with a leading comma for all but the first field
	name string
	node *avroNode
	// def is the field's default as Avro binary, for an encoded value that
	// leaves the field out; hasDef is false when it has none.
	def    []byte
	hasDef bool
}

// compileAvro compiles a parsed hamba schema for the writer.
func compileAvro(s avro.Schema) *avroNode {
	c := compiler{named: map[string]*avroNode{}}
	n := c.node(s)
	setMinSize(n, map[*avroNode]bool{})
	return n
}

type compiler struct {
	named map[string]*avroNode // by full name, so recursive types compile to cycles
}

func (c *compiler) node(s avro.Schema) *avroNode {
	switch s := s.(type) {
	case *avro.RefSchema:
		return c.node(s.Schema())
	case *avro.RecordSchema:
		if n := c.named[s.FullName()]; n != nil {
			return n
		}
		n := &avroNode{kind: kRecord, base: kRecord, name: s.FullName()}
		n.wrap = wrapKey(n.name)
		c.named[n.name] = n
		n.fields = make([]avroField, len(s.Fields()))
		for i, f := range s.Fields() {
			key := record.AppendJSONString(nil, []byte(f.Name()))
			key = append(key, ':')
			if i > 0 {
				key = append([]byte{','}, key...)
			}
			n.fields[i] = avroField{key: key, node: c.node(f.Type()), name: f.Name()}
			n.fields[i].def, n.fields[i].hasDef = fieldDefault(f)
		}
		return n
	case *avro.EnumSchema:
		if n := c.named[s.FullName()]; n != nil {
			return n
		}
		n := &avroNode{kind: kEnum, base: kEnum, name: s.FullName()}
		n.wrap = wrapKey(n.name)
		c.named[n.name] = n
		for _, sym := range s.Symbols() {
			n.symbols = append(n.symbols, record.AppendJSONString(nil, []byte(sym)))
			n.names = append(n.names, sym)
		}
		return n
	case *avro.FixedSchema:
		if n := c.named[s.FullName()]; n != nil {
			return n
		}
		n := &avroNode{kind: kFixed, base: kFixed, name: s.FullName(), size: s.Size()}
		n.wrap = wrapKey(n.name)
		c.named[n.name] = n
		switch l := s.Logical().(type) {
		case *avro.DecimalLogicalSchema:
			n.kind, n.scale = kDecimalFixed, l.Scale()
		case avro.LogicalSchema:
			if l.Type() == avro.Duration {
				n.kind = kDuration
			}
		}
		return n
	case *avro.ArraySchema:
		return &avroNode{kind: kArray, base: kArray, items: c.node(s.Items()), wrap: wrapKey("array")}
	case *avro.MapSchema:
		return &avroNode{kind: kMap, base: kMap, items: c.node(s.Values()), wrap: wrapKey("map")}
	case *avro.UnionSchema:
		n := &avroNode{kind: kUnion, base: kUnion}
		for _, t := range s.Types() {
			n.branches = append(n.branches, c.node(t))
		}
		return n
	case *avro.NullSchema:
		return &avroNode{kind: kNull, base: kNull, wrap: wrapKey("null")}
	case *avro.PrimitiveSchema:
		return primitiveNode(s)
	}
	// hamba has no other schema types; an unknown one renders as null
	// rather than panicking on a future hamba release.
	return &avroNode{kind: kNull, base: kNull}
}

// fieldDefault is f's default as Avro binary. A union's default is of its
// first branch, so it is that branch's index (0) and the value.
func fieldDefault(f *avro.Field) ([]byte, bool) {
	if !f.HasDefault() {
		return nil, false
	}
	t := f.Type()
	var prefix []byte
	if u, ok := t.(*avro.UnionSchema); ok {
		t, prefix = u.Types()[0], []byte{0}
	}
	b, err := avro.Marshal(t, f.Default())
	if err != nil {
		return nil, false
	}
	return append(prefix, b...), true
}

func primitiveNode(s *avro.PrimitiveSchema) *avroNode {
	base := map[avro.Type]kind{
		avro.Boolean: kBool, avro.Int: kInt, avro.Long: kLong, avro.Float: kFloat,
		avro.Double: kDouble, avro.Bytes: kBytes, avro.String: kString, avro.Null: kNull,
	}[s.Type()]
	n := &avroNode{kind: base, base: base, wrap: wrapKey(string(s.Type()))}
	switch l := s.Logical().(type) {
	case *avro.DecimalLogicalSchema:
		n.kind, n.scale = kDecimalBytes, l.Scale()
	case avro.LogicalSchema:
		switch l.Type() {
		case avro.Date:
			n.kind = kDate
		case avro.TimeMillis:
			n.kind = kTimeMillis
		case avro.TimeMicros:
			n.kind = kTimeMicros
		case avro.TimestampMillis:
			n.kind = kTimestampMillis
		case avro.TimestampMicros:
			n.kind = kTimestampMicros
		case avro.LocalTimestampMillis:
			n.kind = kLocalTimestampMillis
		case avro.LocalTimestampMicros:
			n.kind = kLocalTimestampMicros
		}
	}
	return n
}

// wrapKey is `{"name":`, how Avro's JSON encoding opens a union branch.
func wrapKey(name string) []byte {
	return append(record.AppendJSONString([]byte{'{'}, []byte(name)), ':')
}

// setMinSize computes the fewest bytes a value of each node takes, which
// bounds how many items a block count may claim. A node met again while
// being computed (a recursive type) counts as 0, a safe underestimate.
func setMinSize(n *avroNode, busy map[*avroNode]bool) int {
	if busy[n] {
		return n.minSize
	}
	busy[n] = true
	switch n.base {
	case kNull:
		n.minSize = 0
	case kFloat:
		n.minSize = 4
	case kDouble:
		n.minSize = 8
	case kFixed:
		n.minSize = n.size
	case kRecord:
		sum := 0
		for _, f := range n.fields {
			sum += setMinSize(f.node, busy)
		}
		n.minSize = sum
	case kArray, kMap:
		setMinSize(n.items, busy)
		n.minSize = 1
	case kUnion:
		for _, b := range n.branches {
			setMinSize(b, busy)
		}
		n.minSize = 1
	default:
		n.minSize = 1
	}
	return n.minSize
}
