package record

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// KeyText is the key as text: the one form that --key and --keys-from
// compare, that diff and check identify aggregates by, and that reports
// print. A string key is its text (a base64 one "base64:" and its base64,
// as tail prints it); anything else is its compact JSON with object
// members sorted, so the text key acct-1, the JSON key "acct-1" and an
// Avro string key acct-1 are one key.
//
// A null key has no text (ok is false): null is never confused with the
// empty key, so --key "" selects empty keys only. A key without an
// encoding (a hand-made capture line) is JSON, its null a null key.
func KeyText(key json.RawMessage, encoding string) (text string, ok bool) {
	k := bytes.TrimSpace(key)
	if encoding == EncodingNull || len(k) == 0 || (encoding == "" && string(k) == "null") {
		return "", false
	}
	if k[0] == '"' {
		var s string
		if len(k) >= 2 && k[len(k)-1] == '"' && !slices.Contains(k, '\\') {
			s = string(k[1 : len(k)-1])
		} else if json.Unmarshal(k, &s) != nil {
			return string(k), true
		}
		if encoding == EncodingBase64 {
			return "base64:" + s, true
		}
		return s, true
	}
	d := json.NewDecoder(bytes.NewReader(k))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return string(k), true // not JSON: a capture line written by hand
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if e.Encode(v) != nil { // maps encode with sorted members
		return string(k), true
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}

// KeyText is the record's key as text (see KeyText); ok is false for a
// null key.
func (r *Record) KeyText() (text string, ok bool) { return KeyText(r.Key, r.KeyEncoding) }
