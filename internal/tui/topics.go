package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/position"
)

// topicsView is the topic list: every topic of the catalog, those whose
// name holds the find text shown.
type topicsView struct {
	all     []Topic // nil until listed
	shown   []int   // indexes into all
	find    string
	cursor  int
	top     int
	loading bool
	seq     int
	opening string // the topic being opened
}

// topicsMsg answers a listing.
type topicsMsg struct {
	seq    int
	topics []Topic
	err    error
}

// openedMsg answers the opening of a topic.
type openedMsg struct {
	name string
	src  Source
	err  error
}

func (m *Model) loadTopics() tea.Cmd {
	t := &m.topics
	t.loading = true
	t.seq++
	seq, cat, ctx := t.seq, m.o.Catalog, m.o.Context
	return func() tea.Msg {
		topics, err := cat.Topics(ctx)
		return topicsMsg{seq: seq, topics: topics, err: err}
	}
}

func (m *Model) applyTopics(msg topicsMsg) tea.Cmd {
	t := &m.topics
	if msg.seq != t.seq {
		return nil
	}
	t.loading = false
	if msg.err != nil {
		m.err = msg.err
		if t.all == nil && m.pager == nil {
			return tea.Quit // nothing to show: the command reports it
		}
		return nil
	}
	m.err = nil
	selected := t.selectedName()
	t.all = msg.topics
	if t.all == nil {
		t.all = []Topic{}
	}
	if selected == "" {
		selected = m.title // back from a topic: the cursor on it
	}
	t.setFilter(t.find)
	for i, n := range t.shown {
		if t.all[n].Name == selected {
			t.cursor = i
		}
	}
	t.scroll(m.listHeight())
	return nil
}

// setFilter shows the topics whose name holds find, case aside.
func (t *topicsView) setFilter(find string) {
	selected := t.selectedName()
	t.find = find
	t.shown = t.shown[:0]
	t.cursor = 0
	lf := strings.ToLower(find)
	for i, tp := range t.all {
		if strings.Contains(strings.ToLower(tp.Name), lf) {
			if tp.Name == selected {
				t.cursor = len(t.shown)
			}
			t.shown = append(t.shown, i)
		}
	}
}

func (t *topicsView) selectedName() string {
	if t.cursor < len(t.shown) {
		return t.all[t.shown[t.cursor]].Name
	}
	return ""
}

func (t *topicsView) move(d, height int) {
	t.cursor = max(min(t.cursor+d, len(t.shown)-1), 0)
	t.scroll(height)
}

func (t *topicsView) scroll(h int) { t.top = scrolled(t.cursor, t.top, h, len(t.shown)) }

func (m *Model) topicsKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t, h := m.keys, &m.topics, m.listHeight()
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Close) && t.find != "":
		t.setFilter("")
		t.scroll(h)
	case key.Matches(msg, k.Close):
		m.help.ShowAll = false
	case key.Matches(msg, k.Up):
		t.move(-1, h)
	case key.Matches(msg, k.Down):
		t.move(1, h)
	case key.Matches(msg, k.PageUp):
		t.move(-h, h)
	case key.Matches(msg, k.PageDown):
		t.move(h, h)
	case key.Matches(msg, k.Start):
		t.move(-len(t.shown), h)
	case key.Matches(msg, k.End):
		t.move(len(t.shown), h)
	case key.Matches(msg, k.Filter):
		return m.ask(modeFind, "find: ", "part of a topic's name", t.find)
	case key.Matches(msg, k.Open):
		return m.openTopic()
	}
	return nil
}

// openTopic opens the selected topic: the catalog gives its source.
func (m *Model) openTopic() tea.Cmd {
	t := &m.topics
	name := t.selectedName()
	if name == "" {
		return nil
	}
	t.opening = name
	cat, ctx := m.o.Catalog, m.o.Context
	return func() tea.Msg {
		src, err := cat.Open(ctx, name)
		return openedMsg{name: name, src: src, err: err}
	}
}

func (m *Model) applyOpened(msg openedMsg) tea.Cmd {
	if msg.name != m.topics.opening || m.mode != modeTopics {
		return nil // the user went on meanwhile
	}
	m.topics.opening = ""
	if msg.err != nil {
		m.err = msg.err
		return nil
	}
	m.err = nil
	if m.pager != nil && m.title == msg.name && m.pager.bounds != nil {
		m.mode = modeRecords // back to where the user was
		return nil
	}
	m.openSource(msg.src, msg.name)
	m.mode = modeRecords
	m.help.ShowAll = false
	cmds := []tea.Cmd{m.pager.load(loadEnd, position.Position{})}
	if m.list.follow {
		cmds = append(cmds, m.tick())
	}
	return tea.Batch(cmds...)
}

func (m *Model) topicsTitle() string {
	t := &m.topics
	left := m.styles.Title.Render("topics")
	switch {
	case t.all == nil:
	case t.find != "":
		left += fmt.Sprintf(" · %d of %d matching %q", len(t.shown), len(t.all), t.find)
	default:
		left += " · " + english.Plural(len(t.all), "topic")
	}
	right := ""
	if len(t.shown) > 0 {
		right = fmt.Sprintf("%d/%d", t.cursor+1, len(t.shown))
	}
	return pad(left, right, m.width)
}

// topicColumns are the widths of the topic list's columns: name, then the
// numbers, then the subjects, which go first when the width is short.
type topicColumns struct{ name, parts, recs, cleanup, key, value int }

func (m *Model) topicColumns() topicColumns {
	c := topicColumns{name: len("TOPIC"), parts: len("PARTITIONS"), recs: len("RECORDS"), cleanup: len("CLEANUP"), key: len("KEY SUBJECT"), value: len("VALUE SUBJECT")}
	for _, i := range m.topics.shown {
		tp := m.topics.all[i]
		c.name = max(c.name, ansi.StringWidth(tp.Name))
		c.recs = max(c.recs, len(strconv.FormatInt(tp.Records, 10)))
		c.cleanup = max(c.cleanup, len(orDash(tp.CleanupPolicy)))
		c.key = max(c.key, ansi.StringWidth(orDash(tp.KeySubject)))
		c.value = max(c.value, ansi.StringWidth(orDash(tp.ValueSubject)))
	}
	// Short of room, the key subject goes first; the value subject then
	// shrinks, down to a few characters, before it goes too.
	left := m.width - (1 + c.name + 2 + c.parts + 2 + c.recs + 2 + c.cleanup)
	if left >= 2+c.key+2+c.value {
		return c
	}
	c.key = 0
	if c.value = min(c.value, left-2); c.value < minSubjectWidth {
		c.value = 0
	}
	return c
}

// minSubjectWidth is the narrowest a shrunk subject column gets.
const minSubjectWidth = 8

func (m *Model) topicRow(c topicColumns, name, parts, recs, cleanup, keySub, valueSub string) string {
	cells := []string{padRight(name, c.name), fmt.Sprintf("%*s", c.parts, parts), fmt.Sprintf("%*s", c.recs, recs), padRight(cleanup, c.cleanup)}
	if c.key > 0 {
		cells = append(cells, padRight(keySub, c.key))
	}
	if c.value > 0 {
		cells = append(cells, ansi.Truncate(valueSub, c.value, "…"))
	}
	return " " + strings.Join(cells, "  ")
}

func (m *Model) topicLines() []string {
	t, h := &m.topics, m.listHeight()
	c := m.topicColumns()
	out := []string{m.styles.Faint.Render(m.topicRow(c, "TOPIC", "PARTITIONS", "RECORDS", "CLEANUP", "KEY SUBJECT", "VALUE SUBJECT"))}
	switch {
	case t.all == nil:
		out = append(out, m.styles.Faint.Render("listing topics…"))
	case len(t.shown) == 0 && t.find != "":
		out = append(out, m.styles.Faint.Render(fmt.Sprintf("no topic name holds %q", t.find)))
	case len(t.shown) == 0:
		out = append(out, m.styles.Faint.Render("no topics"))
	}
	top := max(min(t.top, t.cursor), t.cursor-h+1, 0)
	for i := top; i < len(t.shown) && len(out) < h+1; i++ {
		tp := t.all[t.shown[i]]
		line := m.topicRow(c, tp.Name, strconv.Itoa(tp.Partitions), strconv.FormatInt(tp.Records, 10), orDash(tp.CleanupPolicy), orDash(tp.KeySubject), orDash(tp.ValueSubject))
		if i == t.cursor {
			line = m.styles.Selected.Render(padRight(ansi.Truncate(line, m.width, "…"), m.width))
		}
		out = append(out, line)
	}
	for len(out) < h+1 {
		out = append(out, "")
	}
	return out
}

func (m *Model) topicsStatus() []string {
	switch {
	case m.topics.opening != "":
		return []string{"opening " + m.topics.opening + "…"}
	case m.topics.loading && m.topics.all != nil:
		return []string{"listing topics…"}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
