package iostreams

import "fmt"

// Progress redraws one line on stderr while a command works, only when
// stderr is a terminal: a pipe or a CI log never sees it.
type Progress struct {
	s     *IOStreams
	on    bool
	drawn bool
}

// Progress returns the command's progress line; off (--no-progress)
// keeps it from ever drawing.
func (s *IOStreams) Progress(off bool) *Progress {
	return &Progress{s: s, on: s.errTTY && !off}
}

// On reports whether the line is drawn at all, so that callers can spare
// the work of formatting it.
func (p *Progress) On() bool { return p.on }

// Draw replaces the line with line.
func (p *Progress) Draw(line string) {
	if !p.on {
		return
	}
	fmt.Fprintf(p.s.ErrOut, "\r\x1b[K%s", line)
	p.drawn = true
}

// Clear erases the line, before other output or at the end.
func (p *Progress) Clear() {
	if p.drawn {
		fmt.Fprint(p.s.ErrOut, "\r\x1b[K")
		p.drawn = false
	}
}
