package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every `$ evctl ...` of every command's Example parses: the command
// exists, its flags exist and take the values given, its arguments are as
// many as it takes. (The README's examples run for real: TestReadme.)
func TestHelpExamplesParse(t *testing.T) {
	root := NewRootCmd(testFactory(t))
	var cmds []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	n := 0
	for _, c := range cmds {
		for _, line := range exampleLines(c.Example) {
			for _, args := range evctlInvocations(t, line) {
				n++
				// A fresh tree for each: parsing leaves flag values behind.
				fresh := NewRootCmd(testFactory(t))
				if err := parseOnly(fresh, args); err != nil {
					t.Errorf("%s --help: example %q: %v", c.CommandPath(), line, err)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d example invocations found: is the Example format still `  $ evctl ...`?", n)
	}
}

// parseOnly finds the command args name and checks its flags and
// arguments as cobra would before running it.
func parseOnly(root *cobra.Command, args []string) error {
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return err
	}
	return cmd.ValidateFlagGroups()
}

// exampleLines are an Example's commands, continuation lines joined.
func exampleLines(example string) []string {
	var lines []string
	for _, l := range strings.Split(example, "\n") {
		l = strings.TrimSpace(l)
		if n := len(lines); n > 0 && strings.HasSuffix(lines[n-1], `\`) {
			lines[n-1] = strings.TrimSuffix(lines[n-1], `\`) + " " + l
			continue
		}
		if cmd, ok := strings.CutPrefix(l, "$ "); ok {
			lines = append(lines, cmd)
		}
	}
	return lines
}

// evctlInvocations splits a shell line into words, as sh would for the
// quoting these examples use, and returns the arguments of each evctl in
// it (after the program name): pipes, lists, redirections and comments
// end an invocation.
func evctlInvocations(t *testing.T, line string) [][]string {
	t.Helper()
	var words []string
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == ' ' || ch == '\t':
			flush()
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(line[i+1:], ch)
			if end < 0 {
				t.Fatalf("example %q: unterminated quote", line)
			}
			word.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case strings.IndexByte("|&;<>", ch) >= 0 || ch == '#' && !inWord:
			flush()
			words = append(words, string(ch))
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	flush()
	var out [][]string
	var cur []string
	in := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "<" || w == ">":
			i++ // and its file
		case w == "#":
			i = len(words)
		case w == "|" || w == "&" || w == ";":
			if in {
				out = append(out, cur)
			}
			cur, in = nil, false
		case !in && cur == nil && w == "evctl":
			in, cur = true, []string{}
		case in:
			cur = append(cur, w)
		default:
			cur = []string{} // another program's words
		}
	}
	if in {
		out = append(out, cur)
	}
	return out
}

func TestEvctlInvocations(t *testing.T) {
	got := evctlInvocations(t, `evctl tail t -n 1 -o raw | evctl decode -v < in.hex # and 'more'`)
	want := [][]string{{"tail", "t", "-n", "1", "-o", "raw"}, {"decode", "-v"}}
	if len(got) != len(want) || strings.Join(got[0], " ") != strings.Join(want[0], " ") || strings.Join(got[1], " ") != strings.Join(want[1], " ") {
		t.Errorf("evctlInvocations = %q, want %q", got, want)
	}
	// A process substitution is left alone rather than misread.
	if got = evctlInvocations(t, `source <(evctl completion bash)`); len(got) != 0 {
		t.Errorf("process substitution gives %q", got)
	}
	got = evctlInvocations(t, `evctl check t --filter '.value | .a > 1' --id-field '.headers["event-id"]'`)
	if len(got) != 1 || len(got[0]) != 6 || got[0][3] != ".value | .a > 1" || got[0][5] != `.headers["event-id"]` {
		t.Errorf("quoted words: %q", got)
	}
}

// Every command's description fits an 80-column terminal: a paragraph
// edited without rewrapping shows as one ragged long line in --help.
// Examples and the browser's key table (lines that start with spaces
// and are laid out by hand) are left alone.
func TestHelpFitsEightyColumns(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for i, line := range strings.Split(c.Long, "\n") {
			if n := len([]rune(line)); n > 80 && !strings.HasPrefix(line, "  ") {
				t.Errorf("%s --help, line %d: %d columns: %q", c.CommandPath(), i+1, n, line)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(testFactory(t)))
}
