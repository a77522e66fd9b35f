package iostreams

import (
	"fmt"
	"strings"
	"time"
)

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

// Meter is a progress line's account of work toward a known total:
// "[######..................]  25% 50/200 records, 25/s, ETA 6s".
type Meter struct {
	Done, Total int64
	Elapsed     time.Duration
	Unit        string // what is counted, plural: "records"
}

// meterWidth is the bar's width in cells.
const meterWidth = 24

func (m Meter) String() string {
	rate := float64(m.Done) / max(m.Elapsed.Seconds(), 1e-9)
	pct := 0.0
	if m.Total > 0 {
		pct = min(100, max(0, float64(m.Done)*100/float64(m.Total)))
	}
	eta := "-"
	if rate > 0 && m.Done < m.Total {
		eta = (time.Duration(float64(m.Total-m.Done)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%s %3.0f%% %d/%d %s, %.0f/s, ETA %s", Bar(pct/100, meterWidth), pct, m.Done, m.Total, m.Unit, rate, eta)
}

// Bar draws fraction f (0 to 1) of width cells: "[######......]".
func Bar(f float64, width int) string {
	n := min(width, max(0, int(f*float64(width))))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
