package iostreams

// Palette paints text with ANSI colours, or leaves it alone when colour is
// off, so callers never branch on colour themselves.
type Palette struct{ on bool }

// Palette returns stdout's palette.
func (s *IOStreams) Palette() Palette { return Palette{on: s.colour} }

// ErrPalette returns stderr's palette.
func (s *IOStreams) ErrPalette() Palette { return Palette{on: s.errColor} }

func (p Palette) wrap(code, text string) string {
	if !p.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Bold, Dim, Red, Green, Yellow, Blue, Magenta and Cyan paint text.
func (p Palette) Bold(s string) string    { return p.wrap("1", s) }
func (p Palette) Dim(s string) string     { return p.wrap("2", s) }
func (p Palette) Red(s string) string     { return p.wrap("31", s) }
func (p Palette) Green(s string) string   { return p.wrap("32", s) }
func (p Palette) Yellow(s string) string  { return p.wrap("33", s) }
func (p Palette) Blue(s string) string    { return p.wrap("34", s) }
func (p Palette) Magenta(s string) string { return p.wrap("35", s) }
func (p Palette) Cyan(s string) string    { return p.wrap("36", s) }
