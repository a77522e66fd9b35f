package tui

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/internal/position"
	"github.com/evctl/evctl/internal/record"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sliceSource serves records from memory, each followed by a transaction
// commit marker: offsets have holes and every partition ends in one.
type sliceSource struct {
	mu    sync.Mutex
	parts map[Partition][]*record.Record
	order []Partition
	fail  error
	reads int
	// fold, when set, gives Aggregate a projection's states.
	fold func(state map[string]any, r *record.Record) map[string]any
}

var base = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// newSliceSource spreads n records over partitions of topic, timestamps
// interleaved across partitions so that a merge has work to do.
func newSliceSource(topic string, partitions, n int) *sliceSource {
	s := &sliceSource{parts: map[Partition][]*record.Record{}}
	for p := range partitions {
		s.order = append(s.order, Partition{topic, int32(p)})
	}
	for i := range n {
		s.add(topic, int32((i*7)%partitions), base.Add(time.Duration(i)*time.Second), fmt.Sprintf("acct-%02d", i%13), i)
	}
	return s
}

func (s *sliceSource) add(topic string, partition int32, ts time.Time, key string, i int) *record.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Partition{topic, partition}
	run := s.parts[p]
	off := int64(0)
	if len(run) > 0 {
		off = run[len(run)-1].Offset + 2 // after the commit marker
	}
	typ := "com.bank.MoneyDeposited"
	if i%3 == 0 {
		typ = "com.bank.MoneyWithdrawn"
	}
	r := &record.Record{Topic: topic, Partition: partition, Offset: off, Timestamp: record.Timestamp{Time: ts},
		Key: []byte(`"` + key + `"`), Value: fmt.Appendf(nil, `{"n":%d}`, i), Type: typ,
		KeyEncoding: record.EncodingText, ValueEncoding: record.EncodingAvro}
	s.parts[p] = append(run, r)
	return r
}

func (s *sliceSource) Bounds(context.Context) ([]Bounds, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []Bounds
	for _, p := range s.order {
		run := s.parts[p]
		b := Bounds{Partition: p}
		if len(run) > 0 {
			b.Low, b.End = run[0].Offset, run[len(run)-1].Offset+2 // the last is a marker
		}
		out = append(out, b)
	}
	return out, nil
}

func (s *sliceSource) Read(_ context.Context, ranges []Range) (map[Partition][]*record.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out := map[Partition][]*record.Record{}
	for _, rg := range ranges {
		for _, r := range s.parts[rg.Partition] {
			if r.Offset >= rg.From && r.Offset < rg.To {
				out[rg.Partition] = append(out[rg.Partition], r)
			}
		}
	}
	return out, nil
}

func (s *sliceSource) OffsetsForTime(_ context.Context, t time.Time) (map[Partition]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Partition]int64{}
	for _, p := range s.order {
		out[p] = -1
		for _, r := range s.parts[p] {
			if !r.Timestamp.Before(t) {
				out[p] = r.Offset
				break
			}
		}
	}
	return out, nil
}

// Aggregate is every record with r's key, in time order: the slice
// source's keys are on every partition.
func (s *sliceSource) Aggregate(_ context.Context, r *record.Record) (*Aggregate, error) {
	a := &Aggregate{ID: strings.Trim(string(r.Key), `"`), Topic: r.Topic}
	for _, e := range s.all() {
		if string(e.Key) == string(r.Key) {
			a.Events = append(a.Events, e)
			a.Versions = append(a.Versions, int64(len(a.Events)))
		}
	}
	if s.fold != nil {
		var state map[string]any
		for _, e := range a.Events {
			state = s.fold(state, e)
			b, err := json.Marshal(state)
			if err != nil {
				return nil, err
			}
			a.States = append(a.States, b)
		}
	}
	return a, nil
}

func (s *sliceSource) all() []*record.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*record.Record
	for _, run := range s.parts {
		out = append(out, run...)
	}
	slices.SortFunc(out, record.CompareTime)
	return out
}

// run feeds msg to m and runs the commands it returns, and theirs, until
// none is left; ticks and quitting are not followed.
func run(t *testing.T, m *Model, msgs ...tea.Msg) (quit bool) {
	t.Helper()
	queue := slices.Clone(msgs)
	for len(queue) > 0 {
		msg := queue[0]
		queue = queue[1:]
		_, cmd := m.Update(msg)
		queue = append(queue, exec(cmd, &quit)...)
	}
	return quit
}

func exec(cmd tea.Cmd, quit *bool) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, exec(c, quit)...)
		}
		return out
	case tea.QuitMsg:
		*quit = true
	case followTick, nil:
	default:
		return []tea.Msg{msg}
	}
	return nil
}

func start(t *testing.T, m *Model) {
	t.Helper()
	var quit bool
	for _, msg := range exec(m.Init(), &quit) {
		run(t, m, msg)
	}
	run(t, m, tea.WindowSizeMsg{Width: 100, Height: 12})
}

func press(keys ...string) []tea.Msg {
	out := make([]tea.Msg, len(keys))
	for i, k := range keys {
		switch k {
		case "up":
			out[i] = tea.KeyPressMsg{Code: tea.KeyUp}
		case "down":
			out[i] = tea.KeyPressMsg{Code: tea.KeyDown}
		case "enter":
			out[i] = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			out[i] = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "space":
			out[i] = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
		default:
			r := []rune(k)[0]
			out[i] = tea.KeyPressMsg{Code: r, Text: k}
		}
	}
	return out
}

func typeText(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

func where(r *record.Record) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%d@%d", r.Partition, r.Offset)
}

func TestOpensAtTheEnd(t *testing.T) {
	src := newSliceSource("t", 3, 1000)
	m := New(Options{Source: src, Title: "t", PageSize: 50, Styles: ptr(PlainStyles())})
	start(t, m)
	all := src.all()
	if got, want := where(m.Selected()), where(all[len(all)-1]); got != want {
		t.Errorf("selected %s, want the latest record %s", got, want)
	}
	if len(m.pager.recs) != 50 {
		t.Errorf("loaded %d records, want one page of 50", len(m.pager.recs))
	}
	if diff := cmp.Diff(wheres(all[len(all)-50:]), wheres(m.pager.recs)); diff != "" {
		t.Errorf("first page is not the latest 50 records (-want +got):\n%s", diff)
	}
}

func wheres(rs []*record.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = where(r)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestWalksEveryRecord scrolls from the end to the start and back with a
// window smaller than the topic: every record shows exactly once each way,
// in order, across page loads and dropped pages.
func TestWalksEveryRecord(t *testing.T) {
	src := newSliceSource("t", 3, 400)
	m := New(Options{Source: src, Title: "t", PageSize: 20, MaxRecords: 60, Styles: ptr(PlainStyles())})
	start(t, m)
	all := src.all()

	var up []string
	for range 2 * len(all) {
		up = append(up, where(m.Selected()))
		if m.list.cursor == 0 && m.pager.atStart() {
			break
		}
		run(t, m, press("up")...)
	}
	want := wheres(all)
	slices.Reverse(want)
	if diff := cmp.Diff(want, up); diff != "" {
		t.Fatalf("walking up (-want +got):\n%s", diff)
	}
	if len(m.pager.recs) > 60 {
		t.Errorf("holds %d records, more than MaxRecords", len(m.pager.recs))
	}

	var down []string
	for range 2 * len(all) {
		down = append(down, where(m.Selected()))
		if m.list.cursor == len(m.pager.recs)-1 && m.pager.atEnd() {
			break
		}
		run(t, m, press("down")...)
	}
	if diff := cmp.Diff(wheres(all), down); diff != "" {
		t.Fatalf("walking down (-want +got):\n%s", diff)
	}
}

func TestJumps(t *testing.T) {
	src := newSliceSource("t", 4, 1000)
	m := New(Options{Source: src, Title: "t", PageSize: 30, Styles: ptr(PlainStyles())})
	start(t, m)
	all := src.all()
	run(t, m, press("g")...)
	if got, want := where(m.Selected()), where(all[0]); got != want {
		t.Errorf("after g: selected %s, want the first record %s", got, want)
	}
	if !m.pager.atStart() || m.pager.atEnd() {
		t.Errorf("after g: atStart %v, atEnd %v", m.pager.atStart(), m.pager.atEnd())
	}
	run(t, m, press("G")...)
	if got, want := where(m.Selected()), where(all[len(all)-1]); got != want {
		t.Errorf("after G: selected %s, want the last record %s", got, want)
	}
	run(t, m, press("space")...)
	if got, want := where(m.Selected()), where(all[len(all)-1]); got != want {
		t.Errorf("page down at the end: selected %s, want %s", got, want)
	}
	run(t, m, press("b")...)
	if got, want := where(m.Selected()), where(all[len(all)-1-m.listHeight()]); got != want {
		t.Errorf("page up: selected %s, want %s", got, want)
	}
}

// TestGoTo jumps to positions typed at the : prompt.
func TestGoTo(t *testing.T) {
	src := newSliceSource("t", 3, 600)
	all := src.all()
	now := base.Add(600 * time.Second)
	cases := []struct {
		typed string
		want  *record.Record
	}{
		{"start", all[0]},
		{"@2026-11-20T12:05:00Z", all[300]}, // record i is at base+i s
		{"@-100s", all[500]},
		{"end", all[len(all)-1]},
	}
	for _, c := range cases {
		t.Run(c.typed, func(t *testing.T) {
			m := New(Options{Source: src, Title: "t", PageSize: 30, Now: func() time.Time { return now }, Styles: ptr(PlainStyles())})
			start(t, m)
			msgs := append(press(":"), typeText(c.typed)...)
			run(t, m, append(msgs, press("enter")...)...)
			if m.err != nil || m.prompting() {
				t.Fatalf("err %v, prompting %v", m.err, m.prompting())
			}
			if got, want := where(m.Selected()), where(c.want); got != want {
				t.Errorf("selected %s, want %s", got, want)
			}
		})
	}

	// Scrolling up from a position loads the records before it.
	m := New(Options{Source: src, Title: "t", PageSize: 30, From: mustPosition(t, "@2026-11-20T12:05:00Z"), Styles: ptr(PlainStyles())})
	start(t, m)
	if got, want := where(m.Selected()), where(all[300]); got != want {
		t.Fatalf("opened at %s, want %s", got, want)
	}
	run(t, m, press("up")...)
	if got, want := where(m.Selected()), where(all[299]); got != want {
		t.Errorf("up from the position: %s, want %s", got, want)
	}

	// A position that does not parse keeps the prompt open with the error.
	msgs := append(press(":"), typeText("@yesterday")...)
	run(t, m, append(msgs, press("enter")...)...)
	if m.promptErr == nil || !m.prompting() {
		t.Errorf("bad position: err %v, prompting %v", m.promptErr, m.prompting())
	}
	// The error shows while the prompt is open, to fix the text.
	if screen := ansi.Strip(m.Render()); !strings.Contains(strings.Join(strings.Fields(screen), ""), strings.Join(strings.Fields(m.promptErr.Error()), "")) || !strings.Contains(screen, "go to: @yesterday") {
		t.Errorf("the screen does not show the prompt and %q:\n%s", m.promptErr, screen)
	}
}

func mustPosition(t *testing.T, s string) position.Position {
	t.Helper()
	p, err := position.Parse(s, base)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFilter(t *testing.T) {
	src := newSliceSource("t", 2, 300)
	m := New(Options{Source: src, Title: "t", PageSize: 40, Styles: ptr(PlainStyles())})
	start(t, m)
	msgs := append(press("/"), typeText(`.type | endswith("Withdrawn")`)...)
	msgs = append(msgs, press("enter")...)
	run(t, m, msgs...)
	if m.err != nil || m.prompting() {
		t.Fatalf("filter not applied: err %v, prompting %v", m.err, m.prompting())
	}
	if len(m.pager.recs) == 0 {
		t.Fatal("the filter hides everything")
	}
	for _, r := range m.pager.recs {
		if !strings.HasSuffix(r.Type, "Withdrawn") {
			t.Errorf("visible %s is a %s", where(r), r.Type)
		}
	}
	if got := m.statusLine(); !strings.Contains(got, `filter .type | endswith("Withdrawn"): `) {
		t.Errorf("status line %q does not show the filter", got)
	}

	// A bad expression keeps the prompt open with the error.
	msgs = append(press("/"), typeText(` | (`)...)
	msgs = append(msgs, press("enter")...)
	run(t, m, msgs...)
	if m.promptErr == nil || !m.prompting() {
		t.Fatalf("bad filter: err %v, prompting %v; want an error and the prompt open", m.promptErr, m.prompting())
	}
	if msg, _, _ := strings.Cut(m.promptErr.Error(), "\n"); !strings.Contains(ansi.Strip(m.Render()), msg) {
		t.Errorf("the screen does not show %q while the prompt is open:\n%s", msg, ansi.Strip(m.Render()))
	}
	run(t, m, press("esc")...)
	if m.prompting() || m.promptErr != nil || m.err != nil {
		t.Errorf("esc: prompting %v, errors %v, %v; want the prompt and its error gone", m.prompting(), m.promptErr, m.err)
	}
	if !strings.Contains(m.list.flt.String(), "Withdrawn") {
		t.Errorf("esc changed the filter to %q", m.list.flt)
	}
}

// TestTimeline opens the selected record's aggregate with a: every event
// of its key in order, the selected one under the cursor; arrows step,
// : jumps to a version or a time, esc goes back.
func TestTimeline(t *testing.T) {
	src := newSliceSource("t", 3, 400)
	m := New(Options{Source: src, Title: "t", PageSize: 30, Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, press("up", "up")...)
	sel := m.Selected()
	run(t, m, press("a")...)
	if m.mode != modeTimeline || m.timeline.agg == nil {
		t.Fatalf("a: mode %v, aggregate %v; want the timeline", m.mode, m.timeline.agg)
	}
	var want []string
	for _, r := range src.all() {
		if string(r.Key) == string(sel.Key) {
			want = append(want, where(r))
		}
	}
	if diff := cmp.Diff(want, wheres(m.timeline.agg.Events)); diff != "" {
		t.Errorf("events of %s (-want +got):\n%s", sel.Key, diff)
	}
	if got := where(m.timeline.agg.Events[m.timeline.cursor]); got != where(sel) {
		t.Errorf("timeline opens on %s, want the selected record %s", got, where(sel))
	}
	at := m.timeline.cursor
	run(t, m, press("up", "left")...)
	if m.timeline.cursor != at-2 {
		t.Errorf("up, left: cursor %d, want %d", m.timeline.cursor, at-2)
	}
	run(t, m, append(append(press(":"), typeText("3")...), press("enter")...)...)
	if m.timeline.cursor != 2 || m.prompting() {
		t.Errorf(":3: cursor %d (prompting %v), want version 3, the third event", m.timeline.cursor, m.prompting())
	}
	e := m.timeline.agg.Events[10]
	run(t, m, append(append(press(":"), typeText("@"+e.Timestamp.Add(time.Millisecond).Format(time.RFC3339Nano))...), press("enter")...)...)
	if m.timeline.cursor != 10 {
		t.Errorf(":@time: cursor %d, want 10, the last event at or before it", m.timeline.cursor)
	}
	run(t, m, append(append(press(":"), typeText("99")...), press("enter")...)...)
	if m.promptErr == nil || !strings.Contains(m.promptErr.Error(), "has no version 99 (it has versions 1 to ") {
		t.Errorf(":99: error %v, want no such version", m.promptErr)
	}
	run(t, m, press("esc", "esc")...)
	if m.mode != modeRecords || where(m.Selected()) != where(sel) {
		t.Errorf("esc: mode %v on %s, want the records on %s", m.mode, where(m.Selected()), where(sel))
	}
}

// TestTimelineStates shows the state after the selected event, the
// fields it changed marked and named as diff names them.
func TestTimelineStates(t *testing.T) {
	src := bankSource(60)
	src.fold = func(state map[string]any, r *record.Record) map[string]any {
		var v map[string]any
		_ = json.Unmarshal(r.Value, &v)
		if state == nil {
			return map[string]any{"id": v["accountId"], "events": 1.0, "owner": map[string]any{"name": "Ann"}}
		}
		state["events"] = state["events"].(float64) + 1
		state["last"] = v["amount"]
		return state
	}
	m := New(Options{Source: src, Title: "bank.account-events", PageSize: 25, Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, tea.WindowSizeMsg{Width: 120, Height: 20})
	run(t, m, press("a")...)
	run(t, m, press("g")...)
	golden(t, "timeline-first", ansi.Strip(m.Render())+"\n")
	run(t, m, press("down")...)
	screen := ansi.Strip(m.Render())
	golden(t, "timeline", screen+"\n")
	if !strings.Contains(screen, "state after v2") || !strings.Contains(screen, "changed .events, .last") {
		t.Errorf("the pane does not name the changed fields:\n%s", screen)
	}
	for _, line := range []string{`▸   "events": 2,`, `▸   "last": "`, `    "id": "acct-`, `    "owner": {`} {
		if !strings.Contains(screen, line) {
			t.Errorf("no line %q in the state:\n%s", line, screen)
		}
	}
}

// TestFilterLoadsOn opens on a page where the filter keeps nothing: the
// browser loads older pages until it finds a match.
func TestFilterLoadsOn(t *testing.T) {
	src := newSliceSource("t", 2, 300)
	// The only match is p0's last offset, with the oldest timestamp of all:
	// the merge takes it last, after every page of p1.
	src.add("t", 0, base.Add(-time.Hour), "acct-99", 1)
	m := New(Options{Source: src, Title: "t", PageSize: 20, Filter: `.key == "acct-99"`, Styles: ptr(PlainStyles())})
	start(t, m)
	if got := m.Selected(); got == nil || string(got.Key) != `"acct-99"` {
		t.Fatalf("selected %s, want the acct-99 record", where(got))
	}
}

func TestFollow(t *testing.T) {
	src := newSliceSource("t", 2, 100)
	m := New(Options{Source: src, Title: "t", PageSize: 20, Follow: true, FollowEvery: time.Millisecond, Styles: ptr(PlainStyles())})
	start(t, m)
	r := src.add("t", 1, base.Add(time.Hour), "acct-new", 1000)
	run(t, m, followTick{})
	if got := where(m.Selected()); got != where(r) {
		t.Errorf("after a follow tick: selected %s, want the new record %s", got, where(r))
	}
	// Moving up stops following.
	run(t, m, press("up")...)
	if m.list.follow {
		t.Error("still following after moving up")
	}
	reads := src.reads
	run(t, m, followTick{})
	if src.reads != reads {
		t.Error("a tick loaded records after following stopped")
	}
}

func TestFirstLoadFails(t *testing.T) {
	src := newSliceSource("t", 1, 10)
	src.fail = errors.New("brokers unreachable")
	m := New(Options{Source: src, Title: "t"})
	var quit bool
	for _, msg := range exec(m.Init(), &quit) {
		quit = run(t, m, msg) || quit
	}
	if !quit {
		t.Error("the browser did not quit when nothing could be loaded")
	}
	if err := m.Err(); err == nil || !strings.Contains(err.Error(), "brokers unreachable") {
		t.Errorf("Err() = %v", err)
	}
}

// TestLaterLoadFails keeps what is shown and says why a page did not load.
func TestLaterLoadFails(t *testing.T) {
	src := newSliceSource("t", 1, 100)
	m := New(Options{Source: src, Title: "t", PageSize: 10, Styles: ptr(PlainStyles())})
	start(t, m)
	shown := wheres(m.pager.recs)
	src.fail = errors.New("registry down")
	if quit := run(t, m, press("g")...); quit {
		t.Fatal("quit on a failed page load")
	}
	if m.Err() != nil || !slices.Equal(wheres(m.pager.recs), shown) {
		t.Errorf("Err() = %v, records %v; want nil and the records shown before, %v", m.Err(), wheres(m.pager.recs), shown)
	}
	if got := m.statusLine(); !strings.Contains(got, "registry down") {
		t.Errorf("status %q does not say why", got)
	}
}

func TestTakeKeepsRunsContiguous(t *testing.T) {
	p0, p1 := Partition{"t", 0}, Partition{"t", 1}
	rec := func(p Partition, off int64, sec int) *record.Record {
		return &record.Record{Topic: p.Topic, Partition: p.Partition, Offset: off, Timestamp: record.Timestamp{Time: base.Add(time.Duration(sec) * time.Second)}}
	}
	// p0's timestamps go backwards after offset 2: sorting by time alone
	// would keep 0@2 (the latest) and leave 0@3 out, a hole no later load
	// fills.
	runs := map[Partition][]*record.Record{
		p0: {rec(p0, 0, 1), rec(p0, 1, 2), rec(p0, 2, 9), rec(p0, 3, 3)},
		p1: {rec(p1, 0, 4), rec(p1, 1, 5)},
	}
	if diff := cmp.Diff([]string{"0@3", "1@0", "1@1"}, wheres(takeLatest(runs, 3, nil))); diff != "" {
		t.Errorf("takeLatest (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0@0", "0@1", "1@0"}, wheres(takeEarliest(runs, 3, nil))); diff != "" {
		t.Errorf("takeEarliest (-want +got):\n%s", diff)
	}
}

// TestDetailWraps shows a long value whole in the detail pane.
func TestDetailWraps(t *testing.T) {
	src := newSliceSource("t", 1, 3)
	long := strings.Repeat("x", 150)
	r := src.add("t", 0, base.Add(time.Hour), "acct-long", 7)
	r.Value = []byte(`{"note":"` + long + `"}`)
	m := New(Options{Source: src, Title: "t", Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, press("enter")...)
	run(t, m, tea.WindowSizeMsg{Width: 60, Height: 40})
	screen := ansi.Strip(m.Render())
	if got := strings.Count(strings.ReplaceAll(screen, "\n", ""), "x"); got < 150 {
		t.Errorf("the detail shows %d of the value's 150 x; screen:\n%s", got, screen)
	}
}

// TestRender compares whole screens with golden files (go test -update
// rewrites them).
func TestRender(t *testing.T) {
	src := newSliceSource("bank.account-events", 3, 60)
	cases := []struct {
		name string
		keys []tea.Msg
	}{
		{"end", nil},
		{"detail", press("up", "enter")},
		{"help", press("?")},
		{"prompt", append(press("/"), typeText(".key")...)},
		{"prompt-error", append(append(press("/"), typeText(".key |")...), press("enter")...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := New(Options{Source: src, Title: "bank.account-events", PageSize: 25, Styles: ptr(PlainStyles())})
			start(t, m)
			run(t, m, c.keys...)
			got := ansi.Strip(m.Render()) + "\n"
			golden(t, c.name, got)
			if lines := strings.Count(got, "\n"); lines != 12 {
				t.Errorf("screen has %d lines, want the window's 12", lines)
			}
		})
	}
}

// TestHelpComesFromKeyMap draws the footer and ? from the keymap's
// help.KeyMap: a binding disabled there is gone from both, every other
// one of FullHelp is listed once.
func TestHelpComesFromKeyMap(t *testing.T) {
	keys := DefaultKeys()
	keys.Follow.SetEnabled(false)
	m := New(Options{Source: newSliceSource("t", 1, 10), Title: "t", Keys: keys, Styles: ptr(PlainStyles())})
	start(t, m)
	if got := ansi.Strip(strings.Join(m.helpLines(), "\n")); strings.Contains(got, "follow") || !strings.Contains(got, "? more keys") {
		t.Errorf("footer %q: want ? and no disabled f", got)
	}
	run(t, m, press("?")...)
	full := ansi.Strip(strings.Join(m.helpLines(), "\n"))
	for _, b := range slices.Concat(keys.FullHelp()...) {
		n := strings.Count(full, b.Help().Key+" "+b.Help().Desc)
		want := map[bool]int{true: 1, false: 0}[b.Enabled()]
		if b.Help() == keys.Topics.Help() {
			want = 0 // no catalog, no topic list
		}
		if n != want {
			t.Errorf("? lists %q %d times, want %d:\n%s", b.Help().Desc, n, want, full)
		}
	}
}

// TestPromptReturnsToItsView: a prompt opened over the details goes back
// to them, one opened over the list to the list.
func TestPromptReturnsToItsView(t *testing.T) {
	m := New(Options{Source: newSliceSource("t", 1, 10), Title: "t", Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, press("enter", "/", "esc")...)
	if m.mode != modeDetails {
		t.Errorf("after a prompt over the details: mode %v, want the details", m.mode)
	}
	run(t, m, press("enter", ":")...)
	run(t, m, append(typeText("start"), press("enter")...)...)
	if m.mode != modeRecords {
		t.Errorf("after a prompt over the list: mode %v, want the list", m.mode)
	}
}

// TestEscCloses: Esc closes the details, and the full help.
func TestEscCloses(t *testing.T) {
	m := New(Options{Source: newSliceSource("t", 1, 10), Title: "t", Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, press("enter", "esc")...)
	if m.mode != modeRecords {
		t.Errorf("esc in the details: mode %v, want the list", m.mode)
	}
	run(t, m, press("?", "esc")...)
	if m.help.ShowAll {
		t.Error("esc did not close the full help")
	}
}

// TestEscThenKey: esc followed at once by a key reaches the browser as
// alt+key, as terminals send both; it does what esc then the key do.
func TestEscThenKey(t *testing.T) {
	newModel := func() *Model {
		m := New(Options{Source: newSliceSource("t", 1, 10), Title: "t", Styles: ptr(PlainStyles())})
		start(t, m)
		return m
	}
	want := newModel()
	run(t, want, press("up", "up", "enter", "esc", "k", "enter", "esc", "G")...)
	got := newModel()
	run(t, got, press("up", "up", "enter")...)
	run(t, got, tea.KeyPressMsg{Code: 'k', Mod: tea.ModAlt}) // esc k
	run(t, got, press("enter")...)
	run(t, got, tea.KeyPressMsg{Code: 'g', ShiftedCode: 'G', Mod: tea.ModAlt | tea.ModShift}) // esc G
	if got.mode != modeRecords || got.list.cursor != want.list.cursor || got.list.cursor == 0 {
		t.Errorf("after esc+k, enter, esc+G: mode %v, cursor %d; want the list at %d", got.mode, got.list.cursor, want.list.cursor)
	}

	// In a prompt, alt+left is the word motion it is, not esc then left.
	run(t, got, press("/")...)
	run(t, got, tea.KeyPressMsg{Code: '.', Text: "."}, tea.KeyPressMsg{Code: tea.KeyLeft, Mod: tea.ModAlt})
	if got.mode != modeFilter {
		t.Errorf("alt+left in the filter prompt: mode %v, want the prompt still open", got.mode)
	}
	// An alt+character there cancels it, then acts: esc then k moves.
	at := got.list.cursor
	run(t, got, tea.KeyPressMsg{Code: 'k', Mod: tea.ModAlt})
	if got.mode != modeRecords || got.list.cursor != at-1 {
		t.Errorf("esc+k in the filter prompt: mode %v, cursor %d; want the list at %d", got.mode, got.list.cursor, at-1)
	}
}

// TestCtrlCInterrupts ends the browser as SIGINT does (exit status 130),
// from the list and from a prompt; q quits.
func TestCtrlCInterrupts(t *testing.T) {
	m := New(Options{Source: newSliceSource("t", 1, 10), Title: "t", Styles: ptr(PlainStyles())})
	start(t, m)
	ctrlC := tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	for _, keys := range [][]tea.Msg{nil, press("/")} {
		run(t, m, keys...)
		_, cmd := m.Update(ctrlC)
		if cmd == nil {
			t.Fatal("ctrl+c did nothing")
		}
		if msg := cmd(); msg != (tea.InterruptMsg{}) {
			t.Errorf("ctrl+c (mode %v) sends %#v, want tea.InterruptMsg", m.mode, msg)
		}
	}
	run(t, m, press("esc")...)
	_, cmd := m.Update(press("q")[0])
	if msg := cmd(); msg != (tea.QuitMsg{}) {
		t.Errorf("q sends %#v, want tea.QuitMsg", msg)
	}
}

// bankSource holds bank-like events: every value starts with an event id,
// the account id and a time, and what tells them apart comes after.
func bankSource(n int) *sliceSource {
	src := newSliceSource("bank.account-events", 3, n)
	for i, r := range src.all() {
		r.Key = fmt.Appendf(nil, `"acct-%04d"`, i%7)
		r.TimestampType = record.TimestampLogAppendTime // the broker's time, which details name
		r.Schema = &record.SchemaRef{ID: 3, Subject: "bank.account-events-value", Version: 2, Format: "AVRO"}
		r.Headers = []record.Header{{Key: "event-id", Value: fmt.Sprintf("e-%d", i)}, {Key: "trace", Encoding: record.EncodingNull}}
		defer func() { // the bytes a producer sent: text key, Confluent-framed value
			r.RawKey = fmt.Appendf(nil, "acct-%04d", i%7)
			r.RawValue = append([]byte{0, 0, 0, 0, 3}, r.Value...)
		}()
		r.Value = fmt.Appendf(nil, `{"eventId":"%08x-1648-41b9-b7f1-%012x","accountId":"acct-%04d","occurredAt":%q,"version":%d,"amount":"%d.%02d","reference":"ref %d"}`,
			i*7919, i*104729, i%7, r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), i%12+1, 10+i*37%900, i%100, i)
	}
	return src
}

func TestPreviewSharedFieldsLast(t *testing.T) {
	src := bankSource(30)
	m := New(Options{Source: src, Title: "t", Styles: ptr(PlainStyles())})
	start(t, m)
	if diff := cmp.Diff(map[string]bool{"eventId": true, "accountId": true, "occurredAt": true}, m.list.shared); diff != "" {
		t.Errorf("shared fields (-want +got):\n%s", diff)
	}
	r := m.Selected()
	got := preview(r, m.list.shared)
	if !strings.HasPrefix(got, `{"version":`) || !strings.Contains(got, `"reference":"ref 29","eventId":`) {
		t.Errorf("preview %s: want version, amount, reference first", got)
	}
	var a, b map[string]any
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.Value, &b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("the preview is not the value reordered (-value +preview):\n%s", diff)
	}
	// One record alone shares nothing with others: its fields keep their order.
	if got := sharedFields(src.all()[:1]); got != nil {
		t.Errorf("sharedFields of one record = %v", got)
	}
}

// TestNarrowScreens: at 80 and 60 columns the columns shrink, the value
// stays; narrower, the others go before it.
func TestNarrowScreens(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {60, 16}, {40, 12}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			m := New(Options{Source: bankSource(60), Title: "bank.account-events", PageSize: 25, Styles: ptr(PlainStyles())})
			start(t, m)
			run(t, m, tea.WindowSizeMsg{Width: size.w, Height: size.h})
			got := ansi.Strip(m.Render()) + "\n"
			golden(t, fmt.Sprintf("narrow-%d", size.w), got)
			for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				if w := ansi.StringWidth(line); w > size.w {
					t.Errorf("line %d is %d cells wide: %q", i, w, line)
				}
			}
			if c := layout(size.w); c.value(size.w) < minValue {
				t.Errorf("the value column has %d cells, want %d", c.value(size.w), minValue)
			}
			if !strings.Contains(got, `{"version":`) || strings.Contains(got, `{"eventId"`) {
				t.Error("no record shows its value")
			}
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("screen differs from %s (-want +got):\n%s", path, diff)
	}
}

// TestDetails shows a record's details, then its bytes with x.
func TestDetails(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []tea.Msg
	}{
		{"details", press("enter")},
		{"details-scrolled", press("enter", "J", "J", "J")},
		{"details-hex", press("enter", "x")},
		{"details-write", press("enter", "w")},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := New(Options{Source: bankSource(60), Title: "bank.account-events", PageSize: 25, Styles: ptr(PlainStyles())})
			start(t, m)
			run(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
			run(t, m, c.keys...)
			golden(t, c.name, ansi.Strip(m.Render())+"\n")
		})
	}
}

// TestHexWithoutBytes: a schema-decoded record without its bytes says so.
func TestHexWithoutBytes(t *testing.T) {
	m := New(Options{Source: newSliceSource("t", 1, 10), Title: "t", Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	run(t, m, press("x")...)
	if m.mode != modeDetails || !m.details.hex {
		t.Fatalf("x from the list: mode %v, hex %v; want the details as hex", m.mode, m.details.hex)
	}
	if got := ansi.Strip(m.Render()); !strings.Contains(got, "no bytes to show") {
		t.Errorf("no word on the missing bytes:\n%s", got)
	}
	// Moving to another record keeps hex; x again decodes.
	run(t, m, press("up", "x")...)
	if m.details.hex || !strings.Contains(ansi.Strip(m.Render()), "record     t · partition 0") {
		t.Errorf("x again: hex %v\n%s", m.details.hex, ansi.Strip(m.Render()))
	}
}

// TestWrite writes the selected record to a capture file that reads back
// as the same record, raw bytes included, and never overwrites one.
func TestWrite(t *testing.T) {
	m := New(Options{Source: bankSource(60), Title: "bank.account-events", PageSize: 25, Styles: ptr(PlainStyles())})
	start(t, m)
	r := m.Selected()
	run(t, m, press("w")...)
	if got, want := m.prompt.Value(), "bank.account-events-2-38.jsonl"; m.mode != modeWrite || got != want {
		t.Fatalf("w: mode %v, name %q; want the write prompt with %q", m.mode, got, want)
	}
	path := filepath.Join(t.TempDir(), "one.jsonl")
	m.prompt.SetValue(path)
	run(t, m, press("enter")...)
	if m.mode != modeRecords || !strings.Contains(m.statusLine(), "wrote 1 record to "+path) {
		t.Errorf("after the write: mode %v, status %q", m.mode, m.statusLine())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := record.NewReader(f, path)
	got, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, cmp.Comparer(func(a, b json.RawMessage) bool { return string(a) == string(b) })); diff != "" {
		t.Errorf("the capture holds another record (-selected +read):\n%s", diff)
	}
	if _, err := rd.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("a second record in the capture: %v", err)
	}

	// The same name again: the prompt comes back with the error, the file stays.
	run(t, m, press("w")...)
	m.prompt.SetValue(path)
	run(t, m, press("enter")...)
	if m.mode != modeWrite || m.promptErr == nil || !strings.Contains(m.promptErr.Error(), "exists") {
		t.Errorf("writing over a file: mode %v, error %v; want the prompt and an error", m.mode, m.promptErr)
	}
}

// TestDetailsColourKeys styles the value's object keys, and only them.
func TestDetailsColourKeys(t *testing.T) {
	m := New(Options{Source: bankSource(10), Title: "t"})
	start(t, m)
	key := m.styles.Key.Render(`"eventId"`)
	if key == `"eventId"` {
		t.Fatal("the default key style adds nothing")
	}
	lines := m.detailLines(m.Selected(), false)
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  "+key+": ") }) {
		t.Errorf("no styled eventId key in the details:\n%q", lines)
	}
	if got := m.colourKey(`  "a\"b": "c"`); got != "  "+m.styles.Key.Render(`"a\"b"`)+`: "c"` {
		t.Errorf("colourKey = %q", got)
	}
	if got := m.colourKey(`  "just a string in an array"`); got != `  "just a string in an array"` {
		t.Errorf("colourKey styled an array element: %q", got)
	}
}

// TestFilterKeepsWhatItFound: a filter whose few matches lie far apart
// reads on through the topic, holding only the matches, so none is
// dropped however much it read past (the window held every record read,
// and dropped the matches with the rest once it was full).
func TestFilterKeepsWhatItFound(t *testing.T) {
	src := newSliceSource("t", 3, 3000)
	var want []string
	for i := range 5 {
		r := src.add("t", int32(i%3), base.Add(time.Duration(i*600)*time.Second+time.Millisecond), "acct-rare", i)
		want = append(want, where(r))
	}
	m := New(Options{Source: src, Title: "t", PageSize: 20, MaxRecords: 60, ScanPageSize: 50, Styles: ptr(PlainStyles())})
	start(t, m)
	msgs := append(press("/"), typeText(`.key == "acct-rare"`)...)
	run(t, m, append(msgs, press("enter")...)...)
	if diff := cmp.Diff(want, wheres(m.pager.recs)); diff != "" {
		t.Errorf("matches held (-want +got):\n%s", diff)
	}
	if got := m.statusLine(); !strings.Contains(got, `filter .key == "acct-rare": 5 found in 6010 of 6010 records · all of it`) {
		t.Errorf("status %q", got)
	}
	// Moving through them loads nothing more and loses none.
	run(t, m, press("g", "down", "down", "G")...)
	if diff := cmp.Diff(want, wheres(m.pager.recs)); diff != "" {
		t.Errorf("after g and G (-want +got):\n%s", diff)
	}

	// w writes what the filter found.
	run(t, m, press("w")...)
	if got := m.prompt.Value(); got != "t-filtered.jsonl" {
		t.Errorf("w offers %q, want t-filtered.jsonl", got)
	}
	path := filepath.Join(t.TempDir(), "found.jsonl")
	m.prompt.SetValue(path)
	run(t, m, press("enter")...)
	if !strings.Contains(m.statusLine(), "wrote 5 records to "+path) {
		t.Errorf("status after w: %q", m.statusLine())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := record.NewReader(f, path)
	var got []string
	for {
		r, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, where(r))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the capture (-want +got):\n%s", diff)
	}
}

// TestFilterScanStops: esc stops a filter's scan where it got to; the
// answer of the load it stopped is dropped, what was found stays.
func TestFilterScanStops(t *testing.T) {
	src := newSliceSource("t", 2, 2000)
	m := New(Options{Source: src, Title: "t", PageSize: 20, ScanPageSize: 100, Styles: ptr(PlainStyles())})
	start(t, m)
	m.Update(press("/")[0])
	for _, k := range typeText(`.key == "none"`) {
		m.Update(k)
	}
	_, cmd := m.Update(press("enter")[0])
	var quit bool
	// Two scan loads run; the third is stopped before its answer comes.
	for range 2 {
		msgs := exec(cmd, &quit)
		if len(msgs) != 1 {
			t.Fatalf("want one load answer, got %v", msgs)
		}
		_, cmd = m.Update(msgs[0])
		if !m.scanning() || !strings.Contains(m.statusLine(), "scanning… esc stops") {
			t.Fatalf("not scanning: %q", m.statusLine())
		}
	}
	read, _ := m.pager.total()
	m.Update(press("esc")[0])
	for _, msg := range exec(cmd, &quit) {
		m.Update(msg)
	}
	if m.scanning() || m.pager.loading {
		t.Error("still scanning after esc")
	}
	if r, _ := m.pager.total(); r != read {
		t.Errorf("read %d after esc, want %d: the stopped load was applied", r, read)
	}
	if got := m.statusLine(); !strings.Contains(got, fmt.Sprintf(`0 found in %d of 4000 records (`, read)) || !strings.Contains(got, "stopped") {
		t.Errorf("status %q", got)
	}
	// Moving on at the edge scans on.
	if cmd := m.move(-1); cmd == nil || !m.pager.loading {
		t.Error("moving up after a stop does not scan on")
	}
}

// sliceCatalog offers slice sources as topics.
type sliceCatalog struct {
	topics []Topic
	srcs   map[string]*sliceSource
}

func (c *sliceCatalog) Topics(context.Context) ([]Topic, error) { return c.topics, nil }

func (c *sliceCatalog) Open(_ context.Context, name string) (Source, error) {
	if s, ok := c.srcs[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("topic %q not found", name)
}

func bankCatalog() *sliceCatalog {
	return &sliceCatalog{
		topics: []Topic{
			{Name: "bank.account-balances", Partitions: 6, Records: 20, CleanupPolicy: "compact"},
			{Name: "bank.account-events", Partitions: 3, Records: 60, CleanupPolicy: "delete", ValueSubject: "bank.account-events-value"},
			{Name: "bank.notifications", Partitions: 3, Records: 42, CleanupPolicy: "delete"},
		},
		srcs: map[string]*sliceSource{"bank.account-events": bankSource(60)},
	}
}

// TestTopicList: without a source the browser lists the catalog's
// topics; / finds as you type, enter opens one, t goes back to the list
// with the cursor on it.
func TestTopicList(t *testing.T) {
	m := New(Options{Catalog: bankCatalog(), PageSize: 25, Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, tea.WindowSizeMsg{Width: 100, Height: 12})
	if m.mode != modeTopics || len(m.topics.shown) != 3 {
		t.Fatalf("mode %v, %d topics shown; want the topic list of 3", m.mode, len(m.topics.shown))
	}
	golden(t, "topics", ansi.Strip(m.Render())+"\n")
	// Narrower, the key subject goes, then the value subject shrinks
	// before it goes.
	for _, c := range []struct {
		width int
		want  string
	}{
		{80, " bank.account-events             3       60  delete   bank.account-events-value"},
		{70, " bank.account-events             3       60  delete   bank.account-ev…"},
		{62, " bank.account-events             3       60  delete   bank.ac…"},
		{61, " bank.account-events             3       60  delete"},
	} {
		run(t, m, tea.WindowSizeMsg{Width: c.width, Height: 12})
		if got := strings.Split(ansi.Strip(m.Render()), "\n")[3]; strings.TrimRight(got, " ") != c.want {
			t.Errorf("at %d columns the topic's row is\n%q, want\n%q", c.width, got, c.want)
		}
	}
	run(t, m, tea.WindowSizeMsg{Width: 100, Height: 12})
	run(t, m, append(press("/"), typeText("EVENT")...)...)
	if got := m.topics.selectedName(); len(m.topics.shown) != 1 || got != "bank.account-events" {
		t.Errorf("find EVENT while typing: %d shown, selected %q", len(m.topics.shown), got)
	}
	golden(t, "topics-find", ansi.Strip(m.Render())+"\n")
	run(t, m, press("enter")...)
	if m.mode != modeRecords || m.title != "bank.account-events" || len(m.pager.recs) != 25 {
		t.Fatalf("enter: mode %v, title %q, %d records; want the topic's records", m.mode, m.title, len(m.pager.recs))
	}
	run(t, m, press("up", "t")...)
	if m.mode != modeTopics || m.topics.selectedName() != "bank.account-events" {
		t.Errorf("t: mode %v on %q; want the topic list on the topic", m.mode, m.topics.selectedName())
	}
	// Esc clears the find; opening the same topic again goes back to where
	// the user was.
	run(t, m, press("esc")...)
	if len(m.topics.shown) != 3 {
		t.Errorf("esc: %d topics shown, want all 3", len(m.topics.shown))
	}
	sel := m.Selected()
	run(t, m, press("enter")...)
	if m.mode != modeRecords || m.Selected() != sel {
		t.Errorf("enter again: mode %v on %s, want the records on %s", m.mode, where(m.Selected()), where(sel))
	}
	// A topic that does not open says why and stays on the list.
	run(t, m, press("t", "G", "enter")...)
	if m.mode != modeTopics || m.err == nil || !strings.Contains(m.statusLine(), `topic "bank.notifications" not found`) {
		t.Errorf("opening a failing topic: mode %v, status %q", m.mode, m.statusLine())
	}
}

// TestMouseWheel scrolls the list, and the details under the pointer.
func TestMouseWheel(t *testing.T) {
	m := New(Options{Source: bankSource(60), Title: "t", PageSize: 25, Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	at := m.list.cursor
	run(t, m, tea.MouseWheelMsg{Button: tea.MouseWheelUp, Y: 3}, tea.MouseWheelMsg{Button: tea.MouseWheelUp, Y: 3})
	if m.list.cursor != at-2 {
		t.Errorf("two wheel notches up: cursor %d, want %d", m.list.cursor, at-2)
	}
	run(t, m, press("enter")...)
	run(t, m, tea.MouseWheelMsg{Button: tea.MouseWheelDown, Y: 25})
	if m.details.vp.YOffset() != 3 || m.list.cursor != at-2 {
		t.Errorf("wheel over the details: offset %d, cursor %d; want the details scrolled 3, the cursor still", m.details.vp.YOffset(), m.list.cursor)
	}
}

// TestPartitions: p shows only the partitions typed, from the selected
// record's time; empty shows all again; one the topic lacks is an error
// under the prompt.
func TestPartitions(t *testing.T) {
	src := newSliceSource("t", 4, 400)
	m := New(Options{Source: src, Title: "t", PageSize: 20, Styles: ptr(PlainStyles())})
	start(t, m)
	run(t, m, append(append(press("p"), typeText("1,3")...), press("enter")...)...)
	if m.prompting() || len(m.pager.recs) == 0 {
		t.Fatalf("p 1,3: prompting %v (%v), %d records", m.prompting(), m.promptErr, len(m.pager.recs))
	}
	for _, r := range m.pager.recs {
		if r.Partition != 1 && r.Partition != 3 {
			t.Fatalf("p 1,3 shows %s", where(r))
		}
	}
	var want []*record.Record
	for _, r := range src.all() {
		if r.Partition == 1 || r.Partition == 3 {
			want = append(want, r)
		}
	}
	if got := where(m.Selected()); got != where(want[len(want)-1]) {
		t.Errorf("selected %s, want the latest of 1 and 3, %s", got, where(want[len(want)-1]))
	}
	if got := ansi.Strip(m.titleLine()); !strings.Contains(got, "t · partitions 1, 3 of 4 · ") {
		t.Errorf("title %q", got)
	}
	run(t, m, press("p")...)
	m.prompt.SetValue("7")
	run(t, m, press("enter")...)
	if m.promptErr == nil || m.promptErr.Error() != `no partition "7"; the topic has partitions 0, 1, 2, 3` {
		t.Errorf("p 7: error %v", m.promptErr)
	}
	run(t, m, press("esc", "p")...)
	if m.prompt.Value() != "1,3" {
		t.Errorf("p offers %q, want the partitions shown", m.prompt.Value())
	}
	m.prompt.SetValue("")
	run(t, m, press("enter")...)
	if m.pager.only != nil || len(m.pager.bounds) != 4 || where(m.Selected()) != where(src.all()[len(src.all())-1]) {
		t.Errorf("p empty: only %v, %d partitions, selected %s", m.pager.only, len(m.pager.bounds), where(m.Selected()))
	}
}

// TestColumns shows the values of jq expressions in place of the value's
// preview: --columns at the start, c to change them, empty for the value
// again; a bad expression says why under the prompt.
func TestColumns(t *testing.T) {
	m := New(Options{Source: bankSource(60), Title: "bank.account-events", PageSize: 25, Columns: `.value.amount, .value.reference, .headers["event-id"], .value.nothing`, Styles: ptr(PlainStyles())})
	start(t, m)
	if m.err != nil {
		t.Fatal(m.err)
	}
	screen := ansi.Strip(m.Render())
	golden(t, "columns", screen+"\n")
	r := m.Selected()
	var v struct{ Amount, Reference string }
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s  %s  %s  -", v.Amount, v.Reference, r.Headers[0].Value)
	if !strings.Contains(screen, want) {
		t.Errorf("the selected row does not show %q:\n%s", want, screen)
	}
	run(t, m, press("c")...)
	if got := m.prompt.Value(); got != `.value.amount, .value.reference, .headers["event-id"], .value.nothing` {
		t.Errorf("c offers %q", got)
	}
	m.prompt.SetValue(`.type, (.value |`)
	run(t, m, press("enter")...)
	if m.promptErr == nil || !strings.Contains(m.promptErr.Error(), "columns: invalid jq filter") {
		t.Errorf("a bad column: error %v", m.promptErr)
	}
	m.prompt.SetValue(`[.partition, .offset] | join("/")`)
	run(t, m, press("enter")...)
	if got := ansi.Strip(m.row(r, m.cells(r)[0], false, false)); len(m.list.cols.exprs) != 1 || !strings.HasSuffix(got, fmt.Sprintf(" %d/%d", r.Partition, r.Offset)) {
		t.Errorf("one column: %d columns, row %q", len(m.list.cols.exprs), got)
	}
	run(t, m, press("c")...)
	m.prompt.SetValue("")
	run(t, m, press("enter")...)
	if m.list.cols.exprs != nil || !strings.Contains(ansi.Strip(m.Render()), `{"version":`) {
		t.Errorf("empty columns: %v; want the value again", m.list.cols.exprs)
	}
}
