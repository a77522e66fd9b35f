package tui

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/record"
)

// detailsView shows the selected record's details, decoded or (hex) as
// bytes; shown is what it holds, so that it scrolls back to the top only
// when that changes.
type detailsView struct {
	vp    viewport.Model
	hex   bool
	shown struct {
		r   *record.Record
		hex bool
	}
}

func newDetailsView() detailsView {
	// Long values wrap: the details are where a record is read whole.
	vp := viewport.New()
	vp.SoftWrap = true
	return detailsView{vp: vp}
}

// syncDetail puts the selected record in the details viewport, sized to
// the pane.
func (m *Model) syncDetail() {
	if m.view() != modeDetails {
		return
	}
	d := &m.details
	d.vp.SetWidth(m.width)
	d.vp.SetHeight(m.detailHeight())
	r := m.Selected()
	if r == d.shown.r && d.hex == d.shown.hex {
		return
	}
	d.shown.r, d.shown.hex = r, d.hex
	var lines []string
	if r != nil {
		lines = m.detailLines(r, d.hex)
	}
	d.vp.SetContentLines(lines)
	d.vp.GotoTop()
}

// detailLines are the selected record's details: where it is, its time,
// key, type, schemas and headers, then the value as indented JSON or,
// with hex, the exact key and value bytes as hexdump -C shows them.
func (m *Model) detailLines(r *record.Record, hexBytes bool) []string {
	label := func(name string) string { return m.styles.Faint.Render(fmt.Sprintf("%-10s", name)) }
	var out []string
	add := func(name, text string) { out = append(out, label(name)+" "+text) }
	add("record", m.styles.Where.Render(fmt.Sprintf("%s · partition %d · offset %d", r.Topic, r.Partition, r.Offset)))
	ts := r.Timestamp.String()
	if r.TimestampType != "" {
		ts += m.styles.Faint.Render(" (" + r.TimestampType + ")")
	}
	add("timestamp", ts)
	add("key", m.styles.Key.Render(record.OneLine(record.PayloadText(r.Key, r.KeyEncoding)))+m.styles.Faint.Render(" ("+r.KeyEncoding+")"))
	if r.KeySchema != nil {
		add("key schema", schemaText(r.KeySchema))
	}
	if r.Type != "" {
		add("type", m.styles.Type.Render(r.Type))
	}
	if r.Schema != nil {
		add("schema", schemaText(r.Schema))
	}
	for i, h := range r.Headers {
		name := ""
		if i == 0 {
			name = "headers"
		}
		v := h.Value
		switch h.Encoding {
		case record.EncodingNull:
			v = "null"
		case record.EncodingBase64:
			v = "base64:" + v
		}
		add(name, h.Key+": "+record.OneLine(v))
	}
	if r.Error != "" {
		add("error", m.styles.Error.Render(record.OneLine(r.Error)))
	}
	if !hexBytes {
		out = append(out, label("value")+m.styles.Faint.Render(" ("+r.ValueEncoding+")"))
		for _, l := range indentJSON(r.Value, r.ValueEncoding) {
			out = append(out, m.colourKey(l))
		}
		return out
	}
	msg, err := r.Message()
	if err != nil {
		return append(out, m.styles.Error.Render("no bytes to show: "+err.Error()))
	}
	for _, p := range []struct {
		name  string
		b     []byte
		isNil bool
	}{{"key", msg.Key, r.KeyEncoding == record.EncodingNull}, {"value", msg.Value, r.ValueEncoding == record.EncodingNull}} {
		if p.isNil {
			out = append(out, label(p.name)+" null")
			continue
		}
		out = append(out, label(p.name)+" "+m.styles.Faint.Render(english.Plural(len(p.b), "byte")))
		out = append(out, strings.Split(strings.TrimSuffix(hex.Dump(p.b), "\n"), "\n")...)
	}
	return out
}

// schemaText names a schema: its id or GUID, subject and version, format.
func schemaText(s *record.SchemaRef) string {
	var parts []string
	switch {
	case s.Local != "":
		parts = append(parts, "file "+s.Local)
	case s.GUID != "":
		parts = append(parts, "guid "+s.GUID)
	case s.ID != 0:
		parts = append(parts, "id "+strconv.Itoa(s.ID))
	}
	if s.Subject != "" {
		sub := "subject " + s.Subject
		if s.Version != 0 {
			sub += " v" + strconv.Itoa(s.Version)
		}
		parts = append(parts, sub)
	}
	if s.Format != "" {
		parts = append(parts, s.Format)
	}
	return strings.Join(parts, " · ")
}

// indentJSON is a decoded payload as indented JSON, or as text when it is
// text.
func indentJSON(v json.RawMessage, encoding string) []string {
	text := record.PayloadText(v, encoding)
	if encoding != record.EncodingText && encoding != record.EncodingBase64 {
		var b bytes.Buffer
		if json.Indent(&b, v, "", "  ") == nil {
			text = b.String()
		}
	}
	return strings.Split(text, "\n")
}

// jsonKey is an object key at the start of a line of indented JSON.
var jsonKey = regexp.MustCompile(`^(\s*)("(?:[^"\\]|\\.)*")(: )`)

// colourKey styles an indented JSON line's object key as keys are.
func (m *Model) colourKey(line string) string {
	loc := jsonKey.FindStringSubmatchIndex(line)
	if loc == nil {
		return line
	}
	return line[:loc[4]] + m.styles.Key.Render(line[loc[4]:loc[5]]) + line[loc[5]:]
}

// writtenMsg answers a write to a capture file.
type writtenMsg struct {
	path string
	n    int
	err  error
}

// writeCapture writes records to a new capture file at path, in the
// format tail -o json writes and replay --from-file reads; it never
// overwrites a file.
func writeCapture(path string, recs []*record.Record) tea.Cmd {
	return func() tea.Msg {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return writtenMsg{path: path, err: fmt.Errorf("%s exists; type another name", path)}
		}
		if err != nil {
			return writtenMsg{path: path, err: err}
		}
		w := record.NewWriter(f)
		for _, r := range recs {
			if err = w.Write(r); err != nil {
				break
			}
		}
		if err = errors.Join(err, w.Flush(), f.Close()); err != nil {
			_ = os.Remove(path) // half a capture is worse than none
		}
		return writtenMsg{path: path, n: len(recs), err: err}
	}
}
