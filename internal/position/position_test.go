package position

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Position
		str  string
	}{
		{"start", StartPos, "start"},
		{"beginning", StartPos, "start"},
		{"oldest", StartPos, "start"},
		{"END", EndPos, "end"},
		{"newest", EndPos, "end"},
		{"0", Position{Kind: Offset}, "0"},
		{"42", Position{Kind: Offset, N: 42}, "42"},
		{" 42 ", Position{Kind: Offset, N: 42}, "42"},
		{"+10", Position{Kind: AfterStart, N: 10}, "+10"},
		{"-10", Position{Kind: BeforeEnd, N: 10}, "-10"},
		{"-0", Position{Kind: BeforeEnd}, "-0"},
		{"@2026-11-01T10:00:00Z", timePos(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)), "@2026-11-01T10:00:00Z"},
		{"@2026-11-01T10:00:00.250Z", timePos(time.Date(2026, 11, 1, 10, 0, 0, 250e6, time.UTC)), "@2026-11-01T10:00:00.25Z"},
		{"@2026-11-01T12:00:00+02:00", timePos(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)), "@2026-11-01T10:00:00Z"},
		{"@2026-11-01T10:00:00", timePos(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)), "@2026-11-01T10:00:00Z"},
		{"@2026-11-01T10:00", timePos(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)), "@2026-11-01T10:00:00Z"},
		{"@2026-11-01", timePos(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)), "@2026-11-01T00:00:00Z"},
		{"@1764000000000", timePos(time.UnixMilli(1764000000000)), "@2025-11-24T16:00:00Z"},
		{"@0", timePos(time.UnixMilli(0)), "@1970-01-01T00:00:00Z"},
		{"@-1h", timePos(now.Add(-time.Hour)), "@2026-11-15T11:00:00Z"},
		{"@-30m", timePos(now.Add(-30 * time.Minute)), "@2026-11-15T11:30:00Z"},
		{"@-90s", timePos(now.Add(-90 * time.Second)), "@2026-11-15T11:58:30Z"},
		{"@-2d", timePos(now.Add(-48 * time.Hour)), "@2026-11-13T12:00:00Z"},
		{"@-1w", timePos(now.Add(-7 * 24 * time.Hour)), "@2026-11-08T12:00:00Z"},
		{"@-1h30m", timePos(now.Add(-90 * time.Minute)), "@2026-11-15T10:30:00Z"},
		{"@-500ms", timePos(now.Add(-500 * time.Millisecond)), "@2026-11-15T11:59:59.5Z"},
		{"@+1h", timePos(now.Add(time.Hour)), "@2026-11-15T13:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.want.Kind || got.N != tt.want.N || !got.Time.Equal(tt.want.Time) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			back, err := Parse(got.String(), now)
			if err != nil || back.Kind != got.Kind || back.N != got.N || !back.Time.Equal(got.Time) {
				t.Errorf("Parse(String()) = %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

func timePos(t time.Time) Position { return Position{Kind: Time, Time: t} }

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", "x", "first", "1.5", "+", "-", "+x", "--1", "-+1", "99999999999999999999",
		"@", "@yesterday", "@-", "@-1", "@-h", "@-1y", "@-1h2", "@2026-13-01", "@2026-11-01T25:00:00Z",
		"@99999999999999999999", "@-9999999999w",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := Parse(in, now)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", in)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "invalid position "+`"`+in+`"`) || !strings.Contains(msg, Usage) {
				t.Errorf("error %q lacks the input or the grammar", msg)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	const low, high = 100, 200
	tests := []struct {
		p      Position
		atTime int64
		want   int64
	}{
		{Position{}, 0, low},
		{StartPos, 0, low},
		{EndPos, 0, high},
		{Position{Kind: Offset, N: 150}, 0, 150},
		{Position{Kind: Offset, N: 5}, 0, low},
		{Position{Kind: Offset, N: 500}, 0, high},
		{Position{Kind: AfterStart, N: 10}, 0, 110},
		{Position{Kind: AfterStart, N: 100}, 0, high},
		{Position{Kind: AfterStart, N: 1 << 62}, 0, high},
		{Position{Kind: BeforeEnd, N: 10}, 0, 190},
		{Position{Kind: BeforeEnd, N: 0}, 0, high},
		{Position{Kind: BeforeEnd, N: 1000}, 0, low},
		{Position{Kind: BeforeEnd, N: 1<<63 - 1}, 0, low},
		{timePos(now), 160, 160},
		{timePos(now), -1, high},
		{timePos(now), 50, low},
	}
	for _, tt := range tests {
		if got := tt.p.Resolve(low, high, tt.atTime); got != tt.want {
			t.Errorf("%v.Resolve(%d, %d, %d) = %d, want %d", tt.p, low, high, tt.atTime, got, tt.want)
		}
	}
	// An empty partition resolves everything to its one offset.
	for _, p := range []Position{StartPos, EndPos, {Kind: BeforeEnd, N: 3}, {Kind: AfterStart, N: 3}, {Kind: Offset, N: 9}} {
		if got := p.Resolve(7, 7, -1); got != 7 {
			t.Errorf("%v.Resolve(7, 7) = %d, want 7", p, got)
		}
	}
}

func TestOr(t *testing.T) {
	if got := (Position{}).Or(EndPos); got != EndPos {
		t.Errorf("zero.Or(end) = %v", got)
	}
	if got := StartPos.Or(EndPos); got != StartPos {
		t.Errorf("start.Or(end) = %v", got)
	}
	if !(Position{}).IsZero() || StartPos.IsZero() {
		t.Error("IsZero wrong")
	}
}
