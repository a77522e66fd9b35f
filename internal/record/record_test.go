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
