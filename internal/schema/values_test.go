package schema

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/record"
)

// checkAvroValues holds avroValues to renderAvro: the same error, the same
// type, and values equal to what filter.JSONDecoder makes of the JSON,
// numbers compared as gojq takes them.
func checkAvroValues(t *testing.T, n *avroNode, payload []byte) {
	t.Helper()
	out, typ, err := renderAvro(n, payload, false)
	v, vtyp, verr := avroValues(n, payload)
	if (err == nil) != (verr == nil) || err != nil && err.Error() != verr.Error() {
		t.Fatalf("payload %x: renderAvro error %v, avroValues error %v", payload, err, verr)
	}
	if err != nil {
		return
	}
	if vtyp != typ {
		t.Fatalf("payload %x: avroValues type %q, renderAvro %q", payload, vtyp, typ)
	}
	var d filter.JSONDecoder
	want, err := d.Decode(out)
	if err != nil {
		t.Fatalf("renderAvro's JSON %s does not decode: %v", out, err)
	}
	if diff := cmp.Diff(jqNumbers(want), jqNumbers(v)); diff != "" {
		t.Fatalf("payload %x (JSON %s): avroValues differs (-from JSON +avroValues):\n%s", payload, out, diff)
	}
}

// jqNumbers turns the integers among json.Numbers into ints, as gojq does
// when it computes with them.
func jqNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return int(i)
		}
		return v
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jqNumbers(x)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = jqNumbers(x)
		}
		return a
	}
	return v
}

func TestAvroValuesPayment(t *testing.T) {
	s := mustParse(t, readFile(t, "testdata/payment.avsc"))
	v := paymentValue()
	v["next"] = map[string]any{"com.example.Payment": paymentValue()}
	checkAvroValues(t, compileAvro(s), marshal(t, s, v))
}

// TestDecoderValues: with Values, an Avro value comes with its jq values
// (a text key does not: it is parsed from its JSON), and the view filters
// see is the same either way.
func TestDecoderValues(t *testing.T) {
	reg := fuzzRegistry(t)
	m := &record.Message{Key: []byte("acct-1"), Value: confluent(7, marshal(t, reg[7].Avro(), paymentValue()))}
	plain, err := NewDecoder(DecoderOptions{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	withValues, err := NewDecoder(DecoderOptions{Registry: reg, Values: true})
	if err != nil {
		t.Fatal(err)
	}
	r0, r := plain.Decode(t.Context(), m), withValues.Decode(t.Context(), m)
	if r0.Values != nil {
		t.Errorf("without Values: Record.Values = %+v", r0.Values)
	}
	if r.Values == nil || !r.Values.ValueSet || r.Values.KeySet {
		t.Fatalf("Record.Values = %+v, want the value's only", r.Values)
	}
	if string(r.Value) != string(r0.Value) {
		t.Errorf("Value = %s, want %s as without Values", r.Value, r0.Value)
	}
	v0, err := filter.View(r0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := filter.View(r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jqNumbers(v0), jqNumbers(v)); diff != "" {
		t.Errorf("filter.View differs with Values (-without +with):\n%s", diff)
	}

	// ValuesOnly: the same record without the value's JSON; the view
	// filters and folds see is the same.
	valuesOnly, err := NewDecoder(DecoderOptions{Registry: reg, Values: true, ValuesOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r1 := valuesOnly.Decode(t.Context(), m)
	if r1.Value != nil {
		t.Errorf("with ValuesOnly: Value = %s, want none", r1.Value)
	}
	withJSON := *r1
	withJSON.Value = r.Value
	if diff := cmp.Diff(r, &withJSON); diff != "" {
		t.Errorf("with ValuesOnly, the record differs (-Values +ValuesOnly):\n%s", diff)
	}
	if v1, err := filter.View(r1); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(jqNumbers(v), jqNumbers(v1)); diff != "" {
		t.Errorf("filter.View differs with ValuesOnly (-Values +ValuesOnly):\n%s", diff)
	}
	bad := &record.Message{Key: m.Key, Value: confluent(7, []byte{0xff})}
	if got, want := valuesOnly.Decode(t.Context(), bad), withValues.Decode(t.Context(), bad); got.Error != want.Error || string(got.Value) != string(want.Value) || got.Error == "" {
		t.Errorf("undecodable with ValuesOnly: %q %s, want %q %s as with Values", got.Error, got.Value, want.Error, want.Value)
	}

	// NoHeaders: the same record without its headers.
	noHeaders, err := NewDecoder(DecoderOptions{Registry: reg, Values: true, ValuesOnly: true, NoHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	withHeaders := *m
	withHeaders.Headers = []record.RawHeader{{Key: "event-type", Value: []byte("Payment")}}
	r2, r3 := noHeaders.Decode(t.Context(), &withHeaders), valuesOnly.Decode(t.Context(), &withHeaders)
	if r2.Headers != nil || len(r3.Headers) != 1 {
		t.Errorf("headers %v with NoHeaders, %v without, want none and one", r2.Headers, r3.Headers)
	}
	r3.Headers = nil
	if diff := cmp.Diff(r3, r2); diff != "" {
		t.Errorf("with NoHeaders, the record differs (-ValuesOnly +NoHeaders):\n%s", diff)
	}

	avroJSON, err := NewDecoder(DecoderOptions{Registry: reg, Values: true, AvroJSON: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := avroJSON.Decode(t.Context(), m); r.Values != nil {
		t.Errorf("with AvroJSON: Record.Values = %+v, want none (its JSON is not plain)", r.Values)
	}
}

// FuzzAvroValues holds avroValues to renderAvro on any bytes, against the
// payment schema (every type and logical type) and a union of records with
// a recursive map of unions.
func FuzzAvroValues(f *testing.F) {
	reg := fuzzRegistry(f)
	nodes := []*avroNode{reg[7].node, reg[3].node}
	f.Add(marshal(f, reg[7].Avro(), paymentValue()))
	f.Add([]byte{0x02, 0x04, 0x03, 0xe8, 0x02, 0x02, 'a', 0x02, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range nodes {
			checkAvroValues(t, n, b)
		}
	})
}
