package tui

import "charm.land/lipgloss/v2"

// Styles are the browser's looks, in one place. Plain leaves text
// unstyled but for the selection (reverse video), for NO_COLOR.
type Styles struct {
	Title, Status, Selected, Time, Where, Key, Type, Error, Faint, HelpKey lipgloss.Style
	// Changed marks the fields a timeline's event changed.
	Changed lipgloss.Style
}

// DefaultStyles use the terminal's 16 colours.
func DefaultStyles() Styles {
	s := PlainStyles()
	s.Title = s.Title.Foreground(lipgloss.Cyan)
	s.Where = s.Where.Foreground(lipgloss.Blue)
	s.Key = s.Key.Foreground(lipgloss.Cyan)
	s.Type = s.Type.Foreground(lipgloss.Magenta)
	s.Error = s.Error.Foreground(lipgloss.Red)
	s.HelpKey = s.HelpKey.Foreground(lipgloss.Cyan)
	s.Changed = s.Changed.Foreground(lipgloss.Green)
	return s
}

// PlainStyles use only attributes.
func PlainStyles() Styles {
	n := lipgloss.NewStyle()
	return Styles{
		Title:    n.Bold(true),
		Status:   n.Faint(true),
		Selected: n.Reverse(true),
		Time:     n.Faint(true),
		Where:    n,
		Key:      n,
		Type:     n,
		Error:    n.Bold(true),
		Faint:    n.Faint(true),
		HelpKey:  n.Bold(true),
		Changed:  n.Bold(true),
	}
}
