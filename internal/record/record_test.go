package record

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompareTime(t *testing.T) {
	at := func(s int) Timestamp { return Timestamp{Time: time.Unix(int64(s), 0)} }
	in := []*Record{
		{Topic: "b", Partition: 0, Offset: 5, Timestamp: at(2)},
		{Topic: "a", Partition: 1, Offset: 9, Timestamp: at(2)},
		{Topic: "a", Partition: 0, Offset: 7, Timestamp: at(2)},
		{Topic: "a", Partition: 0, Offset: 3, Timestamp: at(2)},
		{Topic: "z", Partition: 9, Offset: 99, Timestamp: at(1)},
	}
	slices.SortFunc(in, CompareTime)
	var got []string
	for _, r := range in {
		got = append(got, fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset))
	}
	want := []string{"z/9@99", "a/0@3", "a/0@7", "a/1@9", "b/0@5"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

// TestNullHeaderRoundTrip: a null header value stays null through the
// capture format and back to a Kafka record; an empty one stays empty.
func TestNullHeaderRoundTrip(t *testing.T) {
	m := &Message{Topic: "t", Key: []byte("k"), Value: []byte(`{}`), Headers: []RawHeader{
		{Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "text", Value: []byte("v")}, {Key: "bin", Value: []byte{0xff}},
	}}
	r := &Record{Topic: m.Topic, Key: json.RawMessage(`"k"`), KeyEncoding: EncodingText, Value: json.RawMessage(`{}`), ValueEncoding: EncodingJSON, Headers: DecodeHeaders(m.Headers)}
	line, err := AppendJSON(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	want := `"headers":[{"key":"null","value":null},{"key":"empty","value":""},{"key":"text","value":"v"},{"key":"bin","value":"/w==","encoding":"base64"}]`
	if !strings.Contains(string(line), want) {
		t.Fatalf("capture line %s\nwant it to hold %s", line, want)
	}
	back, err := NewReader(strings.NewReader(string(line)), "c").Read()
	if err != nil {
		t.Fatal(err)
	}
	if std, err := json.Marshal(back.Headers); err != nil || !strings.Contains(want, string(std)) {
		t.Errorf("json.Marshal(headers) = %s, %v", std, err)
	}
	got, err := back.Message()
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range got.Headers {
		w := m.Headers[i]
		if h.Key != w.Key || string(h.Value) != string(w.Value) || (h.Value == nil) != (w.Value == nil) {
			t.Errorf("header %d = %q %#v, want %q %#v", i, h.Key, h.Value, w.Key, w.Value)
		}
	}
}

// TestAppendTimestampMatchesAppendFormat: the hand-written formatter
// writes what time's AppendFormat does, in every year, zone and fraction.
func TestAppendTimestampMatchesAppendFormat(t *testing.T) {
	zone := time.FixedZone("", -(3*3600 + 30*60))
	times := []time.Time{
		{}, time.Unix(0, 0), time.Unix(0, 999_999_999), time.Unix(-1, 0), time.UnixMilli(-1),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 3, 1, 1, 2, 3, 4, time.UTC), time.Date(2026, 11, 20, 9, 14, 3, 7_000_000, zone),
		time.Date(2024, 2, 29, 0, 0, 0, 123_456_789, time.UTC),
	}
	for i := range 10_000 {
		times = append(times, time.UnixMilli(int64(i)*987_654_321_1-5_000_000_000_000).In(zone))
	}
	for _, tm := range times {
		want := tm.UTC().AppendFormat(nil, TimestampFormat)
		if got := appendTimestamp(nil, tm); string(got) != string(want) {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
		if got := (Timestamp{tm}).String(); got != string(want) {
			t.Fatalf("%v: String() = %s, want %s", tm, got, want)
		}
	}
}
