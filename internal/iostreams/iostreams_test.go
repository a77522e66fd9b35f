package iostreams

import (
	"os"
	"testing"
)

func TestPaletteOffLeavesTextAlone(t *testing.T) {
	s, _, _, _ := Test()
	if got := s.Palette().Red("x"); got != "x" {
		t.Fatalf("colour off: got %q", got)
	}
	s.SetColorEnabled(true)
	if got := s.Palette().Red("x"); got != "\x1b[31mx\x1b[0m" {
		t.Fatalf("colour on: got %q", got)
	}
	if got := s.Palette().Red(""); got != "" {
		t.Fatalf("empty text must stay empty, got %q", got)
	}
}

func TestColourWanted(t *testing.T) {
	for _, c := range []struct {
		name            string
		noColor, term   string
		force           string
		tty, want       bool
		unsetNoColorVar bool
	}{
		{name: "terminal", tty: true, want: true, unsetNoColorVar: true},
		{name: "pipe", tty: false, want: false, unsetNoColorVar: true},
		{name: "NO_COLOR set", noColor: "1", tty: true, want: false},
		// no-color.org: only a non-empty value turns colour off.
		{name: "NO_COLOR empty", noColor: "", tty: true, want: true},
		{name: "dumb terminal", term: "dumb", tty: true, want: false, unsetNoColorVar: true},
		{name: "forced", force: "1", tty: false, want: true, unsetNoColorVar: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", c.noColor)
			if c.unsetNoColorVar {
				os.Unsetenv("NO_COLOR") //nolint:errcheck // t.Setenv restores it
			}
			t.Setenv("TERM", c.term)
			t.Setenv("CLICOLOR_FORCE", c.force)
			if got := colourWanted(c.tty); got != c.want {
				t.Errorf("colourWanted(%v) = %v, want %v", c.tty, got, c.want)
			}
		})
	}
}

func TestSetColorMode(t *testing.T) {
	s, _, _, _ := Test()
	if err := s.SetColorMode("always"); err != nil || !s.ColorEnabled() || !s.StderrColorEnabled() {
		t.Errorf("always: %v %v %v", err, s.ColorEnabled(), s.StderrColorEnabled())
	}
	if err := s.SetColorMode("auto"); err != nil || !s.ColorEnabled() {
		t.Errorf("auto keeps what was decided: %v %v", err, s.ColorEnabled())
	}
	if err := s.SetColorMode("never"); err != nil || s.ColorEnabled() || s.StderrColorEnabled() {
		t.Errorf("never: %v %v %v", err, s.ColorEnabled(), s.StderrColorEnabled())
	}
	if err := s.SetColorMode("sometimes"); err == nil {
		t.Error("an unknown mode must be an error")
	}
}
