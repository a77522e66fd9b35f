// Package iostreams carries the standard streams and what is known about
// them (terminal or pipe, colour, width), so commands never reach for
// os.Stdout themselves and tests can capture everything.
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// IOStreams are a command's input, output and error output.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY    bool
	outTTY   bool
	errTTY   bool
	colour   bool
	errColor bool
	width    int
}

// System returns the process's streams, with terminal detection.
// Colour is on for a terminal unless NO_COLOR is set to a non-empty value
// (https://no-color.org) or TERM=dumb; CLICOLOR_FORCE=1 forces it on.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.inTTY = isTerminal(os.Stdin)
	s.outTTY = isTerminal(os.Stdout)
	s.errTTY = isTerminal(os.Stderr)
	s.colour = colourWanted(s.outTTY)
	s.errColor = colourWanted(s.errTTY)
	s.width = 80
	if s.outTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.width = w
		}
	} else if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		s.width = c
	}
	return s
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func colourWanted(tty bool) bool {
	if os.Getenv("CLICOLOR_FORCE") == "1" {
		return true
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return tty
}

// Test returns streams over buffers, as a pipe: no terminal, no colour.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// SetStdinTTY says whether stdin is a terminal, for tests.
func (s *IOStreams) SetStdinTTY(tty bool) { s.inTTY = tty }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal (progress goes there).
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// ColorEnabled reports whether stdout may carry ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.colour }

// StderrColorEnabled reports whether stderr may carry ANSI colour.
func (s *IOStreams) StderrColorEnabled() bool { return s.errColor }

// TerminalWidth is stdout's width in columns (80 when unknown).
func (s *IOStreams) TerminalWidth() int { return s.width }

// SetStdoutTTY pretends stdout is (or is not) a terminal; for tests.
func (s *IOStreams) SetStdoutTTY(tty bool) { s.outTTY = tty }

// SetStderrTTY pretends stderr is (or is not) a terminal; for tests.
func (s *IOStreams) SetStderrTTY(tty bool) { s.errTTY = tty }

// SetColorEnabled turns colour on or off; for tests and --color.
func (s *IOStreams) SetColorEnabled(on bool) { s.colour = on }

// ColorModes are --color's values.
var ColorModes = []string{"auto", "always", "never"}

// SetColorMode applies --color: auto keeps what the terminals and the
// environment say, always and never turn colour on or off on stdout and
// stderr alike.
func (s *IOStreams) SetColorMode(mode string) error {
	switch mode {
	case "auto":
	case "always":
		s.colour, s.errColor = true, true
	case "never":
		s.colour, s.errColor = false, false
	default:
		return fmt.Errorf("invalid --color %q: want auto, always or never", mode)
	}
	return nil
}
