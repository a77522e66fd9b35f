package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCaptureRoundTrip(t *testing.T) {
	ts := Timestamp{Time: time.Date(2026, 11, 20, 9, 14, 3, 250e6, time.UTC)}
	in := []*Record{
		{Topic: "t", Partition: 1, Offset: 7, Timestamp: ts, Key: json.RawMessage(`"acct-1"`), Value: json.RawMessage(`{"street":"A&B <Co>","n":9007199254740993}`),
			Headers: []Header{{Key: "h", Value: "1"}, {Key: "h", Value: "2"}, {Key: "bin", Value: "//4=", Encoding: EncodingBase64}},
			Type:    "com.x.A", Schema: &SchemaRef{ID: 5, Subject: "t-value", Version: 1, Format: "AVRO"},
			KeyEncoding: EncodingText, ValueEncoding: EncodingAvro, RawKey: []byte("acct-1"), RawValue: []byte{0, 0, 0, 0, 5, 2}},
		{Topic: "t", Offset: 8, Timestamp: ts, Key: json.RawMessage(`null`), Value: json.RawMessage(`null`), KeyEncoding: EncodingNull, ValueEncoding: EncodingNull},
		{Topic: "t", Offset: 9, Timestamp: ts, Key: json.RawMessage(`""`), Value: json.RawMessage(`""`), KeyEncoding: EncodingText, ValueEncoding: EncodingText, Error: "value: x"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, r := range in {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"street":"A&B <Co>"`) {
		t.Errorf("text must not be HTML-escaped:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `"timestamp":"2026-11-20T09:14:03.250Z"`) {
		t.Errorf("timestamps are RFC3339 with milliseconds:\n%s", buf.String())
	}
	r := NewReader(&buf, "c.jsonl")
	var out []*Record
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	if diff := cmp.Diff(in, out, cmp.Comparer(func(a, b Timestamp) bool { return a.Equal(b.Time) })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestCaptureMalformedLine(t *testing.T) {
	r := NewReader(strings.NewReader("{\"topic\":\"t\",\"timestamp\":\"2026-11-20T09:14:03.250Z\"}\n\nnot json\n"), "c.jsonl")
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read()
	if err == nil || !strings.HasPrefix(err.Error(), "c.jsonl:3: ") {
		t.Fatalf("err = %v, want one naming c.jsonl:3", err)
	}
}

func TestDecodeHeaders(t *testing.T) {
	got := DecodeHeaders([]RawHeader{{Key: "a", Value: []byte("x")}, {Key: "b", Value: []byte{0xff}}})
	want := []Header{{Key: "a", Value: "x"}, {Key: "b", Value: "/w==", Encoding: EncodingBase64}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	for i, h := range got {
		b, err := h.Bytes()
		if err != nil || (i == 1 && !bytes.Equal(b, []byte{0xff})) {
			t.Errorf("header %d bytes = %v, %v", i, b, err)
		}
	}
}

// TestDecodeHeadersRoundTrip: every header, null, empty, text or binary,
// in any mix and number, gives back its exact bytes.
func TestDecodeHeadersRoundTrip(t *testing.T) {
	values := [][]byte{nil, {}, []byte("event-id"), {0xff, 'a'}, []byte("é"), {}, nil, []byte("x"), {0xc3}, []byte("last"), []byte("ten")}
	for n := range len(values) + 1 {
		hs := make([]RawHeader, n)
		for i := range hs {
			hs[i] = RawHeader{Key: "h" + string(rune('a'+i)), Value: values[i]}
		}
		got := DecodeHeaders(hs)
		if len(got) != n {
			t.Fatalf("%d headers: got %d", n, len(got))
		}
		for i, h := range got {
			b, err := h.Bytes()
			if err != nil || h.Key != hs[i].Key || !bytes.Equal(b, hs[i].Value) || (b == nil) != (hs[i].Value == nil) {
				t.Errorf("%d headers: header %d = %+v (bytes %q, %v), want %q", n, i, h, b, err, hs[i].Value)
			}
		}
	}
}
