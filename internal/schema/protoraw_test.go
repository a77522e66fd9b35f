package schema

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestProtoRaw(t *testing.T) {
	var nested []byte
	nested = protowire.AppendTag(nested, 1, protowire.BytesType)
	nested = protowire.AppendString(nested, "a")
	nested = protowire.AppendTag(nested, 2, protowire.VarintType)
	nested = protowire.AppendVarint(nested, protowire.EncodeZigZag(-1))
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "t-1\tok")
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendBytes(b, nested)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendBytes(b, nested)
	b = protowire.AppendTag(b, 5, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 6, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 8)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{0xff, 0x00})
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, nil)
	const want = `{"1:string":"t-1\tok","4:message":[{"1:string":"a","2:varint":1},{"1:string":"a","2:varint":1}],"5:fixed64":7,"6:fixed32":8,"7:bytes":"/wA=","8:string":""}`
	for _, framed := range []bool{false, true} {
		in := b
		if framed {
			in = append(AppendMessageIndexes(AppendConfluentPrefix(nil, 12), []int{1, 0}), b...)
		}
		got, err := ProtoRaw(in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("framed=%v:\ngot  %s\nwant %s", framed, got, want)
		}
	}
	for _, bad := range [][]byte{{0x0a, 0x05, 'a'}, {0x08}, {0x0b}} {
		if out, err := ProtoRaw(bad); err == nil {
			t.Errorf("%x: got %s, want an error", bad, out)
		}
	}
}

func FuzzProtoRaw(f *testing.F) {
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ProtoRaw(b)
		if err == nil && !jsonValid(out) {
			t.Fatalf("%x: invalid JSON %s", b, out)
		}
	})
}

func jsonValid(b []byte) bool { _, err := parseJSON(b); return err == nil }
