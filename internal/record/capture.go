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
	buf []byte
}

// NewWriter returns a Writer over w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes one record and a newline.
func (w *Writer) Write(r *Record) error {
	var err error
	if w.buf, err = AppendJSON(w.buf[:0], r); err != nil {
		return err
	}
	_, err = w.w.Write(w.buf)
	return err
}

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
