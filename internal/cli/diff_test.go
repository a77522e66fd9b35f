package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/iostreams"
)

func TestNewCmdDiff(t *testing.T) {
	tests := []flagCase[DiffOptions]{
		{name: "defaults", args: []string{"a", "b"}, want: DiffOptions{A: "a", B: "b", Mode: "state", Output: "text", MaxChanges: 200}},
		{name: "everything", args: []string{"a.jsonl", "-", "--mode", "history", "--key-by", ".value.accountId", "--ignore", ".updatedAt", "--ignore", `.headers["trace"]`, "--ignore-headers", "--values-only", "-o", "json", "--stat", "--max-changes", "0"},
			want: DiffOptions{A: "a.jsonl", B: "-", Mode: "history", KeyBy: ".value.accountId", Ignore: []string{".updatedAt", `.headers["trace"]`}, IgnoreHeaders: true, ValuesOnly: true, Output: "json", Stat: true}},
		{name: "bad max-changes", args: []string{"a", "b", "--max-changes", "-1"}, wantErr: "invalid --max-changes -1"},
		{name: "one side", args: []string{"a"}, wantErr: "accepts 2 arg(s)"},
		{name: "bad mode", args: []string{"a", "b", "--mode", "events"}, wantErr: `invalid --mode "events"`},
		{name: "bad output", args: []string{"a", "b", "-o", "yaml"}, wantErr: `invalid --output "yaml"`},
		{name: "two stdins", args: []string{"-", "-"}, wantErr: "only one side can be -"},
		{name: "bad ignore", args: []string{"a", "b", "--ignore", "updatedAt"}, wantErr: "invalid path"},
		{name: "ignore the key", args: []string{"a", "b", "--ignore", ".key"}, wantErr: "use --key-by"},
		{name: "bad key-by", args: []string{"a", "b", "--key-by", ".value |"}, wantErr: "--key-by: invalid jq filter"},
	}
	checkFlagCases(t, NewCmdDiff, tests, "IO", "Kafka", "Registry", "compare", "keyBy", "stopOffsets")
}

func TestDiffRunFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, `{"key":"acct-1","value":{"balance":"120.00","updatedAt":"x"},"keyEncoding":"text","valueEncoding":"json"}`+"\n")
	write(b, `{"key":"acct-1","value":{"updatedAt":"y","balance":"95.00"},"keyEncoding":"text","valueEncoding":"json"}`+"\n")

	run := func(args ...string) (string, string, error) {
		ios, in, out, errOut := iostreams.Test()
		in.WriteString(`{"key":"acct-1","value":{"balance":"120.00","updatedAt":"z"}}` + "\n")
		f := testFactory(t)
		f.IOStreams = ios
		cmd := NewCmdDiff(f, nil)
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	out, _, err := run(a, b)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != ExitNegative {
		t.Fatalf("err = %v, want exit 1", err)
	}
	if !strings.Contains(out, `.balance: "120.00" → "95.00"`) || !strings.Contains(out, `.updatedAt: "x" → "y"`) {
		t.Errorf("out = %s", out)
	}
	if out, _, err = run(a, "-", "--ignore", ".value.updatedAt"); err != nil {
		t.Errorf("diff with stdin = %v\n%s", err, out)
	}
	if !strings.Contains(out, "b: - (1 key): same") {
		t.Errorf("out = %s", out)
	}
	write(b, "{\"key\":\"acct-1\",\"value\":{}}\n{\"key\":\"acct-2\",\"value\":{\"x\":}}\n")
	if _, _, err = run(a, b); err == nil || !strings.Contains(err.Error(), "b.jsonl:2: not a capture record") {
		t.Errorf("err = %v, want one naming line 2", err)
	}
	_, _, err = run(a, filepath.Join(dir, "nope.jsonl"))
	if err == nil || !strings.Contains(err.Error(), "is neither a file nor a topic") {
		t.Errorf("err = %v", err)
	}
	// Interrupted: no output at all.
	ios, _, outBuf, _ := iostreams.Test()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := &DiffOptions{IO: ios, A: a, B: b, Mode: "state", Output: "text"}
	if err := validateDiff(o); err != nil {
		t.Fatal(err)
	}
	if err := diffRun(ctx, o); !errors.Is(err, errInterrupted) || outBuf.Len() > 0 {
		t.Errorf("interrupted diffRun = %v, printed %q", err, outBuf.String())
	}
}
