package record

import (
	"encoding/json"
	"testing"
)

func TestKeyText(t *testing.T) {
	for _, c := range []struct {
		key, encoding string
		want          string
		ok            bool
	}{
		{`"acct-1"`, EncodingText, "acct-1", true},
		{`"acct-1"`, EncodingAvro, "acct-1", true},
		{`"a\u0062"`, EncodingJSON, "ab", true},
		{`""`, EncodingText, "", true}, // the empty key is a key
		{`"AAE="`, EncodingBase64, "base64:AAE=", true},
		{`42`, EncodingJSON, "42", true},
		{`1.50`, EncodingJSON, "1.50", true},
		{`{"b":1, "a":"<x>"}`, EncodingAvro, `{"a":"<x>","b":1}`, true},
		{`null`, EncodingJSON, "null", true}, // the JSON payload null, not a null key
		{`null`, EncodingNull, "", false},
		{`null`, "", "", false}, // a hand-made line's null
		{``, "", "", false},
		{`"k1"`, "", "k1", true},
	} {
		got, ok := KeyText(json.RawMessage(c.key), c.encoding)
		if got != c.want || ok != c.ok {
			t.Errorf("KeyText(%s, %q) = %q, %v; want %q, %v", c.key, c.encoding, got, ok, c.want, c.ok)
		}
	}
}
