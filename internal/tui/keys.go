package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
)

// KeyMap is every key the browser answers to, in one place; its help
// (bubbles' help.KeyMap) is the footer and, with ?, the full key list.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Start, End key.Binding
	Detail, DetailUp, DetailDown, Close    key.Binding
	Hex, Write                             key.Binding
	Filter, Aggregate, GoTo, Follow        key.Binding
	Help, Quit, Interrupt                  key.Binding
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
		Aggregate:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "only this key's records (again: all)")),
		GoTo:       key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "go to (start, 1234, @-1h, @TIME)")),
		Follow:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Quit:       key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt:  key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "interrupt (exit status 130)")),
		Apply:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
		Cancel:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Close:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close details")),
		Hex:        key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "bytes as hex (again: decoded)")),
		Write:      key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "write the record to a file")),
	}
}

// ShortHelp is the footer.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Start, k.End, k.Detail, k.Filter, k.Follow, k.Help, k.Quit}
}

// FullHelp is every key, grouped: moving, details, narrowing, the rest.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Start, k.End, k.GoTo},
		{k.Detail, k.DetailUp, k.DetailDown, k.Hex, k.Write, k.Close},
		{k.Filter, k.Aggregate, k.Follow},
		{k.Help, k.Quit},
	}
}

// promptKeys is the help of a prompt: only its own keys work there.
type promptKeys KeyMap

func (k promptKeys) ShortHelp() []key.Binding  { return []key.Binding{k.Apply, k.Cancel} }
func (k promptKeys) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }
