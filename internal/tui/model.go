// Package tui is evctl's interactive record browser: a bubbletea model
// over a Source, loading a page at a time, so a topic of any size opens at
// once at its end and scrolls both ways.
package tui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

// Options configure a browser.
type Options struct {
	// Context bounds every load; cancelling it stops them.
	Context context.Context
	Source  Source
	// Title names what is browsed, for the top line.
	Title string
	// From is where the browser opens (the tail grammar: start, @-1h,
	// @2026-11-19T10:00:00Z, 1234, -100...); the zero Position is the end.
	From position.Position
	// Now anchors relative times typed at the go-to prompt (default
	// time.Now).
	Now func() time.Time
	// Follow loads new records as they arrive and keeps the last in view.
	Follow bool
	// Filter is a jq expression over the record; records for which it is
	// false or null are hidden.
	Filter string
	// PageSize is how many records a load adds (default 200); MaxRecords
	// how many the browser holds before it drops the far end (default
	// 5000).
	PageSize, MaxRecords int
	// FollowEvery is how often a follow looks for new records (default 1s).
	FollowEvery time.Duration
	Keys        KeyMap
	// Styles default to DefaultStyles.
	Styles *Styles
}

// Model is the browser's state. Update changes it in answer to keys and
// loaded pages; loads run as commands, never in Update.
type Model struct {
	o      Options
	keys   KeyMap
	styles Styles

	width, height int

	bounds map[Partition]Bounds
	win    window
	jump   position.Position // where the loadAt in flight starts
	recs   []*record.Record  // loaded, in display order
	// shared are the value fields the previews show last (sharedFields).
	shared map[string]bool
	// visible indexes recs: the records the filter keeps.
	visible []int
	cursor  int // index into visible
	top     int // first visible row shown

	// mode is what the keys act on; back is the view a prompt returns to.
	mode, back mode
	help       help.Model // ShowAll: ? lists every key
	flt        *filter.Filter
	filterErrs int
	prompt     textinput.Model
	promptErr  error // why the prompt's text was not applied; shown under it

	// detail shows the selected record's details, decoded or (hex) as
	// bytes; shown is what it holds, so that it scrolls back to the top
	// only when that changes.
	detail viewport.Model
	hex    bool
	shown  struct {
		r   *record.Record
		hex bool
	}
	note string // what the last key did (a file written), until the next

	follow    bool
	loading   bool
	seq       int // the load in flight; older answers are dropped
	pending   int // cursor move waiting for the load in flight
	autoLoads int // loads in a row that found nothing the filter keeps
	err       error
}

// mode is the browser's state machine: a view, or a prompt over one.
type mode int

const (
	modeRecords mode = iota // the record list
	modeDetails             // the list, and the selected record's details below it
	modeFilter              // the jq filter prompt
	modeGoTo                // the go-to-a-position prompt
	modeWrite               // the prompt for the file to write the record to
)

// prompting reports whether a prompt has the keys.
func (m *Model) prompting() bool {
	return m.mode == modeFilter || m.mode == modeGoTo || m.mode == modeWrite
}

// view is the view on screen: under a prompt, the one it was opened from.
func (m *Model) view() mode {
	if m.prompting() {
		return m.back
	}
	return m.mode
}

// pageMsg answers a load.
type pageMsg struct {
	kind   loadKind
	seq    int
	bounds []Bounds
	starts map[Partition]int64 // for loadAt: where each partition starts
	ranges []Range
	runs   map[Partition][]*record.Record
	err    error
}

type followTick struct{}

const maxAutoLoads = 50

// New returns a browser; run it with tea.NewProgram.
func New(o Options) *Model {
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.PageSize <= 0 {
		o.PageSize = 200
	}
	if o.MaxRecords < 2*o.PageSize {
		o.MaxRecords = max(5000, 2*o.PageSize)
	}
	if o.FollowEvery <= 0 {
		o.FollowEvery = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Keys.Quit.Keys() == nil {
		o.Keys = DefaultKeys()
	}
	styles := DefaultStyles()
	if o.Styles != nil {
		styles = *o.Styles
	}
	p := textinput.New()
	// A steady cursor: a blinking one is a timer running for ever.
	ps := p.Styles()
	ps.Cursor.Blink = false
	p.SetStyles(ps)
	h := help.New()
	h.ShortSeparator = " · "
	h.Styles = help.Styles{ShortKey: styles.HelpKey, ShortDesc: styles.Faint, ShortSeparator: styles.Faint, Ellipsis: styles.Faint}
	// Long values wrap: the details are where a record is read whole.
	d := viewport.New()
	d.SoftWrap = true
	m := &Model{o: o, keys: o.Keys, styles: styles, prompt: p, help: h, detail: d, follow: o.Follow, width: 80, height: 24,
		win: window{first: map[Partition]int64{}, next: map[Partition]int64{}}}
	if o.Filter != "" {
		if err := m.setFilter(o.Filter); err != nil {
			m.err = err
		}
	}
	return m
}

// Init loads the first page.
func (m *Model) Init() tea.Cmd {
	kind := loadEnd
	if !m.o.From.IsZero() && m.o.From.Kind != position.End && !m.follow {
		kind, m.jump = loadAt, m.o.From
	}
	cmds := []tea.Cmd{m.load(kind)}
	if m.follow {
		cmds = append(cmds, m.tick())
	}
	return tea.Batch(cmds...)
}

// Err is the error that ended the browser, if any: the first load failing
// ends it, as a broker that cannot be reached ends any other command.
func (m *Model) Err() error {
	if len(m.recs) == 0 && m.bounds == nil {
		return m.err
	}
	return nil
}

// load starts fetching a page; a jump (to the end, or to m.jump) replaces
// any load in flight, a page waits for it.
func (m *Model) load(kind loadKind) tea.Cmd {
	m.loading = true
	m.seq++
	seq, src, ctx, per, jump := m.seq, m.o.Source, m.o.Context, int64(m.o.PageSize), m.jump
	w := window{first: maps.Clone(m.win.first), next: maps.Clone(m.win.next)}
	return func() tea.Msg {
		bounds, err := src.Bounds(ctx)
		if err != nil {
			return pageMsg{kind: kind, seq: seq, err: err}
		}
		if kind == loadAt {
			var at map[Partition]int64
			if jump.NeedsTime() {
				if at, err = src.OffsetsForTime(ctx, jump.Time); err != nil {
					return pageMsg{kind: kind, seq: seq, err: err}
				}
			}
			w.first = make(map[Partition]int64, len(bounds))
			for _, b := range bounds {
				off, ok := at[b.Partition]
				if !ok {
					off = -1
				}
				w.first[b.Partition] = jump.Resolve(b.Low, b.End, off)
			}
		}
		ranges := plan(kind, bounds, w, per)
		runs, err := src.Read(ctx, ranges)
		return pageMsg{kind: kind, seq: seq, bounds: bounds, starts: w.first, ranges: ranges, runs: runs, err: err}
	}
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.o.FollowEvery, func(time.Time) tea.Msg { return followTick{} })
}

// Update answers one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.syncDetail()
	return m, cmd
}

// syncDetail puts the selected record in the details viewport, sized to
// the pane.
func (m *Model) syncDetail() {
	if m.view() != modeDetails {
		return
	}
	m.detail.SetWidth(m.width)
	m.detail.SetHeight(m.detailHeight())
	r := m.Selected()
	if r == m.shown.r && m.hex == m.shown.hex {
		return
	}
	m.shown.r, m.shown.hex = r, m.hex
	var lines []string
	if r != nil {
		lines = m.detailLines(r, m.hex)
	}
	m.detail.SetContentLines(lines)
	m.detail.GotoTop()
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		m.prompt.SetWidth(max(msg.Width-len(m.prompt.Prompt)-1, 10))
		m.scrollToCursor()
		return nil
	case pageMsg:
		if msg.seq != m.seq {
			return nil // an answer to a load since replaced
		}
		cmd := m.applyPage(msg)
		m.shared = sharedFields(m.recs)
		return cmd
	case followTick:
		if !m.follow {
			return nil
		}
		if m.loading {
			return m.tick()
		}
		return tea.Batch(m.load(loadNewer), m.tick())
	case writtenMsg:
		if msg.err != nil { // open the prompt again, to fix the name
			cmd := m.ask(modeWrite, "write to: ", "", msg.path)
			m.promptErr = msg.err
			return cmd
		}
		m.note = fmt.Sprintf("wrote %s to %s", english.Plural(msg.n, "record"), msg.path)
		return nil
	case tea.KeyPressMsg:
		m.note = ""
		if key.Matches(msg, m.keys.Interrupt) {
			return tea.Interrupt // exit status 130, as Ctrl-C ends every command
		}
		if m.prompting() {
			return m.promptKey(msg)
		}
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Close) && m.mode == modeDetails:
		m.mode = modeRecords
		m.scrollToCursor()
	case key.Matches(msg, k.Close):
		m.help.ShowAll = false
	case key.Matches(msg, k.Up):
		return m.move(-1)
	case key.Matches(msg, k.Down):
		return m.move(1)
	case key.Matches(msg, k.PageUp):
		return m.move(-m.listHeight())
	case key.Matches(msg, k.PageDown):
		return m.move(m.listHeight())
	case key.Matches(msg, k.Start):
		return m.goTo(position.StartPos)
	case key.Matches(msg, k.End):
		return m.goTo(position.EndPos)
	case key.Matches(msg, k.Detail):
		if m.mode == modeDetails {
			m.mode = modeRecords
		} else {
			m.mode = modeDetails
		}
		m.scrollToCursor()
	case key.Matches(msg, k.DetailUp):
		m.detail.ScrollUp(1)
	case key.Matches(msg, k.DetailDown):
		m.detail.ScrollDown(1)
	case key.Matches(msg, k.Hex):
		m.hex = !m.hex
		if m.mode != modeDetails {
			m.hex, m.mode = true, modeDetails
			m.scrollToCursor()
		}
	case key.Matches(msg, k.Write):
		if r := m.Selected(); r != nil {
			return m.ask(modeWrite, "write to: ", "a capture file (JSON lines)", captureName(r))
		}
	case key.Matches(msg, k.Filter):
		return m.ask(modeFilter, "jq filter: ", `.type | endswith("Withdrawn")`, m.filterText())
	case key.Matches(msg, k.Aggregate):
		return m.toggleAggregate()
	case key.Matches(msg, k.GoTo):
		return m.ask(modeGoTo, "go to: ", "start, end, 1234, -100, @-1h, @2026-11-19T10:00:00Z", "")
	case key.Matches(msg, k.Follow):
		m.follow = !m.follow
		if m.follow {
			m.pending = 0
			return tea.Batch(m.load(loadEnd), m.tick())
		}
	}
	return nil
}

// ask opens the prompt for a filter or a position over the view shown.
func (m *Model) ask(md mode, prompt, placeholder, value string) tea.Cmd {
	m.back, m.mode, m.promptErr = m.mode, md, nil
	m.prompt.Prompt, m.prompt.Placeholder = prompt, placeholder
	m.prompt.SetWidth(max(m.width-len(prompt)-1, 10))
	m.prompt.SetValue(value)
	m.prompt.CursorEnd()
	return m.prompt.Focus()
}

func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		m.closePrompt()
		return nil
	case key.Matches(msg, m.keys.Apply) && m.mode == modeGoTo:
		pos, err := position.Parse(strings.TrimSpace(m.prompt.Value()), m.o.Now())
		if err != nil {
			m.promptErr = err // the prompt stays open to fix it
			return nil
		}
		m.closePrompt()
		return m.goTo(pos)
	case key.Matches(msg, m.keys.Apply) && m.mode == modeWrite:
		path, r := strings.TrimSpace(m.prompt.Value()), m.Selected()
		if path == "" || r == nil {
			m.promptErr = errors.New("type the name of the file to write")
			return nil
		}
		m.closePrompt()
		return writeCapture(path, []*record.Record{r})
	case key.Matches(msg, m.keys.Apply):
		if err := m.setFilter(m.prompt.Value()); err != nil {
			m.promptErr = err
			return nil
		}
		m.closePrompt()
		return m.showFiltered()
	}
	var cmd tea.Cmd
	m.prompt, cmd = m.prompt.Update(msg)
	return cmd
}

func (m *Model) closePrompt() {
	m.mode, m.promptErr = m.back, nil
	m.prompt.Blur()
}

// toggleAggregate filters on the selected record's key, an aggregate's
// events in event sourcing; with a filter on already, it clears it.
func (m *Model) toggleAggregate() tea.Cmd {
	r := m.Selected()
	if m.flt != nil || r == nil {
		return m.applyFilter("")
	}
	key := string(r.Key)
	if len(r.Key) == 0 || r.KeyEncoding == record.EncodingNull {
		key = "null"
	}
	return m.applyFilter(".key == " + key)
}

// applyFilter sets the filter and shows what it keeps, loading older
// records until the screen is full of matches.
func (m *Model) applyFilter(expr string) tea.Cmd {
	if err := m.setFilter(expr); err != nil {
		m.err = err
		return nil
	}
	return m.showFiltered()
}

// showFiltered shows what the filter set keeps, loading older records
// until the screen is full of matches.
func (m *Model) showFiltered() tea.Cmd {
	m.err = nil
	m.refilter(nil)
	if m.loading {
		return nil
	}
	m.autoLoads = 0
	return m.continueFilter(loadOlder, len(m.visible))
}

// goTo loads the records from a position on; the end is the latest
// records.
func (m *Model) goTo(pos position.Position) tea.Cmd {
	m.pending = 0
	if pos.Kind == position.End {
		return m.load(loadEnd)
	}
	m.follow = false
	m.jump = pos
	return m.load(loadAt)
}

func (m *Model) filterText() string {
	if m.flt == nil {
		return ""
	}
	return m.flt.String()
}

func (m *Model) setFilter(expr string) error {
	if expr == "" {
		m.flt = nil
		return nil
	}
	f, err := filter.Compile(expr)
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	m.flt = f
	return nil
}

// keep reports whether the filter shows r; a filter failing on a record
// hides it and is counted.
func (m *Model) keep(r *record.Record) bool {
	if m.flt == nil {
		return true
	}
	ok, err := m.flt.Match(m.o.Context, r)
	if err != nil {
		m.filterErrs++
		return false
	}
	return ok
}

// refilter recomputes visible, keeping the cursor on the record it was
// on (or the nearest kept before it); at is that record's index in recs,
// nil for the current one.
func (m *Model) refilter(at *int) {
	cur := -1
	if at != nil {
		cur = *at
	} else if m.cursor < len(m.visible) {
		cur = m.visible[m.cursor]
	}
	m.visible = m.visible[:0]
	m.filterErrs = 0
	m.cursor = 0
	for i, r := range m.recs {
		if m.keep(r) {
			if i <= cur {
				m.cursor = len(m.visible)
			}
			m.visible = append(m.visible, i)
		}
	}
	m.scrollToCursor()
}

// move moves the cursor by delta rows, loading the next page when it
// runs past what is loaded.
func (m *Model) move(delta int) tea.Cmd {
	target := m.cursor + delta
	switch {
	case target < 0 && !m.atStart():
		m.cursor = 0
		m.follow = false
		return m.page(loadOlder, target)
	case target >= len(m.visible) && !m.atEnd():
		m.cursor = max(len(m.visible)-1, 0)
		return m.page(loadNewer, target-m.cursor)
	}
	if delta < 0 {
		m.follow = false
	}
	m.cursor = max(min(target, len(m.visible)-1), 0)
	m.scrollToCursor()
	return nil
}

// page loads the next page in a direction unless a load is in flight;
// the rest of the move waits for it.
func (m *Model) page(kind loadKind, rest int) tea.Cmd {
	if m.loading {
		return nil
	}
	m.pending = rest
	m.autoLoads = 0
	return m.load(kind)
}

func (m *Model) atStart() bool {
	for _, b := range m.bounds {
		if first, ok := m.win.first[b.Partition]; !ok || first > b.Low {
			return false
		}
	}
	return true
}

func (m *Model) atEnd() bool {
	for _, b := range m.bounds {
		if next, ok := m.win.next[b.Partition]; !ok || next < b.End {
			return false
		}
	}
	return true
}

// applyPage merges a loaded page into the window.
func (m *Model) applyPage(msg pageMsg) tea.Cmd {
	m.loading = false
	if msg.err != nil {
		m.err = msg.err
		if m.bounds == nil {
			return tea.Quit // nothing to show: the command reports it
		}
		return nil
	}
	m.err = nil
	m.bounds = make(map[Partition]Bounds, len(msg.bounds))
	for _, b := range msg.bounds {
		m.bounds[b.Partition] = b
	}
	n := m.o.PageSize
	switch msg.kind {
	case loadEnd, loadAt:
		var page []*record.Record
		m.win = window{first: map[Partition]int64{}, next: map[Partition]int64{}}
		if msg.kind == loadEnd {
			page = takeLatest(msg.runs, n)
			for _, b := range msg.bounds {
				m.win.first[b.Partition], m.win.next[b.Partition] = b.End, b.End
			}
		} else {
			page = takeEarliest(msg.runs, n)
			for _, b := range msg.bounds {
				m.win.first[b.Partition], m.win.next[b.Partition] = msg.starts[b.Partition], msg.starts[b.Partition]
			}
		}
		m.recs = page
		m.cover(msg, page)
		last := len(page) - 1
		if msg.kind == loadAt {
			last = 0
		}
		m.top = 0
		m.refilter(&last)
		if msg.kind == loadAt {
			m.cursor = 0
		}
		return m.continueFilter(msg.kind, len(m.visible))
	case loadOlder:
		page := takeLatest(msg.runs, n)
		m.cover(msg, page)
		cur := len(page)
		if m.cursor < len(m.visible) {
			cur += m.visible[m.cursor]
		}
		m.recs = append(page, m.recs...)
		before := len(m.visible)
		m.refilter(&cur)
		added := len(m.visible) - before
		m.trim(false)
		if added > 0 {
			m.cursor = max(min(m.cursor+m.pending, len(m.visible)-1), 0)
			m.pending = 0
		}
		m.scrollToCursor()
		return m.continueFilter(loadOlder, added)
	case loadNewer:
		page := takeEarliest(msg.runs, n)
		m.cover(msg, page)
		atBottom := m.cursor >= len(m.visible)-1
		before := len(m.visible)
		for _, r := range page {
			m.recs = append(m.recs, r)
			if m.keep(r) {
				m.visible = append(m.visible, len(m.recs)-1)
			}
		}
		added := len(m.visible) - before
		switch {
		case m.follow && atBottom:
			m.cursor = len(m.visible) - 1
		case m.pending > 0 && added > 0:
			m.cursor = min(m.cursor+m.pending, len(m.visible)-1)
			m.pending = 0
		}
		m.trim(true)
		m.scrollToCursor()
		if m.follow {
			return nil
		}
		return m.continueFilter(loadNewer, added)
	}
	return nil
}

// continueFilter loads on in the same direction while the screen is not
// full, or a filter hid everything the last load brought, up to
// maxAutoLoads pages in a row.
func (m *Model) continueFilter(kind loadKind, added int) tea.Cmd {
	short := len(m.visible) < m.listHeight()
	hidden := m.flt != nil && added == 0
	if (!short && !hidden) || m.autoLoads >= maxAutoLoads {
		m.autoLoads = 0
		return nil
	}
	m.autoLoads++
	switch {
	case (kind == loadEnd || kind == loadOlder) && !m.atStart():
		return m.load(loadOlder)
	case (kind == loadAt || kind == loadNewer) && !m.atEnd():
		return m.load(loadNewer)
	}
	m.autoLoads = 0
	return nil
}

// cover moves the window's edges over a loaded page: to the records it
// kept, and past the whole range of a partition whose records were all
// kept, since a range can end in offsets that hold no record (transaction
// markers, compacted keys).
func (m *Model) cover(msg pageMsg, page []*record.Record) {
	taken := map[Partition]int{}
	for _, r := range page {
		p := partitionOf(r)
		taken[p]++
		if first, ok := m.win.first[p]; !ok || r.Offset < first {
			m.win.first[p] = r.Offset
		}
		if next, ok := m.win.next[p]; !ok || r.Offset+1 > next {
			m.win.next[p] = r.Offset + 1
		}
	}
	for _, rg := range msg.ranges {
		p := rg.Partition
		if taken[p] < len(msg.runs[p]) {
			continue
		}
		if msg.kind == loadEnd || msg.kind == loadOlder {
			m.win.first[p] = min(m.win.first[p], rg.From)
		} else {
			m.win.next[p] = max(m.win.next[p], rg.To)
		}
	}
}

// trim drops records beyond MaxRecords from the end away from where the
// user went (the front after a newer page), moving that edge of the
// window so the dropped records load again when the user comes back.
func (m *Model) trim(front bool) {
	drop := len(m.recs) - m.o.MaxRecords
	if drop <= 0 {
		return
	}
	if front {
		gone := m.recs[:drop]
		m.recs = append([]*record.Record(nil), m.recs[drop:]...)
		m.win.first = edges(gone, m.recs, m.win.first, true)
	} else {
		gone := m.recs[len(m.recs)-drop:]
		m.recs = append([]*record.Record(nil), m.recs[:len(m.recs)-drop]...)
		m.win.next = edges(gone, m.recs, m.win.next, false)
	}
	cur := -1
	if m.cursor < len(m.visible) {
		cur = m.visible[m.cursor]
		if front {
			cur -= drop
		}
	}
	m.refilter(&cur)
}

// edges recomputes one edge of the window after dropping records: a
// partition's first (or next) is its first kept record's offset (or the
// one after its last), or just past what was dropped when nothing of it
// is kept.
func edges(gone, kept []*record.Record, old map[Partition]int64, first bool) map[Partition]int64 {
	out := maps.Clone(old)
	for _, r := range gone {
		p := partitionOf(r)
		if first {
			out[p] = max(out[p], r.Offset+1)
		} else if v, ok := out[p]; !ok || r.Offset < v {
			out[p] = r.Offset
		}
	}
	// A partition that lost records and kept some starts (or ends) at the
	// first (last) record kept.
	touched := map[Partition]bool{}
	for _, r := range gone {
		touched[partitionOf(r)] = true
	}
	if first {
		for _, r := range kept {
			if p := partitionOf(r); touched[p] {
				touched[p] = false
				out[p] = r.Offset
			}
		}
	} else {
		for i := len(kept) - 1; i >= 0; i-- {
			if p := partitionOf(kept[i]); touched[p] {
				touched[p] = false
				out[p] = kept[i].Offset + 1
			}
		}
	}
	return out
}

// scrollToCursor keeps the cursor's row on screen.
func (m *Model) scrollToCursor() {
	h := m.listHeight()
	switch {
	case m.cursor < m.top:
		m.top = m.cursor
	case m.cursor >= m.top+h:
		m.top = m.cursor - h + 1
	}
	m.top = max(min(m.top, len(m.visible)-h), 0)
}

// Selected is the record under the cursor, nil when none is shown.
func (m *Model) Selected() *record.Record {
	if m.cursor < len(m.visible) {
		return m.recs[m.visible[m.cursor]]
	}
	return nil
}
