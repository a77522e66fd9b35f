package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

// recordsView is the record list over the pager's window.
type recordsView struct {
	cursor int // index into the pager's records
	top    int // first record shown
	// pending is the part of a move waiting for the load in flight.
	pending int
	// autoLoads counts loads in a row that filled a short screen.
	autoLoads int
	// shared are the value fields the previews show last (sharedFields).
	shared map[string]bool

	flt        *filter.Filter
	cols       columnSet
	filterErrs int  // records the filter failed on
	scanning   bool // a filter is reading on for matches; esc stops it
	stopped    bool // the user stopped the last scan
	follow     bool
}

// keep reports whether the filter shows r; a filter failing on a record
// hides it and is counted.
func (m *Model) keep(r *record.Record) bool {
	ok, err := m.list.flt.Match(m.o.Context, r)
	if err != nil {
		m.list.filterErrs++
		return false
	}
	return ok
}

// setFilter sets the filter (nil: none). A filter where there was none
// narrows the window in place; any other change reads again from the
// selected record's time, since the window holds only the old filter's
// matches.
func (m *Model) setFilter(f *filter.Filter) tea.Cmd {
	old := m.list.flt
	m.list.flt, m.list.filterErrs, m.list.stopped, m.err = f, 0, false, nil
	if old == nil && f == nil {
		return nil
	}
	if old == nil {
		cur, kept, at := m.list.cursor, m.pager.recs[:0:0], 0
		for i, r := range m.pager.recs {
			if m.keep(r) {
				if i <= cur {
					at = len(kept)
				}
				kept = append(kept, r)
			}
		}
		m.pager.keep, m.pager.recs = m.keep, kept
		m.list.cursor = at
		m.scrollToCursor()
		if m.pager.loading {
			return nil
		}
		m.list.autoLoads = 0
		return m.fill(loadOlder, 0)
	}
	m.pager.keep = nil
	if f != nil {
		m.pager.keep = m.keep
	}
	r := m.Selected()
	if r == nil || m.list.cursor == len(m.pager.recs)-1 && m.pager.atEnd() {
		return m.goTo(position.EndPos)
	}
	return m.goTo(position.Position{Kind: position.Time, Time: r.Timestamp.Time})
}

// setPartitions shows only some partitions (nil: all), read again from
// the selected record's time.
func (m *Model) setPartitions(only []int32) tea.Cmd {
	if slices.Equal(only, m.pager.only) {
		return nil
	}
	r := m.Selected()
	m.pager.only = only
	if len(only) == 0 {
		m.pager.only = nil
	}
	if r == nil || m.list.cursor == len(m.pager.recs)-1 && m.pager.atEnd() {
		return m.goTo(position.EndPos)
	}
	return m.goTo(position.Position{Kind: position.Time, Time: r.Timestamp.Time})
}

// move moves the cursor by delta rows, loading the next page when it
// runs past what is loaded.
func (m *Model) move(delta int) tea.Cmd {
	l, n := &m.list, len(m.pager.recs)
	target := l.cursor + delta
	switch {
	case target < 0 && !m.pager.atStart():
		l.cursor = 0
		l.follow = false
		return m.page(loadOlder, target)
	case target >= n && !m.pager.atEnd():
		l.cursor = max(n-1, 0)
		return m.page(loadNewer, target-l.cursor)
	}
	if delta < 0 {
		l.follow = false
	}
	l.cursor = max(min(target, n-1), 0)
	m.scrollToCursor()
	return nil
}

// page loads the next page in a direction unless a load is in flight;
// the rest of the move waits for it.
func (m *Model) page(kind loadKind, rest int) tea.Cmd {
	if m.pager.loading {
		return nil
	}
	m.list.pending = rest
	m.list.autoLoads = 0
	m.list.stopped = false
	return m.pager.load(kind, position.Position{})
}

// goTo loads the records from a position on; the end is the latest
// records.
func (m *Model) goTo(pos position.Position) tea.Cmd {
	m.list.pending, m.list.autoLoads, m.list.stopped = 0, 0, false
	if pos.Kind == position.End {
		return m.pager.load(loadEnd, position.Position{})
	}
	m.list.follow = false
	return m.pager.load(loadAt, pos)
}

// scanning reports whether a filter is reading on for matches.
func (m *Model) scanning() bool { return m.pager != nil && m.pager.loading && m.list.scanning }

// stopScan stops a filter's scan where it got to.
func (m *Model) stopScan() {
	m.pager.stop()
	m.list.scanning, m.list.stopped, m.list.pending = false, true, 0
}

// applyPage merges a loaded page and keeps the cursor on its record.
func (m *Model) applyPage(msg pageMsg) tea.Cmd {
	p, l := m.pager, &m.list
	if msg.err != nil {
		p.loading, l.scanning = false, false
		m.err = msg.err
		if p.bounds == nil {
			return tea.Quit // nothing to show: the command reports it
		}
		return nil
	}
	m.err = nil
	atBottom := l.cursor >= len(p.recs)-1
	c := p.apply(msg)
	n := len(p.recs)
	switch c.kind {
	case loadEnd:
		l.cursor, l.top = n-1, 0
	case loadAt:
		l.cursor, l.top = 0, 0
	case loadOlder:
		l.cursor += c.added
		l.top += c.added
		if l.pending < 0 && c.added > 0 {
			l.cursor += l.pending
			l.pending = 0
		}
	case loadNewer:
		l.cursor -= c.dropped
		l.top -= c.dropped
		switch {
		case l.follow && atBottom:
			l.cursor = n - 1
		case l.pending > 0 && c.added > 0:
			l.cursor += l.pending
			l.pending = 0
		}
	}
	l.cursor = max(min(l.cursor, n-1), 0)
	l.top = max(l.top, 0)
	l.shared = sharedFields(p.recs)
	m.scrollToCursor()
	if c.kind == loadNewer && l.follow {
		return nil
	}
	return m.fill(c.kind, c.added)
}

// fill loads on while the screen is not full, or while a move waits for a
// filter's next match: in the load's direction, then the other way. With
// a filter it reads on through the topic until the user stops it; without
// one, up to maxAutoLoads pages.
func (m *Model) fill(kind loadKind, added int) tea.Cmd {
	p, l := m.pager, &m.list
	short := len(p.recs) < m.listHeight()
	waiting := l.flt != nil && l.pending != 0 && added == 0
	l.scanning = false
	if !short && !waiting || l.stopped || l.flt == nil && l.autoLoads >= maxAutoLoads {
		l.autoLoads = 0
		return nil
	}
	l.autoLoads++
	older := kind == loadEnd || kind == loadOlder
	var next loadKind
	switch {
	case older && !p.atStart():
		next = loadOlder
	case !older && !p.atEnd():
		next = loadNewer
	case short && !older && !p.atStart():
		next = loadOlder
	case short && older && !p.atEnd():
		next = loadNewer
	default:
		l.autoLoads, l.pending = 0, 0
		return nil
	}
	l.scanning = l.flt != nil
	return p.load(next, position.Position{})
}

// scrollToCursor keeps the cursor's row on screen.
func (m *Model) scrollToCursor() {
	switch m.view() {
	case modeTopics:
		m.topics.scroll(m.listHeight())
		return
	case modeTimeline:
		return
	}
	if m.pager == nil {
		return
	}
	m.list.top = scrolled(m.list.cursor, m.list.top, m.listHeight(), len(m.pager.recs))
}

// Selected is the record under the cursor, nil when none is shown.
func (m *Model) Selected() *record.Record {
	if m.pager != nil && m.list.cursor < len(m.pager.recs) {
		return m.pager.recs[m.list.cursor]
	}
	return nil
}

func (m *Model) listLines() []string {
	h := m.listHeight()
	out := make([]string, 0, h)
	p, l := m.pager, &m.list
	switch {
	case len(p.recs) == 0 && p.loading:
		out = append(out, m.styles.Faint.Render("loading…"))
	case len(p.recs) == 0 && l.flt != nil && p.bounds != nil:
		read, _ := p.total()
		out = append(out, m.styles.Faint.Render(fmt.Sprintf("no match in the %s read", english.Plural(read, "record"))))
	case len(p.recs) == 0 && p.bounds != nil:
		out = append(out, m.styles.Faint.Render("no records"))
	}
	multi := len(m.topicNames()) > 1
	// The cursor stays on screen whatever changed the list's height.
	top := max(min(l.top, l.cursor), l.cursor-h+1, 0)
	shown := p.recs[top:min(top+h-len(out), len(p.recs))]
	values := make([]string, len(shown))
	if l.cols.exprs != nil {
		rows := make([][]string, len(shown))
		for i, r := range shown {
			rows[i] = m.cells(r)
		}
		widths := m.columnWidths(rows)
		for i := range rows {
			values[i] = columnLine(rows[i], widths)
		}
	} else {
		for i, r := range shown {
			values[i] = preview(r, l.shared)
		}
	}
	for i, r := range shown {
		out = append(out, m.row(r, values[i], top+i == l.cursor, multi))
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func (m *Model) topicNames() map[string]bool {
	t := map[string]bool{}
	for p := range m.pager.bounds {
		t[p.Topic] = true
	}
	return t
}

// row renders one record on one line: time, where, key, type, and value
// (its preview or the chosen columns), in the columns that fit the width.
func (m *Model) row(r *record.Record, value string, selected, withTopic bool) string {
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
	line += value
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
