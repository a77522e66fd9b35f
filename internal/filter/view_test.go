package filter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/record"
)

// referenceDecode is what JSONDecoder must agree with: one encoding/json
// Decode with UseNumber, numbers exact.
func referenceDecode(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil // like View always has: what follows the first value is ignored
}

// TestViewMatchesReference builds the view by hand, with encoding/json, and
// compares it with View's.
func TestViewMatchesReference(t *testing.T) {
	ts := record.Timestamp{Time: time.Date(2026, 11, 20, 9, 14, 3, 250e6, time.UTC)}
	full := &record.Record{Topic: "bank.account-events", Partition: 1, Offset: 2, Timestamp: ts,
		Key: json.RawMessage(`"acct-1"`), Value: json.RawMessage(`{"owner":"Ada \"the first\" Lovelace ☃","n":9007199254740993}`),
		Headers: []record.Header{{Key: "event-type", Value: "AccountOpened"}, {Key: "bin", Value: "AAE=", Encoding: record.EncodingBase64}, {Key: "event-type", Value: "again"}},
		Type:    "com.bank.AccountOpened", Schema: &record.SchemaRef{ID: 5, Subject: "bank.account-events-value", Format: "AVRO"},
		KeyEncoding: "text", ValueEncoding: "avro", RawKey: []byte("acct-1"), RawValue: []byte{0, 0, 0, 0, 7, 1}, Error: "key: something",
		TimestampType: record.TimestampLogAppendTime, KeySchema: &record.SchemaRef{GUID: "9e1c", Subject: "bank.account-events-key", Format: "AVRO"}}
	bare := &record.Record{Topic: "t", Key: json.RawMessage(`12`), Value: json.RawMessage(`[1, 2.50, -0, 1e3, true, false, null, {"a\u00e9": "\ud83d\ude00"}, "x\ty"]`)}
	empty := &record.Record{Topic: "t"}
	for i, r := range []*record.Record{full, bare, empty} {
		key, err := referenceDecode(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		value, err := referenceDecode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]any{}
		list := []any{}
		for _, h := range r.Headers {
			headers[h.Key] = h.Value
			list = append(list, map[string]any{"key": h.Key, "value": h.Value})
		}
		want := map[string]any{"topic": r.Topic, "partition": int(r.Partition), "offset": int(r.Offset), "timestamp": r.Timestamp.String(),
			"key": key, "value": value, "headers": headers, "headerList": list, "type": r.Type, "keyEncoding": r.KeyEncoding, "valueEncoding": r.ValueEncoding}
		if r.Schema != nil {
			want["schema"] = map[string]any{"id": r.Schema.ID, "guid": r.Schema.GUID, "subject": r.Schema.Subject, "format": r.Schema.Format}
		}
		if r.KeySchema != nil {
			want["keySchema"] = map[string]any{"id": r.KeySchema.ID, "guid": r.KeySchema.GUID, "subject": r.KeySchema.Subject, "format": r.KeySchema.Format}
		}
		if r.TimestampType != "" {
			want["timestampType"] = r.TimestampType
		}
		if r.Error != "" {
			want["error"] = r.Error
		}
		if r.RawKey != nil {
			want["rawKey"] = base64.StdEncoding.EncodeToString(r.RawKey)
			want["rawValue"] = base64.StdEncoding.EncodeToString(r.RawValue)
		}
		got, err := View(r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("record %d: (-reference +View):\n%s", i, diff)
		}
	}
}

// TestViewFieldsNameTheView: a record with every field set has a view of
// exactly ViewFields, so a field added to the view is added to the list
// that diff's --ignore tells record fields from value fields by.
func TestViewFieldsNameTheView(t *testing.T) {
	r := &record.Record{Topic: "t", TimestampType: record.TimestampCreateTime, Key: json.RawMessage(`"k"`), Value: json.RawMessage(`{}`),
		Headers: []record.Header{{Key: "h", Value: "v"}}, Type: "T", Schema: &record.SchemaRef{ID: 1}, KeySchema: &record.SchemaRef{ID: 2},
		KeyEncoding: "text", ValueEncoding: "json", Error: "e", RawKey: []byte("k"), RawValue: []byte("{}")}
	v, err := View(r)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(v))
	want := slices.Sorted(slices.Values(ViewFields))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("view fields (-ViewFields +view):\n%s", diff)
	}
}

// FuzzJSONDecoder holds JSONDecoder to encoding/json with UseNumber.
func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{
		`{"accountId":"acct-0001","amount":"120.50","version":3,"tags":{"segment":"retail"},"email":null}`,
		`[1,-0,0.5,1e10,-2E-3,true,false,null,"",{}]`, `"\u00e9\n"`, `"é"`, "\"\xff\"", `01`, `1.`, `-`, `{"a":1,"a":2}`,
		` {"a" : [ ] } `, `{"a":1} x`, `[1,]`, `{,}`, `nul`, `"\"`, "\"a\x01\"", `123456789012345678901234567890`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		var d JSONDecoder
		got, gotErr := d.Decode(b)
		want, wantErr := referenceDecode(b)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, encoding/json says %v", b, gotErr, wantErr)
		}
		if gotErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%q: (-encoding/json +decoder):\n%s", b, diff)
			}
		}
	})
}
