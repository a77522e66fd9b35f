package record

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRecordMessage(t *testing.T) {
	ts := Timestamp{Time: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	base := func() *Record {
		return &Record{Topic: "t", Partition: 2, Offset: 9, Timestamp: ts, Headers: []Header{{Key: "h", Value: "/w==", Encoding: EncodingBase64}}}
	}
	tests := []struct {
		name           string
		key, value     string
		keyEnc, valEnc string
		raw            []byte
		wantKey        []byte
		wantValue      []byte
		wantErr        string
	}{
		{name: "raw bytes win", key: `"k"`, value: `{"a":1}`, keyEnc: EncodingText, valEnc: EncodingAvro, raw: []byte{0, 0, 0, 0, 5, 2}, wantKey: []byte("k"), wantValue: []byte{0, 0, 0, 0, 5, 2}},
		{name: "json", key: `null`, value: `{"a": 1}`, keyEnc: EncodingNull, valEnc: EncodingJSON, wantKey: nil, wantValue: []byte(`{"a": 1}`)},
		{name: "tombstone", key: `"k"`, value: `null`, keyEnc: EncodingText, valEnc: EncodingNull, wantKey: []byte("k"), wantValue: nil},
		{name: "empty", key: `""`, value: `""`, keyEnc: EncodingText, valEnc: EncodingText, wantKey: []byte{}, wantValue: []byte{}},
		{name: "base64", key: `"k"`, value: `"//4A"`, keyEnc: EncodingText, valEnc: EncodingBase64, wantKey: []byte("k"), wantValue: []byte{0xff, 0xfe, 0}},
		{name: "hand-made, no encodings", key: `"k1"`, value: ` {"n":1} `, wantKey: []byte(`"k1"`), wantValue: []byte(`{"n":1}`)},
		{name: "hand-made null key and tombstone", key: `null`, value: ``, wantKey: nil, wantValue: nil},
		{name: "avro without raw", key: `"k"`, value: `{"a":1}`, keyEnc: EncodingText, valEnc: EncodingAvro, wantErr: "t/2@9: value: avro payload without its raw bytes cannot be replayed exactly; capture it with --raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			r.Key, r.Value, r.KeyEncoding, r.ValueEncoding, r.RawValue = json.RawMessage(tt.key), json.RawMessage(tt.value), tt.keyEnc, tt.valEnc, tt.raw
			m, err := r.Message()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantKey, m.Key); diff != "" || (tt.wantKey == nil) != (m.Key == nil) {
				t.Errorf("key %q, want %q", m.Key, tt.wantKey)
			}
			if diff := cmp.Diff(tt.wantValue, m.Value); diff != "" || (tt.wantValue == nil) != (m.Value == nil) {
				t.Errorf("value %q, want %q", m.Value, tt.wantValue)
			}
			if string(m.Headers[0].Value) != "\xff" || !m.Timestamp.Equal(ts.Time) || m.Partition != 2 {
				t.Errorf("message %+v", m)
			}
		})
	}
}
