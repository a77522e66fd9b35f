// Package position parses and resolves read positions in the rpk/kcl
// grammar that --from and --to accept: start, end, N, +N, -N and @TIME.
package position

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Usage lists the position grammar, for help texts and error messages.
const Usage = `start, end, N (offset N), +N (N after start), -N (N before end), ` +
	`@TIME (first record at or after TIME: RFC3339 like @2026-11-01T10:00:00Z, ` +
	`a date like @2026-11-01, unix milliseconds like @1764000000000, ` +
	`or relative to now like @-1h, @-2d, @-30m, @-90s, @-1w)`

// Kind is what a Position is relative to.
type Kind uint8

// The kinds of position. The zero Kind is Unset: the caller's default.
const (
	Unset      Kind = iota // not given; see Position.Or
	Start                  // the partition's low watermark
	End                    // the partition's high watermark (captured at start)
	Offset                 // an absolute offset N
	AfterStart             // N after the low watermark
	BeforeEnd              // N before the high watermark
	Time                   // the first record whose timestamp is at or after Time
)

// Position is a place in a partition, resolved per partition by Resolve.
// The zero Position is Unset.
type Position struct {
	Kind Kind
	N    int64     // for Offset, AfterStart and BeforeEnd; never negative
	Time time.Time // for Time
}

// Common positions.
var (
	StartPos = Position{Kind: Start}
	EndPos   = Position{Kind: End}
)

// Parse parses a position; now anchors relative times like @-1h.
func Parse(s string, now time.Time) (Position, error) {
	p, err := parse(strings.TrimSpace(s), now)
	if err != nil {
		return Position{}, fmt.Errorf("invalid position %q: %w; use one of: %s", s, err, Usage)
	}
	return p, nil
}

func parse(s string, now time.Time) (Position, error) {
	switch strings.ToLower(s) {
	case "":
		return Position{}, errors.New("empty")
	case "start", "beginning", "oldest":
		return StartPos, nil
	case "end", "newest":
		return EndPos, nil
	}
	switch s[0] {
	case '@':
		t, err := parseTime(s[1:], now)
		if err != nil {
			return Position{}, err
		}
		return Position{Kind: Time, Time: t}, nil
	case '+':
		n, err := parseCount(s[1:])
		return Position{Kind: AfterStart, N: n}, err
	case '-':
		n, err := parseCount(s[1:])
		return Position{Kind: BeforeEnd, N: n}, err
	}
	n, err := parseCount(s)
	return Position{Kind: Offset, N: n}, err
}

func parseCount(s string) (int64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, errors.New("not a known form")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, errors.New("offset out of range")
		}
		return 0, errors.New("not a known form")
	}
	return n, nil
}

// timeLayouts are the absolute time forms, tried in order; the ones
// without a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano, // also accepts no fraction
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing time after @")
	}
	if s[0] == '-' || s[0] == '+' {
		d, err := parseDuration(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if allDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, errors.New("unix milliseconds out of range")
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read time %q", s)
}

// durationUnits extends time.ParseDuration's units with days and weeks.
var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
}

// parseDuration reads durations like 90s, 1h30m, 2d, 1w.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing duration")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		j := i
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		unit, ok := durationUnits[s[i:j]]
		if i == 0 || !ok {
			return 0, fmt.Errorf("cannot read duration %q (units: ms, s, m, h, d, w)", s)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > int64(1<<63-1)/int64(unit) {
			return 0, errors.New("duration out of range")
		}
		total += time.Duration(n) * unit
		s = s[j:]
	}
	return total, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// IsZero reports whether p is Unset.
func (p Position) IsZero() bool { return p.Kind == Unset }

// Or returns p, or def when p is Unset.
func (p Position) Or(def Position) Position {
	if p.IsZero() {
		return def
	}
	return p
}

// NeedsTime reports whether Resolve needs the offset for p.Time.
func (p Position) NeedsTime() bool { return p.Kind == Time }

// String formats p in the grammar Parse reads; relative times come out
// absolute, as Parse resolved them.
func (p Position) String() string {
	switch p.Kind {
	case Start:
		return "start"
	case End:
		return "end"
	case Offset:
		return strconv.FormatInt(p.N, 10)
	case AfterStart:
		return "+" + strconv.FormatInt(p.N, 10)
	case BeforeEnd:
		return "-" + strconv.FormatInt(p.N, 10)
	case Time:
		return "@" + p.Time.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// Resolve returns the concrete offset of p in a partition whose offsets
// run from low to high (the high watermark: the next offset to be
// written), clamped to [low, high]. atTime is the offset of the first
// record at or after p.Time (as ListOffsets returns it, negative when
// there is none); it is read only for Time positions. Unset resolves as
// Start.
func (p Position) Resolve(low, high, atTime int64) int64 {
	var off int64
	switch p.Kind {
	case Unset, Start:
		off = low
	case End:
		off = high
	case Offset:
		off = p.N
	case AfterStart:
		if p.N >= high-low {
			return high
		}
		off = low + p.N
	case BeforeEnd:
		if p.N >= high-low {
			return low
		}
		off = high - p.N
	case Time:
		if atTime < 0 {
			return high // no record at or after the time yet
		}
		off = atTime
	}
	return min(max(off, low), high)
}
