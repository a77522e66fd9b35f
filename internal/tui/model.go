// Package tui is evctl's interactive explorer: a topic list, a record
// list over a Source loaded a page at a time (so a topic of any size opens
// at once at its end and scrolls both ways), a record's details, and an
// aggregate's timeline.
//
// The Model is a state machine fed by messages: a mode says which view
// has the keys, the pager holds what is loaded, each view keeps its own
// state, and every load runs as a command, never in Update.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
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
	// Source is the topic browsed; nil opens the topic list of Catalog.
	Source Source
	// Catalog lists the topics to open; nil: no topic list.
	Catalog Catalog
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
	// Columns are jq expressions, comma-separated (.value.amount,
	// .value.reason), whose values the list shows instead of the value.
	Columns string
	// PageSize is how many records a load adds (default 200); MaxRecords
	// how many the browser holds before it drops the far end (default
	// 5000); ScanPageSize how many of each partition a load reads while a
	// filter looks for matches (default 2000).
	PageSize, MaxRecords, ScanPageSize int
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

	// mode is what the keys act on; back is the view a prompt returns to.
	mode, back mode
	help       help.Model // ShowAll: ? lists every key
	prompt     textinput.Model
	promptErr  error  // why the prompt's text was not applied; shown under it
	note       string // what the last key did (a file written), until the next
	err        error

	topics   topicsView
	title    string // the topic browsed
	pager    *pager // nil on the topic list before a topic is opened
	list     recordsView
	details  detailsView
	timeline timelineView
}

// mode is the browser's state machine: a view, or a prompt over one.
type mode int

const (
	modeRecords    mode = iota // the record list
	modeDetails                // the list, and the selected record's details below it
	modeTopics                 // the topic list
	modeTimeline               // one aggregate's events, and its state
	modeFilter                 // the jq filter prompt
	modeGoTo                   // the go-to-a-position prompt
	modeWrite                  // the prompt for the file to write records to
	modeFind                   // the topic list's filter, applied as it is typed
	modePartitions             // the prompt for the partitions to show
	modeColumns                // the prompt for the list's columns
)

// prompting reports whether a prompt has the keys.
func (m *Model) prompting() bool { return m.mode >= modeFilter }

// view is the view on screen: under a prompt, the one it was opened from.
func (m *Model) view() mode {
	if m.prompting() {
		return m.back
	}
	return m.mode
}

type followTick struct{}

// maxAutoLoads bounds the loads in a row that fill a short screen without
// a filter (with one, the scan goes on until the user stops it).
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
	if o.ScanPageSize <= 0 {
		o.ScanPageSize = 2000
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
	m := &Model{o: o, keys: o.Keys, styles: styles, prompt: p, help: h, width: 80, height: 24,
		details: newDetailsView(), timeline: newTimelineView()}
	m.list.follow = o.Follow
	if o.Filter != "" {
		f, err := compileFilter(o.Filter)
		m.list.flt, m.err = f, err
	}
	if cols, err := ParseColumns(o.Columns); err != nil {
		m.err = err
	} else {
		m.list.cols.exprs = cols
	}
	if o.Source == nil {
		m.mode = modeTopics
		return m
	}
	m.openSource(o.Source, o.Title)
	return m
}

// openSource makes src the topic browsed.
func (m *Model) openSource(src Source, title string) {
	if m.pager != nil {
		m.pager.stop()
	}
	m.pager = &pager{src: src, ctx: m.o.Context, per: m.o.PageSize, scanPer: m.o.ScanPageSize, max: m.o.MaxRecords,
		win: window{first: map[Partition]int64{}, next: map[Partition]int64{}}}
	if m.list.flt != nil {
		m.pager.keep = m.keep
	}
	m.title = title
	m.list = recordsView{flt: m.list.flt, cols: m.list.cols, follow: m.list.follow}
	m.details.shown.r = nil
}

// Init loads the first page, or the topic list.
func (m *Model) Init() tea.Cmd {
	if m.pager == nil {
		return m.loadTopics()
	}
	kind, jump := loadEnd, position.Position{}
	if !m.o.From.IsZero() && m.o.From.Kind != position.End && !m.list.follow {
		kind, jump = loadAt, m.o.From
	}
	cmds := []tea.Cmd{m.pager.load(kind, jump)}
	if m.list.follow {
		cmds = append(cmds, m.tick())
	}
	return tea.Batch(cmds...)
}

// Err is the error that ended the browser, if any: the first load failing
// ends it, as a broker that cannot be reached ends any other command.
func (m *Model) Err() error {
	if m.pager == nil && m.topics.all == nil || m.pager != nil && m.pager.bounds == nil && len(m.pager.recs) == 0 {
		return m.err
	}
	return nil
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.o.FollowEvery, func(time.Time) tea.Msg { return followTick{} })
}

// Update answers one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if key, split := m.escThen(k); split {
			_, esc := m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
			_, then := m.Update(key)
			return m, tea.Batch(esc, then)
		}
	}
	cmd := m.update(msg)
	m.syncDetail()
	m.syncTimeline()
	return m, cmd
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
		if m.pager == nil || !m.pager.current(msg) {
			return nil // an answer to a load since replaced
		}
		return m.applyPage(msg)
	case topicsMsg:
		return m.applyTopics(msg)
	case openedMsg:
		return m.applyOpened(msg)
	case aggregateMsg:
		return m.applyAggregate(msg)
	case followTick:
		if !m.list.follow || m.pager == nil {
			return nil
		}
		if m.pager.loading {
			return m.tick()
		}
		return tea.Batch(m.pager.load(loadNewer, position.Position{}), m.tick())
	case writtenMsg:
		if msg.err != nil { // open the prompt again, to fix the name
			cmd := m.ask(modeWrite, "write to: ", "", msg.path)
			m.promptErr = msg.err
			return cmd
		}
		m.note = fmt.Sprintf("wrote %s to %s", english.Plural(msg.n, "record"), msg.path)
		return nil
	case tea.MouseWheelMsg:
		return m.wheel(msg)
	case tea.KeyPressMsg:
		m.note = ""
		if key.Matches(msg, m.keys.Interrupt) {
			return tea.Interrupt // exit status 130, as Ctrl-C ends every command
		}
		switch {
		case m.prompting():
			return m.promptKey(msg)
		case m.mode == modeTopics:
			return m.topicsKey(msg)
		case m.mode == modeTimeline:
			return m.timelineKey(msg)
		}
		return m.key(msg)
	}
	return nil
}

// wheel scrolls what is under the pointer: the details or the list.
func (m *Model) wheel(msg tea.MouseWheelMsg) tea.Cmd {
	if m.prompting() {
		return nil
	}
	d := 0
	switch msg.Button {
	case tea.MouseWheelUp:
		d = -1
	case tea.MouseWheelDown:
		d = 1
	default:
		return nil
	}
	switch m.mode {
	case modeTopics:
		m.topics.move(d, m.listHeight())
	case modeTimeline:
		m.timeline.move(d)
	case modeDetails:
		if msg.Y > m.listHeight() { // below the list: the details pane
			if d < 0 {
				m.details.vp.ScrollUp(3)
			} else {
				m.details.vp.ScrollDown(3)
			}
			return nil
		}
		return m.move(d)
	default:
		return m.move(d)
	}
	return nil
}

// key answers a key in the record list and the details.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Close) && m.scanning():
		m.stopScan()
	case key.Matches(msg, k.Close) && m.mode == modeDetails:
		m.mode = modeRecords
		m.scrollToCursor()
	case key.Matches(msg, k.Close):
		m.help.ShowAll = false
	case key.Matches(msg, k.Topics) && m.o.Catalog != nil:
		m.pager.stop()
		m.mode = modeTopics
		return m.loadTopics()
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
		m.details.vp.ScrollUp(1)
	case key.Matches(msg, k.DetailDown):
		m.details.vp.ScrollDown(1)
	case key.Matches(msg, k.Hex):
		m.details.hex = !m.details.hex
		if m.mode != modeDetails {
			m.details.hex, m.mode = true, modeDetails
			m.scrollToCursor()
		}
	case key.Matches(msg, k.Write):
		return m.askWrite()
	case key.Matches(msg, k.Filter):
		return m.ask(modeFilter, "jq filter: ", `.type | endswith("Withdrawn")`, m.filterText())
	case key.Matches(msg, k.Aggregate):
		return m.openTimeline()
	case key.Matches(msg, k.GoTo):
		return m.ask(modeGoTo, "go to: ", "start, end, 1234, -100, @-1h, @2026-11-19T10:00:00Z", "")
	case key.Matches(msg, k.Columns):
		return m.ask(modeColumns, "columns: ", ".value.amount, .value.reason (empty: the value)", m.list.cols.String())
	case key.Matches(msg, k.Partitions):
		return m.ask(modePartitions, "partitions: ", "1,3 (empty: all)", m.pager.onlyText())
	case key.Matches(msg, k.Follow):
		m.list.follow = !m.list.follow
		if m.list.follow {
			m.list.pending = 0
			return tea.Batch(m.pager.load(loadEnd, position.Position{}), m.tick())
		}
	}
	return nil
}

// askWrite opens the prompt for the file to write to: with a filter on,
// everything it found; else the selected record.
func (m *Model) askWrite() tea.Cmd {
	recs := m.writable()
	if len(recs) == 0 {
		return nil
	}
	return m.ask(modeWrite, "write to: ", "a capture file (JSON lines)", m.captureName(recs))
}

// writable is what w writes: the timeline's events, a filter's matches,
// or the selected record.
func (m *Model) writable() []*record.Record {
	switch {
	case m.view() == modeTimeline:
		if a := m.timeline.agg; a != nil {
			return a.Events
		}
		return nil
	case m.list.flt != nil:
		return m.pager.recs
	}
	if r := m.Selected(); r != nil {
		return []*record.Record{r}
	}
	return nil
}

func (m *Model) captureName(recs []*record.Record) string {
	switch {
	case m.view() == modeTimeline:
		return fileName(m.timeline.agg.ID) + ".jsonl"
	case m.list.flt != nil:
		return fileName(m.title) + "-filtered.jsonl"
	}
	r := recs[0]
	return fmt.Sprintf("%s-%d-%d.jsonl", r.Topic, r.Partition, r.Offset)
}

// ask opens a prompt over the view shown.
func (m *Model) ask(md mode, prompt, placeholder, value string) tea.Cmd {
	m.back, m.mode, m.promptErr = m.view(), md, nil
	m.prompt.Prompt, m.prompt.Placeholder = prompt, placeholder
	m.prompt.SetWidth(max(m.width-len(prompt)-1, 10))
	m.prompt.SetValue(value)
	m.prompt.CursorEnd()
	return m.prompt.Focus()
}

func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		if m.mode == modeFind {
			m.topics.setFilter("")
		}
		m.closePrompt()
		return nil
	case key.Matches(msg, m.keys.Apply) && m.mode == modeFind:
		m.closePrompt()
		return m.openTopic()
	case key.Matches(msg, m.keys.Apply) && m.mode == modeGoTo && m.back == modeTimeline:
		if err := m.timeline.goTo(strings.TrimSpace(m.prompt.Value()), m.o.Now()); err != nil {
			m.promptErr = err
			return nil
		}
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
	case key.Matches(msg, m.keys.Apply) && m.mode == modeColumns:
		cols, err := ParseColumns(m.prompt.Value())
		if err != nil {
			m.promptErr = err
			return nil
		}
		m.closePrompt()
		m.list.cols.exprs = cols
		return nil
	case key.Matches(msg, m.keys.Apply) && m.mode == modePartitions:
		only, err := m.pager.parseOnly(m.prompt.Value())
		if err != nil {
			m.promptErr = err
			return nil
		}
		m.closePrompt()
		return m.setPartitions(only)
	case key.Matches(msg, m.keys.Apply) && m.mode == modeWrite:
		path, recs := strings.TrimSpace(m.prompt.Value()), m.writable()
		if path == "" || len(recs) == 0 {
			m.promptErr = errors.New("type the name of the file to write")
			return nil
		}
		m.closePrompt()
		return writeCapture(path, recs)
	case key.Matches(msg, m.keys.Apply):
		f, err := compileFilter(m.prompt.Value())
		if err != nil {
			m.promptErr = err
			return nil
		}
		m.closePrompt()
		return m.setFilter(f)
	}
	var cmd tea.Cmd
	m.prompt, cmd = m.prompt.Update(msg)
	if m.mode == modeFind {
		m.topics.setFilter(m.prompt.Value())
	}
	return cmd
}

func (m *Model) closePrompt() {
	m.mode, m.promptErr = m.back, nil
	m.prompt.Blur()
}

func compileFilter(expr string) (*filter.Filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	f, err := filter.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return f, nil
}

func (m *Model) filterText() string {
	if m.list.flt == nil {
		return ""
	}
	return m.list.flt.String()
}

// fileName is s made safe as a file name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == ':' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}
