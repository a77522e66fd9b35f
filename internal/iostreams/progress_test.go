package iostreams

import "testing"

func TestProgress(t *testing.T) {
	s, _, _, errOut := Test()
	p := s.Progress(false)
	p.Draw("50%")
	p.Clear()
	if errOut.Len() != 0 || p.On() {
		t.Fatalf("progress drawn on a pipe: %q", errOut)
	}
	s.SetStderrTTY(true)
	p = s.Progress(false)
	p.Clear() // nothing drawn: nothing to erase
	p.Draw("25%")
	p.Draw("50%")
	p.Clear()
	p.Clear()
	if want := "\r\x1b[K25%\r\x1b[K50%\r\x1b[K"; errOut.String() != want {
		t.Fatalf("progress = %q, want %q", errOut, want)
	}
	errOut.Reset()
	s.Progress(true).Draw("1%")
	if errOut.Len() != 0 {
		t.Fatal("--no-progress drew a progress line")
	}
}
