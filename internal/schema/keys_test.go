package schema

import (
	"bytes"
	"context"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/evctl/evctl/internal/record"
)

func TestEncodeKeyLike(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.seedAvro("t-key", 1, 7, `"string"`)
	reg.seedAvro("n-key", 1, 8, `"long"`)
	reg.seedAvro("r-key", 1, 9, `{"type":"record","name":"K","fields":[{"name":"id","type":"string"}]}`)
	d, err := NewDecoder(DecoderOptions{Registry: reg.client(t)})
	if err != nil {
		t.Fatal(err)
	}
	framed := func(id int, schema, v any) []byte {
		b, err := avro.Marshal(avro.MustParse(schema.(string)), v)
		if err != nil {
			t.Fatal(err)
		}
		return append(AppendConfluentPrefix(nil, id), b...)
	}
	for _, c := range []struct {
		name   string
		sample []byte
		text   string
		want   []byte
	}{
		{"avro string", framed(7, `"string"`, "cust-0"), "cust-19", framed(7, `"string"`, "cust-19")},
		{"avro long", framed(8, `"long"`, int64(1)), "42", framed(8, `"long"`, int64(42))},
		{"avro record", framed(9, `{"type":"record","name":"K","fields":[{"name":"id","type":"string"}]}`, map[string]any{"id": "a"}),
			`{ "id": "b" }`, framed(9, `{"type":"record","name":"K","fields":[{"name":"id","type":"string"}]}`, map[string]any{"id": "b"})},
		{"text", []byte("acct-1"), "acct-2", []byte("acct-2")},
		{"json string", []byte(`"acct-1"`), "acct-2", []byte(`"acct-2"`)},
		{"base64 form", []byte{0xff}, "base64://4=", []byte{0xff, 0xfe}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := d.EncodeKeyLike(context.Background(), &record.Message{Key: c.sample}, c.text)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("got %x, want %x", got, c.want)
			}
		})
	}
	if _, err := d.EncodeKeyLike(context.Background(), &record.Message{Key: framed(8, `"long"`, int64(1))}, "cust-1"); err == nil {
		t.Error("a text id for a long key schema must be an error")
	}
	plainDec, _ := NewDecoder(DecoderOptions{})
	if _, err := plainDec.EncodeKeyLike(context.Background(), &record.Message{Key: framed(7, `"string"`, "x")}, "x"); err == nil {
		t.Error("framed keys without a registry must be an error")
	}
}
