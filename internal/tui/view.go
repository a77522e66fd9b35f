package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/record"
)

// View draws the screen; it reads the model and changes nothing.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "evctl browse " + m.o.Title
	return v
}

// Render is the screen as text, m.height lines of at most m.width cells.
func (m *Model) Render() string {
	lines := make([]string, 0, m.height)
	lines = append(lines, m.titleLine())
	lines = append(lines, m.listLines()...)
	if m.view() == modeDetails {
		lines = append(lines, m.styles.Faint.Render(strings.Repeat("─", m.width)))
		lines = append(lines, strings.Split(m.detail.View(), "\n")...)
	}
	lines = append(lines, m.statusLines()...)
	lines = append(lines, m.helpLines()...)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.width, "…")
	}
	return strings.Join(lines, "\n")
}

// listHeight is how many record rows fit.
func (m *Model) listHeight() int {
	h := m.height - 1 - len(m.statusLines()) - len(m.helpLines()) // title, status, help
	if m.view() == modeDetails {
		h -= m.detailHeight() + 1
	}
	return max(h, 1)
}

func (m *Model) detailHeight() int { return max((m.height-4)/2, 1) }

func (m *Model) titleLine() string {
	var total int64
	topics := map[string]bool{}
	for _, b := range m.bounds {
		total += b.End - b.Low
		topics[b.Topic] = true
	}
	parts := []string{m.styles.Title.Render(m.o.Title)}
	if m.bounds != nil {
		parts = append(parts, english.Plural(len(m.bounds), "partition"), english.Plural(total, "record"))
	}
	if m.follow {
		parts = append(parts, m.styles.Title.Render("following"))
	}
	left := strings.Join(parts, " · ")
	right := ""
	if len(m.visible) > 0 {
		right = fmt.Sprintf("%d/%d", m.cursor+1, len(m.visible))
	}
	return pad(left, right, m.width)
}

func (m *Model) listLines() []string {
	h := m.listHeight()
	out := make([]string, 0, h)
	switch {
	case len(m.visible) == 0 && m.loading:
		out = append(out, m.styles.Faint.Render("loading…"))
	case len(m.visible) == 0 && len(m.recs) > 0:
		out = append(out, m.styles.Faint.Render(fmt.Sprintf("the filter hides all %s loaded", english.Plural(len(m.recs), "record"))))
	case len(m.visible) == 0 && m.bounds != nil:
		out = append(out, m.styles.Faint.Render("no records"))
	}
	multi := len(m.topics()) > 1
	// The cursor stays on screen whatever changed the list's height.
	top := max(min(m.top, m.cursor), m.cursor-h+1, 0)
	for i := top; i < len(m.visible) && len(out) < h; i++ {
		out = append(out, m.row(m.recs[m.visible[i]], i == m.cursor, multi))
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func (m *Model) topics() map[string]bool {
	t := map[string]bool{}
	for p := range m.bounds {
		t[p.Topic] = true
	}
	return t
}

// row renders one record on one line: time, where, key, type, value, in
// the columns that fit the width.
func (m *Model) row(r *record.Record, selected, withTopic bool) string {
	c := layout(m.width)
	where := strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10)
	if withTopic {
		where = r.Topic + "/" + where
	}
	typ := record.ShortType(r.Type)
	if typ == "" {
		typ = r.ValueEncoding
	}
	key := record.OneLine(record.PayloadText(r.Key, r.KeyEncoding))
	mark := " "
	if r.Error != "" {
		mark = "!"
	}
	if !selected && r.Error != "" {
		mark = m.styles.Error.Render(mark)
	}
	cells := []string{mark}
	// cut: a cell wider than its column is cut; where a record is stays whole.
	cell := func(text string, width int, style lipgloss.Style, cut bool) {
		if width == 0 {
			return
		}
		if cut {
			text = ansi.Truncate(text, width, "…")
		}
		text = padRight(text, width)
		if !selected {
			text = style.Render(text)
		}
		cells = append(cells, text)
	}
	if c.time != "" {
		cell(r.Timestamp.UTC().Format(c.time), len(c.time), m.styles.Time, true)
	}
	cell(where, c.where, m.styles.Where, false)
	cell(key, c.key, m.styles.Key, true)
	cell(typ, c.typ, m.styles.Type, true)
	line := cells[0] + strings.Join(cells[1:], " ")
	if len(cells) > 1 {
		line += " "
	}
	line += preview(r, m.shared)
	if selected {
		return m.styles.Selected.Render(padRight(ansi.Truncate(line, m.width, "…"), m.width))
	}
	return line
}

// columns are the record list's columns at a width: the time's layout and
// the others' widths, "" or 0 for a column that does not fit.
type columns struct {
	time            string
	where, key, typ int
}

// minValue is the width below which the value column takes room from the
// others: they shrink first, then go, the value last.
const minValue = 20

var timeLayouts = []string{"2006-01-02 15:04:05.000", "01-02 15:04:05.000", "01-02 15:04:05", "15:04:05"}

func layout(width int) columns {
	c := columns{time: timeLayouts[0], where: 9, key: 10, typ: 16}
	short := func() int { return minValue - c.value(width) }
	steps := []func(){
		func() { c.time = timeLayouts[1] },
		func() { c.typ = max(c.typ-short(), 8) },
		func() { c.time = timeLayouts[2] },
		func() { c.time = timeLayouts[3] },
		func() { c.key = max(c.key-short(), 6) },
		func() { c.typ = 0 },
		func() { c.time = "" },
		func() { c.where = 0 },
		func() { c.key = 0 },
	}
	for _, step := range steps {
		if short() <= 0 {
			break
		}
		step()
	}
	return c
}

// value is the width left for the value column.
func (c columns) value(width int) int {
	w := width - 1 // the error mark
	if c.time != "" {
		w -= len(c.time) + 1
	}
	for _, n := range []int{c.where, c.key, c.typ} {
		if n > 0 {
			w -= n + 1
		}
	}
	return w
}

// statusLines are the status, or the prompt and why its text was not
// applied.
func (m *Model) statusLines() []string {
	if m.prompting() && m.promptErr != nil {
		// The first line: jq's position marker under the text is for a
		// text not on screen.
		// text not on screen; wrapped, since the fix is often at its end.
		msg, _, _ := strings.Cut(m.promptErr.Error(), "\n")
		lines := []string{m.prompt.View()}
		for _, l := range strings.Split(ansi.Wordwrap(msg, m.width, " "), "\n") {
			lines = append(lines, m.styles.Error.Render(l))
		}
		return lines
	}
	return []string{m.statusLine()}
}

func (m *Model) statusLine() string {
	switch {
	case m.prompting():
		return m.prompt.View()
	case m.err != nil:
		return m.styles.Error.Render(record.OneLine(m.err.Error()))
	}
	var parts []string
	if m.note != "" {
		parts = append(parts, m.note)
	}
	if m.loading {
		parts = append(parts, "loading…")
	}
	if m.flt != nil {
		parts = append(parts, fmt.Sprintf("filter %s: %d of %d loaded", m.flt.String(), len(m.visible), len(m.recs)))
		if m.filterErrs > 0 {
			parts = append(parts, fmt.Sprintf("failed on %s", english.Plural(m.filterErrs, "record")))
		}
	} else if len(m.recs) > 0 {
		parts = append(parts, english.Plural(len(m.recs), "record")+" loaded")
	}
	if m.bounds != nil {
		switch {
		case m.atStart() && m.atEnd():
			parts = append(parts, "all of it")
		case m.atStart():
			parts = append(parts, "from the start")
		case m.atEnd():
			parts = append(parts, "up to the end")
		}
	}
	return m.styles.Status.Render(strings.Join(parts, " · "))
}

// helpLines is the keymap's help: one line, or with ? every key, wrapped
// to the width.
func (m *Model) helpLines() []string {
	if m.prompting() {
		return []string{m.help.ShortHelpView(promptKeys(m.keys).ShortHelp())}
	}
	if !m.help.ShowAll {
		return []string{m.help.ShortHelpView(m.keys.ShortHelp())}
	}
	var lines []string
	for _, row := range wrapHelp(slices.Concat(m.keys.FullHelp()...), len(m.help.ShortSeparator), m.width) {
		lines = append(lines, m.help.ShortHelpView(row))
	}
	return lines
}

// wrapHelp splits bindings into lines of at most width cells, as
// help.Model's short view draws them (key, space, description; sepWidth
// between).
func wrapHelp(bs []key.Binding, sepWidth, width int) [][]key.Binding {
	var rows [][]key.Binding
	var row []key.Binding
	w := 0
	for _, b := range bs {
		if !b.Enabled() {
			continue
		}
		item := ansi.StringWidth(b.Help().Key) + 1 + ansi.StringWidth(b.Help().Desc)
		if len(row) > 0 && w+sepWidth+item > width {
			rows, row, w = append(rows, row), nil, 0
		}
		if len(row) > 0 {
			w += sepWidth
		}
		row, w = append(row, b), w+item
	}
	return append(rows, row)
}

// pad puts right at the right edge of a width-wide line after left.
func pad(left, right string, width int) string {
	gap := width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 1 {
		return left + " " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

func padRight(s string, n int) string {
	if w := ansi.StringWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}
