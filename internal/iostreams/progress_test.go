package iostreams

import (
	"testing"
	"time"
)

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

func TestMeter(t *testing.T) {
	for _, tt := range []struct {
		m    Meter
		want string
	}{
		{Meter{Done: 50, Total: 200, Elapsed: 2 * time.Second, Unit: "records"}, "[######..................]  25% 50/200 records, 25/s, ETA 6s"},
		{Meter{Done: 0, Total: 10, Unit: "records"}, "[........................]   0% 0/10 records, 0/s, ETA -"},
		// More done than the total said (records appended meanwhile): full, not past it.
		{Meter{Done: 12, Total: 10, Elapsed: time.Second, Unit: "records"}, "[########################] 100% 12/10 records, 12/s, ETA -"},
		// Less than nothing done (a lag that grew): empty.
		{Meter{Done: -5, Total: 10, Elapsed: time.Second, Unit: "records"}, "[........................]   0% -5/10 records, -5/s, ETA -"},
	} {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v:\n got %q\nwant %q", tt.m, got, tt.want)
		}
	}
}
