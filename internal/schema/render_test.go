package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/evctl/evctl/internal/record"
)

func TestRenderAvro(t *testing.T) {
	const nullable = `["null","string"]`
	const events = `[
		{"type":"record","name":"Opened","namespace":"com.bank","fields":[{"name":"owner","type":"string"}]},
		{"type":"record","name":"Deposited","namespace":"com.bank","fields":[{"name":"cents","type":"long"}]}]`
	const dec = `{"type":"bytes","logicalType":"decimal","precision":30,"scale":%d}`
	tests := []struct {
		name     string
		schema   string
		value    any    // marshalled with hamba, unless payload is set
		payload  []byte // raw Avro bytes
		plain    string
		avroJSON string // "" when the same as plain, "-" not checked here
		typ      string
		err      string
	}{
		{name: "all types", schema: readFile(t, "testdata/payment.avsc"), value: paymentValue(), plain: paymentPlainJSON, avroJSON: "-", typ: "com.example.Payment"},
		{name: "nullable union null", schema: nullable, payload: []byte{0x00}, plain: `null`},
		{name: "nullable union string", schema: nullable, value: map[string]any{"string": "x"}, plain: `"x"`, avroJSON: `{"string":"x"}`},
		{
			name: "top-level union of records", schema: events,
			value: map[string]any{"com.bank.Deposited": map[string]any{"cents": int64(12000)}},
			plain: `{"cents":12000}`, avroJSON: `{"com.bank.Deposited":{"cents":12000}}`, typ: "com.bank.Deposited",
		},
		{
			name: "nested records and union wrappers", typ: "r.Outer",
			schema: `{"type":"record","name":"Outer","namespace":"r","fields":[
				{"name":"inner","type":{"type":"record","name":"Inner","fields":[
					{"name":"n","type":["null","int","Inner"]}]}}]}`,
			value: map[string]any{"inner": map[string]any{"n": map[string]any{"r.Inner": map[string]any{"n": map[string]any{"int": 7}}}}},
			plain: `{"inner":{"n":{"n":7}}}`, avroJSON: `{"inner":{"n":{"r.Inner":{"n":{"int":7}}}}}`,
		},
		{name: "enum", schema: `{"type":"enum","name":"E","symbols":["A","B"]}`, value: "B", plain: `"B"`, typ: "E"},
		{name: "enum out of range", schema: `{"type":"enum","name":"E","symbols":["A","B"]}`, payload: []byte{0x04}, err: "enum E index 2 out of range"},
		{
			name: "map in two blocks, one with a byte size", schema: `{"type":"map","values":"int"}`,
			// block of 1: "a"→1; block of -1 (size 3): "b"→2; end
			payload: []byte{0x02, 0x02, 'a', 0x02, 0x01, 0x06, 0x02, 'b', 0x04, 0x00},
			plain:   `{"a":1,"b":2}`,
		},
		{name: "empty array", schema: `{"type":"array","items":"string"}`, value: []string{}, plain: `[]`},
		{name: "decimal negative", schema: strings.Replace(dec, "%d", "2", 1), value: big.NewRat(-12345, 100), plain: `"-123.45"`, avroJSON: "-"},
		{name: "decimal smaller than scale", schema: strings.Replace(dec, "%d", "3", 1), value: big.NewRat(5, 1000), plain: `"0.005"`, avroJSON: "-"},
		{name: "decimal scale 0", schema: strings.Replace(dec, "%d", "0", 1), value: big.NewRat(-7, 1), plain: `"-7"`, avroJSON: "-"},
		{name: "decimal zero", schema: strings.Replace(dec, "%d", "2", 1), payload: []byte{0x00}, plain: `"0.00"`, avroJSON: "-"},
		{
			name: "decimal wider than 64 bits", schema: strings.Replace(dec, "%d", "2", 1),
			value: new(big.Rat).SetFrac(mustBig("-123456789012345678901234567"), big.NewInt(100)),
			plain: `"-1234567890123456789012345.67"`, avroJSON: "-",
		},
		{
			name: "most negative 8-byte decimal", schema: strings.Replace(dec, "%d", "0", 1),
			payload: append([]byte{0x10}, 0x80, 0, 0, 0, 0, 0, 0, 0), plain: `"-9223372036854775808"`, avroJSON: "-",
		},
		{name: "timestamp before 1970", schema: `{"type":"long","logicalType":"timestamp-millis"}`, value: time.UnixMilli(-1), plain: `"1969-12-31T23:59:59.999Z"`, avroJSON: `-1`},
		{name: "timestamp beyond year 9999", schema: `{"type":"long","logicalType":"timestamp-millis"}`, payload: zigzag(math.MaxInt64), plain: `9223372036854775807`},
		{name: "date before 1970", schema: `{"type":"int","logicalType":"date"}`, payload: zigzag(-1), plain: `"1969-12-31"`, avroJSON: `-1`},
		{name: "time-millis out of range", schema: `{"type":"int","logicalType":"time-millis"}`, payload: zigzag(86400000), plain: `86400000`},
		{name: "time-millis midnight", schema: `{"type":"int","logicalType":"time-millis"}`, payload: zigzag(0), plain: `"00:00:00.000"`, avroJSON: `0`},
		{name: "uuid", schema: `{"type":"string","logicalType":"uuid"}`, value: "0e7d1a3c-1111-4222-8333-444455556666", plain: `"0e7d1a3c-1111-4222-8333-444455556666"`},
		{name: "long extremes", schema: `{"type":"array","items":"long"}`, value: []int64{math.MinInt64, math.MaxInt64}, plain: `[-9223372036854775808,9223372036854775807]`},
		{name: "double formatting", schema: `{"type":"array","items":"double"}`, value: []float64{1e21, 1e-7, math.Copysign(0, -1), 123456789.125}, plain: `[1e+21,1e-7,-0,123456789.125]`},
		{name: "float NaN and infinity", schema: `{"type":"array","items":"float"}`, value: []float32{float32(math.NaN()), float32(math.Inf(-1)), 0.1}, plain: `["NaN","-Infinity",0.1]`},
		{name: "bytes", schema: `"bytes"`, value: []byte{0, 'A', 0xff, '"'}, plain: `"AEH/Ig=="`, avroJSON: `"\u0000Aÿ\""`},
		{name: "string escapes and invalid UTF-8", schema: `"string"`, payload: append(zigzag(7), "a\x01\xff\u2028<"...), plain: `"a\u0001\ufffd\u2028<"`},
		{name: "duration", schema: `{"type":"fixed","name":"D","size":12,"logicalType":"duration"}`, value: avro.LogicalDuration{Months: 4294967295, Days: 0, Milliseconds: 86400000}, plain: `{"months":4294967295,"days":0,"milliseconds":86400000}`, avroJSON: `"ÿÿÿÿ\u0000\u0000\u0000\u0000\u0000\\&\u0005"`, typ: "D"},
		{name: "truncated record", schema: `{"type":"record","name":"R","fields":[{"name":"s","type":"string"}]}`, payload: []byte{0x0a, 'a', 'b'}, err: "unexpected end of payload at byte 1"},
		{name: "truncated varint", schema: `"long"`, payload: []byte{0x80, 0x80}, err: "unexpected end of payload at byte 2"},
		{name: "left-over bytes", schema: `"int"`, payload: []byte{0x02, 0x00}, err: "1 bytes left over after the value at byte 1"},
		{name: "union branch out of range", schema: nullable, payload: []byte{0x04}, err: "union branch 2 out of range (2 branches)"},
		{name: "invalid boolean", schema: `"boolean"`, payload: []byte{0x02}, err: "invalid boolean byte 0x02"},
		{name: "block count beyond the payload", schema: `{"type":"array","items":"long"}`, payload: []byte{0xfe, 0xff, 0xff, 0xff, 0x0f}, err: "block of 2147483647 items exceeds the payload"},
		{name: "endless empty items", schema: `{"type":"array","items":"null"}`, payload: []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, err: "more than 65536 empty items"},
		{name: "string longer than the payload", schema: `"string"`, payload: []byte{0x7e, 'a'}, err: "unexpected end of payload"},
		{name: "negative length", schema: `"bytes"`, payload: []byte{0x01}, err: "negative length -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.schema)
			payload := tt.payload
			if payload == nil {
				payload = marshal(t, s, tt.value)
			}
			n := compileAvro(s)
			checkAvroValues(t, n, payload)
			for _, mode := range []bool{false, true} {
				out, typ, err := renderAvro(n, payload, mode)
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("avroJSON=%v: err = %v, want %q", mode, err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("avroJSON=%v: %v", mode, err)
				}
				want := tt.plain
				if mode && tt.avroJSON != "" {
					want = tt.avroJSON
				}
				if want != "-" && string(out) != want {
					t.Errorf("avroJSON=%v:\n got %s\nwant %s", mode, out, want)
				}
				if !json.Valid(out) {
					t.Errorf("avroJSON=%v: invalid JSON %s", mode, out)
				}
				if typ != tt.typ {
					t.Errorf("type = %q, want %q", typ, tt.typ)
				}
			}
		})
	}
}

func mustBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

func zigzag(v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	var b []byte
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// TestRenderAvroMatchesHamba decodes the same bytes with hamba's generic
// decoder and with the writer, in both modes, and compares the JSON.
func TestRenderAvroMatchesHamba(t *testing.T) {
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	v := paymentValue()
	v["next"] = map[string]any{"com.example.Payment": paymentValue()}
	checkAgainstHamba(t, s, marshal(t, s, v), true)
}

func FuzzRenderAvroMatchesHamba(f *testing.F) {
	s := mustParse(f, readFile(f, "testdata/payment.avsc"))
	f.Add(marshal(f, s, paymentValue()))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstHamba(t, s, b, false)
	})
}

// checkAgainstHamba compares the writer with hamba on b. When must is
// false, bytes either of them rejects (or hamba reads only in part) are
// skipped; when true, both must decode b.
func checkAgainstHamba(t *testing.T, s avro.Schema, b []byte, must bool) {
	t.Helper()
	n := compileAvro(s)
	if _, _, err := renderAvro(n, b, false); err != nil && !must {
		// hamba's generic reader loops over any block count, even after an
		// error: on bytes the writer rejects it may run for ever.
		return
	}
	// ReadNext, unlike Unmarshal into any, always wraps union values
	r := avro.NewReader(bytes.NewReader(b), len(b)+1)
	v := r.ReadNext(s)
	herr := r.Error
	if herr == nil {
		// hamba ignores trailing bytes: re-encode to see that it read them all
		if re, err := avro.Marshal(s, v); err != nil || !bytes.Equal(re, b) {
			herr = errors.New("not read whole, or not canonical")
		}
	}
	if herr != nil {
		if must {
			t.Fatalf("hamba: %v", herr)
		}
		return
	}
	checkAvroValues(t, n, b)
	for _, mode := range []bool{false, true} {
		out, _, err := renderAvro(n, b, mode)
		if err != nil {
			t.Fatalf("avroJSON=%v: hamba decodes %x, the writer fails: %v", mode, b, err)
		}
		want, err := json.Marshal(reference(s, v, mode))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := normalize(t, out), normalize(t, want); g != w {
			t.Fatalf("avroJSON=%v:\n got %s\nwant %s", mode, g, w)
		}
	}
}

// normalize re-encodes JSON with sorted keys and numbers kept as written.
func normalize(t *testing.T, b []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// reference renders hamba's generic value of schema s as the writer should.
func reference(s avro.Schema, v any, avroJSON bool) any {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	var logical avro.LogicalSchema
	if l, ok := s.(avro.LogicalTypeSchema); ok {
		logical = l.Logical()
	}
	switch s := s.(type) {
	case *avro.RecordSchema:
		m := v.(map[string]any)
		out := map[string]any{}
		for _, f := range s.Fields() {
			out[f.Name()] = reference(f.Type(), m[f.Name()], avroJSON)
		}
		return out
	case *avro.UnionSchema:
		if v == nil {
			return nil
		}
		for name, bv := range v.(map[string]any) {
			for _, b := range s.Types() {
				if unionName(b) == name {
					if avroJSON {
						return map[string]any{wrapName(b): reference(b, bv, avroJSON)}
					}
					return reference(b, bv, avroJSON)
				}
			}
		}
		panic("no branch")
	case *avro.ArraySchema:
		out := []any{}
		for _, e := range v.([]any) {
			out = append(out, reference(s.Items(), e, avroJSON))
		}
		return out
	case *avro.MapSchema:
		out := map[string]any{}
		for k, e := range v.(map[string]any) {
			out[k] = reference(s.Values(), e, avroJSON)
		}
		return out
	}
	switch v := v.(type) {
	case float32:
		return refFloat(float64(v), v)
	case float64:
		return refFloat(v, v)
	case []byte:
		if avroJSON {
			return latin1(v)
		}
		return v // base64 by encoding/json
	case *big.Rat:
		if avroJSON {
			return latin1(twosComplement(v, s))
		}
		return v.FloatString(logical.(*avro.DecimalLogicalSchema).Scale())
	case time.Time:
		if avroJSON || v.Year() < 0 || v.Year() > 9999 { // beyond RFC3339: the number
			switch logical.Type() {
			case avro.Date:
				return v.Unix() / 86400
			case avro.TimestampMillis:
				return v.UnixMilli()
			}
			return v.UnixMicro()
		}
		switch logical.Type() {
		case avro.Date:
			return v.Format("2006-01-02")
		case avro.TimestampMillis:
			return v.Format("2006-01-02T15:04:05.000Z07:00")
		}
		return v.Format("2006-01-02T15:04:05.000000Z07:00")
	case time.Duration:
		if avroJSON || v < 0 || v >= 24*time.Hour { // out of a day: the number
			if logical.Type() == avro.TimeMillis {
				return v.Milliseconds()
			}
			return v.Microseconds()
		}
		t := time.Unix(0, 0).UTC().Add(v)
		if logical.Type() == avro.TimeMillis {
			return t.Format("15:04:05.000")
		}
		return t.Format("15:04:05.000000")
	case int64:
		if logical != nil && !avroJSON {
			switch logical.Type() {
			case avro.LocalTimestampMillis:
				return time.UnixMilli(v).UTC().Format("2006-01-02T15:04:05.000")
			case avro.LocalTimestampMicros:
				return time.UnixMicro(v).UTC().Format("2006-01-02T15:04:05.000000")
			}
		}
		return v
	}
	if f, ok := s.(*avro.FixedSchema); ok {
		b := fixedBytes(v)
		if avroJSON {
			return latin1(b)
		}
		if f.Logical() != nil && f.Logical().Type() == avro.Duration {
			le := func(i int) uint32 { return uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24 }
			return map[string]any{"months": le(0), "days": le(4), "milliseconds": le(8)}
		}
		return b
	}
	return v
}

func refFloat(f float64, v any) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return v
}

// unionName is the key hamba's generic decoder gives a union branch.
func unionName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

// wrapName is the key Avro's JSON encoding gives a union branch.
func wrapName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func fixedBytes(v any) []byte {
	switch v := v.(type) {
	case [4]byte:
		return v[:]
	case [8]byte:
		return v[:]
	case [12]byte:
		return v[:]
	}
	panic("unexpected fixed")
}

// twosComplement re-encodes a decimal as hamba wrote it, for Avro's JSON encoding.
func twosComplement(r *big.Rat, s avro.Schema) []byte {
	l := s.(avro.LogicalTypeSchema).Logical().(*avro.DecimalLogicalSchema)
	n := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(l.Scale())), nil))
	n.Quo(n, r.Denom())
	if f, ok := s.(*avro.FixedSchema); ok {
		b := make([]byte, f.Size())
		if n.Sign() < 0 {
			n.Add(n, new(big.Int).Lsh(big.NewInt(1), uint(f.Size())*8))
		}
		return n.FillBytes(b)
	}
	b, _ := avro.Marshal(s, r)
	// bytes: the length prefix then the bytes
	_, k := readVarint(b)
	return b[k:]
}

func readVarint(b []byte) (int64, int) {
	var u uint64
	for i, c := range b {
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, 0
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é漢😀", "\xff\xfe", "a\u2028b\u2029", "<&>"} {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("a\"b\\\x00\xff\u2028")
	f.Fuzz(checkJSONString)
}

func checkJSONString(t *testing.T, s string) {
	var want bytes.Buffer
	e := json.NewEncoder(&want)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		t.Fatal(err)
	}
	if got := record.AppendJSONString(nil, []byte(s)); string(got) != strings.TrimSuffix(want.String(), "\n") {
		t.Errorf("record.AppendJSONString(%q) = %s, want %s", s, got, want.String())
	}
}

func TestAppendDecimal(t *testing.T) {
	tests := []struct {
		b     []byte
		scale int
		want  string
	}{
		{nil, 2, `"0.00"`},
		{[]byte{0x2e, 0xe0}, 2, `"120.00"`},
		{[]byte{0xff}, 0, `"-1"`},
		{[]byte{0xff}, 3, `"-0.001"`},
		{[]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 4, `"922337203685477.5807"`},
		{[]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0}, 0, `"-2361183241434822606848"`},
		{[]byte{0x00, 0xff}, 1, `"25.5"`},
	}
	for _, tt := range tests {
		if got := string(appendDecimal(nil, tt.b, tt.scale)); got != tt.want {
			t.Errorf("appendDecimal(%x, %d) = %s, want %s", tt.b, tt.scale, got, tt.want)
		}
	}
}

func TestTimestampMatchesTimePackage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, -1, 1, 253402300799999, -62135596800000, 951782400000, 1709164800123}
	for range 20000 {
		values = append(values, r.Int64N(253402300799999+62135596800000)-62135596800000)
	}
	for _, v := range values {
		w := avroWriter{}
		w.timestamp(v, 1000, true)
		if want := `"` + time.UnixMilli(v).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`; string(w.out) != want {
			t.Fatalf("millis %d: %s, want %s", v, w.out, want)
		}
		w = avroWriter{}
		w.timestamp(v*1000+v%1000, 1000000, false)
		if want := `"` + time.UnixMicro(v*1000+v%1000).UTC().Format("2006-01-02T15:04:05.000000") + `"`; string(w.out) != want {
			t.Fatalf("micros %d: %s, want %s", v*1000+v%1000, w.out, want)
		}
		w = avroWriter{}
		days := floorDiv(v, 86400000)
		w.date(days)
		if want := `"` + time.Unix(days*86400, 0).UTC().Format("2006-01-02") + `"`; string(w.out) != want {
			t.Fatalf("date %d: %s, want %s", days, w.out, want)
		}
	}
}

func TestRenderAvroNesting(t *testing.T) {
	s := mustParse(t, `{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`)
	n := compileAvro(s)
	nested := func(depth int) []byte {
		b := bytes.Repeat([]byte{0x02}, depth) // branch 1: another Node
		return append(b, 0x00)                 // then null
	}
	out, _, err := renderAvro(n, nested(100), false)
	if err != nil || !strings.HasPrefix(string(out), `{"next":{"next":`) || !json.Valid(out) {
		t.Fatalf("100 levels: %v %.40s", err, out)
	}
	if _, _, err := renderAvro(n, nested(5000), false); err == nil || !strings.Contains(err.Error(), "values nested deeper than 2048") {
		t.Fatalf("5000 levels: err = %v", err)
	}
}
