package tui

import (
	"unicode"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// KeyMap is every key the browser answers to, in one place; its help
// (bubbles' help.KeyMap) is the record list's footer and, with ?, the
// full key list; each other view shows the part of it that works there.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Start, End key.Binding
	Detail, DetailUp, DetailDown, Close    key.Binding
	Hex, Write                             key.Binding
	Filter, Aggregate, GoTo, Follow        key.Binding
	// Topics goes back to the topic list; Open opens the topic selected
	// there.
	Topics, Open key.Binding
	// Partitions picks the partitions the record list shows, Columns its
	// columns.
	Partitions, Columns key.Binding
	// Prev and Next step through a timeline's versions.
	Prev, Next            key.Binding
	Help, Quit, Interrupt key.Binding
	// Apply and Cancel end a prompt.
	Apply, Cancel key.Binding
}

var _ help.KeyMap = KeyMap{}

// DefaultKeys are less(1)- and k9s-like.
func DefaultKeys() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:     key.NewBinding(key.WithKeys("pgup", "ctrl+b", "b"), key.WithHelp("pgup/b", "page up")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn/space", "page down")),
		Start:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		End:        key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last")),
		Detail:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		DetailUp:   key.NewBinding(key.WithKeys("K", "shift+up"), key.WithHelp("K", "scroll details up")),
		DetailDown: key.NewBinding(key.WithKeys("J", "shift+down"), key.WithHelp("J", "scroll details down")),
		Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Aggregate:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "timeline")),
		GoTo:       key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "go to (start, 1234, @-1h, @TIME)")),
		Follow:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow")),
		Topics:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "topic list")),
		Partitions: key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "partitions")),
		Columns:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "columns (jq)")),
		Open:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Prev:       key.NewBinding(key.WithKeys("up", "left", "k", "h"), key.WithHelp("↑/←", "previous version")),
		Next:       key.NewBinding(key.WithKeys("down", "right", "j", "l"), key.WithHelp("↓/→", "next version")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Quit:       key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt:  key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "interrupt (exit status 130)")),
		Apply:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
		Cancel:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Close:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close details, stop a scan")),
		Hex:        key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "bytes as hex (again: decoded)")),
		Write:      key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "write to a file (the record, or what the filter found)")),
	}
}

// ShortHelp is the record list's footer.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Start, k.End, k.Detail, k.Filter, k.Aggregate, k.Help, k.Quit}
}

// FullHelp is every key of the record list, grouped: moving, details,
// narrowing, the rest.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Start, k.End, k.GoTo},
		{k.Detail, k.DetailUp, k.DetailDown, k.Hex, k.Write, k.Close},
		{k.Filter, k.Columns, k.Partitions, k.Aggregate, k.Follow, k.Topics},
		{k.Help, k.Quit},
	}
}

// keyHelp is the help of the view (or prompt) that has the keys.
func (m *Model) keyHelp() help.KeyMap {
	k := m.keys
	if m.o.Catalog == nil {
		k.Topics.SetEnabled(false)
	}
	switch {
	case m.prompting():
		return promptKeys(k)
	case m.mode == modeTopics:
		return topicsKeys(k)
	case m.mode == modeTimeline:
		return timelineKeys(k)
	}
	return k
}

// promptKeys is the help of a prompt: only its own keys work there.
type promptKeys KeyMap

func (k promptKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Apply, k.Cancel} }
func (k promptKeys) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// topicsKeys is the help of the topic list.
type topicsKeys KeyMap

func (k topicsKeys) ShortHelp() []key.Binding {
	k = k.described()
	return []key.Binding{k.Up, k.Down, k.Open, k.Filter, k.Help, k.Quit}
}

func (k topicsKeys) FullHelp() [][]key.Binding {
	k = k.described()
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Start, k.End}, {k.Open, k.Filter, k.Close}, {k.Help, k.Quit}}
}

// described says what the keys do in the topic list.
func (k topicsKeys) described() topicsKeys {
	k.Filter.SetHelp(k.Filter.Help().Key, "find a topic")
	k.Close.SetHelp(k.Close.Help().Key, "clear the find")
	k.Start.SetHelp(k.Start.Help().Key, "first topic")
	k.End.SetHelp(k.End.Help().Key, "last topic")
	return k
}

// timelineKeys is the help of the timeline.
type timelineKeys KeyMap

func (k timelineKeys) ShortHelp() []key.Binding {
	k = k.described()
	return []key.Binding{k.Prev, k.Next, k.Start, k.End, k.GoTo, k.Write, k.Close, k.Help, k.Quit}
}

func (k timelineKeys) FullHelp() [][]key.Binding {
	k = k.described()
	return [][]key.Binding{{k.Prev, k.Next, k.PageUp, k.PageDown, k.Start, k.End, k.GoTo}, {k.DetailUp, k.DetailDown, k.Write, k.Close}, {k.Help, k.Quit}}
}

// described says what the keys do in the timeline.
func (k timelineKeys) described() timelineKeys {
	k.Aggregate.SetHelp(k.Aggregate.Help().Key, "the aggregate's timeline")
	k.Start.SetHelp(k.Start.Help().Key, "first version")
	k.End.SetHelp(k.End.Help().Key, "last version")
	k.GoTo.SetHelp(k.GoTo.Help().Key, "go to a version or @TIME")
	k.Write.SetHelp(k.Write.Help().Key, "write the events to a file")
	k.DetailUp.SetHelp(k.DetailUp.Help().Key, "scroll the state up")
	k.DetailDown.SetHelp(k.DetailDown.Help().Key, "scroll the state down")
	k.Close.SetHelp(k.Close.Help().Key, "back to the records")
	return k
}

// bindings are every key of the map.
func (k KeyMap) bindings() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Start, k.End,
		k.Detail, k.DetailUp, k.DetailDown, k.Close, k.Hex, k.Write,
		k.Filter, k.Aggregate, k.GoTo, k.Follow, k.Topics, k.Open,
		k.Partitions, k.Columns, k.Prev, k.Next, k.Help, k.Quit, k.Interrupt,
		k.Apply, k.Cancel}
}

// escThen tells an alt+key that means esc then the key. A terminal sends
// alt+j as esc and j, so esc followed at once by j (typed quickly, or
// pasted) arrives as alt+j, and nothing tells the two apart. No key of the
// browser's is an alt+key, so an alt+key is esc then the key (returned,
// without alt); but in a prompt, the word motions on keys that are not
// characters (alt+left, alt+backspace) stay what they are.
func (m *Model) escThen(k tea.KeyPressMsg) (tea.KeyPressMsg, bool) {
	if !k.Mod.Contains(tea.ModAlt) {
		return k, false
	}
	bound := m.keys.bindings()
	if m.prompting() && !unicode.IsPrint(k.Code) {
		ti := m.prompt.KeyMap
		bound = append(bound, ti.WordForward, ti.WordBackward, ti.DeleteWordForward, ti.DeleteWordBackward)
	}
	for _, b := range bound {
		if key.Matches(k, b) {
			return k, false
		}
	}
	k.Mod &^= tea.ModAlt
	switch {
	case k.Mod.Contains(tea.ModShift) && k.ShiftedCode != 0:
		k.Text = string(k.ShiftedCode)
	case k.Mod&^tea.ModShift == 0 && unicode.IsPrint(k.Code):
		k.Text = string(k.Code)
	}
	return k, true
}
