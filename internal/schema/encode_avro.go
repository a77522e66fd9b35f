package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/evctl/evctl/internal/record"
)

// The JSON→Avro encoder is the writer's inverse: it reads the plain JSON
// that tail prints and writes Avro binary, so tail -o json | produce gives
// back the same values and types.
//   - a union takes the value as it is and picks the branch it fits; where
//     several records fit, the event type (a capture line's "type") or
//     Avro's wrapping ({"com.x.A": {...}}) chooses; scalars go to the first
//     branch that takes them;
//   - timestamps from RFC3339 (any zone), local timestamps without one,
//     dates "2026-11-01", times "15:04:05.000"; each also as its number;
//   - decimals from exact strings (or JSON numbers), never through a float;
//   - bytes and fixed from base64; enums from symbols; maps from objects;
//   - a record field left out takes its default, if it has one;
//   - NaN and ±Infinity as the strings tail prints.

// avroEncoder holds the state of one JSON→Avro walk.
type avroEncoder struct {
	out   []byte
	depth int
}

// encodeAvro appends the Avro binary of v, a value from parseJSON, to dst.
// typeHint, when not empty, names the record a top-level union takes (a
// capture's "type"), by its full or short name.
func encodeAvro(dst []byte, n *avroNode, v any, typeHint string) ([]byte, error) {
	e := avroEncoder{out: dst}
	if n.kind == kUnion && typeHint != "" {
		for i, b := range n.branches {
			if b.name == typeHint || b.name != "" && b.name[strings.LastIndexByte(b.name, '.')+1:] == typeHint {
				e.out = binary.AppendVarint(e.out, int64(i))
				err := e.value(b, v, "")
				return e.out, err
			}
		}
		return dst, fieldErrorf("", "type %q is not a branch of the schema's union (%s)", typeHint, branchNames(n))
	}
	err := e.value(n, v, "")
	return e.out, err
}

func branchNames(n *avroNode) string {
	names := make([]string, len(n.branches))
	for i, b := range n.branches {
		names[i] = b.typeName()
	}
	return strings.Join(names, ", ")
}

// typeName is how Avro names a union branch: its full name, or its type.
func (n *avroNode) typeName() string {
	if n.name != "" {
		return n.name
	}
	return map[kind]string{
		kNull: "null", kBool: "boolean", kInt: "int", kLong: "long", kFloat: "float", kDouble: "double",
		kBytes: "bytes", kString: "string", kArray: "array", kMap: "map",
	}[n.base]
}

func (e *avroEncoder) long(v int64) { e.out = binary.AppendVarint(e.out, v) }

func (e *avroEncoder) bytes(b []byte) {
	e.long(int64(len(b)))
	e.out = append(e.out, b...)
}

func (e *avroEncoder) value(n *avroNode, v any, path string) error {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxDepth {
		return fieldErrorf(path, "values nested deeper than %d", maxDepth)
	}
	switch n.kind {
	case kNull:
		if v != nil {
			return mismatch(path, "null", v)
		}
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return mismatch(path, "a boolean", v)
		}
		if b {
			e.out = append(e.out, 1)
		} else {
			e.out = append(e.out, 0)
		}
	case kInt, kLong:
		bits := 64
		if n.kind == kInt {
			bits = 32
		}
		i, err := jsonInt(v, bits, path)
		if err != nil {
			return err
		}
		e.long(i)
	case kFloat, kDouble:
		f, err := jsonFloat(v, path)
		if err != nil {
			return err
		}
		if n.kind == kFloat {
			e.out = binary.LittleEndian.AppendUint32(e.out, math.Float32bits(float32(f)))
		} else {
			e.out = binary.LittleEndian.AppendUint64(e.out, math.Float64bits(f))
		}
	case kString:
		s, ok := v.(string)
		if !ok {
			return mismatch(path, "a string", v)
		}
		e.bytes([]byte(s))
	case kBytes, kFixed:
		b, err := jsonBase64(v, path)
		if err != nil {
			return err
		}
		if n.kind == kFixed {
			if len(b) != n.size {
				return fieldErrorf(path, "%s takes %d bytes, got %d", n.name, n.size, len(b))
			}
			e.out = append(e.out, b...)
		} else {
			e.bytes(b)
		}
	case kEnum:
		s, ok := v.(string)
		if !ok {
			return mismatch(path, "a symbol of "+n.name, v)
		}
		quoted := record.AppendJSONString(nil, []byte(s))
		for i, sym := range n.symbols {
			if bytes.Equal(sym, quoted) {
				e.long(int64(i))
				return nil
			}
		}
		return fieldErrorf(path, "%q is not a symbol of %s (%s)", s, n.name, symbolList(n))
	case kRecord:
		return e.record(n, v, path)
	case kArray:
		a, ok := v.([]any)
		if !ok {
			return mismatch(path, "an array", v)
		}
		if len(a) > 0 {
			e.long(int64(len(a)))
			for i, item := range a {
				if err := e.value(n.items, item, indexPath(path, i)); err != nil {
					return err
				}
			}
		}
		e.long(0)
	case kMap:
		o, ok := v.(*jsonObject)
		if !ok {
			return mismatch(path, "an object (a map)", v)
		}
		if len(o.keys) > 0 {
			e.long(int64(len(o.keys)))
			for i, k := range o.keys {
				e.bytes([]byte(k))
				if err := e.value(n.items, o.vals[i], fieldPath(path, k)); err != nil {
					return err
				}
			}
		}
		e.long(0)
	case kUnion:
		return e.union(n, v, path)
	case kDate:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return fieldErrorf(path, "%q is not a date (2006-01-02)", s)
			}
			e.long(floorDiv(t.Unix(), 86400))
			return nil
		}
		i, err := jsonInt(v, 32, path)
		if err != nil {
			return mismatch(path, "a date (\"2006-01-02\") or a day count", v)
		}
		e.long(i)
	case kTimeMillis, kTimeMicros:
		per := int64(1000)
		if n.kind == kTimeMicros {
			per = 1000000
		}
		if s, ok := v.(string); ok {
			d, err := parseTimeOfDay(s, per)
			if err != nil {
				return fieldErrorf(path, "%v", err)
			}
			e.long(d)
			return nil
		}
		i, err := jsonInt(v, 64, path)
		if err != nil {
			return mismatch(path, "a time of day (\"15:04:05.000\")", v)
		}
		e.long(i)
	case kTimestampMillis, kTimestampMicros, kLocalTimestampMillis, kLocalTimestampMicros:
		per := int64(1000)
		if n.kind == kTimestampMicros || n.kind == kLocalTimestampMicros {
			per = 1000000
		}
		local := n.kind == kLocalTimestampMillis || n.kind == kLocalTimestampMicros
		if s, ok := v.(string); ok {
			ts, err := parseTimestamp(s, per, local)
			if err != nil {
				return fieldErrorf(path, "%v", err)
			}
			e.long(ts)
			return nil
		}
		i, err := jsonInt(v, 64, path)
		if err != nil {
			return mismatch(path, "a timestamp (RFC3339)", v)
		}
		e.long(i)
	case kDecimalBytes, kDecimalFixed:
		unscaled, err := jsonDecimal(v, n.scale, path)
		if err != nil {
			return err
		}
		size := 0
		if n.kind == kDecimalFixed {
			size = n.size
		}
		b, ok := decimalBytes(unscaled, size)
		if !ok {
			return fieldErrorf(path, "%s does not fit in %s's %d bytes", describeValue(v), n.name, n.size)
		}
		if size > 0 {
			e.out = append(e.out, b...)
		} else {
			e.bytes(b)
		}
	case kDuration:
		o, ok := v.(*jsonObject)
		if !ok {
			return mismatch(path, `a duration ({"months":…,"days":…,"milliseconds":…})`, v)
		}
		for _, k := range []string{"months", "days", "milliseconds"} {
			x, _ := o.get(k)
			i, err := jsonInt(x, 64, fieldPath(path, k))
			if err != nil {
				return err
			}
			if i < 0 || i > math.MaxUint32 {
				return fieldErrorf(fieldPath(path, k), "%d is out of a duration's range (0 to %d)", i, uint32(math.MaxUint32))
			}
			e.out = binary.LittleEndian.AppendUint32(e.out, uint32(i))
		}
		if len(o.keys) != 3 {
			return fieldErrorf(path, "a duration has only months, days and milliseconds")
		}
	}
	return nil
}

func symbolList(n *avroNode) string {
	syms := make([]string, len(n.symbols))
	for i, s := range n.symbols {
		syms[i] = string(s)
	}
	return strings.Join(syms, ", ")
}

func (e *avroEncoder) record(n *avroNode, v any, path string) error {
	o, ok := v.(*jsonObject)
	if !ok {
		return mismatch(path, "an object ("+n.name+")", v)
	}
	used := 0
	for i := range n.fields {
		f := &n.fields[i]
		x, ok := o.get(f.name)
		if !ok {
			if !f.hasDef {
				return fieldErrorf(fieldPath(path, f.name), "missing: %s has no default for it", n.name)
			}
			e.out = append(e.out, f.def...)
			continue
		}
		used++
		if err := e.value(f.node, x, fieldPath(path, f.name)); err != nil {
			return err
		}
	}
	if used < len(o.keys) {
		for _, k := range o.keys {
			if !n.hasField(k) {
				return fieldErrorf(fieldPath(path, k), "%s has no such field", n.name)
			}
		}
	}
	return nil
}

func (n *avroNode) hasField(name string) bool {
	for i := range n.fields {
		if n.fields[i].name == name {
			return true
		}
	}
	return false
}

// union writes v with the branch it fits: the first scalar, array or map
// branch that takes it, or the only record that does; else the branch
// Avro's JSON wrapping names.
func (e *avroEncoder) union(n *avroNode, v any, path string) error {
	var fit []int
	var firstErr error // the complaint that got furthest into v
	for i, b := range n.branches {
		try := avroEncoder{depth: e.depth}
		err := try.value(b, v, path)
		if err == nil {
			fit = append(fit, i)
			if b.kind != kRecord {
				break // scalars, arrays and maps: the first that takes v
			}
		} else if b.kind != kNull && (firstErr == nil || deeper(err, firstErr)) {
			firstErr = err
		}
	}
	if o, ok := v.(*jsonObject); ok && len(o.keys) == 1 && len(fit) != 1 {
		// Avro's JSON encoding, {"branch name": value}: only where the
		// value as it is fits no branch or several records, so a map that
		// tail printed stays a map.
		for i, b := range n.branches {
			if b.typeName() == o.keys[0] {
				e.long(int64(i))
				return e.value(b, o.vals[0], fieldPath(path, o.keys[0]))
			}
		}
	}
	switch len(fit) {
	case 0:
		if len(n.branches) == 2 && (n.branches[0].kind == kNull || n.branches[1].kind == kNull) && firstErr != nil {
			return firstErr // ["null", T]: T's complaint is the useful one
		}
		var pe *FieldError
		if errors.As(firstErr, &pe) && pe.Path != path {
			return firstErr
		}
		return fieldErrorf(path, "%s fits no branch of the union (%s)", describeValue(v), branchNames(n))
	case 1:
		e.long(int64(fit[0]))
		return e.value(n.branches[fit[0]], v, path)
	}
	names := make([]string, len(fit))
	for i, f := range fit {
		names[i] = n.branches[f].name
	}
	return fieldErrorf(path, "the value fits %s: say which with the record's \"type\" (as tail -o json writes it) or wrap it as {%q: …}",
		strings.Join(names, " and "), names[0])
}

// deeper reports whether a failed further into the value than b: its
// complaint says more about what is wrong.
func deeper(a, b error) bool {
	var pa, pb *FieldError
	return errors.As(a, &pa) && errors.As(b, &pb) && len(pa.Path) > len(pb.Path)
}

func mismatch(path, want string, v any) error {
	return fieldErrorf(path, "want %s, got %s", want, describeValue(v))
}

func jsonInt(v any, bits int, path string) (int64, error) {
	num, ok := v.(json.Number)
	if !ok {
		if bits == 32 {
			return 0, mismatch(path, "an int", v)
		}
		return 0, mismatch(path, "a long", v)
	}
	i, err := strconv.ParseInt(num.String(), 10, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fieldErrorf(path, "%s is out of range for a %d-bit integer", num, bits)
		}
		return 0, fieldErrorf(path, "%s is not an integer", num)
	}
	return i, nil
}

func jsonFloat(v any, path string) (float64, error) {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return 0, fieldErrorf(path, "%s is out of range", v)
		}
		return f, nil
	case string:
		switch v {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, mismatch(path, "a number", v)
}

func jsonBase64(v any, path string) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, mismatch(path, "bytes as a base64 string", v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fieldErrorf(path, "%s is not base64 (bytes are written as standard, padded base64)", describeValue(v))
	}
	return b, nil
}

// jsonDecimal reads an exact decimal, a string or a JSON number, as its
// unscaled integer at scale. Digits beyond the scale must be zeros: a
// decimal is never rounded.
func jsonDecimal(v any, scale int, path string) (*big.Int, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		return nil, mismatch(path, `a decimal ("120.00")`, v)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "/") {
		return nil, fieldErrorf(path, "%q is not a decimal number", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return nil, fieldErrorf(path, "%q has more digits after the point than the decimal's scale of %d", s, scale)
	}
	return r.Num(), nil
}

// decimalBytes is i as big-endian two's complement: in size bytes when
// size > 0 (ok is false if it does not fit), else in the fewest bytes.
func decimalBytes(i *big.Int, size int) ([]byte, bool) {
	var b []byte
	switch i.Sign() {
	case 0:
		b = []byte{0}
	case 1:
		b = i.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
	default:
		// -i-1 in ones' complement is i in two's complement.
		m := new(big.Int).Neg(i)
		m.Sub(m, big.NewInt(1))
		b = m.Bytes()
		for j := range b {
			b[j] = ^b[j]
		}
		if len(b) == 0 || b[0]&0x80 == 0 {
			b = append([]byte{0xff}, b...)
		}
	}
	if size == 0 {
		return b, true
	}
	if len(b) > size {
		return nil, false
	}
	pad := byte(0)
	if i.Sign() < 0 {
		pad = 0xff
	}
	out := make([]byte, size-len(b), size)
	for j := range out {
		out[j] = pad
	}
	return append(out, b...), true
}

// parseTimestamp reads an RFC3339 timestamp (a local one: without a zone)
// in 1/per seconds since the epoch; finer digits than per holds are an
// error, not rounded away.
func parseTimestamp(s string, per int64, local bool) (int64, error) {
	layout, what := time.RFC3339Nano, "an RFC3339 timestamp (2006-01-02T15:04:05.000Z)"
	if local {
		layout, what = "2006-01-02T15:04:05.999999999", "a local timestamp (2006-01-02T15:04:05.000)"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not %s", s, what)
	}
	step := int64(time.Second) / per
	if int64(t.Nanosecond())%step != 0 {
		return 0, fmt.Errorf("%q is more precise than the field's %s", s, map[int64]string{1000: "milliseconds", 1000000: "microseconds"}[per])
	}
	return t.Unix()*per + int64(t.Nanosecond())/step, nil
}

// parseTimeOfDay reads "15:04:05.000" in 1/per seconds since midnight.
func parseTimeOfDay(s string, per int64) (int64, error) {
	t, err := time.Parse("15:04:05.999999999", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day (15:04:05.000)", s)
	}
	step := int64(time.Second) / per
	if int64(t.Nanosecond())%step != 0 {
		return 0, fmt.Errorf("%q is more precise than the field's %s", s, map[int64]string{1000: "milliseconds", 1000000: "microseconds"}[per])
	}
	sec := int64(t.Hour()*3600 + t.Minute()*60 + t.Second())
	return sec*per + int64(t.Nanosecond())/step, nil
}
