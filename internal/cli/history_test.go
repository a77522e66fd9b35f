package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/filter"
	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/record"
	"github.com/evctl/evctl/internal/replay"
)

func TestNewCmdHistory(t *testing.T) {
	tests := []flagCase[HistoryOptions]{
		{name: "defaults", args: []string{"t", "a-1"}, want: HistoryOptions{Topic: "t", ID: "a-1", AtOffset: -1, AtVersion: -1, Output: "text"}},
		{name: "version from 0", args: []string{"t", "a-1", "--version-field", ".value.seq", "--at-version", "0"},
			want: HistoryOptions{Topic: "t", ID: "a-1", VersionField: ".value.seq", AtOffset: -1, AtVersion: 0, Output: "text"}},
		{name: "at without projection", args: []string{"t", "a-1", "--at", "@-1d"},
			want: HistoryOptions{Topic: "t", ID: "a-1", At: "@-1d", AtOffset: -1, AtVersion: -1, Output: "text"}},
		{name: "negative version", args: []string{"t", "a-1", "--at-version", "-1"}, wantErr: "invalid --at-version -1: want a version, 0 or more"},
		{name: "negative offset", args: []string{"t", "a-1", "--at-offset", "-3"}, wantErr: "invalid --at-offset -3"},
		{name: "two stops", args: []string{"t", "a-1", "--at-offset", "3", "--at", "@-1d"}, wantErr: "exclude each other"},
		{name: "final without projection", args: []string{"t", "a-1", "--final"}, wantErr: "--final needs --projection"},
	}
	checkFlagCases(t, NewCmdHistory, tests, "IO", "Kafka", "Registry", "Now", "Getenv")
}

// orderEvents are one aggregate's plain JSON events at offsets 10, 12, 14...
// with versions from first.
func orderEvents(n, first int) []*record.Record {
	events := make([]*record.Record, n)
	for i := range events {
		events[i] = &record.Record{Topic: "orders", Partition: 0, Offset: int64(10 + 2*i),
			Timestamp: record.Timestamp{Time: time.Date(2026, 11, 20, 12, i, 0, 0, time.UTC)},
			Key:       json.RawMessage(`"o-1"`), KeyEncoding: record.EncodingText,
			Value: json.RawMessage(fmt.Sprintf(`{"kind":"added","seq":%d,"sku":"s%d"}`, first+i, i)), ValueEncoding: record.EncodingJSON}
	}
	return events
}

func TestHistoryStop(t *testing.T) {
	ctx := context.Background()
	seq, err := filter.CompileExpr(".value.seq")
	if err != nil {
		t.Fatal(err)
	}
	events := orderEvents(3, 0)
	legacy := orderEvents(4, 0) // a legacy event, without seq, between versions 0 and 1
	legacy[1].Value = json.RawMessage(`{"kind":"added","sku":"old"}`)
	legacy[2].Value = json.RawMessage(`{"kind":"added","seq":1}`)
	badVersion := orderEvents(1, 0)
	badVersion[0].Value = json.RawMessage(`{"seq":"first"}`)
	for _, tt := range []struct {
		name    string
		opts    HistoryOptions
		at      time.Time
		events  []*record.Record // default: events
		want    int
		wantErr string
	}{
		{name: "offset before the first event", opts: HistoryOptions{AtOffset: 5, AtVersion: -1}, want: 0},
		{name: "offset of an event", opts: HistoryOptions{AtOffset: 12, AtVersion: -1}, want: 2},
		{name: "offset between events", opts: HistoryOptions{AtOffset: 13, AtVersion: -1}, want: 2},
		{name: "time before the first event", opts: HistoryOptions{AtOffset: -1, AtVersion: -1}, at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), want: 0},
		{name: "time of the second", opts: HistoryOptions{AtOffset: -1, AtVersion: -1}, at: time.Date(2026, 11, 20, 12, 1, 0, 0, time.UTC), want: 2},
		{name: "version 0 is the first event", opts: HistoryOptions{ID: "o-1", AtOffset: -1, AtVersion: 0}, want: 1},
		{name: "version 2 is the third", opts: HistoryOptions{ID: "o-1", AtOffset: -1, AtVersion: 2}, want: 3},
		{name: "a version it never had", opts: HistoryOptions{ID: "o-1", AtOffset: -1, AtVersion: 99}, wantErr: "o-1 has no version 99 (o-1 has versions 0 to 2)"},
		{name: "events without a version are no stop", opts: HistoryOptions{ID: "o-1", AtOffset: -1, AtVersion: 1}, events: legacy, want: 3},
		{name: "a version that is not an integer", opts: HistoryOptions{ID: "o-1", AtOffset: -1, AtVersion: 1}, events: badVersion,
			wantErr: `version of orders/0@10: .value.seq gave "first", want an integer from 0; check --version-field or the spec's version expression`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var version *filter.Expr
			if tt.opts.AtVersion >= 0 {
				version = seq
			}
			evs := events
			if tt.events != nil {
				evs = tt.events
			}
			got, err := historyStop(ctx, &tt.opts, evs, tt.at, version)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("historyStop = %d, %v; want %d events", got, err, tt.want)
			}
		})
	}
}

// historyFinalAlloc is the bytes history --final allocates folding events
// into a state that holds size items from the start.
func historyFinalAlloc(t *testing.T, events []*record.Record, size int) uint64 {
	t.Helper()
	items := make([]string, size)
	for i := range items {
		items[i] = fmt.Sprintf(`"item-%06d"`, i)
	}
	spec := "initial: {n: 0, items: [" + strings.Join(items, ",") + "]}\nhandlers:\n  added: '.state | .n += 1'\ntype: .value.kind\n"
	proj, err := replay.ParseProjection("big.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	opts := &HistoryOptions{IO: ios, ID: "o-1", Final: true, Output: "text"}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := printHistory(context.Background(), opts, proj, events, events); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// history --final encodes the state once, not after every event: what it
// allocates per event does not grow with the state (it did: the whole
// state was encoded after each one, quadratic over a growing state).
func TestHistoryFinalCostIndependentOfStateSize(t *testing.T) {
	events := orderEvents(200, 0)
	small := historyFinalAlloc(t, events, 10)
	large := historyFinalAlloc(t, events, 20_000)
	// The large state is ~300 kB as JSON; encoding it once is fine, after
	// every event (60 MB) is not.
	if large > small+4<<20 {
		t.Errorf("history --final of 200 events allocated %d bytes with a 20,000-item state, %d with 10 items: the state is encoded per event", large, small)
	}
}
