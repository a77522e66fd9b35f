package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// CaptureVersion is the version of the capture format documented in
// docs/capture-format.md.
const CaptureVersion = 1

// Writer writes records in the capture format, one JSON object per line.
type Writer struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewWriter returns a Writer over w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &Writer{w: bw, enc: enc}
}

// Write writes one record and a newline.
func (w *Writer) Write(r *Record) error { return w.enc.Encode(r) }

// Flush writes buffered records to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

// Reader reads a capture, one record per line; blank lines are skipped.
type Reader struct {
	s    *bufio.Scanner
	name string
	line int
}

// NewReader reads captures from r; name is used in errors (a file name, or "-").
func NewReader(r io.Reader, name string) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 64<<20)
	return &Reader{s: s, name: name}
}

// Read returns the next record, or io.EOF at the end. A malformed line is
// an error naming the file and line.
func (r *Reader) Read() (*Record, error) {
	for r.s.Scan() {
		r.line++
		b := bytes.TrimSpace(r.s.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a capture record: %w", r.name, r.line, err)
		}
		return &rec, nil
	}
	if err := r.s.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than 64 MiB", r.name, r.line+1)
		}
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	return nil, io.EOF
}

// Line is the line number of the record last read.
func (r *Reader) Line() int { return r.line }
