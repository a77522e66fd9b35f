package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/record"
)

// View draws the screen; it reads the model and changes nothing.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion // the wheel scrolls
	v.WindowTitle = "evctl browse " + m.title
	return v
}

// Render is the screen as text, m.height lines of at most m.width cells.
func (m *Model) Render() string {
	lines := make([]string, 0, m.height)
	switch m.view() {
	case modeTopics:
		lines = append(lines, m.topicsTitle())
		lines = append(lines, m.topicLines()...)
	case modeTimeline:
		lines = append(lines, m.timelineTitle())
		lines = append(lines, m.timelineLines()...)
	default:
		lines = append(lines, m.titleLine())
		lines = append(lines, m.listLines()...)
		if m.view() == modeDetails {
			lines = append(lines, m.styles.Faint.Render(strings.Repeat("─", m.width)))
			lines = append(lines, strings.Split(m.details.vp.View(), "\n")...)
		}
	}
	lines = append(lines, m.statusLines()...)
	lines = append(lines, m.helpLines()...)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.width, "…")
	}
	return strings.Join(lines, "\n")
}

// listHeight is how many rows the view's list has.
func (m *Model) listHeight() int {
	h := m.height - 1 - len(m.statusLines()) - len(m.helpLines()) // title, status, help
	switch m.view() {
	case modeDetails:
		h -= m.detailHeight() + 1
	case modeTopics:
		h-- // the column heads
	}
	return max(h, 1)
}

func (m *Model) detailHeight() int { return max((m.height-4)/2, 1) }

func (m *Model) titleLine() string {
	var total int64
	p := m.pager
	for _, b := range p.bounds {
		total += b.End - b.Low
	}
	parts := []string{m.styles.Title.Render(m.title)}
	switch {
	case p.bounds != nil && p.only != nil:
		parts = append(parts, fmt.Sprintf("%s of %d", numbersText(p.only), len(p.numbers)), english.Plural(total, "record"))
	case p.bounds != nil:
		parts = append(parts, english.Plural(len(p.bounds), "partition"), english.Plural(total, "record"))
	}
	if m.list.follow {
		parts = append(parts, m.styles.Title.Render("following"))
	}
	left := strings.Join(parts, " · ")
	right := ""
	if len(p.recs) > 0 {
		right = fmt.Sprintf("%d/%d", m.list.cursor+1, len(p.recs))
	}
	return pad(left, right, m.width)
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
	switch m.view() {
	case modeTopics:
		parts = append(parts, m.topicsStatus()...)
	case modeTimeline:
		parts = append(parts, m.timelineStatus()...)
	default:
		parts = append(parts, m.recordsStatus()...)
	}
	return m.styles.Status.Render(strings.Join(parts, " · "))
}

// recordsStatus is what the list holds: how much is loaded, or what a
// filter found in how much it read, and where the window is.
func (m *Model) recordsStatus() []string {
	p, l := m.pager, &m.list
	var parts []string
	if p.loading && !l.scanning {
		parts = append(parts, "loading…")
	}
	if l.flt != nil {
		read, total := p.total()
		found := fmt.Sprintf("filter %s: %d found in %d of %d records", l.flt.String(), len(p.recs), read, total)
		if total > 0 && read < total {
			found += fmt.Sprintf(" (%d%%)", read*100/total)
		}
		parts = append(parts, found)
		if l.filterErrs > 0 {
			parts = append(parts, fmt.Sprintf("failed on %s", english.Plural(l.filterErrs, "record")))
		}
		switch {
		case l.scanning:
			parts = append(parts, "scanning… esc stops")
		case l.stopped:
			parts = append(parts, "stopped")
		}
	} else if len(p.recs) > 0 {
		parts = append(parts, english.Plural(len(p.recs), "record")+" loaded")
	}
	if l.cols.exprs != nil {
		parts = append(parts, "columns "+l.cols.String())
	}
	if p.bounds != nil {
		switch {
		case p.atStart() && p.atEnd():
			parts = append(parts, "all of it")
		case p.atStart():
			parts = append(parts, "from the start")
		case p.atEnd():
			parts = append(parts, "up to the end")
		}
	}
	return parts
}

// helpLines is the keymap's help: one line, or with ? every key, wrapped
// to the width.
func (m *Model) helpLines() []string {
	km := m.keyHelp()
	if !m.help.ShowAll || m.prompting() {
		return []string{m.help.ShortHelpView(km.ShortHelp())}
	}
	var lines []string
	for _, row := range wrapHelp(slices.Concat(km.FullHelp()...), len(m.help.ShortSeparator), m.width) {
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

// scrolled is the first row to show of n so that the cursor's row is
// among the h shown, moving top as little as it can.
func scrolled(cursor, top, h, n int) int {
	switch {
	case cursor < top:
		top = cursor
	case cursor >= top+h:
		top = cursor - h + 1
	}
	return max(min(top, n-h), 0)
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
