package main

// How README examples are tested
//
// TestReadme runs every ```console block of README.md and docs/*.md, top to
// bottom, as a user would type it into a terminal, and fails with a diff
// naming the file and line when a command prints anything else than the
// lines shown under it.
//
//   - A line starting with "$ " is a command; a line ending in "\" goes on
//     to the next. The lines up to the next "$ " or the block's end are its
//     output: stdout and stderr together, as a terminal shows them. Each
//     command runs in a pseudo-terminal through `bash -o pipefail -c`, so
//     pipes (`| jq`: the machine's jq, which the test requires, since
//     gojq orders keys differently), redirections and the terminal-only
//     formats (tables, indented JSON) are what a user sees; colour is off
//     (NO_COLOR=1) and other escape sequences are dropped.
//     In a pipeline, only one program may write to the terminal (`evctl
//     replay ... | jq` races evctl's summary on stderr against jq's output).
//   - `evctl` is the real main (testscript.Main puts it on PATH). A command
//     must exit 0, unless its last line ends in a comment `# exit N`.
//   - `$ evctl dev ...` starts the file's sandbox (and stops the one
//     before): it runs in the background with --broker-port 0
//     --registry-port 0 added, its export lines go into the environment of
//     the commands after it, and its real addresses are shown as the
//     defaults, 127.0.0.1:9092 and http://127.0.0.1:8081. Every file runs
//     in its own temporary directory (testdata/ linked in), HOME is shown as
//     /home/you.
//   - What differs from run to run is compared as a placeholder, and
//     shown as measured: elapsed times after "in " ("in 566ms"), rates
//     ("1768 records/s"), and ages against the wall clock (lag's
//     OLDEST-AGE, "13d04h").
//   - An HTML comment right before a block (blank lines between are fine)
//     sets it up; GitHub does not show it:
//
//     <!-- readme-test: skip REASON -->     not run: `go install`, the
//     test suite itself (keep these few; the test logs them)
//     <!-- readme-test: pending REASON -->  run, but a mismatch is only
//     logged: an example waiting for its fix
//     <!-- readme-test
//     $ evctl dev --now 2026-11-20T12:00:00Z --drift 3
//     $ evctl replay ...
//     -->                                    hidden commands run before the
//     block (their output is not compared): prefer showing them; a hidden
//     `evctl dev` gives a section its own sandbox (`--drift 3`, `--faults`)
//     <!-- readme-test: vary REGEXP -->    what the pattern matches differs
//     from run to run (a live sandbox's lag, say): compared as a
//     placeholder, shown as measured; keep it narrow
//     <!-- readme-test
//     tty wait REGEXP
//     tty send "TEXT"
//     -->                                    the block's one command is
//     interactive: it runs in a terminal as wide and as high as the screen
//     shown, driven by these tty script lines (tty_test.go's wait, send,
//     ...), and what it shows must become the screen shown
//
//   - EVCTL_UPDATE_README=1 go test ./cmd/evctl -run TestReadme rewrites
//     the shown output in place from the runs (keeping the shown numbers
//     where only the placeholders differ; pending blocks stay as they
//     are); review the diff before committing it.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/diff"
	"go.yaml.in/yaml/v3"
)

// docWait bounds one README command: generous, for a loaded machine.
const docWait = 3 * time.Minute

// The addresses `evctl dev` listens on by default, as the README shows them.
const (
	docBrokers  = "127.0.0.1:9092"
	docRegistry = "http://127.0.0.1:8081"
	docHome     = "/home/you"
)

func TestReadme(t *testing.T) {
	t.Parallel()
	// The examples need a user's shell and jq. A machine without them
	// skips with how to run them; CI (CI=true) installs both, so there a
	// missing one fails.
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("the README's examples need %s, which is not on PATH: install it (apt-get install %s) to run them", tool, tool)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../../README.md"}, files...)
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	update := os.Getenv("EVCTL_UPDATE_README") != ""
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(file, "../../")
		blocks, err := parseDocBlocks(name, string(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(blocks) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newDocSession(t, testdata)
			s.update = update
			defer s.stopDev()
			var edits []docEdit
			for _, b := range blocks {
				edits = append(edits, s.runBlock(b)...)
			}
			if update && len(edits) > 0 {
				if err := os.WriteFile(file, applyDocEdits(src, edits), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %d outputs in %s", len(edits), name)
			}
		})
	}
}

// docCommand is one `$ ` command of a block and the output shown under it.
type docCommand struct {
	line     int    // 1-based line of the "$ "
	text     string // the command, continuation lines included
	status   int    // the exit status it must have (a trailing "# exit N")
	want     string // the shown output, "" or ending in a newline
	from, to int    // the output's lines, [from, to) 0-based, for the update
}

// docBlock is one ```console block, with what the comment before it says.
type docBlock struct {
	file    string
	line    int // 1-based line of the opening fence
	skip    string
	pending string
	setup   []docCommand     // hidden commands, run first, output not compared
	tty     string           // a tty script (tty_test.go): the block is one interactive program
	vary    []*regexp.Regexp // what else differs from run to run in this block
	cmds    []docCommand
}

var exitComment = regexp.MustCompile(`#\s*exit (\d+)\s*$`)

// parseDocBlocks finds the console blocks of a markdown file.
func parseDocBlocks(file, src string) ([]docBlock, error) {
	lines := strings.Split(src, "\n")
	var blocks []docBlock
	var pending *docBlock // a directive waiting for its block
	pendingLine := 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "<!-- readme-test"):
			if pending != nil {
				return nil, fmt.Errorf("%s:%d: a readme-test comment must be followed by a console block", file, pendingLine)
			}
			pending, pendingLine = &docBlock{}, i+1
			var body []string
			rest := strings.TrimPrefix(line, "<!-- readme-test")
			for {
				if before, ok := strings.CutSuffix(strings.TrimSpace(rest), "-->"); ok {
					body = append(body, before)
					break
				}
				body = append(body, rest)
				i++
				if i == len(lines) {
					return nil, fmt.Errorf("%s:%d: the readme-test comment does not end (-->)", file, pendingLine)
				}
				rest = lines[i]
			}
			if err := parseDirective(pending, body, pendingLine); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, pendingLine, err)
			}
		case strings.HasPrefix(line, "```"):
			fence := i + 1
			end := i + 1
			for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
				end++
			}
			if end == len(lines) {
				return nil, fmt.Errorf("%s:%d: the code block does not end", file, fence)
			}
			if strings.TrimSpace(line) != "```console" {
				if pending != nil {
					return nil, fmt.Errorf("%s:%d: a readme-test comment must be followed by a console block, not %s", file, pendingLine, line)
				}
				i = end
				continue
			}
			b := docBlock{}
			if pending != nil {
				b, pending = *pending, nil
			}
			b.file, b.line = file, fence
			cmds, err := parseCommands(lines, i+1, end)
			if err != nil {
				return nil, fmt.Errorf("%s:%w", file, err)
			}
			if b.tty != "" && len(cmds) != 1 {
				return nil, fmt.Errorf("%s:%d: a block with tty lines holds one command, the interactive one", file, fence)
			}
			b.cmds = cmds
			blocks = append(blocks, b)
			i = end
		case pending != nil && strings.TrimSpace(line) != "":
			return nil, fmt.Errorf("%s:%d: a readme-test comment must be followed by a console block", file, pendingLine)
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("%s:%d: a readme-test comment must be followed by a console block", file, pendingLine)
	}
	return blocks, nil
}

func parseDirective(b *docBlock, body []string, line int) error {
	body[0] = strings.TrimPrefix(strings.TrimSpace(body[0]), ":")
	var cmdLines []string
	cmdLine := 0 // the line of cmdLines' first line
	for i, l := range body {
		l = strings.TrimSpace(l)
		switch {
		case l == "":
		case strings.HasPrefix(l, "$ ") || len(cmdLines) > 0 && strings.HasSuffix(cmdLines[len(cmdLines)-1], `\`):
			if len(cmdLines) == 0 {
				cmdLine = line + i
			}
			cmdLines = append(cmdLines, l)
			if !strings.HasSuffix(l, `\`) {
				b.setup = append(b.setup, newDocCommand(cmdLine, cmdLines))
				cmdLines = nil
			}
		case strings.HasPrefix(l, "skip "):
			b.skip = strings.TrimPrefix(l, "skip ")
		case strings.HasPrefix(l, "vary "):
			re, err := regexp.Compile(strings.TrimPrefix(l, "vary "))
			if err != nil {
				return fmt.Errorf("readme-test: vary: %w", err)
			}
			b.vary = append(b.vary, re)
		case strings.HasPrefix(l, "tty "):
			b.tty += strings.TrimPrefix(l, "tty ") + "\n"
		case strings.HasPrefix(l, "pending "):
			b.pending = strings.TrimPrefix(l, "pending ")
		default:
			return fmt.Errorf("readme-test: want `skip REASON`, `pending REASON`, `vary REGEXP`, `tty LINE` or `$ command`, not %q", l)
		}
	}
	if len(cmdLines) > 0 {
		return errors.New("readme-test: the last command's line ends in \\")
	}
	return nil
}

// parseCommands splits a console block's lines [from, to) into commands
// and their outputs.
func parseCommands(lines []string, from, to int) ([]docCommand, error) {
	var cmds []docCommand
	for i := from; i < to; {
		if !strings.HasPrefix(lines[i], "$ ") {
			return nil, fmt.Errorf("%d: a console block starts with a command (\"$ \")", i+1)
		}
		start := i
		for strings.HasSuffix(lines[i], `\`) && i+1 < to {
			i++
		}
		c := newDocCommand(start+1, lines[start:i+1])
		i++
		c.from = i
		for i < to && !strings.HasPrefix(lines[i], "$ ") {
			c.want += lines[i] + "\n"
			i++
		}
		c.to = i
		cmds = append(cmds, c)
	}
	return cmds, nil
}

func newDocCommand(line int, lines []string) docCommand {
	text := strings.TrimPrefix(strings.Join(lines, "\n"), "$ ")
	c := docCommand{line: line, text: text}
	if m := exitComment.FindStringSubmatch(lines[len(lines)-1]); m != nil {
		c.status, _ = strconv.Atoi(m[1])
	}
	return c
}

// docSession runs one file's blocks: one directory, one sandbox at a time.
type docSession struct {
	t       *testing.T
	dir     string
	home    string
	env     []string
	dev     *ttyRun
	update  bool         // EVCTL_UPDATE_README: rewrite outputs rather than fail on them
	devAddr []docReplace // the sandbox's real addresses → the defaults shown
}

func newDocSession(t *testing.T, testdata string) *docSession {
	dir := t.TempDir()
	if err := os.Symlink(testdata, filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "EVCTL_") || strings.HasPrefix(k, "XDG_") || k == "HOME" || k == "TERM" || k == "NO_COLOR" || k == "TZ" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "NO_COLOR=1", "TZ=UTC")
	return &docSession{t: t, dir: dir, home: home, env: env}
}

// docEdit replaces a command's shown output (lines [from, to)) with got.
type docEdit struct {
	from, to int
	got      string
}

func (s *docSession) runBlock(b docBlock) []docEdit {
	t := s.t
	if b.skip != "" {
		t.Logf("%s:%d: skipped: %s", b.file, b.line, b.skip)
		return nil
	}
	for _, c := range b.setup {
		got, status, err := s.run(c)
		if err != nil {
			t.Fatalf("%s:%d: hidden setup $ %s: %v", b.file, c.line, c.text, err)
		}
		if status != c.status {
			t.Fatalf("%s:%d: hidden setup $ %s exited %d, want %d:\n%s", b.file, c.line, c.text, status, c.status, got)
		}
	}
	var edits []docEdit
	for _, c := range b.cmds {
		run := s.run
		if b.tty != "" {
			run = func(c docCommand) (string, int, error) { return s.runInteractive(c, b.tty) }
		}
		got, status, err := run(c)
		if err != nil {
			t.Fatalf("%s:%d: $ %s: %v", b.file, c.line, c.text, err)
		}
		report := t.Errorf
		if b.pending != "" {
			report = t.Logf
		}
		showDiff := report
		if s.update {
			showDiff = t.Logf // the file is rewritten instead
		}
		if status != c.status {
			report("%s:%d: $ %s\nexited %d, want %d (mark the status with a trailing `# exit N`)", b.file, c.line, c.text, status, c.status)
		}
		if docVolatile(got, b.vary...) == docVolatile(c.want, b.vary...) {
			if b.pending != "" {
				t.Logf("%s:%d: pending (%s), but it matches now: drop the marker", b.file, c.line, b.pending)
			}
			continue
		}
		if b.pending == "" {
			// A pending block shows what it will print once fixed.
			edits = append(edits, docEdit{from: c.from, to: c.to, got: got})
		}
		d := diff.Diff(fmt.Sprintf("%s:%d (shown)", b.file, c.from+1), []byte(c.want), "ran", []byte(got))
		if b.pending != "" {
			showDiff("%s:%d: pending (%s): $ %s\n%s", b.file, c.line, b.pending, c.text, d)
			continue
		}
		showDiff("%s:%d: $ %s\noutput differs from the one shown:\n%s\nEVCTL_UPDATE_README=1 go test ./cmd/evctl -run TestReadme rewrites it", b.file, c.line, c.text, d)
	}
	return edits
}

// run runs one command in a pseudo-terminal; `evctl dev` in the background.
func (s *docSession) run(c docCommand) (string, int, error) {
	if c.text == "evctl dev" || strings.HasPrefix(c.text, "evctl dev ") {
		return s.startDev(c)
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", c.text)
	cmd.Dir, cmd.Env = s.dir, s.env
	tr, err := startTTY(cmd, 100, 40)
	if err != nil {
		return "", 0, err
	}
	defer tr.close()
	status, err := tr.exitStatus(docWait)
	if err != nil {
		return s.normalise(tr.output()), 0, err
	}
	select {
	case <-tr.read:
	case <-time.After(docWait):
		return s.normalise(tr.output()), 0, errors.New("its output did not end after it exited")
	}
	return s.normalise(tr.output()), status, nil
}

// runInteractive runs an interactive program in a terminal the size of
// the screen shown, drives it by a tty script, and returns its screen once
// it equals the one shown (or when ttyWait has passed). Its exit status is
// not asked: it is killed after.
func (s *docSession) runInteractive(c docCommand, script string) (string, int, error) {
	want := strings.TrimSuffix(c.want, "\n")
	lines := strings.Split(want, "\n")
	width := 0
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
		width = max(width, ansi.StringWidth(l))
	}
	want = strings.Join(lines, "\n")
	cmd := exec.Command("bash", "-c", "exec "+c.text)
	cmd.Dir, cmd.Env = s.dir, s.env
	tr, err := startTTY(cmd, width, len(lines))
	if err != nil {
		return "", 0, err
	}
	defer tr.close()
	if _, err := tr.runScript(script); err != nil {
		return "", 0, fmt.Errorf("tty script: %w", err)
	}
	// A mismatch is reported as a diff, not as this wait's error.
	_ = tr.wait(regexp.MustCompile(`\A`+regexp.QuoteMeta(want)+`\z`), ttyWait)
	return s.normalise([]byte(tr.screen())) + "\n", c.status, nil
}

var devReady = regexp.MustCompile(`Ctrl-C stops\.`)

func (s *docSession) startDev(c docCommand) (string, int, error) {
	s.stopDev()
	if strings.Contains(c.text, "#") {
		return "", 0, errors.New("evctl dev lines take no comments here")
	}
	cmd := exec.Command("bash", "-c", "exec "+c.text+" --broker-port 0 --registry-port 0")
	cmd.Dir, cmd.Env = s.dir, s.env
	tr, err := startTTY(cmd, 200, 40)
	if err != nil {
		return "", 0, err
	}
	if err := tr.wait(devReady, docWait); err != nil {
		tr.close()
		return "", 0, err
	}
	s.dev = tr
	out := terminalText(tr.output())
	s.devAddr = nil
	for _, l := range strings.Split(out, "\n") {
		kv, ok := strings.CutPrefix(l, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		s.env = append(s.env, kv)
		switch k {
		case "EVCTL_BROKERS":
			s.devAddr = append(s.devAddr, docAddr(v, docBrokers))
		case "EVCTL_REGISTRY":
			// The URL, then its host:port alone; before the broker's
			// address, which may be a prefix of it.
			host := strings.TrimPrefix(v, "http://")
			s.devAddr = append([]docReplace{docAddr(v, docRegistry), docAddr(host, strings.TrimPrefix(docRegistry, "http://"))}, s.devAddr...)
		}
	}
	return s.normalise(tr.output()), 0, nil
}

// stopDev ends the running sandbox, as Ctrl-C does.
func (s *docSession) stopDev() {
	if s.dev == nil {
		return
	}
	defer s.dev.close()
	if err := s.dev.cmd.Process.Signal(os.Interrupt); err != nil {
		s.t.Errorf("stopping evctl dev: %v", err)
		return
	}
	if status, err := s.dev.exitStatus(docWait); err != nil || status != 0 {
		s.t.Errorf("evctl dev exited %d (%v) when stopped; output:\n%s", status, err, s.dev.output())
	}
	s.dev = nil
}

// normalise turns a terminal's bytes into the text the README shows.
func (s *docSession) normalise(out []byte) string {
	text := strings.ReplaceAll(terminalText(out), s.home, docHome)
	for _, r := range s.devAddr {
		text = r.re.ReplaceAllLiteralString(text, r.with)
	}
	return text
}

// terminalText is what a terminal shows of a program's output: a carriage
// return goes back to the line's start and later text overwrites, "erase
// to the end of the line" erases (a progress line redrawn, then cleared);
// colour and other escape sequences show nothing.
func terminalText(out []byte) string {
	const erase = "\x00"
	text := strings.ReplaceAll(string(out), "\r\n", "\n")
	text = strings.NewReplacer("\x1b[K", erase, "\x1b[0K", erase).Replace(text)
	text = ansi.Strip(text)
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.ContainsAny(l, "\r"+erase) {
			continue
		}
		var shown []rune
		col := 0
		for _, r := range l {
			switch r {
			case '\r':
				col = 0
			case 0:
				shown = shown[:col]
			default:
				if col < len(shown) {
					shown[col] = r
				} else {
					shown = append(shown, r)
				}
				col++
			}
		}
		lines[i] = string(shown)
	}
	return strings.Join(lines, "\n")
}

// docReplace replaces what re matches with a fixed text.
type docReplace struct {
	re   *regexp.Regexp
	with string
}

// docAddr replaces addr where no other digit follows it.
func docAddr(addr, with string) docReplace {
	return docReplace{regexp.MustCompile(regexp.QuoteMeta(addr) + `\b`), with}
}

// docVolatilePatterns are what differs between runs, each replaced by a
// placeholder before outputs are compared.
var docVolatilePatterns = []docReplace{
	{regexp.MustCompile(`\bin (?:\d+(?:\.\d+)?(?:h|m|s|ms|µs|ns))+\b`), "in <elapsed>"},
	{regexp.MustCompile(`\b\d+(?:\.\d+)? (records|events)/s\b`), "<rate> $1/s"},
	{regexp.MustCompile(`\b\d+d\d\dh\b`), "<age>"},
}

// docVolatile replaces what differs between runs with placeholders: the
// patterns every block has, and a block's own (vary lines) with <varies>.
func docVolatile(s string, vary ...*regexp.Regexp) string {
	for _, r := range docVolatilePatterns {
		s = r.re.ReplaceAllString(s, r.with)
	}
	for _, re := range vary {
		s = re.ReplaceAllLiteralString(s, "<varies>")
	}
	return s
}

// applyDocEdits rewrites a file's shown outputs.
func applyDocEdits(src []byte, edits []docEdit) []byte {
	lines := strings.Split(string(src), "\n")
	var out []string
	next := 0
	for _, e := range edits {
		out = append(out, lines[next:e.from]...)
		if e.got != "" {
			out = append(out, strings.Split(strings.TrimSuffix(e.got, "\n"), "\n")...)
		}
		next = e.to
	}
	out = append(out, lines[next:]...)
	return []byte(strings.Join(out, "\n"))
}

func TestTerminalText(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"a\tb\r\n", "a\tb\n"},
		{"\x1b[1mbold\x1b[0m\r\n", "bold\n"},
		{"\r\x1b[K[##  ] 50%\r\x1b[K[####] 100%\r\x1b[Kreplayed 10 records\r\n", "replayed 10 records\n"},
		{"12345\rab\n", "ab345\n"},
	} {
		if got := terminalText([]byte(tc.out)); got != tc.want {
			t.Errorf("terminalText(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

func TestParseDocBlocks(t *testing.T) {
	src := "intro\n" +
		"```sh\n$ not a console block\n```\n" +
		"<!-- readme-test: skip not here -->\n\n" +
		"```console\n$ go install x\n```\n" +
		"<!-- readme-test\n$ evctl dev --drift 3\n$ evctl replay a \\\n  --to-topic b\n-->\n" +
		"```console\n$ evctl check t \\\n    --strict  # exit 1\nfinding 1\nfinding 2\n$ evctl lag\n```\n"
	blocks, err := parseDocBlocks("X.md", src)
	if err != nil {
		t.Fatal(err)
	}
	// Lines are 1-based, from and to (the output's lines) 0-based.
	want := []docBlock{
		{file: "X.md", line: 7, skip: "not here", cmds: []docCommand{{line: 8, text: "go install x", from: 8, to: 8}}},
		{file: "X.md", line: 15,
			setup: []docCommand{{line: 11, text: "evctl dev --drift 3"}, {line: 12, text: "evctl replay a \\\n--to-topic b"}},
			cmds: []docCommand{
				{line: 16, text: "evctl check t \\\n    --strict  # exit 1", status: 1, want: "finding 1\nfinding 2\n", from: 17, to: 19},
				{line: 20, text: "evctl lag", from: 20, to: 20},
			}},
	}
	if diff := cmp.Diff(want, blocks, cmp.AllowUnexported(docBlock{}, docCommand{})); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}

	vary, err := parseDocBlocks("X.md", "<!-- readme-test: vary LAG \\d+ -->\n```console\n$ a\n```\n")
	if err != nil || len(vary) != 1 || len(vary[0].vary) != 1 || vary[0].vary[0].String() != `LAG \d+` {
		t.Errorf("a vary line: %+v, %v", vary, err)
	}

	for _, bad := range []string{
		"<!-- readme-test: skip x -->\ntext\n```console\n$ a\n```\n",
		"<!-- readme-test: skip x -->\n```sh\n$ a\n```\n",
		"<!-- readme-test: frobnicate -->\n```console\n$ a\n```\n",
		"<!-- readme-test\n$ a \\\n-->\n```console\n$ a\n```\n",
		"```console\noutput first\n```\n",
		"```console\n$ a\n",
		"<!-- readme-test\ntty send \"q\"\n-->\n```console\n$ a\n$ b\n```\n",
		"<!-- readme-test: vary ( -->\n```console\n$ a\n```\n",
	} {
		if _, err := parseDocBlocks("X.md", bad); err == nil {
			t.Errorf("parseDocBlocks(%q) = nil error", bad)
		}
	}
}

func TestDocVolatile(t *testing.T) {
	shown := "replayed 1000 records (read 1000) in 566ms, 1768 records/s; within 2s\nrebuild  TOTAL  880  13d21h\n"
	ran := "replayed 1000 records (read 1000) in 1.204s, 830 records/s; within 2s\nrebuild  TOTAL  880  14d02h\n"
	if docVolatile(shown) != docVolatile(ran) {
		t.Errorf("docVolatile:\n%s\n%s", docVolatile(shown), docVolatile(ran))
	}
	lag := regexp.MustCompile(`LAG \d+`)
	if docVolatile("a LAG 12 b\n", lag) != docVolatile("a LAG 7 b\n", lag) || docVolatile("a LAG 12 b\n", lag) == docVolatile("a LAG 12 c\n", lag) {
		t.Errorf("a block's vary pattern: %q", docVolatile("a LAG 12 b\n", lag))
	}
	for _, other := range []string{
		strings.Replace(ran, "read 1000", "read 999", 1),
		strings.Replace(ran, "within 2s", "within 3s", 1),
		strings.Replace(ran, "880", "881", 1),
	} {
		if docVolatile(shown) == docVolatile(other) {
			t.Errorf("docVolatile hides a real difference: %q", other)
		}
	}
}

func TestApplyDocEdits(t *testing.T) {
	src := "```console\n$ a\nold a\n$ b\n$ c\nold c1\nold c2\n```\n"
	got := string(applyDocEdits([]byte(src), []docEdit{{from: 2, to: 3, got: "new a\n"}, {from: 4, to: 4, got: "new b1\nnew b2\n"}, {from: 5, to: 7, got: ""}}))
	want := "```console\n$ a\nnew a\n$ b\nnew b1\nnew b2\n$ c\n```\n"
	if got != want {
		t.Errorf("applyDocEdits:\n%s\nwant:\n%s", got, want)
	}
}

// docs/projections.md's worked example is the spec the repository ships,
// comments (YAML's and jq's) aside, so the page cannot describe a spec
// nobody runs.
func TestDocsProjectionExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/projections.md")
	if err != nil {
		t.Fatal(err)
	}
	const section, fence = "## Example: account balances\n", "```yaml\n"
	_, after, ok := strings.Cut(string(doc), section)
	if !ok {
		t.Fatalf("docs/projections.md has no %q", strings.TrimSpace(section))
	}
	_, after, ok = strings.Cut(after, fence)
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatalf("docs/projections.md: no yaml block under %q", strings.TrimSpace(section))
	}
	spec, err := os.ReadFile("../../testdata/projections/account-balance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var shown, shipped any
	if err := yaml.Unmarshal([]byte(block), &shown); err != nil {
		t.Fatalf("docs/projections.md's example: %v", err)
	}
	if err := yaml.Unmarshal(spec, &shipped); err != nil {
		t.Fatal(err)
	}
	// jq's comments are in the strings: leave them out too.
	dropComments := cmp.Transformer("jqComments", func(s string) string {
		var kept []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				kept = append(kept, l)
			}
		}
		return strings.Join(kept, "\n")
	})
	if diff := cmp.Diff(shipped, shown, dropComments); diff != "" {
		t.Errorf("docs/projections.md's example differs from testdata/projections/account-balance.yaml (-file +doc):\n%s", diff)
	}
}
