package schema

import (
	"bytes"
	"slices"
	"testing"

	"github.com/evctl/evctl/internal/record"
)

func TestConfluentPrefix(t *testing.T) {
	if got := AppendConfluentPrefix([]byte("x"), 0x01020304); !bytes.Equal(got, []byte{'x', 0, 1, 2, 3, 4}) {
		t.Errorf("AppendConfluentPrefix = %x", got)
	}
	tests := []struct {
		name string
		in   []byte
		id   int
		rest []byte
		ok   bool
	}{
		{"id and payload", []byte{0, 0, 0, 0, 7, 0xaa}, 7, []byte{0xaa}, true},
		{"id and empty payload", []byte{0, 0, 0, 1, 0}, 256, []byte{}, true},
		{"largest id", []byte{0, 0x7f, 0xff, 0xff, 0xff}, 1<<31 - 1, []byte{}, true},
		{"too short", []byte{0, 0, 0, 7}, 0, nil, false},
		{"not magic", []byte{1, 0, 0, 0, 7}, 0, nil, false},
		{"id 0 is no registry id", []byte{0, 0, 0, 0, 0, 9}, 0, nil, false},
		{"negative id", []byte{0, 0x80, 0, 0, 1}, 0, nil, false},
		{"empty", nil, 0, nil, false},
	}
	for _, tt := range tests {
		id, rest, ok := splitConfluent(tt.in)
		if id != tt.id || !bytes.Equal(rest, tt.rest) || ok != tt.ok {
			t.Errorf("%s: splitConfluent(%x) = %d, %x, %v; want %d, %x, %v", tt.name, tt.in, id, rest, ok, tt.id, tt.rest, tt.ok)
		}
	}
}

func TestSchemaIDHeader(t *testing.T) {
	const guid = "0e7d1a3c-1111-4222-8333-44445555abcd"
	h, err := AppendSchemaIDHeader(nil, guid)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x01, 0x0e, 0x7d, 0x1a, 0x3c, 0x11, 0x11, 0x42, 0x22, 0x83, 0x33, 0x44, 0x44, 0x55, 0x55, 0xab, 0xcd}
	if !bytes.Equal(h, want) {
		t.Errorf("header = %x, want %x", h, want)
	}
	got, err := parseSchemaIDHeader(h)
	if err != nil || got != guid {
		t.Errorf("parse = %q, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {0x01}, append([]byte{0x00}, want[1:]...), append(slices.Clone(want), 0)} {
		if _, err := parseSchemaIDHeader(bad); err == nil {
			t.Errorf("parseSchemaIDHeader(%x): no error", bad)
		}
	}
	for _, bad := range []string{"", "0e7d1a3c111142228333444455556666", "0e7d1a3c-1111-4222-8333-44445555zzzz"} {
		if _, err := AppendSchemaIDHeader(nil, bad); err == nil {
			t.Errorf("AppendSchemaIDHeader(%q): no error", bad)
		}
	}
}

func TestLastHeader(t *testing.T) {
	hs := []record.RawHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}}
	if v, ok := lastHeader(hs, "a"); !ok || string(v) != "3" {
		t.Errorf("lastHeader a = %q, %v", v, ok)
	}
	if _, ok := lastHeader(hs, "c"); ok {
		t.Error("lastHeader c found")
	}
}

func TestMessageIndexes(t *testing.T) {
	tests := []struct {
		in      []byte
		indexes []int
		rest    []byte
		err     bool
	}{
		{[]byte{0x00, 0xaa}, []int{0}, []byte{0xaa}, false},
		{[]byte{0x02, 0x02, 0xaa}, []int{1}, []byte{0xaa}, false},
		{[]byte{0x04, 0x00, 0x06}, []int{0, 3}, []byte{}, false},
		{nil, nil, nil, true},
		{[]byte{0x80}, nil, nil, true},
		{[]byte{0x01}, nil, nil, true},       // count -1
		{[]byte{0x04, 0x02}, nil, nil, true}, // count 2, one index
		{[]byte{0x02, 0x01}, nil, nil, true}, // index -1
		{[]byte{0xfe, 0x01}, nil, nil, true}, // count 127 > 64
	}
	for _, tt := range tests {
		indexes, rest, err := splitMessageIndexes(tt.in)
		if (err != nil) != tt.err || !slices.Equal(indexes, tt.indexes) || !bytes.Equal(rest, tt.rest) {
			t.Errorf("splitMessageIndexes(%x) = %v, %x, %v", tt.in, indexes, rest, err)
		}
		if !tt.err {
			if b := AppendMessageIndexes(nil, tt.indexes); !bytes.Equal(b, tt.in[:len(tt.in)-len(tt.rest)]) {
				t.Errorf("AppendMessageIndexes(%v) = %x", tt.indexes, b)
			}
		}
	}
}
