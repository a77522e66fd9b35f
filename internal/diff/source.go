package diff

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"

	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/schema"
)

// KeyFunc computes a record's identity instead of its key (--key-by), as
// JSON; nil means the record has none and is skipped.
type KeyFunc func(ctx context.Context, r *record.Record) (key json.RawMessage, err error)

// EventOf turns a decoded record into an Event, keyed by keyBy when set.
func EventOf(ctx context.Context, r *record.Record, keyBy KeyFunc) (Event, error) {
	e := Event{KeyEncoding: r.KeyEncoding, KeyJSON: r.Key, Value: r.Value, Type: r.Type, Headers: r.Headers, Partition: r.Partition, Offset: r.Offset}
	if r.ValueEncoding == record.EncodingNull || (r.ValueEncoding == "" && isNull(r.Value)) {
		e.Value = nil
	}
	if keyBy != nil {
		k, err := keyBy(ctx, r)
		if err != nil {
			return e, err
		}
		e.KeyJSON = k
		text, ok := record.KeyText(k, "")
		e.Key = text
		if !ok {
			e.KeyEncoding = record.EncodingNull
		} else if e.KeyEncoding == record.EncodingNull {
			e.KeyEncoding = ""
		}
		return e, nil
	}
	k, ok := r.KeyText()
	e.Key = k
	if !ok {
		e.KeyEncoding = record.EncodingNull
	}
	return e, nil
}

func isNull(v []byte) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

// CaptureSource reads a capture file (docs/capture-format.md), once per
// pass.
type CaptureSource struct {
	// Path is the file; Label names it in reports (default: Path).
	Path, Label string
	// KeyBy, when set, identifies records instead of their key; it needs
	// each line decoded in full, which is slower.
	KeyBy KeyFunc
	// Headers: read headers too (history mode compares them).
	Headers bool

	// hashing, set by Compare, hashes values while lines are parsed: one
	// pass over each line instead of two.
	hashing *matcher
}

func (s *CaptureSource) prehash(ignore []Path) {
	m := newMatcher(ignore)
	s.hashing = &m
}

// Name is the label or the path.
func (s *CaptureSource) Name() string {
	if s.Label != "" {
		return s.Label
	}
	return s.Path
}

// Scan reads the file; a malformed line is an error naming its line.
func (s *CaptureSource) Scan(ctx context.Context, yield func(*Event) error) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	return scanCapture(ctx, f, s.Name(), s.KeyBy, s.Headers, s.hashing, yield)
}

// ScanCapture reads capture records from r and yields them as events.
// Lines are parsed in place, without decoding whole records, unless keyBy
// needs them.
func ScanCapture(ctx context.Context, r io.Reader, name string, keyBy KeyFunc, headers bool, yield func(*Event) error) error {
	return scanCapture(ctx, r, name, keyBy, headers, nil, yield)
}

func scanCapture(ctx context.Context, r io.Reader, name string, keyBy KeyFunc, headers bool, hashing *matcher, yield func(*Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256<<10), 64<<20)
	line := 0
	var ev Event
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		shape, err := parseCaptureLine(b, &ev, headers, hashing)
		switch {
		case err != nil:
			// std's word on a bad line.
			var rec record.Record
			if uerr := json.Unmarshal(b, &rec); uerr != nil {
				return fmt.Errorf("%s:%d: not a capture record: %w", name, line, uerr)
			}
			return fmt.Errorf("%s:%d: not a capture record: %w", name, line, err)
		case shape == kcatLine:
			m, err := record.ParseKcat(b)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
			if ev, err = EventOf(ctx, kcatDecoder.Decode(ctx, m), keyBy); err != nil {
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
		case shape == noValueLine:
			return fmt.Errorf("%s:%d: the record has no \"value\" field: want a capture record (docs/capture-format.md) or kcat -J output (with \"payload\")", name, line)
		case keyBy != nil:
			// The slow path: --key-by sees the whole record.
			var rec record.Record
			if err := json.Unmarshal(b, &rec); err != nil {
				return fmt.Errorf("%s:%d: not a capture record: %w", name, line, err)
			}
			if ev, err = EventOf(ctx, &rec, keyBy); err != nil {
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
		}
		if err := yield(&ev); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: line longer than 64 MiB", name, line+1)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return ctx.Err()
}

// lineShape says what kind of record a line holds.
type lineShape int

const (
	captureLine lineShape = iota // evctl's capture format
	kcatLine                     // kcat -J: "payload", no "value"
	noValueLine                  // neither: no value to compare
)

// kcatDecoder decodes kcat's payloads as evctl decodes a schemaless
// record: JSON, else text, else base64 (kcat -J writes bytes as text, so a
// binary payload such as Avro does not survive it).
var kcatDecoder = func() *schema.Decoder {
	d, err := schema.NewDecoder(schema.DecoderOptions{})
	if err != nil {
		panic(err) // no local schemas: cannot fail
	}
	return d
}()

// parseCaptureLine reads the fields the comparison needs from one capture
// line, validating the JSON as it goes; Value points into line. A kcat -J
// line, or one without a value, is only validated: its shape says so.
func parseCaptureLine(b []byte, e *Event, headers bool, hashing *matcher) (lineShape, error) {
	*e = Event{}
	hasValue, hasPayload := false, false
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, synErr(i, "not an object")
	}
	i = skipSpace(b, i+1)
	var key, value, hdrs []byte
	valueEnc := ""
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, synErr(i, "want a member name")
			}
			name, end, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, synErr(i, "want ':'")
			}
			i = skipSpace(b, i+1)
			start := i
			if hashing != nil && string(name) == "value" {
				e.hash, i, err = hashValue(b, i, *hashing)
				e.hashed = true
			} else {
				i, err = skipValue(b, i)
			}
			if err != nil {
				return 0, err
			}
			v := b[start:i]
			switch string(name) {
			case "payload":
				hasPayload = true
			case "key":
				key = v
			case "value":
				value, hasValue = v, true
			case "headers":
				hdrs = v
			case "keyEncoding":
				e.KeyEncoding, err = stringField(v)
			case "valueEncoding":
				valueEnc, err = stringField(v)
			case "type":
				e.Type, err = stringField(v)
			case "partition":
				var n int64
				n, err = strconv.ParseInt(string(v), 10, 32)
				e.Partition = int32(n)
			case "offset":
				e.Offset, err = strconv.ParseInt(string(v), 10, 64)
			}
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return 0, synErr(i, "want ',' or '}'")
		}
	}
	if i = skipSpace(b, i); i != len(b) {
		return 0, synErr(i, "data after the record")
	}
	switch {
	case !hasValue && hasPayload:
		return kcatLine, nil
	case !hasValue:
		return noValueLine, nil
	}
	e.KeyJSON = key
	k, ok := record.KeyText(key, e.KeyEncoding)
	e.Key = k
	if !ok {
		e.KeyEncoding = record.EncodingNull
	}
	if valueEnc != record.EncodingNull && (valueEnc != "" || !isNull(value)) {
		e.Value = value
	}
	if headers && len(hdrs) > 0 && string(hdrs) != "null" {
		if err := json.Unmarshal(hdrs, &e.Headers); err != nil {
			return 0, err
		}
	}
	return captureLine, nil
}

func stringField(v []byte) (string, error) {
	if string(v) == "null" {
		return "", nil
	}
	s, end, err := scanString(v, 0)
	if err != nil || end != len(v) {
		return "", synErr(0, "want a string")
	}
	return string(s), nil
}

// States is a Source over a state held elsewhere, such as a projection
// rebuilt in memory: each call of seq yields key → value as JSON (nil is a
// tombstone). seq is called once per pass. Its entries have no place in a
// topic: their Partition is -1, and At is empty.
func States(name string, seq func() iter.Seq2[string, json.RawMessage]) Source {
	return &stateSource{name: name, seq: seq}
}

type stateSource struct {
	name string
	seq  func() iter.Seq2[string, json.RawMessage]
}

func (s *stateSource) Name() string { return s.name }

func (s *stateSource) Scan(ctx context.Context, yield func(*Event) error) error {
	var n int64
	var err error
	for k, v := range s.seq() {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e := Event{Key: k, Value: v, Partition: -1, Offset: n}
		n++
		if err = yield(&e); err != nil {
			return err
		}
	}
	return nil
}
