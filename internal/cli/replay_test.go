package cli

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/iostreams"
	"github.com/evctl/evctl/internal/replay"
)

func runReplayCmd(t *testing.T, args ...string) (*ReplayOptions, error) {
	t.Helper()
	return parseFlags(t, NewCmdReplay, args...)
}

func TestNewCmdReplay(t *testing.T) {
	o, err := runReplayCmd(t, "a", "--to-topic", "b", "--create", "--rate", "500/s", "--pace", "10x", "--set-header", "k=v=w", "--type", "X,Y")
	if err != nil {
		t.Fatal(err)
	}
	if o.rate != 500 || o.pace != 10 || string(o.setHeaderRaw[0].Value) != "v=w" || len(o.Types) != 2 || !o.Create {
		t.Fatalf("options %+v", o)
	}
	if o, err = runReplayCmd(t, "a", "--to-file", "f", "--pace", "original"); err != nil || o.pace != 1 || o.Parallel != 1 {
		t.Fatalf("--pace original: %v %+v", err, o)
	}
	// A copy runs one copier per CPU unless told; the other modes one.
	if o, err = runReplayCmd(t, "a", "--to-topic", "b"); err != nil || o.Parallel != runtime.GOMAXPROCS(0) {
		t.Fatalf("--parallel default: %v %+v", err, o)
	}
	if o, err = runReplayCmd(t, "a", "--to-topic", "b", "--pace", "10x"); err != nil || o.Parallel != 1 {
		t.Fatalf("--pace without --parallel: %v %+v", err, o)
	}
	if o, err = runReplayCmd(t, "a", "--projection", "p.yaml", "--to-topic", "b"); err != nil || o.Parallel != 1 {
		t.Fatalf("--projection without --parallel: %v %+v", err, o)
	}
	if o, err = runReplayCmd(t, "a", "--to-topic", "b", "--parallel", "4"); err != nil || o.Parallel != 4 {
		t.Fatalf("--parallel 4: %v %+v", err, o)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-topic", "b"}, "name a source"},
		{[]string{"a", "--from-file", "f", "--to-topic", "b"}, "exclude each other"},
		{[]string{"a"}, "say where to replay"},
		{[]string{"a", "--to-topic", "b", "--to-file", "f"}, "--to-topic and --to-file exclude each other"},
		{[]string{"a", "--to-topic", "b", "--rate", "fast"}, "invalid --rate"},
		{[]string{"a", "--to-topic", "b", "--pace", "2"}, "invalid --pace"},
		{[]string{"a", "--to-topic", "b", "--set-header", "novalue"}, "invalid --set-header"},
		{[]string{"a", "--to-file", "f", "--create"}, "go with --to-topic"},
		{[]string{"a", "--to-topic", "b", "--raw"}, "--raw goes with --to-file"},
		{[]string{"a", "--to-topic", "b", "--emit", "changes"}, "--emit goes with --projection"},
		{[]string{"a", "--to-topic", "b", "-o", "json"}, "-o json goes with --dry-run"},
		{[]string{"a", "--dry-run", "-o", "yaml"}, `invalid --output "yaml"`},
		{[]string{"--from-file", "f", "--to-topic", "b", "--resume"}, "a file replays whole"},
		{[]string{"a", "--projection", "p.yaml", "--emit", "all"}, "invalid --emit"},
		{[]string{"a", "--to-topic", "b", "--timestamps", "later"}, "invalid --timestamps"},
		{[]string{"a", "--to-topic", "a", "--append"}, "cannot replay a into itself"},
		{[]string{"a", "--projection", "p.yaml", "--to-topic", "b", "--append"}, "do not go with --projection into a topic"},
		{[]string{"a", "c", "--projection", "p.yaml", "--to-topic", "b"}, "do not go with --projection into a topic"},
		{[]string{"b", "a", "--to-topic", "a"}, "cannot replay a into itself"},
		{[]string{"a", "--projection", "p.yaml", "--to-topic", "a"}, "cannot replay a into itself"},
		{[]string{"a", "--to-topic", "b", "--parallel", "0"}, "invalid --parallel 0"},
		{[]string{"a", "--projection", "p.yaml", "--to-topic", "b", "--parallel", "2"}, "--parallel goes with a copy of topics into a topic"},
		{[]string{"a", "--to-topic", "b", "--parallel", "2", "--pace", "original"}, "--pace keeps the original spacing"},
	} {
		if _, err := runReplayCmd(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	newProgress(ios, 100, false).Update(replay.Stats{Read: 50})
	if errOut.Len() != 0 {
		t.Fatalf("progress drawn on a pipe: %q", errOut)
	}
	ios.SetStderrTTY(true)
	p := newProgress(ios, 200, false)
	p.Update(replay.Stats{Read: 50, Written: 40, Elapsed: 2 * time.Second})
	p.Done()
	want := "\r\x1b[K[######..................]  25% 50/200 records, 25/s, ETA 6s\r\x1b[K"
	if errOut.String() != want {
		t.Fatalf("progress = %q\nwant       %q", errOut.String(), want)
	}
	errOut.Reset()
	newProgress(ios, 200, true).Update(replay.Stats{Read: 1})
	if errOut.Len() != 0 {
		t.Fatal("--no-progress drew a progress line")
	}
}
