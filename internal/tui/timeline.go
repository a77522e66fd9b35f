package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/evctl/evctl/internal/diff"
	"github.com/evctl/evctl/internal/english"
	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

// timelineView is one aggregate's history: its events, one per version,
// and beside them the state after the selected one (folding a
// projection) or the event's value, the fields it changed marked.
type timelineView struct {
	agg     *Aggregate
	of      *record.Record // the record it was opened on
	cursor  int
	top     int
	loading bool
	seq     int
	cancel  context.CancelFunc
	pane    viewport.Model
	shown   int // the event the pane holds; -1: none
	changed []diff.Field
}

// aggregateMsg answers the loading of an aggregate's history.
type aggregateMsg struct {
	seq int
	agg *Aggregate
	err error
}

func newTimelineView() timelineView {
	vp := viewport.New()
	vp.SoftWrap = true
	return timelineView{pane: vp, shown: -1}
}

// openTimeline loads the selected record's aggregate.
func (m *Model) openTimeline() tea.Cmd {
	r := m.Selected()
	if r == nil {
		return nil
	}
	t := &m.timeline
	t.stop()
	t.agg, t.of, t.loading, t.shown, t.changed = nil, r, true, -1, nil
	t.seq++
	m.mode, m.help.ShowAll = modeTimeline, false
	ctx, cancel := context.WithCancel(m.o.Context)
	t.cancel = cancel
	seq, src := t.seq, m.pager.src
	return func() tea.Msg {
		defer cancel()
		agg, err := src.Aggregate(ctx, r)
		return aggregateMsg{seq: seq, agg: agg, err: err}
	}
}

func (t *timelineView) stop() {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
	t.loading = false
	t.seq++
}

func (m *Model) applyAggregate(msg aggregateMsg) tea.Cmd {
	t := &m.timeline
	if msg.seq != t.seq || !t.loading {
		return nil
	}
	t.loading, t.cancel = false, nil
	if msg.err != nil {
		m.err = msg.err
		m.mode = modeRecords
		return nil
	}
	m.err = nil
	t.agg = msg.agg
	t.cursor = max(len(t.agg.Events)-1, 0)
	for i, e := range t.agg.Events {
		if e.Topic == t.of.Topic && e.Partition == t.of.Partition && e.Offset == t.of.Offset {
			t.cursor = i
		}
	}
	t.scroll(m.listHeight())
	return nil
}

func (m *Model) timelineKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t, h := m.keys, &m.timeline, m.listHeight()
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Close) && m.help.ShowAll:
		m.help.ShowAll = false
	case key.Matches(msg, k.Close):
		t.stop()
		m.mode = modeRecords
		m.scrollToCursor()
	case t.agg == nil: // loading: only leaving works
	case key.Matches(msg, k.Prev):
		t.move(-1)
	case key.Matches(msg, k.Next):
		t.move(1)
	case key.Matches(msg, k.PageUp):
		t.move(-h)
	case key.Matches(msg, k.PageDown):
		t.move(h)
	case key.Matches(msg, k.Start):
		t.move(-len(t.agg.Events))
	case key.Matches(msg, k.End):
		t.move(len(t.agg.Events))
	case key.Matches(msg, k.DetailUp):
		t.pane.ScrollUp(1)
	case key.Matches(msg, k.DetailDown):
		t.pane.ScrollDown(1)
	case key.Matches(msg, k.GoTo):
		return m.ask(modeGoTo, "go to version or @TIME: ", "3, @2026-11-19T10:00:00Z, @-1d", "")
	case key.Matches(msg, k.Write):
		return m.askWrite()
	}
	t.scroll(h)
	return nil
}

func (t *timelineView) move(d int) {
	if t.agg == nil {
		return
	}
	t.cursor = max(min(t.cursor+d, len(t.agg.Events)-1), 0)
}

func (t *timelineView) scroll(h int) {
	if t.agg != nil {
		t.top = scrolled(t.cursor, t.top, h, len(t.agg.Events))
	}
}

// goTo selects the event with a version (a number), or the last event at
// or before a time (@TIME, as the go-to prompt takes it).
func (t *timelineView) goTo(s string, now time.Time) error {
	evs := t.agg.Events
	if strings.HasPrefix(s, "@") {
		p, err := position.Parse(s, now)
		if err != nil || p.Kind != position.Time {
			return fmt.Errorf("invalid time %q: want @TIME, like @2026-11-19T10:00:00Z or @-1d", s)
		}
		i := slices.IndexFunc(evs, func(r *record.Record) bool { return r.Timestamp.After(p.Time) })
		switch i {
		case 0:
			return fmt.Errorf("%s's first event is at %s, after %s", t.agg.ID, evs[0].Timestamp, p.Time.UTC().Format(time.RFC3339))
		case -1:
			i = len(evs)
		}
		t.cursor = i - 1
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid version %q: want a version number, or @TIME", s)
	}
	if i := slices.Index(t.agg.Versions, v); i >= 0 {
		t.cursor = i
		return nil
	}
	return fmt.Errorf("%s has no version %d (it has %s)", t.agg.ID, v, versionsText(t.agg.Versions))
}

func versionsText(vs []int64) string {
	lo, hi := int64(-1), int64(-1)
	for _, v := range vs {
		if v < 0 {
			continue
		}
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if lo < 0 {
		return "no versions"
	}
	return fmt.Sprintf("versions %d to %d", lo, hi)
}

// version is event i's version as shown.
func (t *timelineView) version(i int) string {
	if i < len(t.agg.Versions) && t.agg.Versions[i] >= 0 {
		return "v" + strconv.FormatInt(t.agg.Versions[i], 10)
	}
	return "v?"
}

// syncTimeline puts the selected event's state (or value) in the pane.
func (m *Model) syncTimeline() {
	t := &m.timeline
	if m.view() != modeTimeline || t.agg == nil {
		return
	}
	_, pw := m.timelineWidths()
	t.pane.SetWidth(pw)
	t.pane.SetHeight(max(m.listHeight()-len(m.paneHead()), 1)) // under the pane's head
	if t.shown == t.cursor || len(t.agg.Events) == 0 {
		return
	}
	t.shown = t.cursor
	t.changed = nil
	var lines []string
	if t.agg.States != nil {
		prev := json.RawMessage("null")
		if t.cursor > 0 {
			prev = t.agg.States[t.cursor-1]
		}
		cur := t.agg.States[t.cursor]
		t.changed, _ = diff.FieldDiff(prev, cur, nil)
		lines = m.stateLines(cur, t.changed)
	} else {
		r := t.agg.Events[t.cursor]
		for _, l := range indentJSON(r.Value, r.ValueEncoding) {
			lines = append(lines, m.colourKey(l))
		}
	}
	t.pane.SetContentLines(lines)
	t.pane.GotoTop()
}

// timelineWidths are the widths of the event list (what its rows need, up
// to half the screen) and of the pane beside it.
func (m *Model) timelineWidths() (list, pane int) {
	list = m.width / 2
	if a := m.timeline.agg; a != nil {
		c := m.timelineColumns()
		need := 1 + c.version + 1 + len(c.time) + 1 + c.where + 1 + c.typ
		list = min(need, list)
	}
	list = max(list, min(30, m.width))
	return list, max(m.width-list-3, 10)
}

// timelineCols are the widths of the timeline's columns.
type timelineCols struct {
	version, where, typ int
	time                string
}

func (m *Model) timelineColumns() timelineCols {
	t := &m.timeline
	c := timelineCols{time: "2006-01-02 15:04:05.000"}
	for i, r := range t.agg.Events {
		c.version = max(c.version, len(t.version(i)))
		c.where = max(c.where, len(fmt.Sprintf("%d@%d", r.Partition, r.Offset)))
		c.typ = max(c.typ, len(eventType(r)))
	}
	if 1+c.version+1+len(c.time)+1+c.where+1+c.typ > m.width/2 {
		c.time = "01-02 15:04:05"
	}
	return c
}

func eventType(r *record.Record) string {
	if typ := record.ShortType(r.Type); typ != "" {
		return typ
	}
	return r.ValueEncoding
}

func (m *Model) timelineTitle() string {
	t := &m.timeline
	id := t.of.Key
	name := record.OneLine(record.PayloadText(id, t.of.KeyEncoding))
	if t.agg != nil {
		name = t.agg.ID
	}
	parts := []string{m.styles.Title.Render("aggregate " + name), m.title}
	if t.agg != nil {
		where := "all partitions"
		if ps := t.agg.Partitions; ps != nil {
			strs := make([]string, len(ps))
			for i, p := range ps {
				strs[i] = strconv.Itoa(int(p))
			}
			where = "partition"
			if len(ps) > 1 {
				where += "s"
			}
			where += " " + strings.Join(strs, ", ")
		}
		parts = append(parts, where, english.Plural(len(t.agg.Events), "event"))
	}
	right := ""
	if t.agg != nil && len(t.agg.Events) > 0 {
		right = fmt.Sprintf("%d/%d", t.cursor+1, len(t.agg.Events))
	}
	return pad(strings.Join(parts, " · "), right, m.width)
}

func (m *Model) timelineLines() []string {
	t, h := &m.timeline, m.listHeight()
	if t.agg == nil {
		out := []string{m.styles.Faint.Render("reading the aggregate's history…")}
		for len(out) < h {
			out = append(out, "")
		}
		return out
	}
	lw, _ := m.timelineWidths()
	var left []string
	if len(t.agg.Events) == 0 {
		left = append(left, m.styles.Faint.Render("no events"))
	}
	c := m.timelineColumns()
	for i := t.top; i < len(t.agg.Events) && len(left) < h; i++ {
		r := t.agg.Events[i]
		where := padRight(fmt.Sprintf("%d@%d", r.Partition, r.Offset), c.where)
		ver, ts, typ := padRight(t.version(i), c.version), r.Timestamp.UTC().Format(c.time), eventType(r)
		if i == t.cursor {
			line := "›" + ver + " " + ts + " " + where + " " + typ // › for screens without colour
			left = append(left, m.styles.Selected.Render(padRight(ansi.Truncate(line, lw, "…"), lw)))
			continue
		}
		line := " " + m.styles.Faint.Render(ver) + " " + m.styles.Time.Render(ts) + " " + m.styles.Where.Render(where) + " " + m.styles.Type.Render(typ)
		left = append(left, ansi.Truncate(line, lw, "…"))
	}
	right := m.paneHead()
	right = append(right, strings.Split(t.pane.View(), "\n")...)
	sep := m.styles.Faint.Render(" │ ")
	out := make([]string, h)
	for i := range out {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out[i] = padRight(l, lw) + sep + r
	}
	return out
}

// paneHead says what the pane shows: the state after an event and what
// it changed, or the event's value; wrapped to the pane.
func (m *Model) paneHead() []string {
	t := &m.timeline
	if t.agg == nil || len(t.agg.Events) == 0 {
		return nil
	}
	r := t.agg.Events[t.cursor]
	if t.agg.States == nil {
		return []string{m.styles.Faint.Render(fmt.Sprintf("%s value (%s)", t.version(t.cursor), r.ValueEncoding))}
	}
	head := []string{"state after " + t.version(t.cursor)}
	var paths []string
	for _, f := range t.changed {
		p := f.Path
		if f.B == nil {
			p += " (removed)"
		}
		paths = append(paths, p)
	}
	_, pw := m.timelineWidths()
	switch {
	case len(t.changed) == 0:
		head[0] += " · unchanged"
	case len(t.changed) == 1 && t.changed[0].Path == ".":
		head[0] += " · all new"
	default:
		head = append(head, strings.Split(ansi.Wordwrap("changed "+strings.Join(paths, ", "), pw, " "), "\n")...)
	}
	for i, l := range head {
		head[i] = m.styles.Faint.Render(l)
	}
	return head
}

// stateLines are a state as indented JSON (members in name order, as
// the fold writes them), the lines of the fields an event changed marked
// and styled.
func (m *Model) stateLines(state json.RawMessage, changed []diff.Field) []string {
	var v any
	d := json.NewDecoder(bytes.NewReader(state))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return []string{string(state)}
	}
	marked := map[string]bool{}
	for _, f := range changed {
		marked[f.Path] = true
	}
	var out []string
	var walk func(path diff.Path, name string, v any, indent string, comma string)
	emit := func(path diff.Path, text string) {
		hit := false
		for i := 0; i <= len(path) && !hit; i++ {
			hit = marked[path[:i].String()]
		}
		if hit {
			out = append(out, m.styles.Changed.Render("▸ "+text))
		} else {
			out = append(out, "  "+m.colourKey(text))
		}
	}
	walk = func(path diff.Path, name string, v any, indent string, comma string) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				emit(path, indent+name+"{}"+comma)
				return
			}
			emit(path, indent+name+"{")
			keys := slices.Sorted(maps.Keys(x))
			for i, k := range keys {
				c := ","
				if i == len(keys)-1 {
					c = ""
				}
				walk(append(slices.Clip(path), diff.Step{Name: k, Index: -1}), scalarJSON(k)+": ", x[k], indent+"  ", c)
			}
			emit(path, indent+"}"+comma)
		case []any:
			if len(x) == 0 {
				emit(path, indent+name+"[]"+comma)
				return
			}
			emit(path, indent+name+"[")
			for i, e := range x {
				c := ","
				if i == len(x)-1 {
					c = ""
				}
				walk(append(slices.Clip(path), diff.Step{Index: i}), "", e, indent+"  ", c)
			}
			emit(path, indent+"]"+comma)
		default:
			emit(path, indent+name+scalarJSON(x)+comma)
		}
	}
	walk(nil, "", v, "", "")
	return out
}

func (m *Model) timelineStatus() []string {
	t := &m.timeline
	switch {
	case t.loading:
		return []string{"reading the history of " + record.OneLine(record.PayloadText(t.of.Key, t.of.KeyEncoding)) + "… esc stops"}
	case t.agg == nil:
		return nil
	}
	r := t.agg.Events
	if len(r) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s to %s", r[0].Timestamp.UTC().Format("2006-01-02 15:04:05"), r[len(r)-1].Timestamp.UTC().Format("2006-01-02 15:04:05"))}
}

// scalarJSON is a JSON scalar as written, < and > left as they are.
func scalarJSON(v any) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}
