package record

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// encodingJSON is the reference AppendJSON must match byte for byte.
func encodingJSON(t testing.TB, r *Record) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	ts := Timestamp{Time: time.Date(2026, 11, 20, 9, 14, 3, 250e6, time.FixedZone("x", 3600))}
	strs := []string{"", "plain", "A&B <Co>", "quote\" back\\slash", "ctl\x00\x01\x1f\t\n\r\b\f", "é ü 日本", "bad\xff\xfeutf8", "\u2028\u2029", "emoji 🙂"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	for i := range 500 {
		r := &Record{Topic: pick(), Partition: int32(rng.IntN(9)), Offset: rng.Int64N(1 << 40), Timestamp: ts,
			Key: json.RawMessage(`"k"`), Value: json.RawMessage(`{"a":[1,2.5,null,"x"]}`), KeyEncoding: pick(), ValueEncoding: pick()}
		if i%3 == 0 {
			r.Key, r.Value = nil, json.RawMessage(`null`)
		}
		if i%4 != 3 {
			r.TimestampType = []string{TimestampCreateTime, TimestampLogAppendTime, pick()}[i%4]
		}
		if i%2 == 0 {
			r.Headers = []Header{{Key: pick(), Value: pick()}, {Key: pick(), Value: pick(), Encoding: EncodingBase64}}
			r.Type, r.Error = pick(), pick()
			r.Schema = &SchemaRef{ID: rng.IntN(3), GUID: pick(), Subject: pick(), Version: rng.IntN(2), Format: pick(), Local: pick()}
			r.KeySchema = &SchemaRef{Format: "AVRO"}
			r.RawKey, r.RawValue = []byte(pick()), []byte{0, 1, 2, byte(i)}
		}
		got, err := AppendJSON(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got  %s\n want %s", i, got, want)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := &Record{Topic: "bank.account-events", Partition: 3, Offset: 41, Timestamp: Timestamp{Time: time.Now()},
		Key: json.RawMessage(`"acct-0042"`), Value: json.RawMessage(`{"eventId":"b7626ccd-471f-4c48-8d02-498de0022e00","accountId":"acct-0042","occurredAt":"2026-11-16T13:36:08.469Z","version":5,"amount":"287.02","reference":"transfer out"}`),
		Headers: []Header{{Key: "event-id", Value: "b7626ccd-471f-4c48-8d02-498de0022e00"}, {Key: "correlation-id", Value: "cdeef336-85f4-4aa9-9409-12aee55e015a"}, {Key: "event-type", Value: "MoneyWithdrawn"}},
		Type:    "com.bank.MoneyWithdrawn", Schema: &SchemaRef{ID: 5, Subject: "bank.account-events-value", Version: 1, Format: "AVRO"}, KeyEncoding: "text", ValueEncoding: "avro"}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = AppendJSON(buf[:0], r)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			encodingJSON(b, r)
		}
	})
}

// FuzzAppendJSONString: any bytes quote as encoding/json quotes them (as a
// string, invalid UTF-8 replaced), HTML escaping off.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "A&B <Co>", "quote\" back\\slash", "ctl\x00\x01\x1f\x7f\t\n\r\b\f", "é ü 日本", "bad\xff\xfeutf8", "\u2028\u2029", "emoji 🙂", "\xed\xa0\x80 surrogate"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(string(s)); err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, s); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want.Bytes())
		}
	})
}
