package iostreams

import "testing"

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
