package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
)

// The comparison keeps one 64-bit hash per key and side, never the values:
// memory grows with the number of keys only. Hashes are of the canonical
// JSON — object members in any order, numbers by value (95.0 = 95 =
// 9.5e1), strings by their text (\u0041 = A) — computed in one pass over
// the bytes, without building the canonical text. The scanner is written
// by hand because decoding into interfaces and re-encoding sorted was four
// times slower, and the 1M-key target (bench/diff.sh) is set by it.

// seed is fixed for the process: hashes are compared only within one run.
var seed = maphash.MakeSeed()

const (
	tagNull uint64 = iota + 0x9e3779b97f4a7c15
	tagTrue
	tagFalse
	tagNumber
	tagString
	tagArray
	tagObject
)

// mix is splitmix64's finaliser: a cheap, well-spread combination.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func combine(a, b uint64) uint64 { return mix(a*31 + b + 0x632be59bd9b4e019) }

// errSyntax reports malformed JSON at an offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func synErr(off int, format string, args ...any) error {
	return &syntaxError{off: off, msg: fmt.Sprintf(format, args...)}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// HashValue returns the canonical hash of a JSON value, leaving out the
// members and elements that paths name. A nil or empty value hashes as null.
func HashValue(v []byte, ignore []Path) (uint64, error) {
	if len(bytes.TrimSpace(v)) == 0 {
		return tagNull, nil
	}
	h, i, err := hashValue(v, skipSpace(v, 0), newMatcher(ignore))
	if err != nil {
		return 0, err
	}
	if i = skipSpace(v, i); i != len(v) {
		return 0, synErr(i, "invalid character %q after the value", v[i])
	}
	return h, nil
}

func hashValue(b []byte, i int, m matcher) (uint64, int, error) {
	if i >= len(b) {
		return 0, i, synErr(i, "unexpected end of JSON")
	}
	switch c := b[i]; {
	case c == '{':
		i = skipSpace(b, i+1)
		var sum uint64 // members in any order: a sum of their hashes
		n := uint64(0)
		if i < len(b) && b[i] == '}' {
			return combine(tagObject, 0), i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, i, synErr(i, "want a member name")
			}
			name, end, err := scanString(b, i)
			if err != nil {
				return 0, i, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, i, synErr(i, "want ':'")
			}
			i = skipSpace(b, i+1)
			sub, ignored := m.member(string(name))
			if ignored {
				if i, err = skipValue(b, i); err != nil {
					return 0, i, err
				}
			} else {
				var vh uint64
				if vh, i, err = hashValue(b, i, sub); err != nil {
					return 0, i, err
				}
				sum += mix(combine(maphash.Bytes(seed, name), vh))
				n++
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				return combine(combine(tagObject, n), sum), i + 1, nil
			}
			return 0, i, synErr(i, "want ',' or '}'")
		}
	case c == '[':
		i = skipSpace(b, i+1)
		h := tagArray
		if i < len(b) && b[i] == ']' {
			return h, i + 1, nil
		}
		for k := 0; ; k++ {
			sub, ignored := m.index(k)
			var err error
			if ignored {
				if i, err = skipValue(b, i); err != nil {
					return 0, i, err
				}
			} else {
				var vh uint64
				if vh, i, err = hashValue(b, i, sub); err != nil {
					return 0, i, err
				}
				h = combine(h, vh)
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == ']' {
				return h, i + 1, nil
			}
			return 0, i, synErr(i, "want ',' or ']'")
		}
	case c == '"':
		s, end, err := scanString(b, i)
		if err != nil {
			return 0, i, err
		}
		return combine(tagString, maphash.Bytes(seed, s)), end, nil
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(b, i)
		if err != nil {
			return 0, i, err
		}
		return combine(tagNumber, maphash.String(seed, canonicalNumber(b[i:end]))), end, nil
	case bytes.HasPrefix(b[i:], []byte("null")):
		return tagNull, i + 4, nil
	case bytes.HasPrefix(b[i:], []byte("true")):
		return tagTrue, i + 4, nil
	case bytes.HasPrefix(b[i:], []byte("false")):
		return tagFalse, i + 5, nil
	default:
		return 0, i, synErr(i, "invalid character %q looking for a value", c)
	}
}

// skipValue validates and skips one value.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, synErr(i, "unexpected end of JSON")
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, synErr(i, "want a member name")
				}
				if _, i, err = scanString(b, i); err != nil {
					return i, err
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return i, synErr(i, "want ':'")
				}
				i = skipSpace(b, i+1)
			}
			if i, err = skipValue(b, i); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				return i + 1, nil
			}
			return i, synErr(i, "want ',' or %q", closer)
		}
	case c == '"':
		_, end, err := scanString(b, i)
		return end, err
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	case bytes.HasPrefix(b[i:], []byte("null")), bytes.HasPrefix(b[i:], []byte("true")):
		return i + 4, nil
	case bytes.HasPrefix(b[i:], []byte("false")):
		return i + 5, nil
	}
	return i, synErr(i, "invalid character %q looking for a value", b[i])
}

// scanString returns the string's text (unescaped; the bytes themselves
// when there is nothing to unescape) and the offset after its quote.
func scanString(b []byte, i int) ([]byte, int, error) {
	start := i + 1
	escaped := false
	for j := start; j < len(b); j++ {
		for j < len(b) && !strSpecial[b[j]] {
			j++
		}
		if j == len(b) {
			break
		}
		switch b[j] {
		case '"':
			if !escaped {
				return b[start:j], j + 1, nil
			}
			var s string
			if err := json.Unmarshal(b[i:j+1], &s); err != nil {
				return nil, i, synErr(i, "invalid string: %v", err)
			}
			return []byte(s), j + 1, nil
		case '\\':
			escaped = true
			j++
		default:
			return nil, j, synErr(j, "control character in a string")
		}
	}
	return nil, len(b), synErr(len(b), "unterminated string")
}

// strSpecial marks the bytes that end a run of plain string content.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func scanNumber(b []byte, i int) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j - k
	}
	if j < len(b) && b[j] == '0' {
		j++
	} else if digits() == 0 {
		return j, synErr(j, "invalid number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return j, synErr(j, "invalid number")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return j, synErr(j, "invalid number")
		}
	}
	return j, nil
}

// canonicalNumber writes a JSON number by its value: significant digits
// and a power of ten, "0" for any zero. 120.00, 120 and 1.2e2 are "12e1".
func canonicalNumber(n []byte) string {
	neg := false
	if len(n) > 0 && n[0] == '-' {
		neg, n = true, n[1:]
	}
	mant, exp := n, int64(0)
	if k := bytes.IndexAny(n, "eE"); k >= 0 {
		mant = n[:k]
		e, err := strconv.ParseInt(string(n[k+1:]), 10, 64)
		if err != nil {
			return string(n) // an exponent beyond int64: compare as written
		}
		exp = e
	}
	var digits []byte
	if k := bytes.IndexByte(mant, '.'); k >= 0 {
		digits = append(append(digits, mant[:k]...), mant[k+1:]...)
		exp -= int64(len(mant) - k - 1)
	} else {
		digits = append(digits, mant...)
	}
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	if len(digits) == 0 {
		return "0"
	}
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	sb.Write(digits)
	if exp != 0 {
		sb.WriteByte('e')
		sb.WriteString(strconv.FormatInt(exp, 10))
	}
	return sb.String()
}

// compactJSON marshals v compactly, object members sorted, no HTML escapes.
func compactJSON(v any) (string, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil { // maps encode with sorted keys
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
