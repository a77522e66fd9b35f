package schema

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/evctl/evctl/internal/record"
)

// The Avro→JSON writer walks Avro binary against a compiled schema and
// writes JSON bytes directly: no map[string]any, no reflection, one buffer.
//
// Plain JSON (the default):
//   - unions are unwrapped: the branch's value alone;
//   - timestamp-millis/micros → RFC3339 string in UTC ("2026-11-01T10:00:00.123Z",
//     micros with 6 digits); local-timestamp-* the same without the "Z";
//   - date → "2026-11-01"; time-millis → "15:04:05.000", time-micros → "15:04:05.000000";
//   - decimal (bytes or fixed) → exact decimal string honouring the scale ("120.00");
//   - duration → {"months":m,"days":d,"milliseconds":ms};
//   - uuid → its string; enum → its symbol; map → object;
//   - bytes and fixed without a logical type → base64 string (standard, padded);
//   - long → exact JSON integer; NaN and ±Inf → "NaN", "Infinity", "-Infinity";
//   - a time outside years 0000–9999 (or a time of day outside 0–24h) → the number.
//
// Avro's JSON encoding (AvroJSON): the Avro specification's JSON encoding,
// which Avro tools read back: a non-null union branch is wrapped as
// {"type name": value}, bytes and fixed are strings of code points U+0000–U+00FF,
// and logical types are their underlying values.

// Limits that keep a hostile payload from costing more than its size suggests.
const (
	maxDepth       = 2048    // nesting of records, arrays, maps and unions
	maxZeroItems   = 1 << 16 // items that take no bytes (nulls), per payload
	maxOutputBytes = 64 << 20
)

var errTruncated = errors.New("unexpected end of payload")

// avroWriter holds the state of one Avro→JSON walk.
type avroWriter struct {
	in        []byte
	pos       int
	out       []byte
	avroJSON  bool
	err       error
	errAt     int
	depth     int
	zeroItems int
}

// renderAvro decodes one Avro datum of schema n from payload as JSON. typ
// is the full name of the top-level named type, after unwrapping a union.
func renderAvro(n *avroNode, payload []byte, avroJSON bool) (out []byte, typ string, err error) {
	// One allocation of about the right size: the longest output seen so
	// far, within reason for this payload.
	size := min(int(n.sizeHint.Load()), 8*len(payload)+64)
	if size == 0 {
		size = 2*len(payload) + 64
	}
	w := avroWriter{in: payload, out: make([]byte, 0, size), avroJSON: avroJSON}
	top := n
	if n.kind == kUnion {
		// Decoded here, not in value, to learn the branch's type name.
		top = w.branch(n)
		if top != nil {
			if avroJSON && top.base != kNull {
				w.out = append(w.out, top.wrap...)
				w.value(top)
				w.out = append(w.out, '}')
			} else {
				w.value(top)
			}
		}
	} else {
		w.value(n)
	}
	if w.err == nil && w.pos != len(w.in) {
		w.fail(fmt.Errorf("%d bytes left over after the value", len(w.in)-w.pos))
	}
	if w.err != nil {
		return nil, "", fmt.Errorf("%w at byte %d", w.err, w.errAt)
	}
	if int64(len(w.out)) > n.sizeHint.Load() {
		n.sizeHint.Store(int64(len(w.out)))
	}
	if top != nil && top.name != "" && (top.kind == kRecord || top.kind == kEnum || top.base == kFixed) {
		typ = top.name
	}
	return w.out, typ, nil
}

func (w *avroWriter) fail(err error) {
	if w.err == nil {
		w.err, w.errAt = err, w.pos
	}
}

func (w *avroWriter) long() int64 {
	var v uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if w.pos >= len(w.in) {
			w.fail(errTruncated)
			return 0
		}
		c := w.in[w.pos]
		w.pos++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(v>>1) ^ -int64(v&1)
		}
	}
	w.fail(errors.New("long longer than 10 bytes"))
	return 0
}

func (w *avroWriter) int() int32 {
	var v uint32
	for shift := uint(0); shift < 35; shift += 7 {
		if w.pos >= len(w.in) {
			w.fail(errTruncated)
			return 0
		}
		c := w.in[w.pos]
		w.pos++
		v |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return int32(v>>1) ^ -int32(v&1)
		}
	}
	w.fail(errors.New("int longer than 5 bytes"))
	return 0
}

// take returns the next n bytes of the payload.
func (w *avroWriter) take(n int64) []byte {
	if n < 0 {
		w.fail(fmt.Errorf("negative length %d", n))
		return nil
	}
	if n > int64(len(w.in)-w.pos) {
		w.fail(errTruncated)
		return nil
	}
	b := w.in[w.pos : w.pos+int(n)]
	w.pos += int(n)
	return b
}

func (w *avroWriter) branch(n *avroNode) *avroNode {
	i := w.long()
	if w.err != nil {
		return nil
	}
	if i < 0 || i >= int64(len(n.branches)) {
		w.fail(fmt.Errorf("union branch %d out of range (%d branches)", i, len(n.branches)))
		return nil
	}
	return n.branches[i]
}

func (w *avroWriter) value(n *avroNode) {
	k := n.kind
	if w.avroJSON {
		k = n.base
	}
	switch k {
	case kNull:
		w.out = append(w.out, "null"...)
	case kBool:
		b := w.take(1)
		switch {
		case b == nil:
		case b[0] == 0:
			w.out = append(w.out, "false"...)
		case b[0] == 1:
			w.out = append(w.out, "true"...)
		default:
			w.fail(fmt.Errorf("invalid boolean byte 0x%02x", b[0]))
		}
	case kInt:
		w.out = strconv.AppendInt(w.out, int64(w.int()), 10)
	case kLong:
		w.out = strconv.AppendInt(w.out, w.long(), 10)
	case kFloat:
		if b := w.take(4); b != nil {
			w.out = appendFloat(w.out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
		}
	case kDouble:
		if b := w.take(8); b != nil {
			w.out = appendFloat(w.out, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
		}
	case kString:
		if b := w.take(w.long()); w.err == nil {
			w.out = record.AppendJSONString(w.out, b)
		}
	case kBytes:
		if b := w.take(w.long()); w.err == nil {
			w.out = w.appendBytes(w.out, b)
		}
	case kFixed:
		if b := w.take(int64(n.size)); w.err == nil {
			w.out = w.appendBytes(w.out, b)
		}
	case kRecord:
		w.record(n)
	case kEnum:
		i := w.int()
		if w.err != nil {
			return
		}
		if i < 0 || int(i) >= len(n.symbols) {
			w.fail(fmt.Errorf("enum %s index %d out of range (%d symbols)", n.name, i, len(n.symbols)))
			return
		}
		w.out = append(w.out, n.symbols[i]...)
	case kArray, kMap:
		w.block(n, k == kMap)
	case kUnion:
		w.union(n)
	case kDate:
		w.date(int64(w.int()))
	case kTimeMillis:
		w.timeOfDay(int64(w.int()), 1000)
	case kTimeMicros:
		w.timeOfDay(w.long(), 1000000)
	case kTimestampMillis:
		w.timestamp(w.long(), 1000, true)
	case kTimestampMicros:
		w.timestamp(w.long(), 1000000, true)
	case kLocalTimestampMillis:
		w.timestamp(w.long(), 1000, false)
	case kLocalTimestampMicros:
		w.timestamp(w.long(), 1000000, false)
	case kDecimalBytes:
		if b := w.take(w.long()); w.err == nil {
			w.out = appendDecimal(w.out, b, n.scale)
		}
	case kDecimalFixed:
		if b := w.take(int64(n.size)); w.err == nil {
			w.out = appendDecimal(w.out, b, n.scale)
		}
	case kDuration:
		if b := w.take(12); b != nil {
			w.out = append(w.out, `{"months":`...)
			w.out = strconv.AppendUint(w.out, uint64(binary.LittleEndian.Uint32(b[0:])), 10)
			w.out = append(w.out, `,"days":`...)
			w.out = strconv.AppendUint(w.out, uint64(binary.LittleEndian.Uint32(b[4:])), 10)
			w.out = append(w.out, `,"milliseconds":`...)
			w.out = strconv.AppendUint(w.out, uint64(binary.LittleEndian.Uint32(b[8:])), 10)
			w.out = append(w.out, '}')
		}
	}
}

func (w *avroWriter) enter() bool {
	w.depth++
	if w.depth > maxDepth {
		w.fail(fmt.Errorf("values nested deeper than %d", maxDepth))
		return false
	}
	return true
}

func (w *avroWriter) record(n *avroNode) {
	if !w.enter() {
		return
	}
	w.out = append(w.out, '{')
	for i := range n.fields {
		f := &n.fields[i]
		w.out = append(w.out, f.key...)
		w.value(f.node)
		if w.err != nil {
			return
		}
	}
	w.out = append(w.out, '}')
	w.depth--
}

func (w *avroWriter) union(n *avroNode) {
	b := w.branch(n)
	if b == nil || !w.enter() {
		return
	}
	if w.avroJSON && b.base != kNull {
		w.out = append(w.out, b.wrap...)
		w.value(b)
		w.out = append(w.out, '}')
	} else {
		w.value(b)
	}
	w.depth--
}

// block writes an array or a map: blocks of items, each block a count (a
// negative count is followed by the block's size in bytes), ending with 0.
func (w *avroWriter) block(n *avroNode, isMap bool) {
	if !w.enter() {
		return
	}
	open, close := byte('['), byte(']')
	if isMap {
		open, close = '{', '}'
	}
	w.out = append(w.out, open)
	first := true
	for {
		count, ok := w.blockCount(n, isMap)
		if !ok {
			return
		}
		if count == 0 {
			break
		}
		for ; count > 0; count-- {
			if !first {
				w.out = append(w.out, ',')
			}
			first = false
			if isMap {
				key := w.take(w.long())
				if w.err != nil {
					return
				}
				w.out = record.AppendJSONString(w.out, key)
				w.out = append(w.out, ':')
			}
			w.value(n.items)
			if w.err != nil {
				return
			}
			if len(w.out) > maxOutputBytes {
				w.fail(fmt.Errorf("decoded value larger than %d bytes", maxOutputBytes))
				return
			}
		}
	}
	w.out = append(w.out, close)
	w.depth--
}

// blockCount reads the item count of the next block of array or map n,
// 0 after the last; ok is false on an error.
func (w *avroWriter) blockCount(n *avroNode, isMap bool) (count int64, ok bool) {
	count = w.long()
	if w.err != nil {
		return 0, false
	}
	if count < 0 {
		count = -count
		w.long() // block size in bytes, only useful for skipping
		if count < 0 {
			w.fail(errors.New("invalid block count"))
		}
	}
	if count != 0 && !w.checkCount(count, n.items.minSize, isMap) {
		return 0, false
	}
	return count, true
}

// checkCount rejects a block count the rest of the payload cannot hold,
// so a few corrupt bytes cannot make the writer loop for ages.
func (w *avroWriter) checkCount(count int64, itemSize int, isMap bool) bool {
	if w.err != nil {
		return false
	}
	if isMap {
		itemSize++ // every key takes at least its length byte
	}
	if itemSize == 0 {
		w.zeroItems += int(min(count, maxZeroItems+1))
		if w.zeroItems > maxZeroItems {
			w.fail(fmt.Errorf("more than %d empty items", maxZeroItems))
			return false
		}
		return true
	}
	if count > int64(len(w.in)-w.pos)/int64(itemSize) {
		w.fail(fmt.Errorf("block of %d items exceeds the payload", count))
		return false
	}
	return true
}

func (w *avroWriter) appendBytes(dst, b []byte) []byte {
	if w.avroJSON {
		return appendLatin1String(dst, b)
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func (w *avroWriter) date(days int64) {
	if w.err != nil {
		return
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		w.out = strconv.AppendInt(w.out, days, 10)
		return
	}
	w.out = append(w.out, '"')
	w.out = appendDate(w.out, y, m, d)
	w.out = append(w.out, '"')
}

// timestamp writes v, in 1/perSecond seconds since the epoch, as RFC3339
// in UTC with the fraction's digits, and "Z" when zone is set.
func (w *avroWriter) timestamp(v, perSecond int64, zone bool) {
	if w.err != nil {
		return
	}
	sec := floorDiv(v, perSecond)
	frac := v - sec*perSecond
	days := floorDiv(sec, 86400)
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		w.out = strconv.AppendInt(w.out, v, 10)
		return
	}
	w.out = append(w.out, '"')
	w.out = appendDate(w.out, y, m, d)
	w.out = append(w.out, 'T')
	w.out = appendClock(w.out, sec-days*86400, frac, perSecond)
	if zone {
		w.out = append(w.out, 'Z')
	}
	w.out = append(w.out, '"')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// civil returns the proleptic Gregorian date of a day count since
// 1970-01-01 (Howard Hinnant's days_from_civil, inverted); time.Time's
// formatting costs several times more.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

func appendDate(dst []byte, y, m, d int64) []byte {
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = appendTwo(dst, m)
	dst = append(dst, '-')
	return appendTwo(dst, d)
}

// appendClock writes hh:mm:ss and the fraction frac of perSecond.
func appendClock(dst []byte, sec, frac, perSecond int64) []byte {
	dst = appendTwo(dst, sec/3600)
	dst = append(dst, ':')
	dst = appendTwo(dst, sec/60%60)
	dst = append(dst, ':')
	dst = appendTwo(dst, sec%60)
	dst = append(dst, '.')
	for p := perSecond / 10; p > 0; p /= 10 {
		dst = append(dst, byte('0'+frac/p%10))
	}
	return dst
}

// timeOfDay writes a time-millis (perSecond 1000) or time-micros (1e6) value.
func (w *avroWriter) timeOfDay(v, perSecond int64) {
	if w.err != nil {
		return
	}
	if v < 0 || v >= 86400*perSecond {
		w.out = strconv.AppendInt(w.out, v, 10)
		return
	}
	w.out = append(w.out, '"')
	w.out = appendClock(w.out, v/perSecond, v%perSecond, perSecond)
	w.out = append(w.out, '"')
}

func appendTwo(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// appendDecimal writes the two's-complement big-endian unscaled integer b
// with scale digits after the point, exactly, as a JSON string.
func appendDecimal(dst, b []byte, scale int) []byte {
	var scratch [24]byte
	var digits []byte
	neg := len(b) > 0 && b[0]&0x80 != 0
	if len(b) <= 8 {
		var u uint64
		for _, c := range b {
			u = u<<8 | uint64(c)
		}
		if neg {
			u |= ^uint64(0) << (8 * len(b)) // sign-extend; a shift by 64 gives 0
			u = -u                          // magnitude, also right for the most negative value
		}
		digits = strconv.AppendUint(scratch[:0], u, 10)
	} else {
		v := new(big.Int).SetBytes(b)
		if neg {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
			v.Neg(v)
		}
		digits = v.Append(scratch[:0], 10)
	}
	dst = append(dst, '"')
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case scale <= 0:
		dst = append(dst, digits...)
	case len(digits) <= scale:
		dst = append(dst, '0', '.')
		for range scale - len(digits) {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[:len(digits)-scale]...)
		dst = append(dst, '.')
		dst = append(dst, digits[len(digits)-scale:]...)
	}
	return append(dst, '"')
}

// appendFloat formats f as encoding/json does; JSON has no NaN or
// infinities, so those become the strings Avro's Java tools print.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendLatin1String writes bytes as Avro's JSON encoding does: a string of
// the code points U+0000–U+00FF, one per byte.
func appendLatin1String(dst, b []byte) []byte {
	u := make([]byte, 0, 2*len(b))
	for _, c := range b {
		u = utf8.AppendRune(u, rune(c))
	}
	return record.AppendJSONString(dst, u)
}
